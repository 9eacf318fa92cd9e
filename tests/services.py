"""Running a service in-process against the real Kafka and PostgreSQL of the test stack."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from appeals_platform.runtime import Runtime
from appeals_tools.stack.postgres import as_role


def settings_for(cls: type[Any], database: str, stack: Any, key_dir: Path, **extra: Any) -> Any:
    """The service's settings pointed at this test's database, with a fresh consumer group;
    it runs as its own Kafka principal (its default user), under its group prefix."""
    user = cls.model_fields["kafka_username"].default
    group = cls.model_fields["consumer_group"].default
    return cls(
        # As the service's own PostgreSQL role (named after its schema), as in use.
        database_url=as_role(database, cls.model_fields["db_schema"].default),
        **stack.kafka_settings(user),
        jwt_jwks_file=key_dir / "jwks.json",
        consumer_group=f"{group}-test-{uuid.uuid4().hex[:8]}",
        consumer_offset_reset="latest",
        outbox_poll_interval=0.1,
        topic_prefix=stack.prefix,
        **extra,
    )


@asynccontextmanager
async def running(
    app: FastAPI, *, wait_for_consumers: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan (pool, migrations, relay, consumers) and give an HTTP client."""
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        if wait_for_consumers and runtime.subscriptions:
            await runtime.wait_until_assigned()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """uvicorn in this event loop on a free loopback port, for clients that need a real socket
    (a browser, a streaming response); the base URL once the app's consumers are assigned."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "uvicorn stopped while starting"
            await asyncio.sleep(0.05)
        runtime: Runtime = app.state.runtime
        await runtime.wait_until_assigned()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
