"""The appeal page's "time at each hop" table (issue 13 item 4), from the service's own hop
table: a redirected and answered appeal on the real Kafka and PostgreSQL."""

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


async def test_the_appeal_page_shows_the_time_at_each_hop_and_its_total(site: Deadlines) -> None:
    appeal = await site.assign(local(2022, 5, 26, 10), agency=FIRST)
    await site.wait_for_clock(appeal)
    await site.redirect(appeal, local(2022, 5, 30, 16), from_agency=FIRST, to_agency=SECOND)
    await site.wait_for_clock(appeal, "redirected")
    await site.assign(
        local(2022, 5, 26, 10),
        appeal_id=appeal,
        hop=2,
        agency=SECOND,
        assigned_at=local(2022, 5, 30, 16),
    )
    await site.wait_for(appeal, lambda view: len(view["hops"]) == 2)
    await site.answer(appeal, local(2022, 6, 3, 11), agency=SECOND)
    await site.wait_for_clock(appeal, "answered")
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
