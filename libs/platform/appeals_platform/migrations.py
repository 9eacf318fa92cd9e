"""Forward-only `.sql` migrations per service schema, applied under one advisory lock."""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

import asyncpg

from appeals_platform.pool import connect
from appeals_platform.settings import ServiceSettings

PLATFORM_MIGRATIONS = "appeals_platform.ddl"
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def migration_files(package: str) -> list[tuple[str, str]]:
    """(version, sql) pairs of a package's migrations, in file-name order."""
    folder = resources.files(package)
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [(f"{package}/{entry.name}", entry.read_text(encoding="utf-8")) for entry in files]


async def migrate(conn: asyncpg.Connection, schema: str, packages: Sequence[str]) -> list[str]:
    """Apply what is missing of the platform's and the given packages' migrations; return it."""
    if not SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"schema name {schema!r} is not a plain lower-case identifier")
    # Several instances of a service may start at once: one lock per schema serialises them.
    await conn.execute("SELECT pg_advisory_lock(hashtext('migrations:' || $1))", schema)
    try:
        # A service's role owns its schema but may not create schemas: the set-up made it
        # (appeals-stack, the compose job), so only a missing one is created here.
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations '
            "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            r["version"]
            for r in await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')
        }
        applied: list[str] = []
        for package in (PLATFORM_MIGRATIONS, *packages):
            for version, sql in migration_files(package):
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                    await conn.execute(sql)
                    await conn.execute(
                        f'INSERT INTO "{schema}".schema_migrations (version) VALUES ($1)', version
                    )
                applied.append(version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext('migrations:' || $1))", schema)


async def migrate_service(settings: ServiceSettings, package: str) -> list[str]:
    """`<service> migrate`: connect as the service's role, apply what is missing, disconnect.

    A deployment runs it once per release before the new instances start (Kubernetes: the
    `<service>-migrate` Job), so a failing migration stops the release while the old instances
    still serve; an instance that starts first applies the same under the same lock.
    """
    conn = await connect(
        settings.database_url, settings.db_schema, password=settings.database_password()
    )
    try:
        return await migrate(conn, settings.db_schema, [package])
    finally:
        await conn.close()


def report(applied: Sequence[str]) -> str:
    """What `<service> migrate` prints."""
    if not applied:
        return "migrations: none missing"
    return f"migrations: {len(applied)} applied" + "".join(f"\n  {v}" for v in applied)
