"""Alerts: the DeadlineAlert payload of each kind, its deterministic id, its `alerts` row and
its event.

Payloads are built as plain JSON-ready dicts (the shape of `DeadlineAlert`, checked by the
tests) rather than through pydantic models: the ticker builds thousands per second, and
validation and dumping per alert cost more than the database work.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from appeals_contracts import event_types
from appeals_contracts.envelope import EVENT_ID_NAMESPACE
from appeals_contracts.events import DeadlineAlert
from appeals_law.calendar import ALMATY
from appeals_platform import outbox

SOURCE = "/appeals/deadlines"

# The kinds of alert (the keys of EVENT_TYPES), as the alerts API accepts them.
Kind = Literal[
    "warning", "breached", "overdue_reminder", "escalated", "redirect_overdue", "at_risk"
]

EVENT_TYPES: dict[str, str] = {
    "warning": event_types.DEADLINE_WARNING,
    "breached": event_types.DEADLINE_BREACHED,
    "overdue_reminder": event_types.OVERDUE_REMINDER,
    "escalated": event_types.DEADLINE_ESCALATED,
    "redirect_overdue": event_types.REDIRECT_OVERDUE,
    # Predicted, not a breach: the breach-risk model's early warning (deadlines.risk), raised
    # once per hop (its id names only the appeal and the hop).
    "at_risk": event_types.DEADLINE_AT_RISK,
}
KINDS = {event_type: kind for kind, event_type in EVENT_TYPES.items()}


def severity(kind: str, working_days_left: int | None = None) -> str:
    if kind == "warning":
        return "warning" if working_days_left is not None and working_days_left <= 1 else "info"
    if kind == "escalated":
        return "critical"
    if kind == "at_risk":
        return "warning"
    return "violation"


_NAMESPACE = EVENT_ID_NAMESPACE.bytes


def _event_id(appeal_id: str, name: str, hop: int) -> str:
    """`appeals_contracts.envelope.event_id` (uuid5) without building UUID objects: the
    ticker makes thousands per second; the tests check both agree."""
    name_bytes = _NAMESPACE + f"{appeal_id}/{name}/{hop}".encode()
    raw = bytearray(hashlib.sha1(name_bytes, usedforsecurity=False).digest())
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def alert_id(
    appeal_id: str,
    hop: int,
    kind: str,
    *,
    working_days_left: int | None = None,
    reminder: int | None = None,
    extensions: int = 0,
) -> str:
    """Deterministic: a replay, or a second ticker racing the first, produces the same id."""
    name = kind
    if kind == "warning":
        name = f"warning-{working_days_left}"
        if extensions:
            # Warnings of an extended term are new warnings, not repeats of the old ones.
            name += f"-x{extensions}"
    elif kind == "overdue_reminder":
        name = f"overdue-reminder-{reminder}"
    elif kind == "redirect_overdue":
        name = "redirect-overdue"
    elif kind == "at_risk":
        name = "at-risk"
    return _event_id(appeal_id, name, hop)


@dataclass(frozen=True)
class Alert:
    """One alert: what its `alerts` row and its CloudEvent are made of."""

    id: str
    appeal_id: str
    hop: int
    kind: str
    severity: str
    agency: str
    locality: str | None
    region: str | None
    raised_at: datetime
    data: dict[str, Any]  # the DeadlineAlert payload, JSON-ready

    @classmethod
    def replayed(cls, identifier: str, payload: DeadlineAlert, data: dict[str, Any]) -> Alert:
        """An alert read back from the alerts topic."""
        return cls(
            identifier,
            payload.appeal_id,
            payload.hop,
            payload.kind,
            payload.severity,
            payload.agency,
            payload.locality,
            payload.region,
            payload.raised_at,
            data,
        )


@functools.lru_cache(maxsize=4096)
def _iso(moment: datetime) -> str:
    # Local time for people reading alerts; cached because a batch shares its raised_at
    # and most of its due moments (23:59:59 of a few due days).
    return moment.astimezone(ALMATY).isoformat()


def build(
    clock: Mapping[str, Any],
    kind: str,
    raised_at: datetime,
    *,
    working_days_late: int = 0,
    working_days_left: int | None = None,
    reminder: int | None = None,
    redirected_at: datetime | None = None,
    redirected_to: str | None = None,
    due_at: datetime | None = None,
    risk: float | None = None,
) -> Alert:
    """An alert about `clock` (a clocks row, or a mapping with its columns)."""
    appeal_id = str(clock["appeal_id"])
    hop = int(clock["hop"])
    extensions = int(clock["extensions"] or 0)
    level = severity(kind, working_days_left)
    data: dict[str, Any] = {
        "appeal_id": appeal_id,
        "registration_number": clock["registration_number"],
        "hop": hop,
        "kind": kind,
        "severity": level,
        "agency": clock["agency"],
        "appeal_type": clock["appeal_type"],
        "due_at": _iso(due_at or clock["due_at"]),
        "working_days_late": working_days_late,
        "raised_at": _iso(raised_at),
        "extensions": extensions,
    }
    optional = {
        "escalated_to": clock["agency_parent"] if kind == "escalated" else None,
        "region": clock["region"],
        "locality": clock["locality"],
        "category": clock["category"],
        "agency_level": clock["agency_level"],
        "working_days_left": working_days_left,
        "reminder": reminder,
        "redirected_at": _iso(redirected_at) if redirected_at else None,
        "redirected_to": redirected_to,
        "risk": round(risk, 4) if risk is not None else None,
    }
    data.update((k, v) for k, v in optional.items() if v is not None)
    identifier = alert_id(
        appeal_id,
        hop,
        kind,
        working_days_left=working_days_left,
        reminder=reminder,
        extensions=extensions,
    )
    return Alert(
        identifier,
        appeal_id,
        hop,
        kind,
        level,
        clock["agency"],
        clock["locality"],
        clock["region"],
        raised_at,
        data,
    )


# The alert rows of a batch in one statement; the ids returned are those not raised before
# (exactly once, whatever races), and only those get their CloudEvent.
INSERT_ALERTS = """
INSERT INTO alerts (id, appeal_id, hop, kind, severity, agency, locality, region, raised_at,
                    data)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::timestamptz[], $10::jsonb[])
ON CONFLICT (id) DO NOTHING
RETURNING id::text AS id
"""


async def _store(conn: asyncpg.Connection, alerts: Sequence[Alert], topic: str) -> set[str]:
    if not alerts:
        return set()
    rows = await conn.fetch(
        INSERT_ALERTS,
        [a.id for a in alerts],
        [a.appeal_id for a in alerts],
        [a.hop for a in alerts],
        [a.kind for a in alerts],
        [a.severity for a in alerts],
        [a.agency for a in alerts],
        [a.locality for a in alerts],
        [a.region for a in alerts],
        [a.raised_at for a in alerts],
        [a.data for a in alerts],
    )
    fresh = {r["id"] for r in rows}
    if topic:
        # In input order, so each appeal's events keep their order.
        await outbox.add(conn, [event(a, topic) for a in alerts if a.id in fresh])
    return fresh


def event(alert: Alert, topic: str) -> outbox.Event:
    return outbox.event(
        topic,
        alert.appeal_id,
        type=EVENT_TYPES[alert.kind],
        source=SOURCE,
        subject=alert.appeal_id,
        data=alert.data,
        id=alert.id,
        time=alert.raised_at,
    )


async def insert_rows(conn: asyncpg.Connection, alerts: Sequence[Alert]) -> set[str]:
    """Only the `alerts` rows (a replay: the events are on their topic already); new ids."""
    return await _store(conn, alerts, "")


async def store(conn: asyncpg.Connection, alerts: Sequence[Alert], topic: str) -> list[Alert]:
    """The alert rows and, for the alerts not raised before, their outbox rows; the new ones."""
    fresh = await _store(conn, alerts, topic)
    return [a for a in alerts if a.id in fresh]
