"""The dashboard's what-if page: a proposed reference document posted on the page is replayed
by the real routing service (over HTTP, with the operator's token the form forwards) and the
page shows exactly the appeals the change moves; agencies are refused; routing's refusals and
routing being away are a message on the page, never a 500."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from appeals_platform.auth import Role
from deadlines.clocks import SettableClock
from tests.conftest import Stack, TokenFactory, Topics
from tests.dashboard.conftest import start_site
from tests.dashboard.test_http import client
from tests.deadlines_service.conftest import local
from tests.routing_service.conftest import RoutingFactory, received, start_routing, submission
from tests.routing_service.test_what_if import (
    ABAY,
    BUKHAR_ZHYRAU,
    LOCAL_MATTERS,
    topar_moved_to_bukhar_zhyrau,
)

pytestmark = pytest.mark.infra

__all__ = ["start_routing"]  # the routing tests' fixture, used here too

SINCE, UNTIL = "2026-03-01", "2026-03-31"  # the routing fixture registers on 2 March 2026
MOVE_ROW = re.compile(r'<tr data-from="([^"]+)" data-to="([^"]+)" data-appeals="(\d+)">')
LOAD_ROW = re.compile(r'<tr data-agency="([^"]+)" data-change="(-?\d+)">')
EXAMPLE = re.compile(r'data-appeal="([0-9a-f-]{36})"')


async def test_the_page_shows_exactly_the_appeals_a_locality_move_would_send_elsewhere(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    topics: Topics,
    start_routing: RoutingFactory,
) -> None:
    routing = await start_routing(over_http=True)
    sent: dict[str, tuple[str, str]] = {}  # appeal id -> (locality, agency)
    cases = [("KRG-TOPAR", c) for c in LOCAL_MATTERS]  # district matters about Topar: move
    cases.append(("KRG-ABAY", LOCAL_MATTERS[0]))  # stays in Abay district
    for locality, (category, subject, text) in cases:
        appeal = received(
            submission(
                category=category, subject=subject, text=text, location={"locality": locality}
            )
        )
        hops = (await routing.route(appeal))["hops"]
        sent[appeal.appeal_id] = (locality, hops[0]["assignment"]["agency"])
    expected = {a for a, (place, agency) in sent.items() if place == "KRG-TOPAR" and agency == ABAY}
    assert len(expected) == 3, sent
    document = (await routing.client.get("/v1/reference", headers=routing.auth())).json()
    proposed = json.dumps(topar_moved_to_bukhar_zhyrau(document), ensure_ascii=False)
    operator = token(Role.OPERATOR)

    clock = SettableClock(local(2026, 3, 20, 10))
    async with start_site(
        stack, database, key_dir, token, topics, clock, routing_url=routing.url
    ) as site:
        async with client(site) as monitoring:
            form = await monitoring.get("/dashboard/what-if")
            assert form.status_code == 200 and 'name="reference_file"' in form.text
            assert 'href="/dashboard/what-if"' in form.text  # in the navigation

            # The document uploaded as a file; the report as a page.
            page = await monitoring.post(
                "/dashboard/what-if",
                data={"since": SINCE, "until": UNTIL, "token": operator, "format": "json"},
                files={"reference_file": ("proposed.json", proposed.encode(), "application/json")},
            )
            assert page.status_code == 200, page.text
            report = page.text.split('id="what-if-report"', 1)[1].split("</section>", 1)[0]
            assert MOVE_ROW.findall(report) == [(ABAY, BUKHAR_ZHYRAU, "3")]
            assert set(EXAMPLE.findall(report)) == expected
            assert set(LOAD_ROW.findall(report)) == {(ABAY, "-3"), (BUKHAR_ZHYRAU, "3")}
            assert 'data-moved="3"' in report
            assert operator not in page.text  # the token is not sent back

            # The same document pasted, as CSV of the moved appeals.
            download = await monitoring.post(
                "/dashboard/what-if",
                data={
                    "since": SINCE,
                    "until": UNTIL,
                    "token": operator,
                    "reference": proposed,
                    "format": "csv",
                },
            )
            assert download.status_code == 200, download.text
            assert download.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(download.text)))
            assert {r["appeal_id"] for r in rows} == expected

            # Routing's refusals, as messages on the page: a token that is not an operator's,
            # a document that is no reference; the dashboard's own: JSON that is not JSON.
            not_operator = await monitoring.post(
                "/dashboard/what-if",
                data={"since": SINCE, "token": token(Role.MONITORING), "reference": proposed},
            )
            assert not_operator.status_code == 403
            assert 'id="what-if-problem"' in not_operator.text
            broken = await monitoring.post(
                "/dashboard/what-if",
                data={"since": SINCE, "token": operator, "reference": '{"agencies": 1}'},
            )
            assert broken.status_code == 422 and 'id="what-if-problem"' in broken.text
            garbage = await monitoring.post(
                "/dashboard/what-if",
                data={"since": SINCE, "token": operator, "reference": "{not json"},
            )
            assert garbage.status_code == 422 and 'id="what-if-problem"' in garbage.text

        async with client(site, Role.AGENCY, agency=ABAY) as agency:
            refused = await agency.get("/dashboard/what-if")
            assert refused.status_code == 403
            assert 'name="reference_file"' not in refused.text
            assert 'href="/dashboard/what-if"' not in refused.text
            posted = await agency.post(
                "/dashboard/what-if",
                data={"since": SINCE, "token": operator, "reference": proposed},
            )
            assert posted.status_code == 403 and "data-from" not in posted.text

    # Nothing was changed by any of it: routing's decisions are as they were.
    for appeal_id, (_, agency_code) in sent.items():
        hops = (await routing.history(appeal_id))["hops"]
        assert [h["assignment"]["agency"] for h in hops] == [agency_code]


async def test_routing_away_is_a_message_on_the_page(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> None:
    clock = SettableClock(local(2026, 3, 20, 10))
    nowhere = "http://127.0.0.1:9"  # discard: nothing answers HTTP there
    async with (
        start_site(stack, database, key_dir, token, topics, clock, routing_url=nowhere) as site,
        client(site) as monitoring,
    ):
        page = await monitoring.post(
            "/dashboard/what-if",
            data={"since": SINCE, "token": token(Role.OPERATOR), "reference": "{}"},
        )
        assert page.status_code == 502
        assert 'id="what-if-problem"' in page.text and 'name="reference"' in page.text
