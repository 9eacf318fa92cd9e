"""The dashboard's "Agency inboxes" view (issue 13 item 3): every agency's inbox as the
watcher last judged it, stalled first, reloading itself; an agency sees only its own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appeals_platform.auth import Role
from deadlines.clocks import SettableClock
from deadlines.inboxes import UNCONFIRMED_COUNTED
from tests.conftest import Stack, TokenFactory, Topics
from tests.dashboard.conftest import start_site
from tests.dashboard.test_http import client
from tests.deadlines_service.conftest import Deadlines, local

pytestmark = pytest.mark.infra

ROW = re.compile(r'<tr data-agency="([^"]+)" data-state="([^"]+)"')


@pytest.fixture
async def site(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> AsyncIterator[Deadlines]:
    """The dashboard without the watch loop: the test runs the round itself."""
    clock = SettableClock(local(2022, 5, 26, 10))
    async with start_site(
        stack, database, key_dir, token, topics, clock, inbox_watch_enabled=False
    ) as running:
        yield running


async def test_the_inbox_view_lists_every_agency_stalled_first(site: Deadlines) -> None:
    await site.service.watchers[0].round()
    agencies = {a.code for a in site.service.ctx.reference.agencies}
    # As the watcher stores a stall (its judging is tested in test_inboxes.py).
    await site.rows(
        "UPDATE inboxes SET state = 'stalled', reasons = '{lag,unconfirmed}', lag = 7,"
        " unconfirmed = $2 WHERE agency = $1 RETURNING 1",
        "KRG-SPORT",
        UNCONFIRMED_COUNTED,
    )
    async with client(site) as monitoring:
        page = await monitoring.get("/dashboard/inboxes")
    assert page.status_code == 200, page.text
    assert page.headers["refresh"] == "30"
    rows = ROW.findall(page.text)
    assert {agency for agency, _ in rows} == agencies
    assert rows[0] == ("KRG-SPORT", "stalled")
    assert all(state == "ok" for _, state in rows[1:])
    first = page.text[page.text.index('data-agency="KRG-SPORT"') :].split("</tr>")[0]
    assert 'data-metric="lag">7<' in first
    # The watcher counts up to its bound: there, the page says "or more".
    assert re.search(r'data-metric="unconfirmed">1\D?000\+<', first), first

    async with client(site, Role.AGENCY, agency="KRG-HEALTH") as agency:
        own = await agency.get("/dashboard/inboxes")
    assert own.status_code == 200
    assert ROW.findall(own.text) == [("KRG-HEALTH", "ok")]
