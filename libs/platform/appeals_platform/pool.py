"""asyncpg pools bound to one service's schema."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON in and out as Python objects; orjson because payloads are on every hot path.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without the default RESET ALL / UNLISTEN / advisory-unlock round trip.

    Our code leaves no session state behind (search_path is a connection parameter, advisory
    locks are released explicitly, nothing LISTENs), and asyncpg still rolls back an open
    transaction before this runs. The round trip it saves is one per request.
    """


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 2, max_size: int = 10, name: str = "appeals"
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"search_path": f"{schema},public", "application_name": name},
    )
    assert pool is not None
    return pool


async def connect(dsn: str, schema: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": f"{schema},public"})
    await _init_connection(conn)
    return conn
