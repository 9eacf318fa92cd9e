"""The dashboard's HTTP contract against the real service, Kafka and PostgreSQL (no browser)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from appeals_contracts import event_types
from appeals_platform.auth import Role
from appeals_tools.tokens import revoke, token_id
from deadlines.clocks import SettableClock
from tests.conftest import Stack, TokenFactory, Topics
from tests.dashboard.conftest import start_site
from tests.deadlines_service.conftest import Deadlines, local
from tests.kafka_probe import EventProbe

pytestmark = pytest.mark.infra


@asynccontextmanager
async def client(
    site: Deadlines, role: Role = Role.MONITORING, **claims: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in with a token of this role: it holds the session cookie only."""
    async with httpx.AsyncClient(
        base_url=site.url, headers={"Origin": site.url}, timeout=30
    ) as browser:
        signed = await browser.post(
            "/dashboard/sign-in", data={"token": site.token(role, **claims)}
        )
        assert signed.status_code == 303, signed.text
        yield browser


async def breach(site: Deadlines, agency: str = "KRG-ENERGY-HOUSING") -> tuple[str, uuid.UUID]:
    """An appeal whose clock the test moves past its due date; its id and its breach's id."""
    appeal = await site.assign(local(2022, 5, 26, 17, 17), agency=agency)
    await site.wait_for_clock(appeal)
    site.clock.set(local(2022, 6, 16, 10))
    await site.wait_until(
        "SELECT 1 FROM alerts WHERE appeal_id = $1 AND kind = 'breached'", uuid.UUID(appeal)
    )
    rows = await site.rows(
        "SELECT id FROM alerts WHERE appeal_id = $1 AND kind = 'breached'", uuid.UUID(appeal)
    )
    return appeal, rows[0]["id"]


async def test_pages_without_a_session_send_the_browser_to_sign_in(site: Deadlines) -> None:
    async with httpx.AsyncClient(base_url=site.url) as anonymous:
        page = await anonymous.get("/dashboard/compliance?period=2022Q1")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/dashboard/sign-in?next=")
        stream = await anonymous.get("/dashboard/alerts/stream")
        assert stream.status_code == 401


async def test_signing_in_sets_an_httponly_strict_cookie_scoped_to_the_dashboard(
    site: Deadlines,
) -> None:
    async with httpx.AsyncClient(base_url=site.url) as browser:
        response = await browser.post(
            "/dashboard/sign-in",
            data={"token": site.token(Role.MONITORING), "next": "/dashboard/backlog"},
        )
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/backlog"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/dashboard" in cookie
    assert "max-age=" in cookie and "secure" not in cookie  # plain http here: no Secure flag
    session_id = response.cookies["dashboard_session"]
    stored = await site.rows("SELECT id_hash, subject, role FROM dashboard_sessions")
    assert [r["role"] for r in stored] == ["monitoring"]
    # Only the id's hash is stored: the table gives nobody a cookie, and holds no token.
    assert all(session_id.encode() not in bytes(r["id_hash"]) for r in stored)


async def test_signing_out_deletes_the_session_so_the_old_cookie_opens_nothing(
    site: Deadlines,
) -> None:
    async with client(site) as browser:
        cookie = browser.cookies["dashboard_session"]
        assert (await browser.get("/dashboard/backlog")).status_code == 200
        out = await browser.post("/dashboard/sign-out")
        assert out.status_code == 303 and "dashboard_session=" in out.headers["set-cookie"]
    assert await site.rows("SELECT 1 FROM dashboard_sessions") == []
    async with httpx.AsyncClient(base_url=site.url) as replay:
        again = await replay.get(
            "/dashboard/backlog", headers={"Cookie": f"dashboard_session={cookie}"}
        )
        assert again.status_code == 303


async def test_revoking_the_token_ends_its_dashboard_session(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> None:
    clock = SettableClock(local(2022, 5, 26, 9))
    async with start_site(
        stack, database, key_dir, token, topics, clock, jwt_refresh_seconds=0.1
    ) as quick:
        issued = quick.token(Role.MONITORING)
        async with httpx.AsyncClient(base_url=quick.url, timeout=30) as browser:
            assert (
                await browser.post("/dashboard/sign-in", data={"token": issued})
            ).status_code == 303
            assert (await browser.get("/dashboard/backlog")).status_code == 200
            stream = await browser.send(
                browser.build_request("GET", "/dashboard/alerts/stream"), stream=True
            )
            assert stream.status_code == 200
            revoke(key_dir, *token_id(issued))
            # The open stream ends by itself, telling the page to reload (into the sign-in).
            seen = ""
            async with asyncio.timeout(30):
                async for chunk in stream.aiter_text():
                    seen += chunk
                    if "event: reload" in seen:
                        break
            await stream.aclose()
            assert "event: reload" in seen
            for _ in range(100):
                page = await browser.get("/dashboard/backlog")
                if page.status_code == 303:
                    break
                await asyncio.sleep(0.1)
            assert page.status_code == 303
            assert page.headers["location"].startswith("/dashboard/sign-in")
            stream = await browser.get("/dashboard/alerts/stream")
            assert stream.status_code == 401


async def test_an_acknowledgement_is_published_once_and_a_second_one_is_a_conflict(
    site: Deadlines, probe: Callable[[str], EventProbe]
) -> None:
    appeal, alert_id = await breach(site)
    async with probe(site.topics.alerts) as alerts, client(site) as monitoring:
        first = await monitoring.post(
            f"/dashboard/alerts/{alert_id}/acknowledge",
            data={"comment": "Взято на контроль"},
            headers={"Accept": "application/json"},
        )
        assert first.status_code == 200, first.text
        assert "Взято на контроль" in first.json()["html"]
        event = await alerts.wait_for_subject(appeal, event_types.ALERT_ACKNOWLEDGED)
        assert event["data"]["alert_id"] == str(alert_id)
        assert event["data"]["comment"] == "Взято на контроль"
        again = await monitoring.post(
            f"/dashboard/alerts/{alert_id}/acknowledge",
            data={"comment": "ещё раз"},
            headers={"Accept": "application/json"},
        )
        assert again.status_code == 409
        assert "Взято на контроль" in again.json()["html"]


async def test_an_agency_cannot_acknowledge_and_a_foreign_origin_cannot_either(
    site: Deadlines,
) -> None:
    _, alert_id = await breach(site, agency="KRG-HEALTH")
    async with client(site, Role.AGENCY, agency="KRG-HEALTH") as agency:
        refused = await agency.post(
            f"/dashboard/alerts/{alert_id}/acknowledge", headers={"Accept": "application/json"}
        )
        assert refused.status_code == 403
    async with client(site) as monitoring:
        forged = await monitoring.post(
            f"/dashboard/alerts/{alert_id}/acknowledge",
            headers={"Accept": "application/json", "Origin": "https://evil.example"},
        )
        assert forged.status_code == 403
    rows = await site.rows("SELECT acknowledged_at FROM alerts WHERE id = $1", alert_id)
    assert rows[0]["acknowledged_at"] is None


async def test_a_reconnecting_stream_catches_up_on_alerts_it_missed(site: Deadlines) -> None:
    earlier = await site.assign(local(2022, 5, 20, 10))
    await site.wait_for_clock(earlier)
    site.clock.set(local(2022, 6, 14, 10))
    await site.wait_until(
        "SELECT 1 FROM alerts WHERE appeal_id = $1 AND kind = 'breached'", uuid.UUID(earlier)
    )
    first = await site.rows(
        "SELECT id FROM alerts WHERE appeal_id = $1 AND kind = 'breached'", uuid.UUID(earlier)
    )
    _, missed_id = await breach(site)
    async with (
        client(site) as monitoring,
        monitoring.stream(
            "GET",
            "/dashboard/alerts/stream?kind=breached",
            headers={"Last-Event-ID": str(first[0]["id"])},
        ) as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        seen = ""
        async for chunk in stream.aiter_text():
            seen += chunk
            if str(missed_id) in seen:
                break
    assert f"id: {missed_id}" in seen and "event: alert" in seen
    assert f"id: {first[0]['id']}\n" not in seen


async def test_the_compliance_csv_refuses_an_unknown_period_or_table(site: Deadlines) -> None:
    async with client(site) as monitoring:
        assert (
            await monitoring.get("/dashboard/compliance/agency.csv?period=soon")
        ).status_code == 400
        assert (await monitoring.get("/dashboard/compliance/nothing.csv")).status_code == 404
        ok = await monitoring.get("/dashboard/compliance/district.csv?period=2022Q2")
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/csv")
        assert "compliance-district-2022Q2-vs-2021Q2.csv" in ok.headers["content-disposition"]


async def test_the_grouped_overdue_count_agrees_with_the_services_own_per_dimension(
    site: Deadlines,
) -> None:
    late = await site.assign(local(2022, 5, 26, 17, 17))
    other = await site.assign(local(2022, 5, 27, 9), agency="KRG-HEALTH", category="HEALTH-CARE")
    answered = await site.assign(local(2022, 5, 20, 9), locality="KRG-KARAGANDA-KAZYBEK-BI")
    for appeal in (late, other, answered):
        await site.wait_for_clock(appeal)
    await site.answer(answered, local(2022, 6, 20, 12), agency="KRG-ENERGY-HOUSING")
    await site.wait_for_clock(answered, "answered")
    from appeals_dashboard.report import OVERDUE_COLUMN
    from deadlines import compliance
    from deadlines.queries import OVERDUE_GROUPS

    for moment in (local(2022, 6, 17), local(2022, 7, 1)):
        groups = await site.rows(OVERDUE_GROUPS, moment)
        assert groups, moment
        for dimension, column in OVERDUE_COLUMN.items():
            theirs = {
                r["key"]: r["n"]
                for r in await site.rows(compliance.OPEN_OVERDUE, dimension, moment)
            }
            ours: dict[str, int] = {}
            for r in groups:
                ours[r[column]] = ours.get(r[column], 0) + r["n"]
            assert ours == theirs, (dimension, moment)
