"""The deadlines logic: open clocks, stop them on answers, close hops on redirects, replay
alerts and acknowledgements. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from appeals_contracts import event_types
from appeals_contracts.envelope import event_id
from appeals_contracts.events import (
    AlertAcknowledged,
    AnswerGiven,
    AppealAssigned,
    AppealRedirected,
    DeadlineAlert,
)
from appeals_law.due import compute_due, redirect_deadline, working_days_late
from appeals_platform import outbox
from appeals_reference.models import Agency, ReferenceData
from deadlines import alerts, db
from deadlines.context import Context
from deadlines.law import local_day
from deadlines.schedule import Timer, next_action

SOURCE = alerts.SOURCE


def is_first_hop(hop: int) -> bool:
    """Routing numbers hops from 1; hop 1 counts from the appeal's own receipt."""
    return hop <= 1


def timer_of(clock: Mapping[str, Any]) -> Timer:
    return Timer(
        start_day=clock["start_day"],
        due_at=clock["due_at"],
        warned_offset=clock["warned_offset"],
        breached_at=clock["breached_at"],
        reminders_sent=clock["reminders_sent"],
        escalated_at=clock["escalated_at"],
        escalates=clock["agency_parent"] is not None,
    )


def region_of(reference: ReferenceData, locality: str | None, agency: Agency | None) -> str | None:
    """The root of the locality's chain (KRG or ULY), else of the agency's jurisdiction."""
    for code in (locality, *(agency.jurisdiction if agency else ())):
        if reference.has_locality(code):
            assert code is not None
            return reference.ancestors(code)[-1].code
    return None


def settled(at: datetime, ctx: Context) -> datetime:
    """When an alert due at `at` may fire: at once, except in demo history (Context)."""
    if ctx.history_settle is None:
        return at
    return max(at, datetime.now(UTC) + ctx.history_settle)


async def reschedule(conn: asyncpg.Connection, clock: Mapping[str, Any], ctx: Context) -> None:
    if clock["state"] != "open":
        return
    action, at = next_action(timer_of(clock), ctx.law.rules, ctx.law.calendar)
    at = settled(at, ctx)
    if (action, at) != (clock["next_action"], clock["next_action_at"]):
        await db.set_next_action(conn, clock["appeal_id"], clock["hop"], action, at)


# ------------------------------------------------------------------ assignment


def planned_clock(assigned: AppealAssigned, ctx: Context) -> db.NewClock:
    """The clock of the agency's hop. Raises ValueError for an appeal type or date the law
    cannot count."""
    rules, calendar = ctx.law.rules, ctx.law.calendar
    first = is_first_hop(assigned.hop)
    # Hop 1 counts from the appeal's receipt; after a redirect the new agency's receipt is
    # the moment routing assigned the appeal to it.
    agency_received_at = (
        assigned.received_at if first else max(assigned.received_at, assigned.assigned_at)
    )
    due = compute_due(assigned.appeal_type, agency_received_at, rules, calendar)
    if ctx.policy == "continue" and not first:
        due = compute_due(assigned.appeal_type, assigned.received_at, rules, calendar)
    reference = ctx.reference
    known = reference.agency(assigned.agency) if reference.has_agency(assigned.agency) else None
    parent = assigned.agency_parent or (known.parent if known else None)
    timer = Timer(start_day=due.start_day, due_at=due.due_at, escalates=parent is not None)
    action, at = next_action(timer, rules, calendar)
    return db.NewClock(
        appeal_id=uuid.UUID(assigned.appeal_id),
        hop=assigned.hop,
        registration_number=assigned.registration_number,
        appeal_type=assigned.appeal_type,
        agency=assigned.agency,
        agency_level=assigned.agency_level or (known.level if known else None),
        agency_parent=parent,
        category=assigned.category,
        locality=assigned.locality,
        region=region_of(ctx.reference, assigned.locality, known),
        policy=ctx.policy,
        received_at=assigned.received_at,
        agency_received_at=agency_received_at,
        assigned_at=assigned.assigned_at,
        received_day=local_day(agency_received_at),
        registered_on=due.registered_on,
        start_day=due.start_day,
        term_days=due.term_days,
        unit=due.unit,
        original_due_at=due.due_at,
        due_at=due.due_at,
        due_day=due.due_day,
        redirect_due_at=redirect_deadline(agency_received_at, rules, calendar),
        rule_version=due.rule_version,
        calendar_version=due.calendar_version,
        next_action=action,
        next_action_at=settled(at, ctx),
        routing={
            "method": assigned.method,
            "confidence": assigned.confidence,
            "explanation": assigned.explanation,
            "agency_name": assigned.agency_name,
            "redirected_from": assigned.redirected_from,
            "partial": assigned.partial,
        },
    )


async def open_clocks(
    conn: asyncpg.Connection, assignments: Sequence[AppealAssigned], ctx: Context
) -> list[alerts.Alert]:
    """A clock for each agency's hop, in one statement; a hop that has one already is left
    alone. An answer or redirect seen before its assignment (routing's topics interleave)
    closes the new clock at once: those few go on one by one, in the assignments' order."""
    planned: dict[tuple[uuid.UUID, int], db.NewClock] = {}
    for assigned in assignments:
        plan = planned_clock(assigned, ctx)
        planned.setdefault((plan.appeal_id, plan.hop), plan)  # the first of a repeat counts
    opened = {
        (c["appeal_id"], c["hop"]): c for c in await db.insert_clocks(conn, list(planned.values()))
    }
    settled_before = await db.with_outcomes(conn, [appeal_id for appeal_id, _ in opened])
    raised: list[alerts.Alert] = []
    for key in planned:
        clock = opened.get(key)
        if clock is not None and clock["appeal_id"] in settled_before:
            raised += await catch_up(conn, clock, ctx)
    return raised


async def catch_up(
    conn: asyncpg.Connection, clock: asyncpg.Record, ctx: Context
) -> list[alerts.Alert]:
    """Apply to a new clock the redirect or answer of its hop that arrived before it."""
    appeal_id, agency, since = clock["appeal_id"], clock["agency"], clock["agency_received_at"]
    raised_now: list[alerts.Alert] = []
    redirect = await db.earliest_redirect(conn, appeal_id, agency, clock["hop"], since)
    answered_at = await db.earliest_answer(conn, appeal_id, agency, since)
    if redirect is not None and (
        answered_at is None or redirect["partial"] or redirect["redirected_at"] <= answered_at
    ):
        clock, raised = await apply_redirect(
            conn,
            clock,
            redirected_at=redirect["redirected_at"],
            to_agency=redirect["to_agency"],
            partial=redirect["partial"],
            ctx=ctx,
        )
        raised_now += raised
    if answered_at is not None and clock["state"] == "open":
        await db.close_answered(conn, [answer_close(clock, answered_at, ctx)])
    return raised_now


# ------------------------------------------------------------------ answers


def answer_close(clock: Mapping[str, Any], answered_at: datetime, ctx: Context) -> db.AnswerClose:
    """What an answer writes on the clock it closes: outcome, lateness, working days taken."""
    calendar = ctx.law.calendar
    day = local_day(answered_at)
    return db.AnswerClose(
        appeal_id=clock["appeal_id"],
        hop=clock["hop"],
        closed_at=answered_at,
        closed_day=day,
        outcome="late" if answered_at > clock["due_at"] else "on_time",
        working_days_late=working_days_late(clock["due_at"], answered_at, calendar),
        # Day 1 of the term is 1: an answer on the day of registration took 1 working day.
        answer_working_days=max(0, calendar.working_days_between(clock["start_day"], day) + 1),
    )


async def record_answers(
    conn: asyncpg.Connection, answers: Sequence[tuple[str, AnswerGiven]], ctx: Context
) -> list[alerts.Alert]:
    """Stop each answering agency's open clock; remember every answer (one whose clock is not
    open yet closes it when it opens). Three statements for the whole run: a rebuild's events
    are half answers, and one by one each cost three round trips.

    The answers are decided in the run's order on the locked rows, as one by one: an answer
    closes its agency's latest open clock received by the time of the answer, else its latest
    open clock; an answer that finds none (not assigned yet, closed by an earlier answer of
    the run) closes nothing."""
    if not answers:
        return []
    await db.insert_answers(
        conn,
        [(event, uuid.UUID(a.appeal_id), a.agency, a.answered_at) for event, a in answers],
    )
    appeal_ids = list(dict.fromkeys(uuid.UUID(a.appeal_id) for _, a in answers))
    # Per appeal, its hops in order, with the state this run has given them so far.
    hops: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in await db.lock_clocks_of(conn, appeal_ids):
        hops.setdefault(row["appeal_id"], []).append(dict(row))
    closes: list[db.AnswerClose] = []
    for _, answer in answers:
        mine = [
            c
            for c in hops.get(uuid.UUID(answer.appeal_id), [])
            if c["agency"] == answer.agency and c["state"] == "open"
        ]
        if not mine:
            continue
        received = [c for c in mine if c["agency_received_at"] <= answer.answered_at]
        clock = (received or mine)[-1]
        closes.append(answer_close(clock, answer.answered_at, ctx))
        clock["state"] = "answered"
    await db.close_answered(conn, closes)
    return []


# ------------------------------------------------------------------ redirects


async def apply_redirect(
    conn: asyncpg.Connection,
    clock: asyncpg.Record,
    *,
    redirected_at: datetime,
    to_agency: str | None,
    partial: bool,
    ctx: Context,
) -> tuple[asyncpg.Record, list[alerts.Alert]]:
    """Record the redirect on the hop; a full one closes it. Late (АППК art. 65) → alert."""
    if clock["redirected_at"] is not None and clock["redirected_at"] <= redirected_at:
        return clock, []  # the first redirect of a hop is the one the law judges
    late = redirected_at > clock["redirect_due_at"]
    day = local_day(redirected_at)
    updated = await db.record_redirect(
        conn,
        clock["appeal_id"],
        clock["hop"],
        redirected_at=redirected_at,
        redirected_day=day,
        redirected_to=to_agency,
        partial=partial,
        late=late,
        close=not partial and clock["state"] == "open",
        # The working days lost to this redirect, as deadlines.hops counts a hop's days.
        working_days=ctx.law.calendar.working_days_between(clock["received_day"], day),
    )
    if not late or not ctx.emit:
        return updated, []
    alert = alerts.build(
        updated,
        "redirect_overdue",
        redirected_at,
        working_days_late=working_days_late(
            clock["redirect_due_at"], redirected_at, ctx.law.calendar
        ),
        redirected_at=redirected_at,
        redirected_to=to_agency,
        due_at=clock["redirect_due_at"],
    )
    return updated, await alerts.store(conn, [alert], ctx.alerts_topic)


async def record_redirect(
    conn: asyncpg.Connection, redirect_event_id: str, redirect: AppealRedirected, ctx: Context
) -> list[alerts.Alert]:
    appeal_id = uuid.UUID(redirect.appeal_id)
    await db.insert_redirect(
        conn,
        redirect_event_id,
        appeal_id,
        redirect.hop,
        redirect.from_agency,
        redirect.to_agency,
        redirect.partial,
        redirect.reason,
        redirect.redirected_at,
    )
    mine = [c for c in await db.lock_clocks(conn, appeal_id) if c["agency"] == redirect.from_agency]
    target = next((c for c in mine if c["hop"] == redirect.hop), None) or next(
        (c for c in reversed(mine) if c["agency_received_at"] <= redirect.redirected_at), None
    )
    if target is None:
        return []  # applied when the hop's assignment arrives
    _, raised = await apply_redirect(
        conn,
        target,
        redirected_at=redirect.redirected_at,
        to_agency=redirect.to_agency,
        partial=redirect.partial,
        ctx=ctx,
    )
    return raised


# ------------------------------------------------------------------ alerts replayed


async def replay_alert(
    conn: asyncpg.Connection,
    alert_event_id: str,
    alert: DeadlineAlert,
    data: dict[str, Any],
    ctx: Context,
) -> None:
    """A raised alert read back from its topic: its row, and what it says about the timer."""
    await alerts.insert_rows(conn, [alerts.Alert.replayed(alert_event_id, alert, data)])
    clock = await db.record_alert_state(
        conn,
        uuid.UUID(alert.appeal_id),
        alert.hop,
        alert.kind,
        alert.working_days_left,
        alert.raised_at,
        alert.reminder,
        alert.extensions,
    )
    if clock is not None:
        await reschedule(conn, clock, ctx)


async def replay_acknowledgement(conn: asyncpg.Connection, ack: AlertAcknowledged) -> None:
    await db.acknowledge_alert(
        conn, uuid.UUID(ack.alert_id), ack.acknowledged_at, ack.acknowledged_by, ack.comment
    )


async def acknowledge(
    conn: asyncpg.Connection,
    alert_id: uuid.UUID,
    by: str,
    comment: str | None,
    now: datetime,
    ctx: Context,
) -> tuple[AlertAcknowledged, outbox.Event] | None:
    """Mark the alert seen and announce it, so a rebuild restores the acknowledgement."""
    row = await db.acknowledge_alert(conn, alert_id, now, by, comment)
    if row is None:
        return None
    data = AlertAcknowledged(
        alert_id=str(alert_id),
        appeal_id=str(row["appeal_id"]),
        kind=row["kind"],
        acknowledged_by=by,
        acknowledged_at=now,
        comment=comment,
    )
    event = outbox.event(
        ctx.alerts_topic,
        str(row["appeal_id"]),
        type=event_types.ALERT_ACKNOWLEDGED,
        source=SOURCE,
        subject=str(row["appeal_id"]),
        data=data,
        id=event_id(str(alert_id), "acknowledged"),
        time=now,
    )
    return data, event
