"""Receipt confirmation: the agency of an open hop says it took the appeal into work.

The clock keeps when the hop reached the agency (`agency_received_at`) and when the agency
confirmed it (`confirmed_at`); ReceiptConfirmed on deadlines.deadline-events puts the
confirmation on the appeal's timeline (intake) and lets a rebuild restore it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from appeals_contracts import event_types
from appeals_contracts.envelope import event_id
from appeals_contracts.events import ReceiptConfirmed
from appeals_contracts.submission import ActingHop
from appeals_law.calendar import ALMATY
from appeals_platform import outbox
from appeals_platform.problems import Refused
from deadlines import db, extensions
from deadlines.alerts import SOURCE
from deadlines.context import Context


class ReceiptRequest(BaseModel):
    """The data of a receipt command (`{}` will do); over HTTP, `hop` is a query parameter.
    Other fields are ignored, as the command's data was before it could name a hop."""

    hop: ActingHop | None = None


def receipt_request(data: Any) -> ReceiptRequest:
    """A Kafka receipt command's data (none at all will do)."""
    return extensions.command_data(ReceiptRequest, data if data is not None else {})


async def confirm(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    agency: str,
    now: datetime,
    ctx: Context,
    hop: int | None = None,
) -> ReceiptConfirmed:
    """Confirm the agency's open hop, once; the same refusals as an extension's."""
    clock = await extensions.held_clock(conn, appeal_id, agency, hop)
    if await db.confirm_receipt(conn, appeal_id, clock["hop"], now) is None:
        raise Refused(
            409,
            "the receipt was already confirmed",
            f"confirmed at {clock['confirmed_at'].astimezone(ALMATY).isoformat()}",
        )
    data = ReceiptConfirmed(
        appeal_id=str(appeal_id),
        registration_number=clock["registration_number"],
        hop=clock["hop"],
        agency=agency,
        received_at=clock["agency_received_at"],
        confirmed_at=now,
    )
    event = outbox.event(
        ctx.events_topic,
        str(appeal_id),
        type=event_types.RECEIPT_CONFIRMED,
        source=SOURCE,
        subject=str(appeal_id),
        data=data,
        id=event_id(appeal_id, "receipt-confirmed", clock["hop"]),
        time=now,
    )
    await outbox.add(conn, [event])
    return data


async def replay(conn: asyncpg.Connection, data: ReceiptConfirmed) -> None:
    """A rebuild: the confirmation back on its clock."""
    await db.confirm_receipt(conn, uuid.UUID(data.appeal_id), data.hop, data.confirmed_at)
