"""asyncpg pools bound to one service's schema."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

# jsonb's binary form is a version byte, then the JSON text.
_JSONB_VERSION = b"\x01"


def _encode_jsonb(value: Any) -> bytes:
    return _JSONB_VERSION + orjson.dumps(value)


def _decode_jsonb(data: bytes) -> Any:
    return orjson.loads(memoryview(data)[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON in and out as Python objects; orjson because payloads are on every hot path.
    # Binary format: in a text-format codec, arrays of JSON (the set-based inserts) were sent
    # as array literals with every quote escaped, which took a sixth of a routing process.
    await conn.set_type_codec(
        "json", encoder=orjson.dumps, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without the default RESET ALL / UNLISTEN / advisory-unlock round trip.

    Our code leaves no session state behind (search_path is a connection parameter, advisory
    locks are released explicitly, nothing LISTENs), and asyncpg still rolls back an open
    transaction before this runs. The round trip it saves is one per request.
    """


async def create_pool(
    dsn: str,
    schema: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    name: str = "appeals",
    password: str | None = None,
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        password=password,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"search_path": f"{schema},public", "application_name": name},
    )
    assert pool is not None
    return pool


async def connect(dsn: str, schema: str, *, password: str | None = None) -> asyncpg.Connection:
    conn = await asyncpg.connect(
        dsn, password=password, server_settings={"search_path": f"{schema},public"}
    )
    await _init_connection(conn)
    return conn
