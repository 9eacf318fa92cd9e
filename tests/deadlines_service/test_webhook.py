"""Alert delivery over HTTP: a real receiver that fails before it succeeds, signatures, dead
letters; and the sender's retry rules against a mock transport."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
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
from deadlines.webhook import WebhookSender
from tests.conftest import Stack, TokenFactory
from tests.deadlines_service.conftest import Topics, local, start_deadlines
from tests.kafka_probe import EventProbe


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
        for _ in range(300):
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


def mock_sender(
    statuses: list[int | Exception], max_attempts: int = 4
) -> tuple[WebhookSender, list[int]]:
    seen: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(len(seen) + 1)
        outcome = statuses.pop(0) if statuses else 200
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    sender = WebhookSender(
        "http://receiver/alerts",
        client=client,
        backoff_initial=0,
        max_attempts=max_attempts,
    )
    return sender, seen


async def test_the_sender_retries_server_errors_and_connection_failures() -> None:
    sender, seen = mock_sender([503, httpx.ConnectError("refused"), 429])
    result = await sender.deliver(b"{}", "id", "type")
    assert (result.delivered, result.attempts, len(seen)) == (True, 4, 4)


async def test_the_sender_gives_up_after_the_last_attempt_and_on_a_client_error() -> None:
    sender, seen = mock_sender([500, 500, 500], max_attempts=3)
    result = await sender.deliver(b"{}", "id", "type")
    assert (result.delivered, result.attempts, result.error) == (False, 3, "HTTP 500")
    sender, seen = mock_sender([404])
    result = await sender.deliver(b"{}", "id", "type")
    assert (result.delivered, len(seen)) == (False, 1)


def test_backoff_doubles_up_to_its_cap() -> None:
    sender = WebhookSender("http://x", backoff_initial=0.5, backoff_max=3)
    assert [sender.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
