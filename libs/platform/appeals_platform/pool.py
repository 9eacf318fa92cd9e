"""asyncpg pools bound to one service's schema."""

from __future__ import annotations

import socket
from typing import Any

import asyncpg
import asyncpg.pool
import orjson

# jsonb's binary form is a version byte, then the JSON text.
_JSONB_VERSION = b"\x01"
# How long the client waits beyond the server's own statement_timeout before it gives up on
# a server that does not answer at all (frozen, or a connection that went dead silently).
STATEMENT_GRACE_SECONDS = 2.0
KEEPALIVE_PROBES = 3


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


class Pool(asyncpg.pool.Pool):  # type: ignore[misc]  # asyncpg ships no types for it
    """An asyncpg pool whose `acquire()` waits at most `acquire_timeout` unless told otherwise.

    asyncpg waits forever by default, and uses the acquire's timeout to hand the connection
    back too (its rollback on a server that stopped answering would wait forever as well).
    """

    def __init__(self, *args: Any, acquire_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


def keep_alive(conn: asyncpg.Connection, idle: int, interval: int) -> None:
    """TCP keepalives on the client's end of `conn`, and a limit on unacknowledged data
    (TCP_USER_TIMEOUT): a server host that is gone is noticed in idle + 3 × interval seconds
    instead of the kernel's two hours. A Unix socket has none of this."""
    transport = getattr(conn, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", idle),
        ("TCP_KEEPINTVL", interval),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
        ("TCP_USER_TIMEOUT", (idle + KEEPALIVE_PROBES * interval) * 1000),
    ):
        if hasattr(socket, option):  # Linux names; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def session_settings(
    name: str,
    schema: str,
    statement_timeout: float | None,
    keepalive: tuple[int, int] | None,
) -> dict[str, str]:
    """Connection parameters: the schema, a name in pg_stat_activity, the server's own
    statement timeout and its keepalives towards the client (a client that is gone)."""
    settings = {"search_path": f"{schema},public", "application_name": name}
    if statement_timeout is not None:
        settings["statement_timeout"] = str(int(statement_timeout * 1000))
    if keepalive is not None:
        idle, interval = keepalive
        settings |= {
            "tcp_keepalives_idle": str(idle),
            "tcp_keepalives_interval": str(interval),
            "tcp_keepalives_count": str(KEEPALIVE_PROBES),
        }
    return settings


async def create_pool(
    dsn: str,
    schema: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    name: str = "appeals",
    password: str | None = None,
    connect_timeout: float = 60.0,
    acquire_timeout: float | None = None,
    statement_timeout: float | None = None,
    keepalive: tuple[int, int] | None = None,
) -> Pool:
    """A pool for `schema`. A service passes its timeouts (settings.database_*): each
    connection then has the server's statement_timeout, the client gives up on a statement
    STATEMENT_GRACE_SECONDS later, and `keepalive` (idle, interval) sets TCP keepalives."""

    async def init(conn: asyncpg.Connection) -> None:
        if keepalive is not None:
            keep_alive(conn, *keepalive)
        await _init_connection(conn)

    pool = Pool(
        dsn,
        password=password,
        min_size=min_size,
        max_size=max_size,
        init=init,
        reset=_keep_session,
        acquire_timeout=acquire_timeout,
        timeout=connect_timeout,
        command_timeout=None
        if statement_timeout is None
        else statement_timeout + STATEMENT_GRACE_SECONDS,
        server_settings=session_settings(name, schema, statement_timeout, keepalive),
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        connect=None,
        setup=None,
        loop=None,
    )
    await pool
    return pool


async def connect(
    dsn: str, schema: str, *, password: str | None = None, timeout: float = 60.0
) -> asyncpg.Connection:
    conn = await asyncpg.connect(
        dsn, password=password, timeout=timeout, server_settings={"search_path": f"{schema},public"}
    )
    await _init_connection(conn)
    return conn
