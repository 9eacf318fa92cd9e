"""The deadlines service with its dashboard, served over real HTTP (uvicorn in-process) to
Debian's Chromium, against the test stack's Kafka and PostgreSQL, with a clock the test moves.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI

from appeals_contracts import event_types
from appeals_contracts.envelope import CloudEvent, envelope, event_id
from appeals_contracts.events import AnswerGiven, AppealAssigned
from appeals_law.calendar import ALMATY
from appeals_platform.runtime import Runtime
from deadlines.api import Service
from deadlines.app import create_app
from deadlines.clocks import SettableClock
from deadlines.config import Settings
from tests.conftest import ROOT, RunProducer, Stack, TokenFactory, Topics
from tests.services import settings_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment in Asia/Almaty time."""
    return datetime(year, month, day, hour, minute, tzinfo=ALMATY)


@dataclass
class Site:
    """The running service: its address, its clock, and ways to feed it routing's events."""

    url: str
    app: FastAPI
    clock: SettableClock
    topics: Topics
    producer: RunProducer
    dsn: str
    token: TokenFactory

    @property
    def service(self) -> Service:
        service: Service = self.app.state.deadlines
        return service

    async def send(self, topic: str, event: CloudEvent[Any]) -> None:
        await self.producer.send_and_wait(
            topic, event.model_dump_json().encode(), key=str(event.subject).encode()
        )

    async def assign(
        self,
        received_at: datetime,
        *,
        agency: str = "KRG-ENERGY-HOUSING",
        locality: str = "KRG-KARAGANDA",
        category: str = "HOUSING-HEATING",
        appeal_type: str = "statement",
        agency_level: str = "region_department",
        explanation: dict[str, Any] | None = None,
    ) -> str:
        """Publish routing's AppealAssigned for a new appeal; its id."""
        appeal_id = str(uuid.uuid4())
        data = AppealAssigned(
            appeal_id=appeal_id,
            registration_number=f"KRG-{received_at:%y%m%d}-{appeal_id[:6].upper()}",
            hop=1,
            agency=agency,
            agency_level=agency_level,
            agency_parent="KRG-AKIMAT",
            category=category,
            locality=locality,
            method="rule",
            confidence=0.97,
            explanation=explanation or {"method": "rule", "notes": ["category × locality rule"]},
            assigned_at=received_at + timedelta(minutes=3),
            received_at=received_at,
            appeal_type=appeal_type,
        )
        await self.send(
            self.topics.assigned,
            envelope(
                event_type=event_types.APPEAL_ASSIGNED,
                source="/appeals/routing",
                subject=appeal_id,
                data=data.model_dump(mode="json"),
                id=event_id(appeal_id, "assigned", 1),
                time=data.assigned_at,
            ),
        )
        return appeal_id

    async def answer(self, appeal_id: str, answered_at: datetime, *, agency: str) -> None:
        data = AnswerGiven.model_validate(
            {
                "appeal_id": appeal_id,
                "registration_number": "KRG-TEST",
                "agency": agency,
                "outcome": "explained",
                "text": "Разъяснено.",
                "signed_at": answered_at.isoformat(),
                "answered_at": answered_at.isoformat(),
            }
        )
        await self.send(
            self.topics.answers,
            envelope(
                event_type=event_types.ANSWER_GIVEN,
                source="/appeals/intake",
                subject=appeal_id,
                data=data.model_dump(mode="json"),
                id=event_id(appeal_id, "answered"),
                time=answered_at,
            ),
        )

    async def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn, server_settings={"search_path": "deadlines"})
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def wait_until(self, sql: str, *args: Any, timeout: float = 30) -> None:
        """Until the query returns a row (the consumers work asynchronously)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not await self.rows(sql, *args):
            assert asyncio.get_running_loop().time() < deadline, f"never true: {sql} {args}"
            await asyncio.sleep(0.1)

    async def wait_for_clock(self, appeal_id: str, state: str = "open") -> None:
        await self.wait_until(
            "SELECT 1 FROM clocks WHERE appeal_id = $1 AND state = $2", uuid.UUID(appeal_id), state
        )


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """uvicorn in this event loop on a free port; the base URL once consumers are assigned."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "uvicorn stopped while starting"
            await asyncio.sleep(0.05)
        runtime: Runtime = app.state.runtime
        await runtime.wait_until_assigned()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def dashboard_app(settings: Settings, clock: SettableClock) -> FastAPI:
    """The deadlines service as `python -m deadlines` builds it: the dashboard is mounted by
    create_app (deadlines.pages finds appeals_dashboard installed beside it)."""
    return create_app(settings, clock)


@asynccontextmanager
async def start_site(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    topics: Topics,
    clock: SettableClock,
    **extra: Any,
) -> AsyncIterator[Site]:
    settings = settings_for(
        Settings,
        database,
        stack,
        key_dir,
        ticker_enabled=True,
        ticker_interval=0.2,
        min_sample=2,
        **topics.settings(),
        **extra,
    )
    # The service's own consumers read this test's fresh topics from the start; the
    # dashboard's live consumer always starts at the end.
    settings = settings.model_copy(update={"consumer_offset_reset": "earliest"})
    app = dashboard_app(settings, clock)
    producer = stack.producer(linger_ms=0)
    await producer.start()
    try:
        async with serving(app) as url:
            yield Site(url, app, clock, topics, producer, database, token)
    finally:
        await producer.stop()


@pytest.fixture
async def site(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> AsyncIterator[Site]:
    clock = SettableClock(local(2022, 5, 26, 9))
    async with start_site(stack, database, key_dir, token, topics, clock) as running_site:
        yield running_site


def ensure_chromium() -> str | None:
    """None when /usr/bin/chromium is there (installing it with apt-get if needed), else why not."""
    if CHROMIUM.exists():
        return None
    script = ROOT / "deploy" / "ensure-chromium.sh"
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        return "/usr/bin/chromium is missing and installing it needs root"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    if result.returncode != 0 or not CHROMIUM.exists():
        return f"/usr/bin/chromium is missing and could not be installed: {result.stderr[-500:]}"
    return None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright (never a browser Playwright downloads)."""
    problem = ensure_chromium()
    if problem:
        pytest.skip(problem)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def contexts(browser: Any, site: Site) -> AsyncIterator[list[Any]]:
    """Browser contexts a test opens; closed before the site stops, so no page holds a stream."""
    opened: list[Any] = []
    yield opened
    for context in opened:
        await context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the browser tests leave their screenshots and downloads (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
