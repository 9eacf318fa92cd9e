"""Appeal ids: UUIDv7 (RFC 9562), ordered by when they were minted.

An appeal's id keys six indexes across the services (intake's appeals and its timeline twice,
routing's appeals and assignments, deadlines' clocks). A random id (uuid4) put every insert on
a random leaf page of each: on a database of 948,000 appeals, with those indexes larger than
the buffer pool, an appeal read 0.6–0.9 pages per index from outside it, and backends wrote 9
dirty pages per appeal out of it themselves (7 Dec 2026). Ids minted in the same millisecond
share their first 48 bits, so their inserts go to the same few pages at the indexes' end.

The other 74 bits are random: an id is no easier to guess. Its first 48 tell when it was
minted, which whoever holds it sees anyway (`registered_at`).
"""

from __future__ import annotations

import os
import time
import uuid

_MILLISECONDS = (1 << 48) - 1
_VERSION = 0xF << 76
_VARIANT = 0x3 << 62


def new_appeal_id() -> uuid.UUID:
    milliseconds = time.time_ns() // 1_000_000
    value = (milliseconds & _MILLISECONDS) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~_VERSION | 0x7 << 76  # version 7
    value = value & ~_VARIANT | 0x2 << 62  # the RFC's variant (10xx)
    return uuid.UUID(int=value)
