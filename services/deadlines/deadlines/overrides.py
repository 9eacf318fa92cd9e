"""Calendar overrides (Government decrees): stored, versioned, and the open clocks they move."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import asyncpg

from appeals_law.calendar import CalendarOverride
from appeals_law.due import compute_due, redirect_deadline
from deadlines import db
from deadlines.context import Context
from deadlines.handlers import is_first_hop
from deadlines.law import Law
from deadlines.schedule import Timer, next_action


async def recompute_open_clocks(conn: asyncpg.Connection, ctx: Context, from_day: date) -> int:
    """Move the due dates of open clocks a calendar change touches; the number moved."""
    rules, calendar = ctx.law.rules, ctx.law.calendar
    updates: list[db.DueUpdate] = []
    for clock in await db.lock_recompute_candidates(conn, from_day):
        base = clock["agency_received_at"]
        if clock["policy"] == "continue" and not is_first_hop(clock["hop"]):
            base = clock["received_at"]
        due = compute_due(clock["appeal_type"], base, rules, calendar)
        redirect_due = redirect_deadline(clock["agency_received_at"], rules, calendar)
        if (due.due_at, due.start_day, redirect_due) == (
            clock["due_at"],
            clock["start_day"],
            clock["redirect_due_at"],
        ):
            continue
        timer = Timer(
            start_day=due.start_day,
            due_at=due.due_at,
            warned_offset=clock["warned_offset"],
            escalates=clock["agency_parent"] is not None,
        )
        action, at = next_action(timer, rules, calendar)
        updates.append(
            db.DueUpdate(
                appeal_id=clock["appeal_id"],
                hop=clock["hop"],
                start_day=due.start_day,
                registered_on=due.registered_on,
                due_at=due.due_at,
                due_day=due.due_day,
                redirect_due_at=redirect_due,
                calendar_version=due.calendar_version,
                next_action=action,
                next_action_at=at,
            )
        )
    await db.update_due(conn, updates)
    return len(updates)


async def _law_from_table(conn: asyncpg.Connection, ctx: Context) -> Law:
    revision = await db.bump_calendar_revision(conn)
    law = Law(ctx.law.rules, ctx.law.calendar, ctx.law.revision)
    law.adopt(await db.all_overrides(conn), revision)
    return law


async def add_override(
    conn: asyncpg.Connection, ctx: Context, override: CalendarOverride, by: str
) -> tuple[bool, int, Law]:
    """Store a decree's day; (new day?, open clocks moved, the Law to adopt after commit)."""
    created = await db.upsert_override(conn, override, by)
    law = await _law_from_table(conn, ctx)
    moved = await recompute_open_clocks(conn, replace(ctx, law=law), override.day)
    return created, moved, law


async def remove_override(
    conn: asyncpg.Connection, ctx: Context, day: date
) -> tuple[bool, int, Law]:
    """Drop a day's override; (existed?, open clocks moved, the Law to adopt after commit)."""
    if not await db.delete_override(conn, day):
        return False, 0, ctx.law
    law = await _law_from_table(conn, ctx)
    moved = await recompute_open_clocks(conn, replace(ctx, law=law), day)
    return True, moved, law
