"""aiokafka's own failures, driven through the routines that fail when a broker is killed."""

from __future__ import annotations

import asyncio
from typing import Any

# What uvloop raises on a write to a connection it has already closed: a RuntimeError where
# aiokafka expects an OSError, so the task it happens in ends.
CLOSED = "unable to perform operation on <TCPTransport closed=True>"


async def end_metadata_synchroniser(client: Any) -> None:
    """End an aiokafka client's metadata synchroniser as that error does, once (the next
    client is not touched), and wait until it has ended."""
    update = client._metadata_update

    async def broken(*args: Any, **kwargs: Any) -> bool:
        client._metadata_update = update
        raise RuntimeError(CLOSED)

    client._metadata_update = broken
    client.force_metadata_update()
    await asyncio.wait([client._sync_task], timeout=60)
    assert client._sync_task.done()
