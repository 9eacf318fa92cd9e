"""GET /v1/compliance (JSON and CSV) and `deadlines compliance`, on a hand-checked Q1 2022."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from appeals_platform.auth import Role
from appeals_reference.loader import load_reference
from deadlines import cli
from tests.deadlines_service.conftest import Deadlines, local

pytestmark = pytest.mark.infra

CITY = "KRG-KARAGANDA-AKIMAT"
DEPARTMENT = "KRG-ENERGY-HOUSING"
POLICE = "KRG-POLICE"


@pytest.fixture
async def quarter(deadlines: Deadlines) -> Deadlines:
    """Q4 2021 and Q1 2022 of three bodies; the report is asked for on 15 April 2022."""
    # Department: one answer on time and one late in Q1, one on time in Q4.
    on_time = await deadlines.assign(local(2022, 1, 10, 10))  # due Fri 28 January
    await deadlines.answer(on_time, local(2022, 1, 20, 12))  # working day 9
    late = await deadlines.assign(local(2022, 1, 10, 10))
    await deadlines.answer(late, local(2022, 2, 15, 12))  # working day 27
    earlier = await deadlines.assign(local(2021, 12, 1, 10))
    await deadlines.answer(earlier, local(2021, 12, 10, 12))
    # City akimat: received in Q4 and answered late in Q1; received in Q1 and still open.
    carried = await deadlines.assign(local(2021, 12, 20, 10), agency=CITY)
    await deadlines.answer(carried, local(2022, 2, 1, 12), agency=CITY)
    overdue = await deadlines.assign(local(2022, 2, 1, 10), agency=CITY)
    # Police: redirected on 10 March, past its window of 1-3 March.
    redirected = await deadlines.assign(local(2022, 3, 1, 10), agency=POLICE)
    await deadlines.redirect(redirected, local(2022, 3, 10, 10), from_agency=POLICE)
    for appeal in (on_time, late, earlier, carried):
        await deadlines.wait_for(appeal, lambda v: v["current"]["state"] == "answered")
    await deadlines.wait_for(overdue)
    await deadlines.wait_for(redirected, lambda v: v["current"]["state"] == "redirected")
    deadlines.clock.set(local(2022, 4, 15, 12))
    return deadlines


async def report(deadlines: Deadlines, **params: Any) -> dict[str, Any]:
    response = await deadlines.client.get("/v1/compliance", params=params, headers=deadlines.auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


def figures(body: dict[str, Any], key: str, which: str = "current") -> dict[str, Any]:
    (row,) = [r for r in body["rows"] if r["key"] == key]
    return dict(row[which])


async def test_compliance_by_agency_for_a_quarter_beside_the_previous_quarter(
    quarter: Deadlines,
) -> None:
    body = await report(quarter, period="2022Q1", by="agency")
    assert (body["period"]["first"], body["period"]["last"]) == ("2022-01-01", "2022-03-31")
    assert body["previous_period"]["label"] == "2021Q4"
    assert [r["key"] for r in body["rows"]] == [CITY, DEPARTMENT, POLICE]
    department = figures(body, DEPARTMENT)
    assert {k: department[k] for k in department if k != "small_sample"} == {
        "received": 2,
        "answered_on_time": 1,
        "answered_late": 1,
        "open_overdue": 0,
        "late_redirects": 0,
        "violations": 1,
        "on_time_share": 0.5,
        "median_working_days": 18.0,
        "sample": 2,
        "redirect_days_lost": 0,
        "redirect_days_received": 0,
    }
    city = figures(body, CITY)
    assert (city["received"], city["answered_late"], city["open_overdue"], city["violations"]) == (
        1,
        1,
        1,
        2,
    )
    assert city["on_time_share"] == 0.0
    police = figures(body, POLICE)
    assert (police["received"], police["late_redirects"], police["violations"]) == (1, 1, 1)
    assert police["on_time_share"] is None and police["median_working_days"] is None
    assert figures(body, DEPARTMENT, "previous")["answered_on_time"] == 1
    assert figures(body, DEPARTMENT, "previous")["on_time_share"] == 1.0
    assert figures(body, CITY, "previous")["received"] == 1
    # The city appeal received on 20 December was not yet overdue at the end of 2021.
    assert figures(body, CITY, "previous")["open_overdue"] == 0
    total = body["total"]["current"]
    assert (total["received"], total["violations"], total["on_time_share"]) == (4, 4, 0.25)
    names = {r["key"]: r["name"] for r in body["rows"]}
    assert names[DEPARTMENT] == load_reference().agency(DEPARTMENT).name_ru


async def test_local_executive_bodies_region_and_minimum_sample(quarter: Deadlines) -> None:
    sectors = await report(quarter, period="2022Q1", by="sector")
    local_bodies = figures(sectors, "local_executive")
    assert (local_bodies["received"], local_bodies["violations"]) == (3, 3)
    assert figures(sectors, "territorial")["violations"] == 1
    levels = await report(quarter, period="2022Q1", by="level")
    assert {r["key"] for r in levels["rows"]} == {
        "region_department",
        "city_akimat",
        "territorial_body",
    }
    regions = await report(quarter, period="2022Q1", by="region")
    assert [(r["key"], r["current"]["received"]) for r in regions["rows"]] == [("KRG", 4)]
    assert all(
        r["current"]["small_sample"] for r in (await report(quarter, period="2022Q1"))["rows"]
    )
    flagged = await report(quarter, period="2022Q1", by="agency", min_sample=2)
    assert not figures(flagged, DEPARTMENT)["small_sample"]
    assert figures(flagged, POLICE)["small_sample"]


async def test_a_month_counts_what_happened_in_that_month(quarter: Deadlines) -> None:
    body = await report(quarter, period="2022-02", by="agency")
    assert body["previous_period"]["label"] == "2022-01"
    city = figures(body, CITY)
    assert (city["received"], city["answered_late"], city["open_overdue"]) == (1, 1, 1)
    department = figures(body, DEPARTMENT)
    assert (department["received"], department["answered_late"]) == (0, 1)
    assert figures(body, DEPARTMENT, "previous")["received"] == 2
    year = await report(quarter, period="2022", by="category")
    assert figures(year, "HOUSING-HEATING")["received"] == 4
    # The running quarter is counted as of the start of today (15 April 2022).
    running = await report(quarter, period="2022Q2", by="agency")
    assert running["period"]["as_of"] == "2022-04-15T00:00:00+06:00"
    assert (figures(running, CITY)["received"], figures(running, CITY)["open_overdue"]) == (0, 1)


async def test_compliance_as_csv_by_query_and_by_path(quarter: Deadlines) -> None:
    by_query = await quarter.client.get(
        "/v1/compliance",
        params={"period": "2022Q1", "by": "agency", "format": "csv"},
        headers=quarter.auth(),
    )
    by_path = await quarter.client.get(
        "/v1/compliance.csv", params={"period": "2022Q1", "by": "agency"}, headers=quarter.auth()
    )
    assert by_query.status_code == by_path.status_code == 200
    assert by_query.headers["content-type"].startswith("text/csv")
    assert by_query.text == by_path.text
    rows = list(csv.DictReader(io.StringIO(by_path.text)))
    assert [r["key"] for r in rows] == [CITY, DEPARTMENT, POLICE, "all"]
    department = rows[1]
    assert (department["answered_late"], department["on_time_share"]) == ("1", "0.5")
    assert (department["previous_period"], department["previous_answered_on_time"]) == (
        "2021Q4",
        "1",
    )
    assert rows[2]["on_time_share"] == ""


async def test_bad_parameters_and_roles_are_refused(quarter: Deadlines) -> None:
    for params in ({"period": "2022Q5"}, {"period": "2022", "by": "colour"}):
        response = await quarter.client.get("/v1/compliance", params=params, headers=quarter.auth())
        assert response.status_code == 422, params
    agency = quarter.auth(Role.AGENCY, agency=DEPARTMENT)
    assert (await quarter.client.get("/v1/compliance", headers=agency)).status_code == 403


async def test_the_compliance_command_prints_the_table(
    quarter: Deadlines, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = quarter.service.settings
    assert await cli.run(["compliance", "--period", "2022Q1", "--by", "agency"], settings) == 0
    out = capsys.readouterr().out
    assert "compliance by agency: 2022Q1" in out and "previous 2021Q4" in out
    lines = out.splitlines()
    city = next(line for line in lines if line.startswith(CITY))
    assert city.split()[1:7] == ["1", "0", "1", "1", "0", "2"]
    assert await cli.run(["compliance", "--period", "2022Q1", "--format", "csv"], settings) == 0
    assert capsys.readouterr().out.startswith("by,key,name,period,received")
    assert await cli.run(["compliance", "--period", "Q1"], settings) == 2
