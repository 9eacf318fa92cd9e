"""Routing's logic: decisions for received appeals, manual assignments and redirects.

Functions that write take the caller's connection inside the caller's transaction and put
their events in the outbox; the subscriber and the routes open transactions and wake the
relay. Hop n is the n-th agency assignment of an appeal; a triage item reserves the hop
that the operator's assignment then takes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from appeals_contracts import event_types
from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import AnswerGiven, AppealAssigned
from appeals_contracts.submission import AppealType, Code, Text
from appeals_platform import outbox
from appeals_platform.problems import FieldProblem, Refused
from appeals_platform.records import KafkaRecord
from appeals_reference import NoCompetentAgencyError, ReferenceData, competent_agency
from routing import db, publications
from routing.decision import (
    CategoryRanker,
    Decision,
    SubmissionInput,
    as_json,
    decide,
    decide_many,
)
from routing.knowledge import Knowledge
from routing.redecision import decide_excluding

log = logging.getLogger(__name__)

CONSUMER = "routing-decisions"
ANSWERS = "routing-answers"

TriageReason = Literal["low_confidence", "no_candidate", "ping_pong", "decision_failed"]


# ----------------------------------------------------------------------------- decisions


def assignment_from(
    decision: Decision, appeal_id: uuid.UUID, hop: int, received_at: datetime, at: datetime
) -> db.Assignment:
    assert decision.agency is not None
    explanation = as_json(decision.explanation)
    return db.Assignment(
        appeal_id=appeal_id,
        hop=hop,
        agency=decision.agency,
        category=decision.category,
        locality=decision.locality,
        method=decision.method,
        confidence=decision.confidence,
        explanation=explanation,
        reference_version=decision.explanation.reference_version,
        classifier_version=decision.explanation.classifier_version,
        received_at=received_at,
        assigned_at=at,
        # Written once here, for the column and both events (an appeal's largest value).
        explanation_json=orjson.Fragment(orjson.dumps(explanation)),
    )


def triage_from(
    decision: Decision,
    appeal_id: uuid.UUID,
    hop: int,
    received_at: datetime,
    at: datetime,
    reason: TriageReason | None = None,
) -> db.Triage:
    return db.Triage(
        appeal_id=appeal_id,
        hop=hop,
        reason=reason or ("no_candidate" if decision.agency is None else "low_confidence"),
        best_guess=decision.agency,
        category=decision.category,
        locality=decision.locality,
        confidence=decision.confidence,
        explanation=as_json(decision.explanation),
        reference_version=decision.explanation.reference_version,
        received_at=received_at,
        triaged_at=at,
    )


class RoutedSubmission(SubmissionInput):
    """What routing reads of the submission: the decision's input and the appeal type."""

    type: AppealType


class ReceivedAppeal(BaseModel):
    """What routing reads of an AppealReceived payload; the rest travels on untouched.

    Intake validated the whole submission (contract v1) before publishing it. Validating it
    again here, identity checks and all, cost more than storing and publishing it, and
    routing does not read the applicant.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    appeal_id: uuid.UUID
    registration_number: str
    registered_at: AwareDatetime
    submission: RoutedSubmission


_RECEIVED_EVENT = CloudEvent[ReceivedAppeal]


@dataclass(frozen=True)
class Incoming:
    appeal: ReceivedAppeal
    data: dict[str, Any]  # the AppealReceived payload as received: stored and published on


def parse(record: KafkaRecord) -> Incoming | None:
    """An AppealReceived event; None for another type. Raises ValueError for a record that is
    not one (bad JSON, a missing or mistyped field): the consumer dead-letters it."""
    raw = orjson.loads(record.value or b"")
    event = _RECEIVED_EVENT.model_validate(raw)
    if event.type != event_types.APPEAL_RECEIVED:
        return None
    return Incoming(event.data, raw["data"])


_ANY_EVENT = CloudEvent[dict[str, Any]]


@dataclass(frozen=True)
class Answered:
    event_id: str
    appeal_id: uuid.UUID
    agency: str
    answered_at: datetime


def parse_answer(record: KafkaRecord) -> Answered | None:
    """An AnswerGiven event from intake; None for another type. ValueError for a record that
    is not one: the consumer dead-letters it."""
    event = _ANY_EVENT.model_validate_json(record.value or b"")
    if event.type != event_types.ANSWER_GIVEN:
        return None
    answer = AnswerGiven.model_validate(event.data)
    return Answered(event.id, uuid.UUID(answer.appeal_id), answer.agency, answer.answered_at)


async def record_answers(conn: asyncpg.Connection, answers: list[Answered]) -> None:
    """Intake's answers: the appeal is closed here too, so nobody redirects it any more.

    An answer about an appeal routing does not hold (another stack's, on a shared cluster)
    changes nothing.
    """
    await db.record_answers(conn, [(a.appeal_id, a.agency, a.answered_at) for a in answers])


def refuse_answered(appeal: asyncpg.Record) -> None:
    if appeal["answered_at"] is not None:
        raise Refused(
            409,
            "the appeal was already answered",
            f"answered by {appeal['answered_by']} at {appeal['answered_at'].isoformat()}",
        )


def decide_all(
    incoming: Sequence[Incoming],
    ref: ReferenceData,
    classifier: CategoryRanker,
    threshold: float,
) -> list[Decision | Exception]:
    """One batched classifier call for the whole batch: the CPU-heavy part, no I/O.

    If the batch fails, each appeal is decided alone, and one whose decision still fails
    comes back as its exception: it goes to triage instead of blocking the partition.
    """
    if not incoming:
        return []
    try:
        return list(
            decide_many(
                [i.appeal.submission for i in incoming], ref, classifier, threshold=threshold
            )
        )
    except Exception:
        log.exception("deciding a batch failed; deciding its appeals one by one")
    results: list[Decision | Exception] = []
    for item in incoming:
        try:
            results.append(decide(item.appeal.submission, ref, classifier, threshold=threshold))
        except Exception as exc:
            log.exception("deciding appeal %s failed: manual routing", item.appeal.appeal_id)
            results.append(exc)
    return results


def failed_triage(
    error: Exception, appeal_id: uuid.UUID, ref: ReferenceData, received_at: datetime, at: datetime
) -> db.Triage:
    return db.Triage(
        appeal_id=appeal_id,
        hop=1,
        reason="decision_failed",
        best_guess=None,
        category=None,
        locality=None,
        confidence=None,
        explanation={
            "method": "manual",
            "reference_version": ref.version,
            "notes": [f"the automatic decision failed ({type(error).__name__}): manual routing"],
        },
        reference_version=ref.version,
        received_at=received_at,
        triaged_at=at,
    )


@dataclass(frozen=True)
class Recorded:
    assigned: int
    triaged: int
    duplicates: int


async def record_decisions(
    conn: asyncpg.Connection,
    incoming: Sequence[Incoming],
    decisions: Sequence[Decision | Exception],
    ref: ReferenceData,
    at: datetime,
) -> Recorded:
    """Store hop 1 of every appeal not stored before and queue its events: one statement,
    atomic on its own, so the decisions consumer opens no transaction for it.

    This is the decisions consumer's exactly-once guard (it keeps no inbox rows): an appeal
    already stored, whether its event was redelivered or the same appeal came under another
    event id, is left as it is, and so is a second event of one appeal in the batch.
    """
    chosen: dict[uuid.UUID, tuple[Incoming, Decision | Exception]] = {}
    for item, decision in zip(incoming, decisions, strict=True):
        appeal_id = item.appeal.appeal_id
        if appeal_id not in chosen:
            chosen[appeal_id] = (item, decision)
    # Dumped once: stored in the appeals row and carried by the agency's copy of the event.
    received = {appeal_id: orjson.dumps(item.data) for appeal_id, (item, _) in chosen.items()}
    appeals: list[db.NewAppeal] = []
    assignments: list[db.Assignment] = []
    triaged: list[db.Triage] = []
    messages: list[outbox.Event] = []
    for appeal_id, (item, decision) in chosen.items():
        appeal = item.appeal
        appeals.append(
            db.NewAppeal(
                appeal_id=appeal_id,
                registration_number=appeal.registration_number,
                registered_at=appeal.registered_at,
                appeal_type=appeal.submission.type.value,
                received=orjson.Fragment(received[appeal_id]),
            )
        )
        if isinstance(decision, Exception):
            row = failed_triage(decision, appeal_id, ref, appeal.registered_at, at)
            triaged.append(row)
            messages.append(publications.triage_message(row, appeal.registration_number))
        elif decision.triage or decision.agency is None:
            row = triage_from(decision, appeal_id, 1, appeal.registered_at, at)
            triaged.append(row)
            messages.append(publications.triage_message(row, appeal.registration_number))
        else:
            assigned = assignment_from(decision, appeal_id, 1, appeal.registered_at, at)
            assignments.append(assigned)
            messages.extend(
                publications.assignment_events(
                    assigned,
                    ref,
                    registration_number=appeal.registration_number,
                    appeal_type=appeal.submission.type.value,
                    appeal=received[appeal_id],
                )
            )
    # One statement keeps, of all that, what belongs to the appeals it stores.
    new = await db.record_first_hops(conn, appeals, assignments, triaged, messages)
    assignments = [a for a in assignments if a.appeal_id in new]
    triaged = [t for t in triaged if t.appeal_id in new]
    return Recorded(len(assignments), len(triaged), len(incoming) - len(assignments) - len(triaged))


# ----------------------------------------------------------------------------- operators


def _text(received: ReceivedAppeal) -> str:
    return received.submission.full_text


def rule_winner(ref: ReferenceData, category: str, locality: str | None) -> str | None:
    try:
        return competent_agency(ref, category, locality).code
    except (NoCompetentAgencyError, KeyError):
        return None


def implied_category(
    ref: ReferenceData, classifier: CategoryRanker, text: str, agency: str, locality: str | None
) -> str | None:
    """The category a human's choice of `agency` for this text most plausibly means.

    Among the categories the rule gives to that agency at this locality (else all its
    competences), the one the classifier finds most probable.
    """
    if not ref.has_agency(agency):
        return None
    won = [c.code for c in ref.categories if rule_winner(ref, c.code, locality) == agency]
    pool = won or list(ref.agency(agency).competences)
    if not pool:
        return None
    probability = {s.code: s.probability for s in classifier.rank(text)}
    return max(pool, key=lambda code: probability.get(code, 0.0))


Comment = Annotated[Text, Field(max_length=2000)]


class AssignRequest(BaseModel):
    """An operator's assignment of a triaged appeal."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agency: Code
    category: Code | None = None
    comment: Comment | None = None


class RedirectRequest(BaseModel):
    """An agency's redirect; `target: null` asks routing to decide again without it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    target: Code | None = None
    reason: Literal["not_competent", "partially_competent", "other"]
    partial: bool = Field(default=False, strict=True)
    comment: Comment | None = None


def unknown_code(field: str, what: str) -> Refused:
    return Refused(
        422,
        "unknown reference code",
        problems=[FieldProblem(field=field, message=f"is not {what} of the reference data")],
    )


def _manual_explanation(
    ref: ReferenceData,
    classifier: CategoryRanker,
    *,
    agency: str,
    category: str | None,
    category_source: str,
    locality: str | None,
    by: str,
    comment: str | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    notes = []
    if category is not None:
        winner = rule_winner(ref, category, locality)
        if winner != agency:
            notes.append(f"the rule gives {winner} for {category} at {locality}")
    return {
        "method": "manual",
        "agency": agency,
        "locality": locality,
        "category": category,
        "category_source": category_source,
        "by": by,
        "comment": comment,
        "reference_version": ref.version,
        "classifier_version": classifier.version,
        "notes": notes,
        **extra,
    }


async def assign_manually(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    body: AssignRequest,
    *,
    by: str,
    knowledge: Knowledge,
    at: datetime,
) -> AppealAssigned:
    """An operator assigns a triaged appeal: method 'manual', on the reserved hop."""
    ref, classifier = knowledge.reference, knowledge.classifier
    if not ref.has_agency(body.agency):
        raise unknown_code("agency", "an agency")
    if body.category is not None and not ref.has_category(body.category):
        raise unknown_code("category", "a category")
    appeal = await db.lock_appeal(conn, appeal_id)
    if appeal is None:
        raise Refused(404, "no such appeal")
    refuse_answered(appeal)
    waiting = await db.open_triage_of(conn, appeal_id)
    if waiting is None:
        raise Refused(409, "the appeal is not waiting in triage")
    received = ReceivedAppeal.model_validate(appeal["received"])
    text = _text(received)
    locality = waiting["locality"]
    category = body.category or implied_category(ref, classifier, text, body.agency, locality)
    explanation = _manual_explanation(
        ref,
        classifier,
        agency=body.agency,
        category=category,
        category_source="operator" if body.category else "implied by the agency",
        locality=locality,
        by=by,
        comment=body.comment,
        extra={"triage": {"reason": waiting["reason"], "explanation": waiting["explanation"]}},
    )
    row = db.Assignment(
        appeal_id=appeal_id,
        hop=waiting["hop"],
        agency=body.agency,
        category=category,
        locality=locality,
        method="manual",
        confidence=None,
        explanation=explanation,
        reference_version=ref.version,
        classifier_version=classifier.version,
        received_at=waiting["received_at"],
        assigned_at=at,
        assigned_by=by,
    )
    await db.resolve_triage(conn, appeal_id, waiting["hop"], at, by)
    await db.insert_assignments(conn, [row])
    if category is not None:
        await db.add_examples(
            conn, [db.LabelledExample(appeal_id, text, category, "manual", body.agency)]
        )
    redirected_from = await _redirected_from(conn, appeal_id, row.hop)
    events = publications.assignment_events(
        row,
        ref,
        registration_number=appeal["registration_number"],
        appeal_type=appeal["appeal_type"],
        appeal=orjson.dumps(appeal["received"]),
        redirected_from=redirected_from,
    )
    await outbox.add(conn, events)
    return AppealAssigned.model_validate(orjson.loads(events[0].payload)["data"])


async def _redirected_from(conn: asyncpg.Connection, appeal_id: uuid.UUID, hop: int) -> str | None:
    for r in await db.redirects_of(conn, appeal_id):
        if r["to_hop"] == hop:
            return str(r["from_agency"])
    return None


class RedirectOutcome(BaseModel):
    appeal_id: str
    from_agency: str
    from_hop: int
    hop: int
    outcome: Literal["assigned", "triage"]
    agency: str | None
    method: str | None
    category: str | None
    triage_reason: str | None = None
    explanation: dict[str, Any]


async def redirect(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    body: RedirectRequest,
    *,
    agency: str,
    by: str,
    knowledge: Knowledge,
    redirect_limit: int,
    at: datetime,
) -> RedirectOutcome:
    """The current assignee hands the appeal (or a part of it) on; see the module notes."""
    ref, classifier = knowledge.reference, knowledge.classifier
    if body.target is not None:
        if not ref.has_agency(body.target):
            raise unknown_code("target", "an agency")
        if body.target == agency:
            raise Refused(
                422,
                "invalid redirect",
                problems=[FieldProblem(field="target", message="is your own agency")],
            )
    appeal = await db.lock_appeal(conn, appeal_id)
    if appeal is None:
        raise Refused(404, "no such appeal")
    held = await db.active_hops_of(conn, appeal_id, agency)
    if not held:
        raise Refused(403, "the appeal is not assigned to your agency")
    # The holder of an answered appeal is still its agency, but has nothing left to hand on.
    refuse_answered(appeal)
    if await db.open_triage_of(conn, appeal_id) is not None:
        raise Refused(409, "the appeal waits in triage for an operator")
    current = next(r for r in await db.assignments_of(conn, appeal_id) if r["hop"] == held[-1])
    hop, redirects = await db.next_hop(conn, appeal_id, redirect=True, at=at)
    if not body.partial:
        await db.end_assignments(conn, appeal_id, held, at)
    received = ReceivedAppeal.model_validate(appeal["received"])
    text = _text(received)
    locality = current["locality"]
    redirect_note = {
        "from_agency": agency,
        "reason": body.reason,
        "partial": body.partial,
        "comment": body.comment,
        "target": body.target,
    }
    assignment: db.Assignment | None = None
    triage: db.Triage | None = None
    if redirects >= redirect_limit:
        # Ping-pong: the agencies disagree; an operator settles it instead of a fourth bounce.
        triage = db.Triage(
            appeal_id=appeal_id,
            hop=hop,
            reason="ping_pong",
            best_guess=body.target,
            category=current["category"],
            locality=locality,
            confidence=None,
            explanation={
                "method": "manual",
                "locality": locality,
                "category": current["category"],
                "reference_version": ref.version,
                "classifier_version": classifier.version,
                "redirect": redirect_note,
                "notes": [
                    f"redirected {redirects} times (limit {redirect_limit}): an operator decides"
                ],
            },
            reference_version=ref.version,
            received_at=at,
            triaged_at=at,
        )
    elif body.target is not None:
        category = implied_category(ref, classifier, text, body.target, locality)
        assignment = db.Assignment(
            appeal_id=appeal_id,
            hop=hop,
            agency=body.target,
            category=category,
            locality=locality,
            method="manual",
            confidence=None,
            explanation=_manual_explanation(
                ref,
                classifier,
                agency=body.target,
                category=category,
                category_source="implied by the target",
                locality=locality,
                by=by,
                comment=body.comment,
                extra={"redirect": redirect_note},
            ),
            reference_version=ref.version,
            classifier_version=classifier.version,
            received_at=at,
            assigned_at=at,
            assigned_by=by,
            partial=body.partial,
        )
    else:
        decision = decide_excluding(
            received.submission,
            ref,
            classifier,
            exclude=agency,
            threshold=knowledge.threshold,
        )
        if decision.triage or decision.agency is None:
            triage = triage_from(decision, appeal_id, hop, at, at)
            triage = _with_redirect(triage, redirect_note)
        else:
            assignment = assignment_from(decision, appeal_id, hop, at, at)
            assignment = _assignment_with(assignment, redirect_note, body.partial, by)
    row = db.Redirect(
        appeal_id=appeal_id,
        from_hop=held[-1],
        to_hop=hop,
        from_agency=agency,
        target=body.target,
        reason=body.reason,
        partial=body.partial,
        comment=body.comment,
        outcome="assigned" if assignment is not None else "triage",
        redirected_at=at,
        redirected_by=by,
    )
    await db.insert_redirect(conn, row)
    number = appeal["registration_number"]
    # The redirect first: the relay publishes rows in insertion order.
    messages: list[outbox.Event] = [
        publications.redirect_message(row, number, assignment.agency if assignment else None)
    ]
    outcome = RedirectOutcome(
        appeal_id=str(appeal_id),
        from_agency=agency,
        from_hop=held[-1],
        hop=hop,
        outcome="triage",
        agency=None,
        method=None,
        category=None,
        explanation={},
    )
    if assignment is not None:
        await db.insert_assignments(conn, [assignment])
        if assignment.category is not None:
            example = db.LabelledExample(
                appeal_id, text, assignment.category, "redirect", assignment.agency
            )
            await db.add_examples(conn, [example])
        messages += publications.assignment_events(
            assignment,
            ref,
            registration_number=number,
            appeal_type=appeal["appeal_type"],
            appeal=orjson.dumps(appeal["received"]),
            redirected_from=agency,
        )
        outcome = outcome.model_copy(
            update={
                "outcome": "assigned",
                "agency": assignment.agency,
                "method": assignment.method,
                "category": assignment.category,
                "explanation": assignment.explanation,
            }
        )
    elif triage is not None:
        await db.insert_triage(conn, [triage])
        messages.append(publications.triage_message(triage, number))
        outcome = outcome.model_copy(
            update={
                "category": triage.category,
                "triage_reason": triage.reason,
                "explanation": triage.explanation,
            }
        )
    await outbox.add(conn, messages)
    return outcome


def _with_redirect(row: db.Triage, note: dict[str, Any]) -> db.Triage:
    return db.Triage(**{**row.__dict__, "explanation": {**row.explanation, "redirect": note}})


def _assignment_with(
    row: db.Assignment, note: dict[str, Any], partial: bool, by: str
) -> db.Assignment:
    return db.Assignment(
        **{
            **row.__dict__,
            "explanation": {**row.explanation, "redirect": note},
            "explanation_json": None,  # the note changes it: written again from the dict
            "partial": partial,
            "assigned_by": by,
        }
    )
