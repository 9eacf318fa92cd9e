"""Other services' events become timeline entries of this registry's appeals, and only of them."""

from __future__ import annotations

import uuid
from typing import Any

from appeals_contracts.envelope import CloudEvent
from appeals_platform.pool import connect
from intake import handlers
from tests.intake.conftest import Intake, dev_submissions, fresh
from tests.intake.test_appeals_api import assigned_event, routing_event


async def test_events_about_appeals_held_elsewhere_leave_no_trace(intake: Intake) -> None:
    ours = (await intake.post(fresh(dev_submissions()[3]))).json()["appeal_id"]
    elsewhere = str(uuid.uuid4())  # e.g. a benchmark's appeal on a shared cluster
    events = [
        CloudEvent[dict[str, Any]].model_validate(
            assigned_event(appeal_id, "KRG-POLICE").model_dump(mode="json")  # type: ignore[attr-defined]
        )
        for appeal_id in (ours, elsewhere)
    ]
    conn = await connect(intake.dsn, "intake")
    try:
        async with conn.transaction():
            await handlers.apply_foreign_events(conn, events)
        kinds = await conn.fetch("SELECT appeal_id::text, kind FROM timeline ORDER BY at")
        status = await conn.fetchval("SELECT status FROM appeals WHERE id = $1", uuid.UUID(ours))
    finally:
        await conn.close()
    assert [(r["appeal_id"], r["kind"]) for r in kinds] == [(ours, "received"), (ours, "assigned")]
    assert status == "assigned"


def foreign(event: object) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]].model_validate(event.model_dump(mode="json"))  # type: ignore[attr-defined]


async def test_a_batch_of_steps_leaves_each_appeal_where_its_latest_hop_put_it(
    intake: Intake,
) -> None:
    """The batch's steps are written set-wise, a statement per kind: the outcome is still that
    of applying them one by one, where a step of an older hop changes nothing."""
    moved, stale, triaged = [
        (await intake.post(fresh(dev_submissions()[i]))).json()["appeal_id"] for i in (3, 4, 5)
    ]
    events = [
        foreign(assigned_event(moved, "KRG-POLICE")),
        foreign(assigned_event(stale, "KRG-POLICE", hop=2)),
        foreign(routing_event("redirected", moved, 1, from_agency="KRG-POLICE")),
        foreign(assigned_event(moved, "KRG-KARAGANDA-AKIMAT", hop=2)),
        foreign(assigned_event(stale, "KRG-ENERGY-HOUSING", hop=1)),  # late, of an older hop
        foreign(routing_event("triaged", triaged, 1)),
    ]
    conn = await connect(intake.dsn, "intake")
    try:
        async with conn.transaction():
            await handlers.apply_foreign_events(conn, events)
        rows = await conn.fetch(
            "SELECT id::text, status, agency, hop FROM appeals WHERE id = ANY($1::uuid[])",
            [uuid.UUID(a) for a in (moved, stale, triaged)],
        )
        kinds = await conn.fetch(
            "SELECT kind FROM timeline WHERE appeal_id = $1 ORDER BY at, kind", uuid.UUID(moved)
        )
    finally:
        await conn.close()
    state = {r["id"]: (r["status"], r["agency"], r["hop"]) for r in rows}
    assert state[moved] == ("assigned", "KRG-KARAGANDA-AKIMAT", 2)
    assert state[stale] == ("assigned", "KRG-POLICE", 2)
    assert state[triaged] == ("triage", None, 1)
    assert sorted(r["kind"] for r in kinds) == ["assigned", "assigned", "received", "redirected"]
