"""An outbox relay in a process of its own, for the failover test to freeze with SIGSTOP:
`python -m tests.platform.relay_process DSN TOPIC_PREFIX LEASE_SECONDS` (the test stack's
Kafka as admin); it logs to stdout and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from appeals_platform.outbox import OutboxRelay, create_producer
from appeals_platform.pool import create_pool
from appeals_tools.stack.kafka import admin_options


async def main(dsn: str, prefix: str, lease_seconds: float) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    pool = await create_pool(dsn, "intake", min_size=1, max_size=3)
    producer = create_producer(admin_options(), "test-relay-process")
    await producer.start()
    relay = OutboxRelay(
        pool,
        producer,
        schema="intake",
        topic_prefix=prefix,
        poll_interval=0.05,
        lease_seconds=lease_seconds,
        service="relay-process",
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, relay.stop)
    try:
        await relay.run()
    finally:
        await producer.stop()
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
