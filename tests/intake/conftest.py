"""An intake service running in-process against the test stack, with tokens for each role."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from appeals_platform.auth import Role
from intake.app import create_app
from intake.config import Settings
from tests.conftest import Stack, TokenFactory
from tests.services import running, settings_for

DEV_SET = Path(__file__).resolve().parents[2] / "examples" / "appeals-dev.jsonl"


def dev_submissions() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]


def fresh(body: dict[str, Any]) -> dict[str, Any]:
    """The same submission under a new external_id, so tests never collide."""
    return {**body, "external_id": f"t-{uuid.uuid4().hex}"}


@dataclass
class Intake:
    client: httpx.AsyncClient
    dsn: str
    token: TokenFactory

    def auth(self, role: Role = Role.INTEGRATION, **claims: str) -> dict[str, str]:
        if role is Role.INTEGRATION and not claims:
            claims = {"source": "egov-portal"}
        return {"Authorization": f"Bearer {self.token(role, **claims)}"}

    async def post(self, body: Any, **claims: str) -> httpx.Response:
        return await self.client.post("/v1/appeals", json=body, headers=self.auth(**claims))

    async def count(self, table: str = "appeals") -> int:
        conn = await asyncpg.connect(self.dsn)
        try:
            return int(await conn.fetchval(f"SELECT count(*) FROM intake.{table}"))
        finally:
            await conn.close()


@pytest.fixture
async def intake(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory
) -> AsyncIterator[Intake]:
    app = create_app(settings_for(Settings, database, stack, key_dir))
    async with running(app) as client:
        yield Intake(client, database, token)
