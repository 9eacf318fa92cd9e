"""A lease row: which process of a service does a schema-wide job (the outbox relay).

A session advisory lock stays held by a process that hangs (SIGSTOP, a half-open connection
PostgreSQL has not noticed), so nobody replaces it. A lease expires instead: the holder renews
it by heartbeats, anyone takes it once `expires_at` (PostgreSQL's clock, the one clock every
process shares) has passed. The holder also keeps a local deadline on its monotonic clock,
which runs on while a process is stopped: a holder that wakes up after its lease could have
expired knows it without asking, and stops before it sends anything (fencing). A holder that was
killed is replaced at once: its PostgreSQL session (`backend_pid`) is gone.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass

import asyncpg

# Take the lease if it is free, expired or ours; renew it if ours. A row comes back when
# `holder` holds the lease afterwards.
# A holder whose session is gone (its process killed) is not waited for; one that hangs keeps
# its session and is, until its lease expires.
TAKE_SQL = """
INSERT INTO outbox_lease AS l (name, holder, expires_at, backend_pid)
VALUES ($1, $2, now() + make_interval(secs => $3), pg_backend_pid())
ON CONFLICT (name) DO UPDATE
SET holder = excluded.holder, expires_at = excluded.expires_at, backend_pid = excluded.backend_pid
WHERE l.holder = excluded.holder OR l.expires_at < now()
   OR (l.backend_pid IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_stat_activity a WHERE a.pid = l.backend_pid))
RETURNING 1
"""
RENEW_SQL = """
UPDATE outbox_lease
SET expires_at = now() + make_interval(secs => $3), backend_pid = pg_backend_pid()
WHERE name = $1 AND holder = $2 AND expires_at > now()
RETURNING 1
"""
RELEASE_SQL = "DELETE FROM outbox_lease WHERE name = $1 AND holder = $2"
HOLDER_SQL = "SELECT holder FROM outbox_lease WHERE name = $1 AND expires_at > now()"


def holder_name(service: str) -> str:
    """`<service>@<host>:<pid>:<tag>`: the fault suite finds the leading process by its pid;
    the tag tells two holders of one process apart (tests run several relays in one)."""
    return f"{service}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lease:
    """One process's claim on the lease `name` in the connection's schema."""

    name: str
    holder: str
    seconds: float
    # Until when (time.monotonic) this process may act on the lease without renewing it:
    # measured from before the statement that took or renewed it, so never later than
    # PostgreSQL's `expires_at`, less a margin for the clocks' rates.
    valid_until: float = 0.0

    @property
    def held(self) -> bool:
        return time.monotonic() < self.valid_until

    def remaining(self) -> float:
        return self.valid_until - time.monotonic()

    async def take(self, conn: asyncpg.Connection, timeout: float) -> bool:
        """Take or renew the lease; False if another process holds it."""
        return await self._run(conn, TAKE_SQL, timeout)

    async def renew(self, conn: asyncpg.Connection, timeout: float) -> bool:
        """Extend a lease still held; False (and no longer held) if it was lost."""
        return await self._run(conn, RENEW_SQL, timeout)

    async def _run(self, conn: asyncpg.Connection, sql: str, timeout: float) -> bool:
        started = time.monotonic()
        got = await conn.fetchval(sql, self.name, self.holder, self.seconds, timeout=timeout)
        self.confirm(started, got is not None)
        return self.held

    def confirm(self, started: float, held: bool) -> None:
        """Record the outcome of a statement that took or renewed the lease (begun `started`)."""
        self.valid_until = started + self.seconds * 0.9 if held else 0.0

    async def release(self, conn: asyncpg.Connection, timeout: float) -> None:
        """Give the lease up at once (a clean stop), so another process need not wait."""
        self.valid_until = 0.0
        await conn.execute(RELEASE_SQL, self.name, self.holder, timeout=timeout)


async def holder(conn: asyncpg.Connection, name: str) -> str | None:
    """Who holds the lease now (None when nobody does)."""
    value = await conn.fetchval(HOLDER_SQL, name)
    return None if value is None else str(value)
