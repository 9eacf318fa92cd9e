"""Intake's logic: register appeals, record answers, build timelines from other services' events."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
from pydantic import ValidationError

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import CloudEvent, event_id
from appeals_contracts.events import AnswerGiven, AppealReceived
from appeals_contracts.submission import (
    AnswerSubmission,
    AppealSubmission,
    FieldError,
    canonical,
    fingerprint,
)
from appeals_law.calendar import ALMATY, WorkingCalendar
from appeals_law.due import compute_due
from appeals_law.rules import RuleSet
from appeals_platform import outbox
from appeals_platform.problems import NotYet, Refused, validation_problems
from intake import db, updates
from intake.ids import new_appeal_id

SOURCE = "/appeals/intake"


def local(moment: datetime | None) -> str | None:
    """ISO-8601 in Asia/Almaty time: what the law counts in and what integrations show."""
    return moment.astimezone(ALMATY).isoformat() if moment is not None else None


@dataclass(frozen=True)
class Law:
    rules: RuleSet
    calendar: WorkingCalendar

    def due_at(self, appeal_type: str, received_at: datetime) -> datetime:
        # The due moment depends on the local day and the 18:30 cut-off, both of which a
        # minute keeps: appeals received in the same minute share one computation.
        return self._due_at(appeal_type, received_at.replace(second=0, microsecond=0))

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one Law per process, never freed anyway
    def _due_at(self, appeal_type: str, minute: datetime) -> datetime:
        return compute_due(appeal_type, minute, self.rules, self.calendar).due_at


@dataclass(frozen=True)
class Registration:
    outcome: Literal["created", "existing", "conflict"]
    appeal_id: uuid.UUID
    registration_number: str
    registered_at: datetime
    status: str
    due_at: datetime | None
    differences: list[str] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {
            "appeal_id": str(self.appeal_id),
            "registration_number": self.registration_number,
            "registered_at": local(self.registered_at),
            "status": self.status,
            "due_at": local(self.due_at),
        }


def received_event(
    appeal_id: uuid.UUID,
    number: str,
    registered_at: datetime,
    source: str,
    channel: str,
    due_at: datetime | None,
    submission: AppealSubmission,
) -> AppealReceived:
    # The submission was validated on the way in: construct, don't validate it twice.
    return AppealReceived.model_construct(
        appeal_id=str(appeal_id),
        registration_number=number,
        registered_at=registered_at,
        source=source,
        channel=channel,
        due_at=due_at,
        submission=submission,
    )


class RegistrationNumbers:
    """Numbers KRG-<year>-<8 digits>, drawn from the sequence a block at a time.

    One round trip per block instead of per appeal; a number drawn but not used (a retry, a
    process that stops) leaves a gap, which a registry may have: the number stays unique.
    """

    def __init__(self, prefix: str, block: int = 200) -> None:
        self._prefix = prefix
        self._block = block
        self._free: list[int] = []
        self._lock = asyncio.Lock()

    async def next(self, conn: asyncpg.Connection, registered_at: datetime) -> str:
        if not self._free:
            async with self._lock:
                if not self._free:
                    numbers = await db.next_registration_numbers(conn, self._block)
                    self._free = numbers[::-1]
        year = registered_at.astimezone(ALMATY).year
        return f"{self._prefix}-{year}-{self._free.pop():08d}"


# Clocks of integrations drift; more than this ahead of our receipt is a wrong timestamp.
CLOCK_SKEW = timedelta(minutes=10)


def future_problems(submission: AppealSubmission, received_at: datetime) -> list[FieldError]:
    if submission.submitted_at > received_at + CLOCK_SKEW:
        return [
            FieldError(
                field="submitted_at",
                message="is in the future: it must not be later than the moment "
                "the appeal reaches intake",
            )
        ]
    return []


@dataclass(frozen=True)
class Application:
    """A validated submission on its way into the registry."""

    submission: AppealSubmission
    source: str
    channel: str
    received_at: datetime


def _registered(row: db.NewAppeal) -> dict[str, Any]:
    """What the integration's "registered" update says of a new appeal."""
    return {
        "id": row.id,
        "source": row.source,
        "external_id": row.external_id,
        "registration_number": row.registration_number,
        "registered_at": row.registered_at,
        "due_at": row.due_at,
    }


async def register_many(
    conn: asyncpg.Connection,
    applications: Sequence[Application],
    *,
    numbers: RegistrationNumbers,
    law: Law,
    topic: str = topics.APPEAL_RECEIVED,
) -> list[Registration]:
    """Register a group in one statement; the same key twice in a group is stored once."""
    rows: list[db.NewAppeal] = []
    events: dict[uuid.UUID, outbox.Event] = {}
    for application in applications:
        submission, received_at = application.submission, application.received_at
        appeal_id = new_appeal_id()
        due_at = law.due_at(submission.type.value, received_at)
        number = await numbers.next(conn, received_at)
        received = received_event(
            appeal_id,
            number,
            received_at,
            application.source,
            application.channel,
            due_at,
            submission,
        )
        # One dump serves the event, the stored submission and the fingerprint.
        payload = received.model_dump(mode="json")
        events[appeal_id] = outbox.event(
            topic,
            str(appeal_id),
            type=event_types.APPEAL_RECEIVED,
            source=SOURCE,
            subject=str(appeal_id),
            data=payload,
            id=event_id(appeal_id, "received"),
            time=received_at,
        )
        rows.append(
            db.NewAppeal(
                id=appeal_id,
                source=application.source,
                external_id=submission.external_id,
                fingerprint=fingerprint(canonical(payload["submission"], submission.submitted_at)),
                registration_number=number,
                registered_at=received_at,
                type=submission.type.value,
                language=submission.language.value,
                applicant_kind=submission.applicant.kind.value,
                applicant_iin=submission.applicant.iin,
                applicant_bin=submission.applicant.bin,
                category=submission.category,
                locality=submission.location.locality,
                addressee=submission.addressee,
                channel=application.channel,
                due_at=due_at,
                event_id=uuid.UUID(events[appeal_id].id),
                received=payload,
            )
        )
    # Each appeal's AppealReceived first, then its integration's "registered" update: the
    # statement keeps those of the appeals it creates.
    told = [updates.registered(_registered(row), events[row.id].id) for row in rows]
    created = {
        r["id"]: r
        for r in await db.register_appeals(
            conn,
            rows,
            event_types.APPEAL_RECEIVED,
            [events[row.id] for row in rows] + [u for u in told if u is not None],
        )
    }
    keys = [(row.source, row.external_id) for row in rows if row.id not in created]
    existing = {(r["source"], r["external_id"]): r for r in await db.find_by_keys(conn, keys)}
    registrations: list[Registration] = []
    for application, row in zip(applications, rows, strict=True):
        if (new := created.get(row.id)) is not None:
            registrations.append(
                Registration(
                    "created",
                    row.id,
                    new["registration_number"],
                    new["registered_at"],
                    new["status"],
                    new["due_at"],
                )
            )
            continue
        # Skipped by ON CONFLICT: committed before (or earlier in this group), so it is found.
        earlier = existing[(row.source, row.external_id)]
        same = earlier["fingerprint"] == row.fingerprint
        differences = (
            []
            if same
            else AppealSubmission.model_validate(earlier["submission"]).differences(
                application.submission
            )
        )
        registrations.append(
            Registration(
                "existing" if same else "conflict",
                earlier["id"],
                earlier["registration_number"],
                earlier["registered_at"],
                earlier["status"],
                earlier["due_at"],
                differences,
            )
        )
    return registrations


def answer_submission(body: Any) -> AnswerSubmission:
    """The answer an agency sent (HTTP body or the data of a Kafka command), or the refusal."""
    try:
        return AnswerSubmission.model_validate(body)
    except ValidationError as exc:
        raise Refused(422, "the answer is not valid", problems=validation_problems(exc)) from None


def ahead(hop: int | None, appeal: asyncpg.Record) -> bool:
    """Whether the hop an agency named is one routing gave it and this registry has not
    followed yet: a newer hop (a redirect), or the hop an appeal waits at in triage, which
    an operator's assignment keeps. Never for an answered appeal: it is no longer followed."""
    if hop is None or appeal["answered_at"] is not None:
        return False
    return hop > appeal["hop"] or (hop == appeal["hop"] and appeal["agency"] is None)


async def answer(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    agency: str,
    body: AnswerSubmission,
    answered_at: datetime,
) -> AnswerGiven:
    """Only the agency the appeal is currently assigned to may answer, and only once."""
    appeal = await db.lock_appeal(conn, appeal_id)
    if appeal is None:
        raise Refused(404, "no such appeal")
    if appeal["agency"] is None and appeal["status"] in ("registered", "redirected"):
        # Routing has not decided (again) yet, or its decision is still on its way to us: an
        # agency answering the moment it reads its topic can be here first.
        raise NotYet(
            409,
            "the appeal's assignment has not reached the registry yet",
            "try again in a moment",
        )
    if appeal["agency"] != agency:
        if ahead(body.hop, appeal):
            raise NotYet(
                409,
                "the appeal's redirect to your agency has not reached the registry yet",
                "try again in a moment",
            )
        raise Refused(403, "the appeal is not assigned to your agency")
    if appeal["answered_at"] is not None:
        raise Refused(
            409, "the appeal was already answered", f"answered at {local(appeal['answered_at'])}"
        )
    data = AnswerGiven(
        appeal_id=str(appeal_id),
        registration_number=appeal["registration_number"],
        agency=agency,
        outcome=body.outcome,
        ground=body.ground,
        text=body.text,
        signed_at=body.signed_at,
        answered_at=answered_at,
    )
    given = data.model_dump(mode="json")
    await db.record_answer(conn, appeal_id, answered_at, given)
    event = outbox.event(
        topics.ANSWER_GIVEN,
        str(appeal_id),
        type=event_types.ANSWER_GIVEN,
        source=SOURCE,
        subject=str(appeal_id),
        data=given,
        id=event_id(appeal_id, "answered"),
        time=answered_at,
    )
    await outbox.add(conn, [event, *filter(None, [updates.answered(appeal, event.id, given)])])
    entry = db.TimelineEntry(appeal_id, event.id, "answered", event.type, answered_at, given)
    await db.add_timeline(conn, [entry])
    return data


# What each foreign event means for the appeal's timeline and status.
KINDS = {
    event_types.APPEAL_ASSIGNED: "assigned",
    event_types.APPEAL_REDIRECTED: "redirected",
    event_types.APPEAL_TRIAGED: "triaged",
    event_types.DEADLINE_EXTENDED: "extended",
    event_types.RECEIPT_CONFIRMED: "confirmed",
    event_types.DEADLINE_WARNING: "warned",
    event_types.DEADLINE_BREACHED: "breached",
    event_types.OVERDUE_REMINDER: "reminded",
    event_types.DEADLINE_ESCALATED: "escalated",
    event_types.REDIRECT_OVERDUE: "redirect_overdue",
    event_types.ALERT_ACKNOWLEDGED: "acknowledged",
}


# The status each of routing's steps leaves an appeal in.
STATUS_OF = {"assigned": "assigned", "redirected": "redirected", "triaged": "triage"}


def timeline_entry(event: CloudEvent[Any], kind: str) -> db.TimelineEntry:
    data = event.data if isinstance(event.data, dict) else {}
    return db.TimelineEntry(
        appeal_id=uuid.UUID(str(event.subject)),
        event_id=event.id,
        kind=kind,
        type=event.type,
        at=event.time,
        data=data,
    )


async def apply_foreign_events(
    conn: asyncpg.Connection, events: Sequence[CloudEvent[dict[str, Any]]]
) -> None:
    """Routing's and deadlines' events: timeline entries, plus status, agency and due date.

    Events about appeals this registry does not hold (another intake's, a benchmark's on a
    shared cluster) are skipped: an appeal is committed here before its AppealReceived is
    published, so every event about one of ours finds it.
    """
    about: list[tuple[CloudEvent[dict[str, Any]], str, uuid.UUID]] = []
    for event in events:
        kind = KINDS.get(event.type)
        if kind is None or not event.subject:
            continue
        try:
            about.append((event, kind, uuid.UUID(event.subject)))
        except ValueError:
            continue
    ours = await db.known_appeals(conn, list({appeal_id for _, _, appeal_id in about}))
    entries = []
    told: list[outbox.Event] = []
    # What the batch changes on each appeal, folded in order and written set-wise: a
    # statement per event is what held back the timeline after a broker outage.
    assignments: dict[uuid.UUID, db.Assignment] = {}
    dues: dict[uuid.UUID, datetime] = {}
    overdue: set[uuid.UUID] = set()
    for event, kind, appeal_id in about:
        if (appeal := ours.get(appeal_id)) is None:
            continue
        entries.append(timeline_entry(event, kind))
        if told_now := updates.from_step(appeal, kind, event.id, event.time, event.data):
            told.append(told_now)
        data = event.data
        hop = int(data.get("hop", 0) or 0)
        if (status := STATUS_OF.get(kind)) is not None:
            # Applied one by one, a step of a lower hop than one before it would change
            # nothing (db.SET_ASSIGNMENTS), so the last of the others is the outcome.
            before = assignments.get(appeal_id)
            if before is None or hop >= before.hop:
                agency = data.get("agency") if kind == "assigned" else None
                assignments[appeal_id] = db.Assignment(status, agency, hop)
        if kind == "assigned" and data.get("due_at"):
            dues[appeal_id] = datetime.fromisoformat(data["due_at"])
        elif kind == "extended" and data.get("new_due_at"):
            dues[appeal_id] = datetime.fromisoformat(data["new_due_at"])
        elif kind == "breached":
            overdue.add(appeal_id)
    await db.set_assignments(conn, assignments)
    await db.set_dues(conn, dues)
    await db.set_overdue(conn, overdue)
    await db.add_timeline(conn, entries)
    await outbox.add(conn, told)
