"""Forward-only migrations: applied once, under a lock, recorded per schema."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
import pytest

from appeals_platform.migrations import migrate
from appeals_tools.stack.postgres import password_file, prepare_database
from tests.conftest import Stack

pytestmark = pytest.mark.infra


async def test_migrations_apply_once_even_when_started_concurrently(stack: Stack) -> None:
    name = f"m_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(stack.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conns = [await asyncpg.connect(stack.dsn(name)) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(migrate(c, "intake", ["intake.migrations"]) for c in conns)
        )
        applied = [r for r in results if r]
        assert len(applied) == 1  # one instance applied everything, the others found it done
        assert "appeals_platform.ddl/0001_outbox_inbox.sql" in applied[0]
        assert await migrate(conns[0], "intake", ["intake.migrations"]) == []
        versions = await conns[0].fetch("SELECT version FROM intake.schema_migrations")
        assert len(versions) == len(applied[0])
    finally:
        for c in conns:
            await c.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_schema_name_that_is_not_a_plain_identifier_is_refused(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        with pytest.raises(ValueError, match="schema"):
            await migrate(conn, 'x"; DROP TABLE y; --', [])
    finally:
        await conn.close()


def _migrate_command(service: str, dsn: str) -> str:
    """`<service> migrate` as the deployment's migration job runs it, as the service's role."""
    prefix = service.upper()
    env = {
        **os.environ,
        f"{prefix}_DATABASE_URL": f"postgresql://{service}@" + dsn.split("@", 1)[1],
        f"{prefix}_DATABASE_PASSWORD_FILE": str(password_file(service)),
    }
    cli = f"{service}.cli"
    done = subprocess.run(
        [sys.executable, "-c", f"import sys, {cli}; sys.exit({cli}.main(['migrate']))"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("service", ["intake", "routing", "deadlines"])
async def test_the_migrate_command_applies_what_is_missing_as_the_services_role(
    stack: Stack, service: str
) -> None:
    name = f"m_{uuid.uuid4().hex[:10]}"
    await prepare_database(stack.admin_dsn, name)  # roles and their empty schemas
    admin = await asyncpg.connect(stack.dsn(name))
    try:
        first = _migrate_command(service, stack.dsn(name))
        assert first.startswith("migrations: ") and " applied" in first.splitlines()[0]
        assert f"{service}.migrations/" in first
        owners = await admin.fetch(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = $1", service
        )
        assert [r["tableowner"] for r in owners] == [service]
        assert _migrate_command(service, stack.dsn(name)).strip() == "migrations: none missing"
    finally:
        await admin.close()
        admin = await asyncpg.connect(stack.admin_dsn)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
