"""The deadlines service with its dashboard, served over real HTTP (uvicorn in-process) to
Debian's Chromium, against the test stack's Kafka and PostgreSQL, with a clock the test moves:
the deadlines tests' own service (tests/deadlines_service/conftest.py), started `over_http`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from deadlines.clocks import SettableClock
from tests.conftest import ROOT, Stack, TokenFactory, Topics
from tests.deadlines_service.conftest import Deadlines, local, start_deadlines

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


@pytest.fixture
async def site(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> AsyncIterator[Deadlines]:
    """The deadlines service with its dashboard on a real socket, its ticker running."""
    clock = SettableClock(local(2022, 5, 26, 9))
    async with start_site(stack, database, key_dir, token, topics, clock) as running_site:
        yield running_site


def start_site(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    topics: Topics,
    clock: SettableClock,
    **extra: Any,
) -> AbstractAsyncContextManager[Deadlines]:
    """As the `site` fixture, with settings of the test's own."""
    settings = {"ticker_enabled": True, "ticker_interval": 0.2, "min_sample": 2} | extra
    return start_deadlines(
        stack, database, key_dir, token, topics, clock, over_http=True, **settings
    )


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
async def contexts(browser: Any, site: Deadlines) -> AsyncIterator[list[Any]]:
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
