"""Reading Kafka records: headers, and dead letters for the ones that cannot be parsed."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import ValidationError

from appeals_contracts.envelope import envelope
from appeals_contracts.topics import dead_letter_topic
from appeals_platform.outbox import OutboxMessage

DEAD_LETTER_TYPE = "kz.appeals.dead-letter.v1"


class KafkaRecord(Protocol):
    """What we read of aiokafka's ConsumerRecord."""

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
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


def describe(exc: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)[:10]
    ]
    return "; ".join(parts)


def dead_letter(record: KafkaRecord, error: str, source: str) -> OutboxMessage:
    """A poison message goes to `<topic>.dlq` through the outbox, committed with the offset."""
    key = (record.key or b"").decode(errors="replace")
    data: dict[str, Any] = {
        "error": error,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": key,
        "value_base64": base64.b64encode(record.value or b"").decode(),
        "headers": {k: v.decode(errors="replace") for k, v in record.headers},
    }
    event_id = uuid.uuid5(
        uuid.NAMESPACE_URL, f"dlq/{record.topic}/{record.partition}/{record.offset}"
    )
    event = envelope(
        event_type=DEAD_LETTER_TYPE,
        source=source,
        subject=key or "unknown",
        data=data,
        id=str(event_id),
    )
    return OutboxMessage(dead_letter_topic(record.topic), key or str(event_id), event)


def header(record: KafkaRecord, name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return value.decode(errors="replace")
    return None
