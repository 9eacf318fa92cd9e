"""Which failures mean "PostgreSQL is not there right now" rather than "this input is bad".

The difference decides what happens next: an unavailable database is waited for (a consumer
seeks back and polls again, HTTP answers 503), while an error caused by the input counts as
a failed attempt and may end in a dead letter or a 4xx. A server that accepts connections
but answers nothing (frozen, a dead network path) is noticed by the `Watchdog`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable

import asyncpg
from prometheus_client import Gauge

log = logging.getLogger(__name__)

# Connection lost or refused, server shutting down or starting, too many connections, and
# transaction conflicts that a retry resolves. A statement cancelled by `statement_timeout`
# is not here: the server answered, and a statement that is always too slow must not be
# retried forever. asyncpg's InternalClientError is a connection in a state it cannot use
# ("cannot switch to state 15; another operation is in progress"): seen on pooled
# connections while PostgreSQL restarts (`pg_ctl restart -m fast`), never caused by input.
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.TransactionRollbackError,
)


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says PostgreSQL could not be reached or asked for a retry."""
    return isinstance(exc, _UNAVAILABLE)


def http_unavailable(exc: BaseException) -> bool:
    """What an HTTP request answers with 503: PostgreSQL unavailable, or a statement the
    server cancelled at statement_timeout (overloaded now; the client may try again later)."""
    return database_unavailable(exc) or isinstance(exc, asyncpg.QueryCanceledError)


Connect = Callable[[], Awaitable[asyncpg.Connection]]
Listener = Callable[[bool], None]

AVAILABLE = Gauge(
    "postgres_available", "1 while the watchdog's PostgreSQL answers, 0 while not", ["service"]
)


class Watchdog:
    """Whether PostgreSQL answers right now, asked `SELECT 1` every `interval` seconds.

    A statement timeout alone cannot tell a hung server from a slow query in time, and a
    stopped server is only noticed by the request that tries it. The watchdog asks from a
    thread of its own with its own connection and event loop, so a service's busy event loop
    (routing's CPU-bound batches) is never taken for a server that does not answer. Its
    listeners run on the service's event loop when the answer changes: the HTTP guard
    (appeals_platform.api.DatabaseGuard) answers 503 instead of waiting.
    """

    def __init__(self, service: str, connect: Connect, *, interval: float, timeout: float) -> None:
        self.service = service
        self.interval = interval
        self.timeout = timeout
        self.available = True
        self.problem: str | None = None
        self._connect = connect
        self._listeners: list[Listener] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        AVAILABLE.labels(service).set(1)

    def on_change(self, listener: Listener) -> None:
        """`listener(available)` on the service's loop whenever the answer changes."""
        self._listeners.append(listener)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._watch(),), name=f"{self.service}-pg-watchdog"
        )
        self._thread.daemon = True
        self._thread.start()

    async def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, self.interval + self.timeout + 5)
            self._thread = None

    async def _watch(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while not self._stopping.is_set():
                began = time.monotonic()
                try:
                    if conn is None or conn.is_closed():
                        conn = await self._connect()
                    await conn.fetchval("SELECT 1", timeout=self.timeout)
                except Exception as exc:  # any failure to answer is "unavailable"
                    if conn is not None:
                        conn.terminate()  # a frozen server would hold a graceful close
                        conn = None
                    self._tell(f"{type(exc).__name__}: {exc}".strip(": "))
                else:
                    self._tell(None)
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - began)))
        finally:
            if conn is not None:
                conn.terminate()

    def _tell(self, problem: str | None) -> None:
        """From the watchdog's thread: hand a change over to the service's loop."""
        if (problem is None) == self.available or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the service's loop has closed
            self._loop.call_soon_threadsafe(self._changed, problem)

    def _changed(self, problem: str | None) -> None:
        available = problem is None
        self.problem = problem
        if available == self.available:
            return
        self.available = available
        AVAILABLE.labels(self.service).set(1 if available else 0)
        if available:
            log.warning("PostgreSQL answers again")
        else:
            log.error("PostgreSQL does not answer (%s): HTTP answers 503", problem)
        for listener in self._listeners:
            listener(available)
