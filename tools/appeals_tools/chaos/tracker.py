"""When each accepted appeal became complete, polled from the databases while a case runs.

Only appeals not complete yet are asked about, so a poll costs little once the backlog is
gone. A poll that fails (PostgreSQL restarting or frozen) is skipped and its connection
dropped; the next one connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import asyncpg

from appeals_platform.availability import database_unavailable
from appeals_tools.chaos.effects import effects
from appeals_tools.chaos.load import Load

POLL_SECONDS = 0.5
QUERY_TIMEOUT = 5.0
CHUNK = 2000


class Tracker:
    def __init__(self, dsn: str, load: Load) -> None:
        self._dsn = dsn
        self._load = load
        self.complete_at: dict[str, float] = {}  # appeal id -> time.monotonic()
        # What the oldest incomplete appeals lacked at the last poll (for the progress line).
        self.gaps: Counter[str] = Counter()
        self._conn: asyncpg.Connection | None = None
        self._stop = asyncio.Event()

    def waiting(self) -> int:
        return sum(1 for a in self._load.accepted if a.appeal_id not in self.complete_at)

    async def poll(self) -> None:
        """Ask about the oldest incomplete appeals, a chunk at a time: a backlog of tens of
        thousands is not read whole twice a second while the services work it off."""
        pending = [
            a.appeal_id
            for a in self._load.accepted
            if a.appeal_id is not None and a.appeal_id not in self.complete_at
        ]
        for start in range(0, len(pending), CHUNK):
            chunk = pending[start : start + CHUNK]
            try:
                if self._conn is None or self._conn.is_closed():
                    connecting = asyncpg.connect(self._dsn)
                    self._conn = await asyncio.wait_for(connecting, QUERY_TIMEOUT)
                found = await asyncio.wait_for(effects(self._conn, chunk), QUERY_TIMEOUT)
            except Exception as exc:
                # The platform's own rule for "PostgreSQL is away" (InternalClientError too: a
                # connection broken by a restart, which once ended this poller for good).
                if not (database_unavailable(exc) or isinstance(exc, asyncpg.PostgresError)):
                    raise
                await self._drop()
                return
            now = time.monotonic()
            done = [appeal_id for appeal_id, seen in found.items() if seen.complete]
            self.gaps = Counter(gap for seen in found.values() for gap in seen.missing())
            self.complete_at.update(dict.fromkeys(done, now))
            if len(done) < len(chunk):  # the next chunk is younger still: ask next time
                return

    async def run(self) -> None:
        while not self._stop.is_set():
            await self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), POLL_SECONDS)

    async def until_complete(self, timeout: float) -> bool:
        """Wait until every accepted appeal is complete; False if time ran out first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.waiting():
                return True
            await asyncio.sleep(POLL_SECONDS)
        return not self.waiting()

    def recovery(self, since: float) -> float | None:
        """Seconds from `since` until every appeal accepted before it was complete."""
        before = [
            a.appeal_id
            for a in self._load.accepted
            if a.accepted_at is not None and a.accepted_at <= since
        ]
        if any(appeal_id not in self.complete_at for appeal_id in before):
            return None
        last = max(
            (self.complete_at[appeal_id] for appeal_id in before if appeal_id), default=since
        )
        return max(0.0, last - since)

    async def close(self) -> None:
        self._stop.set()
        await self._drop()

    async def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.terminate()
