"""Everything the handlers need besides a connection, built from settings and the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from appeals_law.calendar import WorkingCalendar
from appeals_law.rules import load_rules
from appeals_reference.loader import load_reference
from appeals_reference.models import ReferenceData
from deadlines import db
from deadlines.config import Policy, Settings
from deadlines.law import Law


@dataclass
class Context:
    law: Law
    reference: ReferenceData
    policy: Policy
    alerts_topic: str
    events_topic: str
    # A rebuild replays alerts from their topic instead of raising them again.
    emit: bool = True
    # Demo history only (`DEADLINES_DEMO_HISTORY`): a clock whose next alert is already due
    # when it opens or is rescheduled waits this long, so that the simulated answer or
    # extension the history feeder sends right after it closes or moves it first.
    history_settle: timedelta | None = None


def new_context(settings: Settings) -> Context:
    """Rules and reference data from settings; the calendar without overrides until loaded."""
    return Context(
        law=Law(load_rules(settings.rules_file), WorkingCalendar()),
        reference=load_reference(settings.reference_dir),
        policy=settings.redirect_policy,
        alerts_topic=settings.alerts_topic,
        events_topic=settings.deadline_events_topic,
        history_settle=timedelta(seconds=settings.history_settle_seconds)
        if settings.demo_history
        else None,
    )


async def refresh_calendar(conn: asyncpg.Connection, law: Law, *, force: bool = False) -> bool:
    """Rebuild the calendar from `calendar_overrides` if its revision moved; True if it did."""
    revision = await db.calendar_revision(conn)
    if revision == law.revision and not force:
        return False
    law.adopt(await db.all_overrides(conn), revision)
    return True
