"""The three services together, tokens for every role, and a helper for waiting until an
event has gone round the platform."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from appeals_platform.auth import Role
from appeals_tools.tokens import issue_token, revoke, signing_key, token_id
from deadlines.app import create_app as create_deadlines
from deadlines.config import Settings as DeadlinesSettings
from intake.app import create_app as create_intake
from intake.config import Settings as IntakeSettings
from routing.app import create_app as create_routing
from routing.config import Settings as RoutingSettings
from tests.conftest import Stack, TokenFactory
from tests.services import running, settings_for

SERVICES = ("intake", "routing", "deadlines")

# The parties of the matrix: every role, two of each kind that has an identity of its own.
INTEGRATION, OTHER_INTEGRATION = "egov-portal", "akimat-chatbot"
AGENCY, OTHER_AGENCY = "KRG-KARAGANDA-COMMUNAL-TRANSPORT", "KRG-POLICE"


def service_app(name: str, database: str, stack: Stack, key_dir: Path, tmp: Path) -> FastAPI:
    """One service configured for this test's database, as its own Kafka principal on the
    platform's topics (not started): the same set-up as the other end-to-end tests.

    One consumer per group, so no failover to wait for: a long session timeout keeps a
    loaded machine's slow heartbeats from a rebalance, which would reset a group that has
    committed nothing yet to "latest" and skip what was produced meanwhile."""
    steady = {"consumer_session_timeout_ms": 60_000}
    if name == "intake":
        return create_intake(settings_for(IntakeSettings, database, stack, key_dir, **steady))
    if name == "routing":
        settings = settings_for(
            RoutingSettings,
            database,
            stack,
            key_dir,
            model_path=tmp / "no-model.joblib",
            refresh_interval=0.2,
            **steady,
        )
        return create_routing(settings)
    return create_deadlines(settings_for(DeadlinesSettings, database, stack, key_dir, **steady))


@dataclass(frozen=True)
class Party:
    """Someone calling the platform: a name for the matrix and the headers it sends."""

    name: str
    headers: dict[str, str]


@pytest.fixture(scope="session")
def parties(key_dir: Path) -> list[Party]:
    """Every kind of caller, with a token of its own; an expired and a revoked operator's too
    (services read the revocation list at start)."""
    key = signing_key(key_dir)

    def token(role: Role, ttl_seconds: int = 3600, **claims: str) -> str:
        return issue_token(key, role, ttl_seconds=ttl_seconds, **claims)  # type: ignore[arg-type]

    def bearer(role: Role, ttl_seconds: int = 3600, **claims: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, ttl_seconds, **claims)}"}

    revoked = token(Role.OPERATOR)
    revoke(key_dir, *token_id(revoked))
    return [
        Party("anonymous", {}),
        Party("expired", bearer(Role.OPERATOR, ttl_seconds=-60)),
        Party("revoked", {"Authorization": f"Bearer {revoked}"}),
        Party("integration", bearer(Role.INTEGRATION, source=INTEGRATION)),
        Party("other-integration", bearer(Role.INTEGRATION, source=OTHER_INTEGRATION)),
        Party("agency", bearer(Role.AGENCY, agency=AGENCY)),
        Party("other-agency", bearer(Role.AGENCY, agency=OTHER_AGENCY)),
        Party("operator", bearer(Role.OPERATOR)),
        Party("monitoring", bearer(Role.MONITORING)),
    ]


@dataclass
class Platform:
    """Intake, routing and deadlines running in-process, wired through Kafka."""

    intake: httpx.AsyncClient
    routing: httpx.AsyncClient
    deadlines: httpx.AsyncClient
    token: TokenFactory
    # The services' apps, for what goes past an HTTP client (the routes, a stream's head).
    apps: dict[str, FastAPI]

    def client(self, service: str) -> httpx.AsyncClient:
        client: httpx.AsyncClient = getattr(self, service)
        return client

    def auth(self, role: Role, **claims: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **claims)}"}

    def agency(self, code: str) -> dict[str, str]:
        return self.auth(Role.AGENCY, agency=code)


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    accept: Callable[[Any], bool],
    *,
    what: str,
    timeout: float = 60,
) -> Any:
    """Ask `probe` until `accept` holds (events travel through Kafka asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        seen = await probe()
        if accept(seen):
            return seen
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: still {seen!r} after {timeout}s")
        await asyncio.sleep(0.1)


@pytest.fixture
async def platform(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    tmp_path: Path,
) -> AsyncIterator[Platform]:
    """The three services on one database (a schema each), talking through Kafka."""
    apps = {name: service_app(name, database, stack, key_dir, tmp_path) for name in SERVICES}
    async with AsyncExitStack() as started:
        clients = [await started.enter_async_context(running(apps[name])) for name in SERVICES]
        yield Platform(*clients, token=token, apps=apps)
