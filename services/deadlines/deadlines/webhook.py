"""Optional HTTP delivery of alerts: a consumer of the alerts topic posting each alert,
as a structured CloudEvent, to a configured URL, retrying with exponential backoff.

Delivery is at least once: receivers drop repeats by the CloudEvent id (also in the
`ce-id` header). With a secret, `X-Appeals-Signature: sha256=<hex HMAC of the body>` lets the
receiver check the sender. An alert still refused after the last attempt, or refused with a
4xx that retrying cannot fix, goes to the alerts dead-letter topic and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import orjson
from prometheus_client import Counter

from appeals_platform import outbox
from appeals_platform.records import KafkaRecord, dead_letter, header
from appeals_platform.runtime import Runtime
from deadlines import alerts

log = logging.getLogger(__name__)

DELIVERED = Counter("deadlines_webhook_deliveries_total", "Alert webhook outcomes", ["outcome"])

# Worth retrying: the receiver is down, overloaded or timing out.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    error: str | None = None


class WebhookSender:
    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        max_attempts: int = 8,
        backoff_initial: float = 0.5,
        backoff_max: float = 60.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self._secret = secret.encode() if secret else None
        self._max_attempts = max_attempts
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
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

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1, 2, ...)."""
        return float(min(self._backoff_max, self._backoff_initial * 2 ** (attempt - 1)))

    async def deliver(self, body: bytes, event_id: str, event_type: str) -> Delivery:
        headers = self._headers(body, event_id, event_type)
        error = "not attempted"
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = await self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return Delivery(True, attempt)
                error = f"HTTP {response.status_code}"
                if response.status_code not in RETRYABLE:
                    return Delivery(False, attempt, error)
            if attempt < self._max_attempts:
                await asyncio.sleep(self.backoff(attempt))
        return Delivery(False, self._max_attempts, error)


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


async def consume(runtime: Runtime, sender: WebhookSender, records: Sequence[KafkaRecord]) -> None:
    """Post the batch's alerts (acknowledgements are not alerts), a few at a time."""
    gate = asyncio.Semaphore(8)

    async def one(record: KafkaRecord) -> outbox.OutboxMessage | None:
        event_id, event_type = identity(record)
        if event_type not in alerts.KINDS:
            return None
        async with gate:
            result = await sender.deliver(record.value or b"", event_id, event_type)
        DELIVERED.labels("delivered" if result.delivered else "failed").inc()
        if result.delivered:
            return None
        log.error("webhook gave up after %d attempts: %s", result.attempts, result.error)
        reason = f"webhook {sender.url}: {result.error} after {result.attempts} attempts"
        return dead_letter(record, reason, alerts.SOURCE)

    failed = [m for m in await asyncio.gather(*(one(r) for r in records)) if m is not None]
    if failed:
        async with runtime.pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, failed)
        runtime.relay.wake()
