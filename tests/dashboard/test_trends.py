"""The compliance page's month-by-month trend (issue 14 item 5) against the real service,
Kafka and PostgreSQL: each month's figures are the service's own `/v1/compliance` figures for
that month, for the region, a district (its localities folded) or an agency; an agency sees
only its own; the seed's comparison (a quarter against the whole previous year) is a link."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from appeals_platform.auth import Role
from tests.dashboard.test_http import client
from tests.deadlines_service.conftest import Deadlines, local

pytestmark = pytest.mark.infra

ENERGY = "KRG-ENERGY-HOUSING"
HEALTH = "KRG-HEALTH"
ROW = re.compile(r'<tr data-month="([^"]+)"[^>]*>(.*?)</tr>', re.S)
CELL = re.compile(r'data-metric="([a-z_]+)">([^<]*)<')
COUNTS = ("received", "answered_on_time", "answered_late", "open_overdue")


def trend_rows(page: str) -> dict[str, dict[str, int]]:
    """The trend table's counts per month label, oldest first."""
    section = page[page.index('id="table-trend"') :]
    rows = {
        month: {
            name: int(value.replace("\u00a0", ""))
            for name, value in CELL.findall(cells)
            if name in COUNTS
        }
        for month, cells in ROW.findall(section)
    }
    return dict(sorted(rows.items()))


async def service_figures(site: Deadlines, month: str, by: str, key: str | None) -> dict[str, int]:
    """What `/v1/compliance` reports for one month: a key's row, or the total."""
    response = await site.client.get(
        "/v1/compliance", params={"period": month, "by": by}, headers=site.auth()
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    if key is None:
        figures = body["total"]["current"]
    else:
        rows = [r["current"] for r in body["rows"] if r["key"] == key]
        figures = rows[0] if rows else dict.fromkeys(COUNTS, 0)
    return {name: figures[name] for name in COUNTS}


async def history(site: Deadlines) -> None:
    """Energy: one answer on time in February, one late in March (overdue at the end of
    February); health, in a district: one appeal from April never answered."""
    on_time = await site.assign(local(2022, 2, 1, 10), agency=ENERGY, locality="KRG-KARAGANDA")
    late = await site.assign(
        local(2022, 2, 1, 11), agency=ENERGY, locality="KRG-KARAGANDA-KAZYBEK-BI"
    )
    unanswered = await site.assign(
        local(2022, 4, 1, 10), agency=HEALTH, category="HEALTH-CARE", locality="KRG-D-NURA"
    )
    for appeal in (on_time, late, unanswered):
        await site.wait_for_clock(appeal)
    await site.answer(on_time, local(2022, 2, 10, 12), agency=ENERGY)
    await site.answer(late, local(2022, 3, 15, 12), agency=ENERGY)
    for appeal in (on_time, late):
        await site.wait_for_clock(appeal, "answered")


async def test_each_month_of_the_trend_is_the_services_own_figure_for_that_month(
    site: Deadlines,
) -> None:
    await history(site)  # the site's clock stands at 26 May 2022
    scopes = ("all", f"agency:{ENERGY}", "district:KRG-KARAGANDA", "district:KRG-D-NURA")
    async with client(site) as monitoring:
        pages = {
            scope: await monitoring.get("/dashboard/compliance", params={"trend": scope})
            for scope in scopes
        }
    for scope, page in pages.items():
        assert page.status_code == 200, (scope, page.text)
    trends = {scope: trend_rows(page.text) for scope, page in pages.items()}

    region = trends["all"]
    assert len(region) == 24 and min(region) == "2020-06" and max(region) == "2022-05"
    assert region["2022-02"] == {
        "received": 2,
        "answered_on_time": 1,
        "answered_late": 0,
        "open_overdue": 1,  # the late one, past its due date and unanswered on 1 March
    }
    assert region["2022-03"]["answered_late"] == 1 and region["2022-03"]["open_overdue"] == 0
    assert region["2022-04"]["received"] == 1 and region["2022-05"]["open_overdue"] == 1
    assert sum(m["received"] for m in region.values()) == 3

    energy = trends[f"agency:{ENERGY}"]
    assert energy["2022-02"]["received"] == 2 and energy["2022-05"]["open_overdue"] == 0
    assert trends["district:KRG-KARAGANDA"]["2022-02"]["received"] == 2  # city + city district
    assert trends["district:KRG-KARAGANDA"]["2022-04"]["received"] == 0
    assert trends["district:KRG-D-NURA"]["2022-04"]["received"] == 1
    assert trends["district:KRG-D-NURA"]["2022-05"]["open_overdue"] == 1

    for month in ("2022-01", "2022-02", "2022-03", "2022-04", "2022-05"):
        assert region[month] == await service_figures(site, month, "agency", None), month
        assert energy[month] == await service_figures(site, month, "agency", ENERGY), month
        health = await service_figures(site, month, "locality", "KRG-D-NURA")
        assert trends["district:KRG-D-NURA"][month] == health, month


async def test_an_agency_sees_its_own_trend_whatever_the_link_asks_for(site: Deadlines) -> None:
    await history(site)
    async with client(site, Role.AGENCY, agency=HEALTH) as agency:
        page = await agency.get("/dashboard/compliance", params={"trend": f"agency:{ENERGY}"})
    assert page.status_code == 200, page.text
    rows = trend_rows(page.text)
    assert rows["2022-04"]["received"] == 1 and rows["2022-02"]["received"] == 0
    assert 'name="trend"' not in page.text.split('id="trend"')[1].split("<table")[0]


async def test_a_scope_that_names_nothing_known_is_a_bad_request(site: Deadlines) -> None:
    async with client(site) as monitoring:
        for scope in ("agency:NOPE", "district:KRG-KARAGANDA-KAZYBEK-BI", "everything"):
            page = await monitoring.get("/dashboard/compliance", params={"trend": scope})
            assert page.status_code == 400, scope


async def test_a_quarter_against_the_whole_previous_year_is_one_click_away(
    site: Deadlines,
) -> None:
    async with client(site) as monitoring:
        page = await monitoring.get("/dashboard/compliance", params={"period": "2022Q1"})
        assert page.status_code == 200, page.text
        quick = page.text[page.text.index('id="quick"') :].split("</p>")[0]
        links = [html.unescape(x) for x in re.findall(r'href="([^"]+)"', quick)]
        seed = [x for x in links if "period=2022Q1&compare=2021&" in x]
        assert seed, links
        compared = await monitoring.get(seed[0])
    assert compared.status_code == 200
    caption = re.search(r'<caption class="note">([^<]*)</caption>', compared.text)
    assert caption is not None and "2021" in caption[1] and "2022" in caption[1]
