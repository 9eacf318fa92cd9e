"""Intake's Kafka side: submissions produced by integrations, and other services' events,
as the parse and handle functions of its two subscriptions."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from pydantic import BaseModel, ValidationError

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import CloudEvent
from appeals_contracts.submission import AppealSubmission
from appeals_platform import outbox
from appeals_platform.consumer import Poison
from appeals_platform.problems import FieldProblem, validation_problems
from appeals_platform.records import KafkaRecord, header
from intake import handlers
from intake.reference import Codes

log = logging.getLogger(__name__)


class Rejection(BaseModel):
    external_id: str | None
    source: str | None
    topic: str
    partition: int
    offset: int
    errors: list[dict[str, str]]
    rejected_at: datetime


def rejection(record: KafkaRecord, source: str | None, errors: list[FieldProblem]) -> outbox.Event:
    key = (record.key or b"").decode(errors="replace")
    data = Rejection(
        external_id=key or None,
        source=source,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        errors=[{"field": e["field"], "message": e["message"]} for e in errors],
        rejected_at=datetime.now(UTC),
    )
    # One rejection per record: its coordinates make the id, so a redelivery is dropped.
    ident = str(
        uuid.uuid5(
            uuid.NAMESPACE_URL, f"rejected/{record.topic}/{record.partition}/{record.offset}"
        )
    )
    return outbox.event(
        topics.APPEAL_REJECTIONS,
        key or ident,
        type=event_types.SUBMISSION_REJECTED,
        source=handlers.SOURCE,
        subject=key or f"{record.partition}:{record.offset}",
        data=data,
        id=ident,
    )


def validate(
    record: KafkaRecord, codes: Codes
) -> tuple[AppealSubmission | None, str | None, list[FieldProblem]]:
    # The topic proves the source: only that integration's principal may write it. A `source`
    # header is optional, and one that names another integration is a forgery or a mistake.
    source = topics.source_of(record.topic)
    if source is None:
        problem = FieldProblem(field="topic", message="is not an integration's submission topic")
        return None, None, [problem]
    claimed = header(record, "source")
    if claimed is not None and claimed != source:
        problem = FieldProblem(
            field="headers.source",
            message=f"names another integration than this topic's ({source})",
        )
        return None, source, [problem]
    try:
        body = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError as exc:
        return None, source, [FieldProblem(field="body", message=f"is not valid JSON: {exc}")]
    try:
        submission = AppealSubmission.model_validate(body)
    except ValidationError as exc:
        return None, source, validation_problems(exc)
    if problems := handlers.future_problems(submission, datetime.now(UTC)) + codes.problems(
        submission
    ):
        return None, source, problems
    key = (record.key or b"").decode(errors="replace")
    if key and key != submission.external_id:
        return (
            None,
            source,
            [FieldProblem(field="key", message="the message key must equal external_id")],
        )
    return submission, source, []


@dataclass(frozen=True)
class Submitted:
    """A record of intake.appeal-submissions: an application to register, or its problems."""

    record: KafkaRecord
    source: str | None
    application: handlers.Application | None
    problems: list[FieldProblem]


def submission_parser(codes: Codes) -> Callable[[KafkaRecord], Submitted]:
    """Every record becomes a `Submitted`: an invalid one is answered by a rejection event."""

    def parse(record: KafkaRecord) -> Submitted:
        submission, source, problems = validate(record, codes)
        if submission is None or source is None:
            return Submitted(record, source, None, problems)
        application = handlers.Application(submission, source, "kafka", datetime.now(UTC))
        return Submitted(record, source, application, [])

    return parse


def submissions_handler(
    numbers: handlers.RegistrationNumbers, law: handlers.Law, topic: str = topics.APPEAL_RECEIVED
) -> Callable[[asyncpg.Connection, list[Submitted]], Awaitable[None]]:
    async def handle(conn: asyncpg.Connection, items: list[Submitted]) -> None:
        """Register valid submissions exactly like HTTP ones; reject the rest."""
        valid = [item for item in items if item.application is not None]
        registrations = await handlers.register_many(
            conn,
            [item.application for item in valid if item.application is not None],
            numbers=numbers,
            law=law,
            topic=topic,
        )
        messages = [
            rejection(item.record, item.source, item.problems)
            for item in items
            if item.application is None
        ]
        for item, registration in zip(valid, registrations, strict=True):
            if registration.outcome == "conflict":
                messages.append(
                    rejection(
                        item.record,
                        item.source,
                        [
                            FieldProblem(
                                field=path,
                                message="differs from the appeal registered as "
                                f"{registration.registration_number} under this external_id",
                            )
                            for path in registration.differences[:50]
                        ],
                    )
                )
        await outbox.add(conn, messages)

    return handle


def parse_foreign_event(record: KafkaRecord) -> CloudEvent[dict[str, Any]] | None:
    """Routing's and deadlines' events that change an appeal's timeline; None for the others."""
    event = CloudEvent[dict[str, Any]].model_validate_json(record.value or b"")
    if event.type not in handlers.KINDS:
        return None
    try:
        uuid.UUID(event.subject or "")
    except ValueError as exc:
        raise Poison(f"subject: not an appeal id: {event.subject!r}") from exc
    return event
