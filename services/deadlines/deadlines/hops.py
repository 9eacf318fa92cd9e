"""Time at each hop of an appeal: the agency that held it, when the agency received it and
confirmed receipt, how the hop ended (redirected or answered) and when, the redirect's reason
code, and the working days the appeal spent there.

Definitions (the service's own: Asia/Almaty days and `WorkingCalendar.working_days_between`,
the working days after one day up to and including another):
- a hop begins when its agency received the appeal (`agency_received_at`; hop 1: the
  appeal's own receipt);
- a hop a redirect closed ends when the next agency received the appeal (the first later hop
  received at or after the redirect). Routing assigns the named agency at the moment of the
  redirect, so that is the redirect itself; a redirect to triage waits with the hop that
  redirected until an operator assigns the appeal (until now while it waits);
- an answered hop ends with its answer; an open hop runs until now;
- working days at a hop: after the day it began, up to and including the day it ended (a
  hop begun and ended on one day spent 0);
- the appeal's working days: the same count from the appeal's receipt to the end of its last
  hop (its answer, or now).

The count is additive over consecutive spans, so along a chain of hops handed on by full
redirects the hops add up to the appeal's working days exactly. After a partial redirect the
hop that kept its part runs beside the new one; each counts its own days, and their sum is
then more than the appeal's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from appeals_law.calendar import WorkingCalendar
from deadlines.law import local_day


@dataclass(frozen=True)
class HopTime:
    """One hop of the appeal and the working days it held the appeal."""

    hop: int
    agency: str
    state: str  # open, redirected (a full redirect closed it) or answered
    received_at: datetime
    confirmed_at: datetime | None
    redirected_at: datetime | None  # a partial redirect leaves the hop open
    redirected_to: str | None  # None after a redirect to triage
    redirect_partial: bool | None
    reason: str | None  # the redirect's reason code
    answered_at: datetime | None
    until: datetime  # when its time stopped counting (now while it runs)
    working_days: int


@dataclass(frozen=True)
class HopTable:
    appeal_id: uuid.UUID
    registration_number: str
    received_at: datetime
    until: datetime
    working_days: int  # the appeal's: from its receipt to the end of its last hop
    hops: list[HopTime]


# The reason comes from the redirect as routing published it (the clock keeps no reason).
HOPS = """
SELECT c.appeal_id, c.hop, c.registration_number, c.agency, c.state, c.received_at,
       c.agency_received_at, c.confirmed_at, c.closed_at, c.redirected_at, c.redirected_to,
       c.redirect_partial,
       (SELECT r.reason FROM redirects r
        WHERE r.appeal_id = c.appeal_id AND r.hop = c.hop AND r.from_agency = c.agency
        ORDER BY r.redirected_at LIMIT 1) AS reason
FROM clocks c WHERE c.appeal_id = $1 ORDER BY c.hop
"""


async def hop_rows(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(HOPS, appeal_id))


def time_at_hops(
    rows: Sequence[Mapping[str, Any]], calendar: WorkingCalendar, now: datetime
) -> HopTable | None:
    """The hop table of one appeal's clock rows (in hop order); None without any."""
    if not rows:
        return None
    hops: list[HopTime] = []
    for row in rows:
        until = now
        if row["state"] == "answered":
            until = row["closed_at"]
        elif row["state"] == "redirected":
            handed_to = [
                later["agency_received_at"]
                for later in rows
                if later["hop"] > row["hop"] and later["agency_received_at"] >= row["closed_at"]
            ]
            until = min(handed_to) if handed_to else now
        began = row["agency_received_at"]
        hops.append(
            HopTime(
                hop=row["hop"],
                agency=row["agency"],
                state=row["state"],
                received_at=began,
                confirmed_at=row["confirmed_at"],
                redirected_at=row["redirected_at"],
                redirected_to=row["redirected_to"],
                redirect_partial=row["redirect_partial"],
                reason=row["reason"],
                answered_at=row["closed_at"] if row["state"] == "answered" else None,
                until=until,
                working_days=calendar.working_days_between(local_day(began), local_day(until)),
            )
        )
    received_at = rows[0]["received_at"]
    until = max(h.until for h in hops)
    return HopTable(
        appeal_id=rows[0]["appeal_id"],
        registration_number=rows[0]["registration_number"],
        received_at=received_at,
        until=until,
        working_days=calendar.working_days_between(local_day(received_at), local_day(until)),
        hops=hops,
    )


async def hop_table(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, calendar: WorkingCalendar, now: datetime
) -> HopTable | None:
    """The appeal's hop table as of `now`; None for an appeal the service has not seen."""
    return time_at_hops(await hop_rows(conn, appeal_id), calendar, now)
