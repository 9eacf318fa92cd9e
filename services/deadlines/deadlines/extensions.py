"""Extensions of a term (АППК art. 76(2)): validated against the rules, applied to the clock,
announced as DeadlineExtended; and replayed from that topic by a rebuild."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appeals_contracts import event_types
from appeals_contracts.envelope import event_id
from appeals_contracts.events import DeadlineExtended
from appeals_contracts.submission import ActingHop, Day, Text
from appeals_law.calendar import ALMATY
from appeals_law.due import check_extension, working_days_late
from appeals_platform import outbox
from appeals_platform.problems import (
    BODY_FIELD,
    FieldProblem,
    NotYet,
    Refused,
    validation_problems,
)
from deadlines import db
from deadlines.alerts import SOURCE
from deadlines.context import Context, refresh_calendar
from deadlines.handlers import reschedule
from deadlines.law import end_of, local_day


class ExtensionRequest(BaseModel):
    """The agency head's motivated decision to extend the term (АППК art. 76(2))."""

    model_config = ConfigDict(extra="forbid")

    new_due_date: Day
    reason: Annotated[Text, Field(max_length=4000)]
    notified_on: Day | None = Field(
        default=None, description="the day the applicant was notified of the extension"
    )
    hop: ActingHop | None = None


EXTENSION_REFUSED = "the extension breaks АППК art. 76(2)"


Data = TypeVar("Data", bound=BaseModel)


def command_data(model: type[Data], body: Any) -> Data:
    """The data of an agency's Kafka command (an extension, a receipt), refused as the HTTP
    endpoint refuses its body (FastAPI's validation there: 422 "invalid request" with the
    fields)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise Refused(422, "invalid request", problems=validation_problems(exc)) from None


async def request_extension(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    agency: str,
    request: ExtensionRequest,
    now: datetime,
    ctx: Context,
) -> outbox.Event:
    """What `POST /v1/appeals/{appeal_id}/extend` and the Kafka command both do: extend on
    the current calendar and write DeadlineExtended."""
    await refresh_calendar(conn, ctx.law)
    _, message = await extend(conn, appeal_id, agency, request, now, ctx)
    await outbox.add(conn, [message])
    return message


def _local_iso(moment: datetime) -> str:
    return moment.astimezone(ALMATY).isoformat()


async def held_clock(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, agency: str, hop: int | None = None
) -> asyncpg.Record:
    """The agency's open clock of the appeal, locked; refused as every agency action on a
    clock is (an extension, a receipt confirmation). `hop`, when the agency names the one it
    acts on, only tells a hop not followed here yet (retry) from a clock not its own (403)."""
    clocks = await db.lock_clocks(conn, appeal_id)
    if not clocks:
        # Unknown here, or assigned a moment ago: the clock opens when deadlines follows the
        # assignment, up to its consumer's gathering wait after the agency could read it.
        raise NotYet(
            404, "no clock for this appeal", "an appeal assigned a moment ago: try again shortly"
        )
    if hop is not None and hop > clocks[-1]["hop"]:
        # Redirected to the agency a moment ago: that hop's clock opens when deadlines follows.
        raise NotYet(
            404,
            "no clock for this hop yet",
            "an appeal redirected a moment ago: try again shortly",
        )
    mine = [c for c in clocks if c["agency"] == agency]
    if not mine:
        raise Refused(403, "the appeal is not assigned to your agency")
    # As intake and routing judge it: an agency that redirected the appeal away no longer
    # holds it (403), as in triage nobody does; once answered, by anyone, the appeal is
    # closed to whoever still holds a hop of it (409).
    held = [c for c in mine if c["state"] in ("open", "answered")]
    if not held:
        raise Refused(
            403,
            "the appeal is not assigned to your agency",
            f"your agency's clock is {mine[-1]['state']}",
        )
    answered_at = await db.first_answer(conn, appeal_id)
    if answered_at is not None:
        raise Refused(
            409, "the appeal was already answered", f"answered at {_local_iso(answered_at)}"
        )
    open_clocks = [c for c in held if c["state"] == "open"]
    if not open_clocks:
        # An answered clock without the answer's row cannot be: both come from one event.
        raise Refused(409, "your agency's clock is closed", f"the clock is {mine[-1]['state']}")
    return open_clocks[-1]


async def extend(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    agency: str,
    request: ExtensionRequest,
    now: datetime,
    ctx: Context,
) -> tuple[asyncpg.Record, outbox.Event]:
    """Extend the agency's open clock, or refuse naming every rule the extension breaks."""
    rules, calendar = ctx.law.rules, ctx.law.calendar
    clock = await held_clock(conn, appeal_id, agency, request.hop)
    decided_on = local_day(now)
    violations: list[str] = []
    if now > clock["due_at"]:
        violations.append(
            f"the term ended at {_local_iso(clock['due_at'])}; an expired term cannot be extended"
        )
    violations += check_extension(
        clock["start_day"],
        clock["due_at"],
        request.new_due_date,
        request.notified_on,
        decided_on,
        rules,
        calendar,
        extensions_so_far=clock["extensions"],
    )
    if request.notified_on is not None and request.notified_on > decided_on:
        violations.append(
            f"applicant notified on {request.notified_on.isoformat()}, a day that has not "
            f"come yet (today is {decided_on.isoformat()})"
        )
    if violations:
        # The rules concern the extension as a whole, not one field of the request.
        raise Refused(
            422,
            EXTENSION_REFUSED,
            "; ".join(violations),
            problems=[FieldProblem(field=BODY_FIELD, message=v) for v in violations],
        )
    data = DeadlineExtended(
        appeal_id=str(appeal_id),
        hop=clock["hop"],
        agency=agency,
        previous_due_at=clock["due_at"],
        new_due_at=end_of(request.new_due_date, rules),
        reason=request.reason,
        notified_on=request.notified_on.isoformat() if request.notified_on else None,
        extended_at=now,
        extension=clock["extensions"] + 1,
        registration_number=clock["registration_number"],
    )
    updated = await apply_extension(conn, clock, data, ctx)
    event = outbox.event(
        ctx.events_topic,
        str(appeal_id),
        type=event_types.DEADLINE_EXTENDED,
        source=SOURCE,
        subject=str(appeal_id),
        data=data,
        id=event_id(appeal_id, f"extended-{data.extension}", clock["hop"]),
        time=now,
    )
    return updated, event


async def apply_extension(
    conn: asyncpg.Connection, clock: Mapping[str, Any], data: DeadlineExtended, ctx: Context
) -> asyncpg.Record:
    """The new due date on the clock (from the API, or replayed from the events topic)."""
    updated = await db.extend_clock(
        conn,
        clock["appeal_id"],
        clock["hop"],
        due_at=data.new_due_at,
        due_day=local_day(data.new_due_at),
        extensions=data.extension,
        extended_at=data.extended_at,
        reason=data.reason,
        notified_on=date.fromisoformat(data.notified_on) if data.notified_on else None,
    )
    if updated["state"] == "open":
        await reschedule(conn, updated, ctx)
    elif updated["state"] == "answered":
        answered_at = updated["closed_at"]
        await db.set_outcome(
            conn,
            updated["appeal_id"],
            updated["hop"],
            "late" if answered_at > updated["due_at"] else "on_time",
            working_days_late(updated["due_at"], answered_at, ctx.law.calendar),
        )
    return updated


async def replay_extension(conn: asyncpg.Connection, data: DeadlineExtended, ctx: Context) -> None:
    appeal_id = uuid.UUID(data.appeal_id)
    clock = next((c for c in await db.lock_clocks(conn, appeal_id) if c["hop"] == data.hop), None)
    if clock is not None and clock["extensions"] < data.extension:
        await apply_extension(conn, clock, data, ctx)
