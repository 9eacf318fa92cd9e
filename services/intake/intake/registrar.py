"""Group commit for HTTP registrations: concurrent requests share one statement and one commit.

Each registration is one INSERT statement (the appeal, its timeline entry, its events), that is
one round trip and one WAL flush. Under load most of that cost is per statement, not per
appeal, so requests that arrive while a group is being written wait for the next group and go
in together. A request alone goes at once: the group is whatever is waiting, never a timer.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from prometheus_client import Histogram

from appeals_platform.availability import database_unavailable
from appeals_platform.runtime import Runtime
from intake.handlers import Application, Law, Registration, RegistrationNumbers, register_many

log = logging.getLogger(__name__)

GROUP_SIZE = Histogram(
    "intake_registration_group_size",
    "Registrations written together in one statement and one commit",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)


class Registrar:
    def __init__(
        self,
        runtime: Runtime,
        numbers: RegistrationNumbers,
        law: Law,
        *,
        topic: str,
        max_group: int = 64,
        writers: int = 2,
    ) -> None:
        self._runtime = runtime
        self._numbers = numbers
        self._law = law
        self._topic = topic
        self._max_group = max_group
        self._writers = writers  # two: one group is built while the other waits for its commit
        self._waiting: list[tuple[Application, asyncio.Future[Registration]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def register(self, application: Application) -> Registration:
        future: asyncio.Future[Registration] = asyncio.get_running_loop().create_future()
        self._waiting.append((application, future))
        if len(self._tasks) < self._writers:
            task = asyncio.create_task(self._write())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # A client that goes away does not cancel the write: its retry then gets 200.
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(_collect)
            raise

    async def _write(self) -> None:
        while self._waiting:
            group = self._waiting[: self._max_group]
            del self._waiting[: self._max_group]
            if await self._settle(group):
                self._runtime.relay.wake()

    async def _settle(self, group: list[tuple[Application, asyncio.Future[Registration]]]) -> bool:
        """Register the group and answer each request in it; True when an appeal was created."""
        try:
            # No transaction of its own: the appeals and their events are written by one
            # statement, which commits them together (see `db.register_appeals`); BEGIN and
            # COMMIT would be two more round trips under every answer of the group.
            async with self._runtime.pool.acquire() as conn:
                results = await register_many(
                    conn,
                    [a for a, _ in group],
                    numbers=self._numbers,
                    law=self._law,
                    topic=self._topic,
                )
        except asyncpg.PostgresError as exc:
            if len(group) == 1 or database_unavailable(exc):
                # PostgreSQL away: every request of the group is answered 503 now, not after
                # one timeout each.
                _fail(group, exc)
                return False
            # One row PostgreSQL refuses must not fail its neighbours: write them one by one.
            log.warning("a group of %d registrations failed (%s); retrying singly", len(group), exc)
            return any([await self._settle([one]) for one in group])
        except Exception as exc:
            _fail(group, exc)
            return False
        GROUP_SIZE.observe(len(group))
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():
                future.set_result(result)
        return any(result.outcome == "created" for result in results)


def _collect(future: asyncio.Future[Registration]) -> None:
    """Read the outcome nobody waits for any more, so asyncio does not report it as lost."""
    if not future.cancelled():
        future.exception()


def _fail(group: list[tuple[Application, asyncio.Future[Registration]]], exc: Exception) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(exc)
