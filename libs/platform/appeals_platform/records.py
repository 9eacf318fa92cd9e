"""Kafka records as the services read them, and dead letters for the ones they cannot handle."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson
from pydantic import ValidationError

from appeals_contracts import event_types
from appeals_contracts.events import DeadLetter, DeadLetterHeader
from appeals_contracts.topics import dead_letter_topic
from appeals_platform import outbox

# A dead letter carries the original value, base64-encoded, inside a JSON event that must fit
# the broker's default record limit (1 MB): larger values keep their first 512 KB only.
DEAD_LETTER_VALUE_LIMIT = 512 * 1024


class KafkaRecord(Protocol):
    """What the services read of a record (a `Record`, or a stand-in built from an outbox row)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes | None]]: ...


@dataclass(frozen=True, slots=True)
class Record:
    """A consumed record. `topic` is the platform's name for it (without a run's topic prefix);
    header values stay bytes, so a header that is not UTF-8 never fails anything."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int | None = None


def describe(exc: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)[:10]
    ]
    return "; ".join(parts)


def problem_of(exc: BaseException) -> str:
    """A dead letter's `error`: the field paths of a validation error, else type and message."""
    if isinstance(exc, ValidationError):
        return describe(exc)
    return f"{type(exc).__name__}: {exc}"[:2000]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _header(key: str, value: bytes | None) -> DeadLetterHeader:
    if value is None:
        return DeadLetterHeader(key=key)
    try:
        return DeadLetterHeader(key=key, value=value.decode())
    except UnicodeDecodeError:
        return DeadLetterHeader(key=key, value_base64=_b64(value))


def dead_letter(
    record: KafkaRecord,
    error: str,
    source: str,
    *,
    consumer: str = "",
    attempts: int = 1,
) -> outbox.Event:
    """A record its consumer gave up on, for `<topic>.dlq`, through the outbox.

    The id is the consumer and the record's coordinates, so a redelivery of the same poison
    record does not add a second dead letter while the first is still in the outbox.
    """
    value = record.value or b""
    letter = DeadLetter(
        error=error,
        attempts=attempts,
        consumer=consumer,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=getattr(record, "timestamp", None),
        key=record.key.decode(errors="replace") if record.key is not None else None,
        key_base64=_b64(record.key) if record.key is not None else None,
        value_base64=_b64(value[:DEAD_LETTER_VALUE_LIMIT]) if record.value is not None else None,
        value_bytes=len(value),
        value_truncated=len(value) > DEAD_LETTER_VALUE_LIMIT,
        headers=[_header(k, v) for k, v in record.headers],
    )
    event_id = uuid.uuid5(
        uuid.NAMESPACE_URL, f"dlq/{consumer}/{record.topic}/{record.partition}/{record.offset}"
    )
    key = (record.key or b"").decode(errors="replace")
    return outbox.event(
        dead_letter_topic(record.topic),
        key or str(event_id),
        type=event_types.DEAD_LETTER,
        source=source,
        subject=key or "unknown",
        data=letter,
        id=str(event_id),
    )


def header(record: KafkaRecord, name: str) -> str | None:
    """A header as text (undecodable bytes replaced), or None when absent."""
    for key, value in record.headers:
        if key == name:
            return None if value is None else value.decode(errors="replace")
    return None


def event_type(record: KafkaRecord) -> str | None:
    """The record's CloudEvent type: the `type` of a structured event's JSON body (what the
    services' `parse` read), else the `ce_type` header; None when it has neither."""
    try:
        body = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError:
        body = None
    kind = body.get("type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else header(record, "ce_type")
