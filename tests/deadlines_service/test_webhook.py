"""Alert delivery over HTTP: a real receiver that fails before it succeeds, signatures, dead
letters; and the sender's retry rules against a mock transport."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from appeals_contracts import event_types
from appeals_contracts.envelope import event_id
from deadlines.clocks import SettableClock
from deadlines.webhook import Backoff, WebhookSender
from tests.conftest import Stack, TokenFactory
from tests.deadlines_service.conftest import Topics, local, start_deadlines
from tests.kafka_probe import EventProbe

# How long an alert may take from the tick to the receiver's last attempt: seconds on a
# quiet machine, a generous bound for a loaded one (the waits were 15 and 20 s of polls).
WAIT_SECONDS = 60.0


@dataclass
class Receiver:
    """An HTTP endpoint that answers `statuses` in turn, then 200."""

    statuses: list[int]
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.calls.append((headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    config = uvicorn.Config(receiver, host="127.0.0.1", port=0, lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/alerts"
    finally:
        server.should_exit = True
        await task


@pytest.mark.infra
async def test_alerts_are_posted_to_the_webhook_until_it_accepts_them(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> None:
    receiver = Receiver([503, 502])
    async with (
        serving(receiver) as url,
        start_deadlines(
            stack,
            database,
            key_dir,
            token,
            topics,
            SettableClock(local(2022, 5, 26, 9)),
            webhook_url=url,
            webhook_offset_reset="earliest",
            webhook_secret="s3cret",
            webhook_backoff_initial=0.05,
        ) as service,
    ):
        appeal = await service.assign(local(2022, 5, 26, 9))
        await service.wait_for(appeal)
        await service.tick(local(2022, 6, 16, 0, 0, 1))
        breach = event_id(appeal, "breached", 1)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if sum(1 for h, _ in receiver.calls if h.get("ce-id") == breach) >= 3:
                break
            await asyncio.sleep(0.05)
    attempts = [(h, b) for h, b in receiver.calls if h.get("ce-id") == breach]
    assert len(attempts) == 3
    headers, body = attempts[-1]
    assert headers["content-type"] == "application/cloudevents+json"
    assert headers["ce-type"] == event_types.DEADLINE_BREACHED
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["x-appeals-signature"] == f"sha256={expected}"
    event = json.loads(body)
    assert (event["id"], event["data"]["appeal_id"]) == (breach, appeal)


@pytest.mark.infra
async def test_an_alert_the_webhook_refuses_goes_to_the_dead_letter_topic(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    topics: Topics,
    probe: Callable[[str], EventProbe],
) -> None:
    receiver = Receiver([400])
    async with (
        serving(receiver) as url,
        start_deadlines(
            stack,
            database,
            key_dir,
            token,
            topics,
            SettableClock(local(2022, 5, 26, 9)),
            webhook_url=url,
            webhook_offset_reset="earliest",
        ) as service,
        probe(f"{topics.alerts}.dlq") as dead,
    ):
        appeal = await service.assign(local(2022, 5, 26, 9))
        await service.wait_for(appeal)
        await service.tick(local(2022, 6, 16, 0, 0, 1))
        letter = await dead.wait_for(lambda e: e["subject"] == appeal)
    assert "HTTP 400 after 1 attempts" in letter["data"]["error"]
    assert len(receiver.calls) == 1


@pytest.mark.infra
async def test_a_failing_receiver_never_holds_the_alerts_consumer(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> None:
    """Retries wait in the queue table, not in the poll loop: every alert is queued while the
    receiver keeps failing, and a give-up after the last attempt is a dead letter."""
    receiver = Receiver([503] * 100)
    async with (
        serving(receiver) as url,
        start_deadlines(
            stack,
            database,
            key_dir,
            token,
            topics,
            SettableClock(local(2022, 5, 26, 9)),
            webhook_url=url,
            webhook_offset_reset="earliest",
            webhook_max_attempts=1000,
            webhook_backoff_initial=0.2,
        ) as service,
    ):
        appeals = [await service.assign(local(2022, 5, 26, 9)) for _ in range(3)]
        for appeal in appeals:
            await service.wait_for(appeal)
        await service.tick(local(2022, 6, 16, 0, 0, 1))
        breaches = {event_id(appeal, "breached", 1) for appeal in appeals}
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            rows = await service.rows("SELECT event_id, attempts FROM webhook_deliveries")
            queued = {r["event_id"]: r["attempts"] for r in rows}
            if breaches <= set(queued) and min(queued[b] for b in breaches) >= 2:
                break
            await asyncio.sleep(0.05)
    assert breaches <= set(queued)
    assert all(queued[b] >= 2 for b in breaches)  # each failed and waits for its next attempt


def mock_sender(statuses: list[int | Exception]) -> WebhookSender:
    def answer(request: httpx.Request) -> httpx.Response:
        outcome = statuses.pop(0) if statuses else 200
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return WebhookSender("http://receiver/alerts", client=client)


async def test_server_errors_and_connection_failures_are_worth_another_attempt() -> None:
    sender = mock_sender([503, httpx.ConnectError("refused"), 429, 200])
    outcomes = [await sender.attempt(b"{}", "id", "type") for _ in range(4)]
    assert [(o.delivered, o.retryable) for o in outcomes] == [
        (False, True),
        (False, True),
        (False, True),
        (True, False),
    ]
    assert outcomes[0].error == "HTTP 503"


async def test_a_client_error_is_not_retried() -> None:
    outcome = await mock_sender([404]).attempt(b"{}", "id", "type")
    assert (outcome.delivered, outcome.retryable, outcome.error) == (False, False, "HTTP 404")


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(initial=0.5, cap=3)
    assert [backoff.after(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
