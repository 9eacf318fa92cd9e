"""`deadlines rebuild`: the clocks, alerts and aggregates rebuilt from the topics equal the live
ones, in a fresh database and in place under a running service."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from appeals_platform.auth import Role
from appeals_tools.stack.postgres import as_role
from deadlines import cli
from deadlines.config import Settings
from tests.conftest import Stack
from tests.deadlines_service.conftest import Deadlines, local

pytestmark = pytest.mark.infra

CITY = "KRG-KARAGANDA-AKIMAT"

SNAPSHOT = {
    "clocks": "SELECT * FROM clocks ORDER BY appeal_id, hop",
    "alerts": "SELECT * FROM alerts ORDER BY id",
    "answers": "SELECT * FROM answers ORDER BY event_id",
    "redirects": "SELECT * FROM redirects ORDER BY event_id",
    "compliance_daily": """
        SELECT * FROM compliance_daily
        WHERE received <> 0 OR answered_on_time <> 0 OR answered_late <> 0 OR redirected <> 0
              OR redirected_late <> 0 OR redirect_days_lost <> 0 OR redirect_days_received <> 0
        ORDER BY dimension, day, key""",
    "compliance_answer_days": """
        SELECT * FROM compliance_answer_days WHERE answers <> 0
        ORDER BY dimension, day, key, working_days""",
}


async def snapshot(dsn: str) -> dict[str, list[dict[str, Any]]]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "deadlines"})
    try:
        return {name: [dict(r) for r in await conn.fetch(sql)] for name, sql in SNAPSHOT.items()}
    finally:
        await conn.close()


async def live_history(deadlines: Deadlines) -> None:
    """Two weeks of a service's life: warnings, breaches, reminders, an extension, answers,
    a late redirect with the next hop, a partial redirect, an acknowledgement."""
    d = deadlines
    late_answer = await d.assign(local(2022, 5, 26, 17, 17))
    extended = await d.assign(local(2022, 5, 26, 10))
    redirected = await d.assign(local(2022, 5, 26, 10))
    on_time = await d.assign(local(2022, 5, 27, 10))
    partial = await d.assign(local(2022, 5, 27, 10))
    for appeal in (late_answer, extended, redirected, on_time, partial):
        await d.wait_for(appeal)
    await d.redirect(redirected, local(2022, 5, 31, 10))
    await d.assign(
        local(2022, 5, 26, 10),
        appeal_id=redirected,
        hop=2,
        agency=CITY,
        assigned_at=local(2022, 5, 31, 10, 5),
    )
    await d.redirect(partial, local(2022, 5, 28, 10), partial=True)
    await d.answer(on_time, local(2022, 6, 1, 12))
    await d.wait_for(redirected, lambda v: len(v["hops"]) == 2)
    await d.wait_for(partial, lambda v: v["current"]["redirected_at"] is not None)
    await d.wait_for(on_time, lambda v: v["current"]["state"] == "answered")
    await d.tick(local(2022, 6, 10, 0, 0, 1))
    d.clock.set(local(2022, 6, 10, 11))
    extension = await d.client.post(
        f"/v1/appeals/{extended}/extend",
        json={"new_due_date": "2022-07-15", "reason": "выезд", "notified_on": "2022-06-10"},
        headers=d.auth(Role.AGENCY, agency="KRG-ENERGY-HOUSING"),
    )
    assert extension.status_code == 200, extension.text
    await d.tick(local(2022, 6, 14, 9))
    await d.tick(local(2022, 6, 16, 0, 0, 1))
    breaches = await d.rows(
        "SELECT id FROM alerts WHERE appeal_id = $1::uuid AND kind = 'breached'", late_answer
    )
    d.clock.set(local(2022, 6, 16, 9))
    acknowledged = await d.client.post(
        f"/v1/alerts/{breaches[0]['id']}/acknowledge", json={"comment": "ok"}, headers=d.auth()
    )
    assert acknowledged.status_code == 200
    await d.answer(extended, local(2022, 6, 20, 12))
    await d.answer(late_answer, local(2022, 6, 21, 12))
    await d.wait_for(extended, lambda v: v["current"]["state"] == "answered")
    await d.wait_for(late_answer, lambda v: v["current"]["state"] == "answered")
    await d.tick(local(2022, 6, 22, 8))
    await d.tick(local(2022, 6, 29, 8))
    await d.outbox_drained()


async def test_rebuild_into_a_fresh_database_and_in_place_ends_in_the_same_state(
    deadlines: Deadlines, stack: Stack, template_database: str
) -> None:
    await live_history(deadlines)
    live = await snapshot(deadlines.dsn)
    kinds = sorted(a["kind"] for a in live["alerts"])
    assert kinds.count("breached") == 3 and "redirect_overdue" in kinds
    assert "overdue_reminder" in kinds and kinds.count("warning") >= 4
    assert any(a["acknowledged_at"] for a in live["alerts"])
    assert any(c["extensions"] for c in live["clocks"])

    fresh_name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{fresh_name}" TEMPLATE "{template_database}"')
    try:
        settings: Settings = deadlines.service.settings.model_copy(
            update={"database_url": as_role(stack.dsn(fresh_name), "deadlines")}
        )
        assert await cli.run(["rebuild"], settings) == 0
        assert await snapshot(stack.dsn(fresh_name)) == live
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{fresh_name}" WITH (FORCE)')
        await admin.close()

    assert await cli.run(["rebuild"], deadlines.service.settings) == 0
    assert await snapshot(deadlines.dsn) == live
    # The rebuilt timers go on where the live ones were: nothing is raised twice.
    assert (await deadlines.tick(local(2022, 6, 29, 9))).alerts == 0
    assert (await deadlines.tick(local(2022, 7, 8, 8))).alerts > 0
    ids = await deadlines.rows("SELECT id FROM alerts")
    assert len(ids) > len(live["alerts"])
