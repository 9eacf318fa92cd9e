"""The history simulator through the real services (intake, routing, deadlines on the test
stack's Kafka and PostgreSQL): a seeded past of 100 appeals shows in the clocks, compliance
and alerts as the plan says, marked as demo data; backdating is refused to anyone else."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from appeals_law.calendar import ALMATY, WorkingCalendar
from appeals_law.rules import load_rules
from appeals_platform.auth import Role
from appeals_platform.backdating import DEMO_SUBJECT, HEADER
from appeals_reference.loader import load_reference
from appeals_tools.history.feeder import Feeder, Urls, feed
from appeals_tools.history.plan import plan
from deadlines.app import create_app as create_deadlines
from deadlines.config import Settings as DeadlinesSettings
from intake.app import create_app as create_intake
from intake.config import Settings as IntakeSettings
from routing.app import create_app as create_routing
from routing.config import Settings as RoutingSettings
from tests.conftest import Stack, TokenFactory
from tests.intake.conftest import dev_submissions
from tests.services import running, serving, settings_for

pytestmark = pytest.mark.infra

START = datetime(2026, 3, 2, tzinfo=ALMATY)
END = datetime(2026, 6, 1, tzinfo=ALMATY)
PAST = datetime(2026, 4, 15, 11, 0, tzinfo=ALMATY)


def _backdated(body: dict[str, Any], at: datetime, token: str) -> dict[str, Any]:
    return {
        "json": {**body, "submitted_at": at.isoformat()},
        "headers": {"Authorization": f"Bearer {token}", HEADER: at.isoformat()},
    }


async def test_a_past_moment_is_refused_unless_demo_history_is_on_and_the_caller_is_the_demo(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory
) -> None:
    body = dev_submissions()[0]
    demo = token(Role.INTEGRATION, source=DEMO_SUBJECT, subject=DEMO_SUBJECT)
    portal = token(Role.INTEGRATION, source="egov-portal")
    off = create_intake(settings_for(IntakeSettings, database, stack, key_dir))
    async with running(off) as intake:
        refused = await intake.post("/v1/appeals", **_backdated(body, PAST, demo))
        assert refused.status_code == 403, refused.text
        assert refused.json()["title"] == "backdating is off"
    on = create_intake(settings_for(IntakeSettings, database, stack, key_dir, demo_history=True))
    async with running(on) as intake:
        refused = await intake.post("/v1/appeals", **_backdated(body, PAST, portal))
        assert refused.status_code == 403, refused.text
        assert refused.json()["title"] == "only the demo principal may backdate"
        for bad in ("2026-04-15T11:00:00", "yesterday", "2999-01-01T00:00:00+05:00"):
            sent = _backdated(body, PAST, demo)
            sent["headers"][HEADER] = bad
            refused = await intake.post("/v1/appeals", **sent)
            assert refused.status_code == 422, (bad, refused.text)
        # The ordinary way is untouched by the setting: no header, registered now.
        live = await intake.post(
            "/v1/appeals",
            json={**body, "external_id": "live-1", "submitted_at": datetime.now(UTC).isoformat()},
            headers={"Authorization": f"Bearer {portal}"},
        )
        assert live.status_code == 201, live.text
        assert live.json()["registered_at"] > PAST.isoformat()
        accepted = await intake.post("/v1/appeals", **_backdated(body, PAST, demo))
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["registered_at"] == PAST.isoformat()


async def _until(check: Any, what: str, timeout: float = 120) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.5)
    return found


async def test_a_seeded_past_shows_in_clocks_compliance_and_alerts_as_planned_and_marked_demo(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, tmp_path: Path
) -> None:
    the_plan = plan(27, START, END, 100, load_reference(), load_rules(), WorkingCalendar())
    demo = {"demo_history": True}
    intake_app = create_intake(settings_for(IntakeSettings, database, stack, key_dir, **demo))
    routing_app = create_routing(
        settings_for(
            RoutingSettings,
            database,
            stack,
            key_dir,
            model_path=tmp_path / "no-model.joblib",
            **demo,
        )
    )
    deadlines_app = create_deadlines(
        settings_for(
            DeadlinesSettings,
            database,
            stack,
            key_dir,
            ticker_interval=0.5,
            history_settle_seconds=20,
            **demo,
        )
    )
    monitoring = {"Authorization": f"Bearer {token(Role.MONITORING)}"}
    async with (
        serving(deadlines_app) as deadlines_url,
        serving(routing_app) as routing_url,
        serving(intake_app) as intake_url,
        httpx.AsyncClient(timeout=30) as http,
    ):
        tally = await feed(
            the_plan,
            Urls(intake_url, routing_url, deadlines_url),
            token(Role.INTEGRATION, source=DEMO_SUBJECT, subject=DEMO_SUBJECT),
            lambda code: token(Role.AGENCY, agency=code, subject=DEMO_SUBJECT),
            concurrency=6,
            progress=lambda line: None,
        )
        assert tally.registered == 100 and tally.triaged == 0
        assert tally.ids is not None and tally.steps is not None
        planned = Counter(s.kind for a in the_plan.appeals for s in a.steps)
        assert tally.steps == planned
        assert planned["redirect"] >= 2 and planned["extend"] >= 2

        # Every appeal's clock ends as planned: answered on time or late, or still open;
        # redirected ones on a second hop, extended ones extended once.
        async def clocks() -> dict[str, dict[str, Any]] | None:
            found = {}
            for appeal in the_plan.appeals:
                appeal_id = tally.ids[appeal.submission.external_id]  # type: ignore[index]
                seen = await http.get(
                    f"{deadlines_url}/v1/appeals/{appeal_id}/clock", headers=monitoring
                )
                if seen.status_code != 200:
                    return None
                current = seen.json()["current"]
                if appeal.fate != "open" and current["state"] == "open":
                    return None  # its answer is still on its way
                found[appeal.submission.external_id] = current
            return found

        seen = await _until(clocks, "every clock as planned")
        for appeal in the_plan.appeals:
            clock = seen[appeal.submission.external_id]
            kinds = [s.kind for s in appeal.steps]
            assert clock["hop"] == 1 + kinds.count("redirect")
            assert clock["extensions"] == kinds.count("extend")
            expected = {"late": "late", "open": None}.get(appeal.fate, "on_time")
            assert clock["outcome"] == expected, (appeal.fate, clock)
        assert {a.fate for a in the_plan.appeals} == {"on_time", "last_day", "late", "open"}

        # Compliance over the simulated months counts late and on-time answers.
        late = on_time = received = 0
        for month in ("2026-03", "2026-04", "2026-05"):
            report = await http.get(
                f"{deadlines_url}/v1/compliance",
                params={"period": month, "by": "region"},
                headers=monitoring,
            )
            assert report.status_code == 200, report.text
            for row in report.json()["rows"]:
                late += row["current"]["answered_late"]
                on_time += row["current"]["answered_on_time"]
                received += row["current"]["received"]
        assert late >= 5 and on_time >= 30 and received >= 90

        # Breaches: one per open appeal past its due moment, none for an appeal answered on
        # time (its clock opened after its due moment, and the answer came before the ticker).
        # (The period ended months ago: every appeal left open is overdue now.)
        overdue_open = {
            tally.ids[a.submission.external_id] for a in the_plan.appeals if a.fate == "open"
        }
        answered_on_time = {
            tally.ids[a.submission.external_id]
            for a in the_plan.appeals
            if a.fate in ("on_time", "last_day")
        }
        assert overdue_open

        async def breaches() -> list[dict[str, Any]] | None:
            listed = await http.get(
                f"{deadlines_url}/v1/alerts",
                params={"kind": "breached", "limit": 1000},
                headers=monitoring,
            )
            rows: list[dict[str, Any]] = listed.json()["alerts"]
            ours = [r for r in rows if r["appeal_id"] in overdue_open | answered_on_time]
            return ours if {r["appeal_id"] for r in ours} >= overdue_open else None

        raised = await _until(breaches, "a breach for every open overdue appeal", timeout=180)
        per_appeal = Counter(r["appeal_id"] for r in raised)
        assert set(per_appeal) == overdue_open and set(per_appeal.values()) == {1}

        # Marked demo: the appeals belong to the demo-history source, the dashboard says so.
        own = await http.get(
            f"{intake_url}/v1/appeals/{tally.ids[the_plan.appeals[0].submission.external_id]}",
            headers={"Authorization": f"Bearer {token(Role.INTEGRATION, source=DEMO_SUBJECT)}"},
        )
        assert own.status_code == 200
        page = await http.get(f"{deadlines_url}/dashboard/sign-in")
        assert 'class="demo-banner"' in page.text


async def test_the_dashboard_has_no_demo_banner_without_demo_history(
    stack: Stack, database: str, key_dir: Path
) -> None:
    app = create_deadlines(
        settings_for(DeadlinesSettings, database, stack, key_dir, ticker_enabled=False)
    )
    async with running(app) as deadlines:
        page = await deadlines.get("/dashboard/sign-in")
        assert page.status_code == 200
        assert "demo-banner" not in page.text


async def test_a_wait_asks_again_after_a_read_whose_connection_broke() -> None:
    """A poll that met a connection the service closed under it (keep-alive) is only asked
    again: one such read ended a seeded past half-way in make test."""
    answers: list[Any] = [httpx.ReadError("closed under the request"), None, {"hop": 1}]

    async def check() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with httpx.AsyncClient() as client:
        feeder = Feeder(client, Urls("http://i", "http://r", "http://d"), "t", lambda code: "t")
        assert await feeder._until("the clock", check) == {"hop": 1}
    assert answers == []
