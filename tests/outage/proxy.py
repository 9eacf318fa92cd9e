"""A TCP proxy in the test's own process between one service and the test stack's PostgreSQL,
which a test can stop or freeze without touching the server other tests share.

- `stop()`: every connection is reset and new ones are refused, as when the server is down;
- `freeze()`: connections stay open and new ones are accepted, but not a byte goes through
  either way, as when the server and its backends are stopped with SIGSTOP (the kernel still
  accepts and acknowledges, nothing answers);
- `restore()`: bytes flow again (what was held goes on, as after SIGCONT) and new
  connections are accepted.

It runs on an event loop of its own in a thread of its own, as a server would: a service
that blocks its own loop for a while (importing a module on its first request) must not
look like a server that stopped answering to the service's watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any


class PostgresProxy:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.upstream_port = upstream_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def dsn(self, dsn: str) -> str:
        """`dsn` with the proxy's address instead of the server's."""
        credentials, rest = dsn.split("@", 1)
        database = rest.split("/", 1)[1]
        return f"{credentials}@{self.host}:{self.port}/{database}"

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        """Down: refuse new connections, reset every open one."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            sock = writer.get_extra_info("socket")
            if sock is not None:  # RST, not FIN: as a server process that died
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self._writers.clear()

    async def _freeze(self) -> None:
        self._flowing.clear()

    async def _restore(self) -> None:
        self._flowing.set()
        if self._server is None:
            await self._start()

    async def _close(self) -> None:
        await self._stop()
        self._flowing.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---------------------------------------------- from the test's loop

    async def _on_own_loop(self, work: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def start(self) -> None:
        """Listen on a port of its own, from a thread of its own."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-proxy")
        self._thread.daemon = True
        self._thread.start()
        await self._on_own_loop(self._start())

    async def stop(self) -> None:
        """Down: refuse new connections, reset every open one."""
        await self._on_own_loop(self._stop())

    async def freeze(self) -> None:
        """Hung: everything stays connected, nothing is passed on."""
        await self._on_own_loop(self._freeze())

    async def restore(self) -> None:
        """Back: what was held goes on, new connections are accepted."""
        await self._on_own_loop(self._restore())

    async def close(self) -> None:
        if self._loop is None:
            return
        await self._on_own_loop(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        await asyncio.to_thread(self._thread.join, 10)
        self._loop.close()
        self._loop = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        for source, target in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, target))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                target.write(data)
                await target.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(target)
            target.transport.abort()
