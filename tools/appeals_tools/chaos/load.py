"""A steady HTTP load on intake: demo appeals at a fixed rate, at most N requests in flight.

Each appeal is posted when its turn comes (n / rate seconds after the start) and only if a
request slot is free, so a stalled service is never buried under a growing pile of requests.
A request that fails (no connection, a timeout, a 5xx) is posted again, with the same body,
after a backoff, as an integration would; intake answers a repeat with the registered appeal
(200). Every accepted appeal id and registration number is recorded, with when it came.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import orjson

from appeals_tools.demo import demo_submissions

BACKOFF_FIRST, BACKOFF_MAX = 0.25, 5.0


@dataclass
class Appeal:
    external_id: str
    body: bytes
    appeal_id: str | None = None
    registration_number: str | None = None
    accepted_at: float | None = None  # time.monotonic()
    attempts: int = 0
    # A final answer that is not an acceptance (a 4xx): the appeal was refused.
    refused: str | None = None


@dataclass
class Load:
    url: str
    token: str
    count: int
    rate: float
    concurrency: int
    seed: int
    request_timeout: float = 10.0
    appeals: list[Appeal] = field(default_factory=list)
    # Answers other than 200/201, and errors, by kind: what the clients saw during the fault.
    failures: Counter[str] = field(default_factory=Counter)
    started_at: float = 0.0
    finished_at: float | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.appeals = [
            Appeal(s.external_id, s.model_dump_json().encode())
            for s in demo_submissions(self.count, self.seed)
        ]

    @property
    def accepted(self) -> list[Appeal]:
        return [a for a in self.appeals if a.accepted_at is not None]

    @property
    def posted(self) -> int:
        return sum(1 for a in self.appeals if a.attempts)

    def stop(self) -> None:
        """Stop retrying: what is not accepted by now stays unaccepted."""
        self._stop.set()

    def progress(self) -> str:
        retrying = sum(1 for a in self.appeals if a.attempts > 1 and a.accepted_at is None)
        text = f"{self.posted:,}/{self.count:,} posted, {len(self.accepted):,} accepted"
        if retrying:
            text += f", {retrying} being retried"
        if self.failures:
            text += " (" + ", ".join(f"{k} x{v}" for k, v in self.failures.most_common(4)) + ")"
        return text

    async def run(self) -> None:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
        }
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        timeout = httpx.Timeout(self.request_timeout, connect=min(5.0, self.request_timeout))
        slots = asyncio.Semaphore(self.concurrency)
        self.started_at = time.monotonic()
        async with httpx.AsyncClient(
            base_url=self.url, headers=headers, limits=limits, timeout=timeout
        ) as client:
            tasks = []
            for n, appeal in enumerate(self.appeals):
                await asyncio.sleep(max(0.0, self.started_at + n / self.rate - time.monotonic()))
                await slots.acquire()
                tasks.append(asyncio.create_task(self._post(client, appeal, slots)))
            await asyncio.gather(*tasks)
        self.finished_at = time.monotonic()

    async def _post(
        self, client: httpx.AsyncClient, appeal: Appeal, slots: asyncio.Semaphore
    ) -> None:
        """Post until accepted, refused, or told to stop; the slot is held throughout."""
        try:
            wait = BACKOFF_FIRST
            while not self._stop.is_set():
                appeal.attempts += 1
                try:
                    response = await client.post("/v1/appeals", content=appeal.body)
                except httpx.HTTPError as exc:
                    self.failures[type(exc).__name__] += 1
                else:
                    if response.status_code in (200, 201):
                        body = orjson.loads(response.content)
                        appeal.appeal_id = body["appeal_id"]
                        appeal.registration_number = body["registration_number"]
                        appeal.accepted_at = time.monotonic()
                        return
                    kind = response.headers.get("content-type", "").split(";")[0]
                    self.failures[f"{response.status_code} {kind}".strip()] += 1
                    if response.status_code < 500 and response.status_code not in (408, 429):
                        appeal.refused = f"{response.status_code}: {response.text[:300]}"
                        return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)
                wait = min(BACKOFF_MAX, wait * 2)
        finally:
            slots.release()
