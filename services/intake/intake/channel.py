"""Intake's Kafka side: submissions produced by integrations, and other services' events."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import CloudEvent, envelope
from appeals_contracts.submission import AppealSubmission
from appeals_platform import outbox
from appeals_platform.inbox import first_seen
from appeals_platform.records import KafkaRecord, dead_letter, describe, header
from appeals_platform.runtime import Runtime
from intake import handlers
from intake.errors import FieldProblem, validation_problems
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


def rejection(
    record: KafkaRecord, source: str | None, errors: list[FieldProblem]
) -> outbox.OutboxMessage:
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
    event = envelope(
        event_type=event_types.SUBMISSION_REJECTED,
        source=handlers.SOURCE,
        subject=key or f"{record.partition}:{record.offset}",
        data=data.model_dump(mode="json"),
        id=str(
            uuid.uuid5(
                uuid.NAMESPACE_URL, f"rejected/{record.topic}/{record.partition}/{record.offset}"
            )
        ),
    )
    return outbox.message(topics.APPEAL_REJECTIONS, key or event.id, event)


def validate(
    record: KafkaRecord, codes: Codes
) -> tuple[AppealSubmission | None, str | None, list[FieldProblem]]:
    source = header(record, "source")
    if not source:
        return (
            None,
            None,
            [
                FieldProblem(
                    field="headers.source", message="the `source` header names the integration"
                )
            ],
        )
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


async def consume_submissions(
    runtime: Runtime,
    records: Sequence[KafkaRecord],
    numbers: handlers.RegistrationNumbers,
    law: handlers.Law,
    codes: Codes,
    topic: str = topics.APPEAL_RECEIVED,
) -> None:
    """Register valid submissions exactly like HTTP ones; reject the rest and move on."""
    messages: list[outbox.OutboxMessage] = []
    valid: list[tuple[KafkaRecord, str, handlers.Application]] = []
    for record in records:
        submission, source, problems = validate(record, codes)
        if submission is None or source is None:
            messages.append(rejection(record, source, problems))
            continue
        valid.append(
            (record, source, handlers.Application(submission, source, "kafka", datetime.now(UTC)))
        )
    async with runtime.pool.acquire() as conn, conn.transaction():
        registrations = await handlers.register_many(
            conn,
            [application for _, _, application in valid],
            numbers=numbers,
            law=law,
            topic=topic,
        )
        for (record, source, _), registration in zip(valid, registrations, strict=True):
            if registration.outcome == "conflict":
                messages.append(
                    rejection(
                        record,
                        source,
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
    runtime.relay.wake()


async def consume_foreign_events(runtime: Runtime, records: Sequence[KafkaRecord]) -> None:
    events: list[CloudEvent[dict[str, Any]]] = []
    dead: list[outbox.OutboxMessage] = []
    for record in records:
        try:
            events.append(CloudEvent[dict[str, Any]].model_validate_json(record.value or b""))
        except ValidationError as exc:
            dead.append(dead_letter(record, describe(exc), handlers.SOURCE))
    async with runtime.pool.acquire() as conn, conn.transaction():
        fresh = await first_seen(conn, "intake-timeline", [e.id for e in events])
        await handlers.apply_foreign_events(conn, [e for e in events if e.id in fresh])
        await outbox.add(conn, dead)
    if dead:
        runtime.relay.wake()
