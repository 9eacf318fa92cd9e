"""The appeal page's "time at each hop" table and the compliance page's working days lost to
redirects (issue 13 item 4), from the service's own figures: a redirected and answered appeal
on the real Kafka and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from appeals_platform.auth import Role
from tests.dashboard.test_http import client
from tests.deadlines_service.conftest import Deadlines, local

pytestmark = pytest.mark.infra

FIRST, SECOND = "KRG-ENERGY-HOUSING", "KRG-KARAGANDA-AKIMAT"
HOP_ROW = re.compile(r'<tr data-hop="(\d+)" data-working-days="(-?\d+)">(.*?)</tr>', re.S)
TOTAL = re.compile(r'<td data-working-days="(-?\d+)">')


def hops_section(page: str) -> str:
    start = page.index('<section id="hops">')
    return page[start : page.index("</section>", start)]


async def redirected_and_answered(site: Deadlines) -> str:
    """An appeal FIRST redirects to SECOND after 2 working days (Thu 26 to Mon 30 May 2022),
    answered by SECOND 4 working days later; its id."""
    appeal = await site.assign(local(2022, 5, 26, 10), agency=FIRST)
    await site.wait_for_clock(appeal)
    await site.hand_over(
        appeal, local(2022, 5, 26, 10), local(2022, 5, 30, 16), from_agency=FIRST, to_agency=SECOND
    )
    await site.answer(appeal, local(2022, 6, 3, 11), agency=SECOND)
    await site.wait_for_clock(appeal, "answered")
    return appeal


async def test_the_appeal_page_shows_the_time_at_each_hop_and_its_total(site: Deadlines) -> None:
    appeal = await redirected_and_answered(site)
    table = (await site.client.get(f"/v1/appeals/{appeal}/hops", headers=site.auth())).json()

    async with client(site) as browser:
        page = await browser.get(f"/dashboard/appeals/{appeal}")
    assert page.status_code == 200, page.text
    section = hops_section(page.text)
    rows = {int(hop): (int(days), cells) for hop, days, cells in HOP_ROW.findall(section)}
    # The service's figures (2 and 4 working days, 6 in all), row by row.
    assert {hop: days for hop, (days, _) in rows.items()} == {
        h["hop"]: h["working_days"] for h in table["hops"]
    }
    assert {hop: days for hop, (days, _) in rows.items()} == {1: 2, 2: 4}
    assert "not_competent" in rows[1][1]
    assert TOTAL.findall(section) == [str(table["working_days"])] == ["6"]

    # An agency sees its own hop, and no total of hops it does not see.
    async with client(site, Role.AGENCY, agency=SECOND) as browser:
        own = hops_section((await browser.get(f"/dashboard/appeals/{appeal}")).text)
    assert [int(hop) for hop, _, _ in HOP_ROW.findall(own)] == [2]
    assert TOTAL.findall(own) == []


def agency_cells(page: str, key: str) -> dict[str, str]:
    """The agency table's row of `key` on the compliance page: metric -> current figure."""
    start = page.index('id="table-agency"')
    table = page[start : page.index("</table>", start)]
    row = table[table.index(f'<tr data-key="{key}"') :]
    row = row[: row.index("</tr>")]
    return dict(re.findall(r'<td class="num" data-metric="([a-z_]+)">([^<]*)<', row))


async def test_the_compliance_page_shows_the_working_days_lost_to_redirects(
    site: Deadlines,
) -> None:
    """The agency rating carries the service's redirect figures for May 2022 (the redirect's
    month): 2 working days lost by the agency that redirected, received by the next."""
    await redirected_and_answered(site)
    report = await site.client.get(
        "/v1/compliance", params={"period": "2022-05", "by": "agency"}, headers=site.auth()
    )
    service = {r["key"]: r["current"] for r in report.json()["rows"]}

    async with client(site) as browser:
        page = await browser.get("/dashboard/compliance?period=2022-05&compare=previous")
    assert page.status_code == 200, page.text
    for key, lost, received in ((FIRST, "2", "0"), (SECOND, "0", "2")):
        cells = agency_cells(page.text, key)
        assert (cells["redirect_days_lost"], cells["redirect_days_received"]) == (lost, received)
        assert int(lost) == service[key]["redirect_days_lost"]
        assert int(received) == service[key]["redirect_days_received"]
    assert "Потеряно на переадресациях" in page.text
    # Only the agency table has the columns: the other groupings count no days received.
    district = page.text[page.text.index('id="table-district"') :]
    assert "redirect_days" not in district[: district.index("</table>")]

    # An agency sees its own row with its figures.
    async with client(site, Role.AGENCY, agency=SECOND) as browser:
        own = (await browser.get("/dashboard/compliance?period=2022-05")).text
    cells = agency_cells(own, SECOND)
    assert (cells["redirect_days_lost"], cells["redirect_days_received"]) == ("0", "2")
