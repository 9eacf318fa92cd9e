"""Running a service in-process against the real Kafka and PostgreSQL of the test stack."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
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
