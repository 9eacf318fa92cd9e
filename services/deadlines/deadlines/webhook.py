"""Optional HTTP delivery of alerts: every alert, as a structured CloudEvent, to a configured URL.

Alerts are read from the alerts topic by a consumer that only queues them
(`webhook_deliveries`, in its transaction); a dispatcher posts what is due, one attempt per
row at a time, outside any transaction and outside the poll loop, and retries with
exponential backoff. So a slow or failing receiver never holds the Kafka consumer.

Delivery is at least once: receivers drop repeats by the CloudEvent id (also in the `ce-id`
header). With a secret, `X-Appeals-Signature: sha256=<hex HMAC of the body>` lets the receiver
check the sender. An alert still refused after the last attempt, or refused with a 4xx that
retrying cannot fix, goes to the alerts dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
from prometheus_client import Counter

from appeals_contracts import event_types
from appeals_platform import outbox
from appeals_platform.availability import database_unavailable
from appeals_platform.records import KafkaRecord, Record, dead_letter, header
from deadlines import alerts

log = logging.getLogger(__name__)

DELIVERED = Counter("deadlines_webhook_deliveries_total", "Alert webhook outcomes", ["outcome"])

CONSUMER = "deadlines-webhook"
INBOX_TYPES = (event_types.INBOX_STALLED, event_types.INBOX_RECOVERED)

# Worth retrying: the receiver is down, overloaded or timing out.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    retryable: bool
    error: str | None = None


class WebhookSender:
    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self._secret = secret.encode() if secret else None
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    def _headers(self, body: bytes, event_id: str, event_type: str) -> dict[str, str]:
        headers = {
            "content-type": "application/cloudevents+json",
            "ce-id": event_id,
            "ce-type": event_type,
        }
        if self._secret is not None:
            digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            headers["x-appeals-signature"] = f"sha256={digest}"
        return headers

    async def attempt(self, body: bytes, event_id: str, event_type: str) -> Attempt:
        """One POST; whether it was accepted, and whether another try could help."""
        try:
            response = await self._client.post(
                self.url, content=body, headers=self._headers(body, event_id, event_type)
            )
        except httpx.HTTPError as exc:
            return Attempt(False, True, f"{type(exc).__name__}: {exc}")
        if response.is_success:
            return Attempt(True, False)
        return Attempt(False, response.status_code in RETRYABLE, f"HTTP {response.status_code}")


@dataclass(frozen=True)
class Backoff:
    max_attempts: int = 8
    initial: float = 0.5
    cap: float = 60.0

    def after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1, 2, ...)."""
        return float(min(self.cap, self.initial * 2 ** (attempt - 1)))


# ----------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueuedAlert:
    event_id: str
    event_type: str
    record: KafkaRecord


def identity(record: KafkaRecord) -> tuple[str, str]:
    """(event id, event type) from the ce_* headers, else from the JSON body."""
    event_id, event_type = header(record, "ce_id"), header(record, "ce_type")
    if event_id is None or event_type is None:
        try:
            body = orjson.loads(record.value or b"")
        except orjson.JSONDecodeError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        event_id = event_id or str(body.get("id", ""))
        event_type = event_type or str(body.get("type", ""))
    return event_id, event_type


def parse(record: KafkaRecord) -> QueuedAlert | None:
    """Alerts to deliver, inbox-stalled/-recovered among them; acknowledgements (and anything
    else on the topic) are not alerts."""
    event_id, event_type = identity(record)
    if event_type not in alerts.KINDS and event_type not in INBOX_TYPES:
        return None
    if not event_id:
        raise ValueError("an alert without an id cannot be delivered at least once")
    return QueuedAlert(event_id, event_type, record)


QUEUE_SQL = """
INSERT INTO webhook_deliveries
    (event_id, event_type, body, topic, kafka_partition, kafka_offset, kafka_key)
SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::int[], $6::bigint[],
                     $7::bytea[])
ON CONFLICT (event_id) DO NOTHING
"""


async def queue(conn: asyncpg.Connection, items: list[QueuedAlert]) -> None:
    """The consumer's handler: queue the batch's alerts for the dispatcher."""
    await conn.execute(
        QUEUE_SQL,
        [i.event_id for i in items],
        [i.event_type for i in items],
        [i.record.value or b"" for i in items],
        [i.record.topic for i in items],
        [i.record.partition for i in items],
        [i.record.offset for i in items],
        [i.record.key for i in items],
    )


# A claimed row is not due again for this long: if the dispatcher dies mid-post, another
# (or the restarted one) tries it after the lease.
CLAIM_SQL = """
UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $2)
WHERE event_id IN (
    SELECT event_id FROM webhook_deliveries WHERE next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
)
RETURNING event_id, event_type, body, topic, kafka_partition, kafka_offset, kafka_key, attempts
"""
DELIVERED_SQL = "DELETE FROM webhook_deliveries WHERE event_id = $1"
RETRY_SQL = """
UPDATE webhook_deliveries
SET attempts = $2, last_error = $3, next_attempt_at = now() + make_interval(secs => $4)
WHERE event_id = $1
"""


async def claim_due(conn: asyncpg.Connection, limit: int, lease: float) -> list[asyncpg.Record]:
    return list(await conn.fetch(CLAIM_SQL, limit, lease))


async def pending(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM webhook_deliveries"))


class Dispatcher:
    """Posts due deliveries, a few at a time, and records each outcome in a short statement."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        sender: WebhookSender,
        backoff: Backoff,
        *,
        wake: Any = None,
        batch: int = 50,
        concurrency: int = 8,
        poll_interval: float = 0.5,
        lease: float = 60.0,
    ) -> None:
        self._pool = pool
        self._sender = sender
        self._backoff = backoff
        self._wake_relay = wake
        self._batch = batch
        self._gate = asyncio.Semaphore(concurrency)
        self._poll_interval = poll_interval
        self._lease = lease
        self._due = asyncio.Event()

    def wake(self) -> None:
        self._due.set()

    async def run(self) -> None:
        try:
            while True:
                try:
                    sent = await self.dispatch_once()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if not database_unavailable(exc):
                        log.exception("webhook dispatch failed")
                    sent = 0
                if sent < self._batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._due.wait(), self._poll_interval)
                    self._due.clear()
        finally:
            await self._sender.close()

    async def dispatch_once(self) -> int:
        async with self._pool.acquire() as conn:
            rows = await claim_due(conn, self._batch, self._lease)
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _deliver(self, row: asyncpg.Record) -> None:
        async with self._gate:
            result = await self._sender.attempt(row["body"], row["event_id"], row["event_type"])
        attempts = row["attempts"] + 1
        async with self._pool.acquire() as conn:
            if result.delivered:
                DELIVERED.labels("delivered").inc()
                await conn.execute(DELIVERED_SQL, row["event_id"])
                return
            if result.retryable and attempts < self._backoff.max_attempts:
                DELIVERED.labels("retried").inc()
                await conn.execute(
                    RETRY_SQL,
                    row["event_id"],
                    attempts,
                    result.error,
                    self._backoff.after(attempts),
                )
                return
            DELIVERED.labels("failed").inc()
            log.error("webhook gave up after %d attempts: %s", attempts, result.error)
            reason = f"webhook {self._sender.url}: {result.error} after {attempts} attempts"
            record = Record(
                row["topic"],
                row["kafka_partition"],
                row["kafka_offset"],
                row["kafka_key"],
                row["body"],
                (),
            )
            async with conn.transaction():
                await outbox.add(
                    conn,
                    [
                        dead_letter(
                            record, reason, alerts.SOURCE, consumer=CONSUMER, attempts=attempts
                        )
                    ],
                )
                await conn.execute(DELIVERED_SQL, row["event_id"])
        if self._wake_relay is not None:
            self._wake_relay()
