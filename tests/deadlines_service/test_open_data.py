"""The open-data feed: right figures for a small known set, small counts withheld, anonymous."""

from __future__ import annotations

import csv
import io
import statistics
from typing import Any

import jsonschema
import pytest

from appeals_platform.auth import Role
from deadlines import open_data
from tests.deadlines_service.conftest import Deadlines, local

pytestmark = pytest.mark.infra

HOUSING = "KRG-ENERGY-HOUSING"
TEMIRTAU = "KRG-TEMIRTAU-AKIMAT"
KAZYBEK_BI = "KRG-KARAGANDA-KAZYBEK-BI"  # a city district of Karaganda: district KRG-KARAGANDA


async def seed(deadlines: Deadlines) -> list[str]:
    """April 2022: the housing department receives 21 appeals in Karaganda (6 answered on time,
    5 late, 5 redirected, 5 extended), Temirtau's akimat 5 answered on time in Temirtau and one
    open in Topar (Abay district); May: one more for housing. The answered appeals' ids."""
    answered: list[str] = []
    for _ in range(6):
        appeal = await deadlines.assign(local(2022, 4, 4, 10), locality=KAZYBEK_BI)
        await deadlines.answer(appeal, local(2022, 4, 8, 10))
        answered.append(appeal)
    for _ in range(5):  # day 1 Mon 4 April, due 22 April: answered a week late
        appeal = await deadlines.assign(local(2022, 4, 1, 10), locality=KAZYBEK_BI)
        await deadlines.answer(appeal, local(2022, 4, 29, 10))
        answered.append(appeal)
    for _ in range(5):
        appeal = await deadlines.assign(local(2022, 4, 11, 10), locality=KAZYBEK_BI)
        await deadlines.redirect(appeal, local(2022, 4, 12, 10))
    extended = [
        await deadlines.assign(local(2022, 4, 18, 10), locality=KAZYBEK_BI) for _ in range(5)
    ]
    for _ in range(5):
        appeal = await deadlines.assign(
            local(2022, 4, 5, 10), agency=TEMIRTAU, locality="KRG-TEMIRTAU"
        )
        await deadlines.answer(appeal, local(2022, 4, 7, 10), agency=TEMIRTAU)
        answered.append(appeal)
    topar = await deadlines.assign(local(2022, 4, 6, 10), agency=TEMIRTAU, locality="KRG-TOPAR")
    may = await deadlines.assign(local(2022, 5, 10, 10), locality=KAZYBEK_BI)

    for appeal in answered:
        await deadlines.wait_for(appeal, lambda v: v["current"]["state"] == "answered")
    for appeal in (topar, may, *extended):
        await deadlines.wait_for(appeal)
    deadlines.clock.set(local(2022, 4, 20, 11))
    for appeal in extended:
        response = await deadlines.client.post(
            f"/v1/appeals/{appeal}/extend",
            json={
                "reason": "нужен выезд на место",
                "new_due_date": "2022-06-10",
                "notified_on": "2022-04-20",
            },
            headers=deadlines.auth(Role.AGENCY, agency=HOUSING),
        )
        assert response.status_code == 200, response.text
    deadlines.clock.set(local(2022, 5, 26, 9))
    return answered


async def feed(deadlines: Deadlines, fmt: str = "json", **params: str) -> Any:
    # No Authorization header: the feed is public.
    response = await deadlines.client.get(
        f"/open-data/v1/monthly.{fmt}", params={"from": "2022-04", "to": "2022-05", **params}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("public")
    return response.json() if fmt == "json" else response.text


def row(body: dict[str, Any], month: str, key: str) -> dict[str, Any]:
    (found,) = [r for r in body["rows"] if r["month"] == month and r["key"] == key]
    return found


COUNTS = ("received", "answered", "on_time", "late", "redirected", "extended")


def counts(r: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(r[c] for c in COUNTS)


async def test_monthly_figures_per_agency_and_district_with_small_counts_withheld(
    deadlines: Deadlines,
) -> None:
    answered = await seed(deadlines)
    days = {}
    for appeal in answered:
        clock = (await deadlines.clock_of(appeal))["current"]
        days[appeal] = (clock["agency"], clock["outcome"], clock["answer_working_days"])
    assert sorted(o for _, o, _ in days.values()).count("late") == 5

    body = await feed(deadlines)
    jsonschema.validate(body, open_data.schema())
    assert (body["by"], body["first_month"], body["last_month"]) == ("agency", "2022-04", "2022-05")
    housing, temirtau = row(body, "2022-04", HOUSING), row(body, "2022-04", TEMIRTAU)
    assert counts(housing) == (21, 11, 6, 5, 5, 5)
    assert counts(temirtau) == (6, 5, 5, 0, 0, 0)
    assert counts(row(body, "2022-04", "all")) == (27, 16, 11, 5, 5, 5)
    assert housing["median_working_days"] == statistics.median(
        d for agency, _, d in days.values() if agency == HOUSING
    )
    assert temirtau["median_working_days"] == statistics.median(
        d for agency, _, d in days.values() if agency == TEMIRTAU
    )
    assert housing["complete"] and housing["name_ru"] and housing["name_kk"]
    # May runs (the service's clock is 26 May) and holds one appeal: withheld, total too.
    may = row(body, "2022-05", HOUSING)
    assert not may["complete"]
    assert counts(may) == (None, 0, 0, 0, 0, 0)
    assert row(body, "2022-05", "all")["received"] is None

    # Districts: Kazybek bi is Karaganda's; Topar lies in Abay district, whose one appeal is
    # withheld, and Temirtau's 5 with it (else 27 - 21 - 5 gives Abay's away).
    districts = await feed(deadlines, by="district")
    jsonschema.validate(districts, open_data.schema())
    assert counts(row(districts, "2022-04", "KRG-KARAGANDA")) == (21, 11, 6, 5, 5, 5)
    assert counts(row(districts, "2022-04", "KRG-TEMIRTAU")) == (None, 5, 5, 0, 0, 0)
    assert counts(row(districts, "2022-04", "KRG-D-ABAY")) == (None, 0, 0, 0, 0, 0)
    assert counts(row(districts, "2022-04", "all")) == (27, 16, 11, 5, 5, 5)
    assert row(districts, "2022-04", "KRG-D-ABAY")["name_ru"] == "Абайский район"

    # The CSV holds the same rows; a withheld figure is an empty cell.
    text = await feed(deadlines, "csv", by="district")
    lines = list(csv.DictReader(io.StringIO(text)))
    assert list(lines[0]) == list(open_data.COLUMNS)
    abay = [x for x in lines if x["month"] == "2022-04" and x["key"] == "KRG-D-ABAY"]
    assert [abay[0][c] for c in COUNTS] == ["", "0", "0", "0", "0", "0"]
    assert len(lines) == len(districts["rows"])


async def test_the_index_points_to_the_schema_the_csv_and_the_public_open311_list(
    deadlines: Deadlines,
) -> None:
    index = await deadlines.client.get("/open-data/v1")
    assert index.status_code == 200
    assert index.json()["appeals"].endswith("/open311/v2/requests.json")
    assert index.json()["suppression"]["threshold"] == open_data.THRESHOLD
    schema = await deadlines.client.get("/open-data/v1/monthly.schema.json")
    assert schema.json() == open_data.schema()


@pytest.mark.parametrize(
    "params",
    [{"from": "2022-06", "to": "2022-04"}, {"from": "2019-01", "to": "2022-04"}],
)
async def test_a_reversed_or_too_long_range_is_a_422(
    deadlines: Deadlines, params: dict[str, str]
) -> None:
    response = await deadlines.client.get("/open-data/v1/monthly.json", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
