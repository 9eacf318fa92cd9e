"""Tokens against the three real services: revocation and rotation reach every one of them
without a restart, a wrong iss/aud/kid is refused everywhere, and the dashboard's session
cookie is no bearer token anywhere."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from appeals_platform.auth import Role
from appeals_tools.tokens import (
    add_key,
    ensure_keys,
    issue_token,
    retire_key,
    revoke,
    signing_key,
    token_id,
)
from deadlines.app import create_app as deadlines_app
from deadlines.config import Settings as DeadlinesSettings
from intake.app import create_app as intake_app
from intake.config import Settings as IntakeSettings
from routing.app import create_app as routing_app
from routing.config import Settings as RoutingSettings
from tests.conftest import Stack
from tests.services import running, settings_for

pytestmark = pytest.mark.infra

# How often the services look at the key and revocation files in these tests (10 s in use).
REFRESH = 0.1
# A GET each service answers for a monitoring token (404 for intake's unknown appeal: the
# token was accepted); 401 means refused.
PROBES = {
    "intake": f"/v1/appeals/{uuid.uuid4()}",
    "routing": "/v1/triage",
    "deadlines": "/v1/alerts",
}


@dataclass
class Services:
    keys: Path
    clients: dict[str, httpx.AsyncClient]

    async def statuses(self, token: str) -> dict[str, int]:
        headers = {"Authorization": f"Bearer {token}"}
        return {
            name: (await client.get(PROBES[name], headers=headers)).status_code
            for name, client in self.clients.items()
        }

    async def until_all(self, token: str, status: int) -> dict[str, int]:
        """The services' answers once every one gives `status` (or after 10 s, whatever)."""
        for _ in range(100):
            answers = await self.statuses(token)
            if set(answers.values()) == {status}:
                return answers
            await asyncio.sleep(REFRESH)
        return answers


@pytest.fixture
async def services(stack: Stack, database: str, tmp_path: Path) -> AsyncIterator[Services]:
    """intake, routing and deadlines on this test's database, trusting a key folder of its own."""
    keys = tmp_path / "keys"
    ensure_keys(keys)
    apps = {
        "intake": intake_app(
            settings_for(IntakeSettings, database, stack, keys, jwt_refresh_seconds=REFRESH)
        ),
        "routing": routing_app(
            settings_for(RoutingSettings, database, stack, keys, jwt_refresh_seconds=REFRESH)
        ),
        "deadlines": deadlines_app(
            settings_for(
                DeadlinesSettings,
                database,
                stack,
                keys,
                jwt_refresh_seconds=REFRESH,
                ticker_enabled=False,
            )
        ),
    }
    async with AsyncExitStack() as started:
        clients = {
            name: await started.enter_async_context(running(app, wait_for_consumers=False))
            for name, app in apps.items()
        }
        yield Services(keys, clients)


def accepted(statuses: dict[str, int]) -> bool:
    return all(status != 401 for status in statuses.values())


async def test_a_revoked_token_is_refused_by_every_service(services: Services) -> None:
    key = signing_key(services.keys)
    token, other = issue_token(key, Role.MONITORING), issue_token(key, Role.MONITORING)
    assert accepted(await services.statuses(token)), await services.statuses(token)
    revoke(services.keys, *token_id(token))
    refused = await services.until_all(token, 401)
    assert refused == {"intake": 401, "routing": 401, "deadlines": 401}
    assert accepted(await services.statuses(other))


async def test_a_token_with_a_wrong_issuer_audience_or_key_is_refused_by_every_service(
    services: Services, tmp_path: Path
) -> None:
    key = signing_key(services.keys)
    stranger = signing_key(ensure_keys(tmp_path / "stranger").parent)
    for token in (
        issue_token(key, Role.MONITORING, issuer="https://idp.example"),
        issue_token(key, Role.MONITORING, audience="another-platform"),
        issue_token(stranger, Role.MONITORING),
    ):
        assert await services.statuses(token) == {"intake": 401, "routing": 401, "deadlines": 401}


async def test_after_rotation_both_keys_verify_everywhere_until_the_old_one_is_retired(
    services: Services,
) -> None:
    old_key = signing_key(services.keys)
    old = issue_token(old_key, Role.MONITORING)
    add_key(services.keys)
    new = issue_token(signing_key(services.keys), Role.MONITORING)
    assert jwt.get_unverified_header(new)["kid"] != old_key.kid
    # The services learn the new key from the file, without a restart.
    for _ in range(100):
        if accepted(await services.statuses(new)):
            break
        await asyncio.sleep(REFRESH)
    assert accepted(await services.statuses(new))
    assert accepted(await services.statuses(old))
    retire_key(services.keys, old_key.kid)
    assert await services.until_all(old, 401) == {"intake": 401, "routing": 401, "deadlines": 401}
    assert accepted(await services.statuses(new))


async def test_the_dashboard_cookie_is_an_opaque_id_that_no_service_takes_as_a_token(
    services: Services,
) -> None:
    token = issue_token(signing_key(services.keys), Role.MONITORING)
    dashboard = services.clients["deadlines"]
    signed = await dashboard.post("/dashboard/sign-in", data={"token": token})
    assert signed.status_code == 303
    cookie = signed.cookies["dashboard_session"]
    assert token not in signed.headers["set-cookie"] and "." not in cookie and len(cookie) >= 40
    with pytest.raises(jwt.DecodeError):
        jwt.get_unverified_header(cookie)
    assert await services.statuses(cookie) == {"intake": 401, "routing": 401, "deadlines": 401}
    assert (await dashboard.get("/dashboard/alerts")).status_code == 200  # it is a session
    dashboard.cookies.clear()
    # Nor is a token a session: under the cookie's old name, or as the session id itself.
    for name, value in (("dashboard_token", token), ("dashboard_session", token)):
        page = await dashboard.get("/dashboard/alerts", headers={"Cookie": f"{name}={value}"})
        assert page.status_code == 303, name
