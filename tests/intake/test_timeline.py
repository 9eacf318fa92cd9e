"""Other services' events become timeline entries of this registry's appeals, and only of them."""

from __future__ import annotations

import uuid
from typing import Any

from appeals_contracts.envelope import CloudEvent
from appeals_platform.pool import connect
from intake import handlers
from tests.intake.conftest import Intake, dev_submissions, fresh
from tests.intake.test_appeals_api import assigned_event


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
