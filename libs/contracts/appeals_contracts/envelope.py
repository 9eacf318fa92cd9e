"""CloudEvents 1.0 structured-mode envelope shared by every event of the platform."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

DataT = TypeVar("DataT")

# The namespace for deterministic event ids: uuid5(namespace, "<appeal>/<kind>/<hop>").
EVENT_ID_NAMESPACE = uuid.UUID("6f1c5f3e-4b8a-5d2e-9a57-4b7e0c2d1a90")


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 event in structured JSON mode; `subject` is the appeal id."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: str = "1.0"
    id: str
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    data: DataT


_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def event_id(appeal_id: uuid.UUID | str, kind: str, hop: int = 0) -> str:
    """Deterministic id, so a replay of the same fact carries the same id and consumers drop it.

    uuid5(EVENT_ID_NAMESPACE, "<appeal>/<kind>/<hop>"), spelled out: the consumers make two or
    three per appeal, and building a UUID object only to print it cost more than the hash.
    """
    # uuid5 is defined on SHA-1: an id, not a secret.
    h = hashlib.sha1(
        _NAMESPACE_BYTES + f"{appeal_id}/{kind}/{hop}".encode(), usedforsecurity=False
    ).hexdigest()
    # Version 5 in the 13th hex digit, the RFC 4122 variant (10xx) in the 17th.
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


def envelope(
    *,
    event_type: str,
    source: str,
    subject: str,
    data: Any,
    id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[Any]:
    """Wrap `data` in an envelope; a random id is used only for events that are not replayable."""
    return CloudEvent[Any](
        id=id or str(uuid.uuid4()),
        source=source,
        type=event_type,
        subject=subject,
        time=time or datetime.now(UTC),
        data=data,
    )
