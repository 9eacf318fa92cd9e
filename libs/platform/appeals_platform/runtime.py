"""The shape every service shares: pool, migrations, outbox relay, Kafka broker, HTTP app.

A service builds a `Runtime`, registers its subscribers on `runtime.broker` and its routes on
the FastAPI app, and `service_app` wires the lifespan: start-up in dependency order, shutdown
in reverse. Subscribers and routes open transactions; handlers get the connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker

from appeals_platform import heap, kafka, workers
from appeals_platform.api import (
    BodyLimit,
    DatabaseGuard,
    Index,
    Metrics,
    UrlGuard,
    health_router,
    index_router,
    install_error_handlers,
)
from appeals_platform.auth import TokenVerifier
from appeals_platform.availability import Watchdog
from appeals_platform.consumer import Consumer, Policy, Subscription
from appeals_platform.logs import configure_logging
from appeals_platform.migrations import migrate
from appeals_platform.openapi import install_openapi
from appeals_platform.outbox import OutboxRelay, create_producer
from appeals_platform.pool import connect, create_pool
from appeals_platform.settings import ServiceSettings

log = logging.getLogger(__name__)

Hook = Callable[["Runtime"], Awaitable[None]]


@dataclass
class Runtime:
    """A service's plumbing. `broker` is a FastStream broker that is never started: the
    channels declared on it (`subscribe`, `documents_publication`) make the AsyncAPI document,
    while records are read by `appeals_platform.consumer` and written by the outbox relay."""

    name: str
    settings: ServiceSettings
    migrations: str
    broker: KafkaBroker
    source: str = ""
    consumer_policy: Policy = field(default_factory=Policy)
    _pool: asyncpg.Pool | None = None
    _relay: OutboxRelay | None = None
    _watchdog: Watchdog | None = None
    subscriptions: list[Subscription[Any]] = field(default_factory=list)
    consumers: list[Consumer[Any]] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def create(cls, name: str, settings: ServiceSettings, migrations: str) -> Runtime:
        broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            # Never started (the consumer path reads): the AsyncAPI document shows the security.
            security=kafka.faststream_security(settings),
            logger=logging.getLogger("faststream"),
        )
        return cls(
            name=name,
            settings=settings,
            migrations=migrations,
            broker=broker,
            source=f"/appeals/{name}",
        )

    def subscribe(self, subscription: Subscription[Any], payload: Any, description: str) -> None:
        """Consume with the platform's consumer path once started; document the channel with
        its payload schema in the AsyncAPI document."""
        self.subscriptions.append(subscription)

        async def handler(body: Any) -> None:  # never called: documentation only
            return None

        handler.__annotations__ = {"body": payload, "return": None}
        handler.__name__ = handler.__qualname__ = "on_" + subscription.name.replace("-", "_")
        if subscription.pattern is not None:
            self.broker.subscriber(
                pattern=subscription.pattern, group_id=subscription.group, description=description
            )(handler)
        else:
            self.broker.subscriber(
                *subscription.topics, group_id=subscription.group, description=description
            )(handler)

    def documents_publication(self, topic: str, schema: Any, description: str) -> None:
        """List a topic this service writes (through its outbox) in the AsyncAPI document."""
        self.broker.publisher(topic, schema=schema, description=description)

    @property
    def watchdog(self) -> Watchdog:
        """Whether PostgreSQL answers (made here so the HTTP guard can listen before start)."""
        if self._watchdog is None:
            s = self.settings
            self._watchdog = Watchdog(
                self.name,
                # A plain connection: no codecs to set up, so nothing but the connect itself
                # (bounded) and SELECT 1 (bounded) ever waits on the server.
                lambda: asyncpg.connect(
                    s.database_url,
                    password=s.database_password(),
                    timeout=s.database_connect_timeout,
                    server_settings={"application_name": f"{self.name}-watchdog"},
                ),
                interval=s.database_watchdog_interval,
                timeout=s.database_watchdog_timeout,
            )
        return self._watchdog

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "runtime not started"
        return self._pool

    @property
    def relay(self) -> OutboxRelay:
        assert self._relay is not None, "runtime not started"
        return self._relay

    @property
    def producer(self) -> AIOKafkaProducer:
        return self.relay.producer

    async def _new_producer(self) -> AIOKafkaProducer:
        """A started producer for the relay: at the start, and for one whose task died."""
        s = self.settings
        producer = create_producer(
            kafka.client_options(s),
            f"{self.name}-outbox",
            request_timeout_ms=s.outbox_request_timeout_ms,
        )
        try:
            await producer.start()
        except BaseException:
            await kafka.stop_within(producer, 5)  # what a half-done start opened
            raise
        return producer

    async def start(self, *, consume: bool = True) -> None:
        s = self.settings
        # Migrations on a connection of their own: no statement timeout cuts a long one.
        conn = await connect(s.database_url, s.db_schema, password=s.database_password())
        try:
            applied = await migrate(conn, s.db_schema, [self.migrations])
        finally:
            await conn.close()
        self._pool = await create_pool(
            s.database_url,
            s.db_schema,
            min_size=s.pool_min_size,
            max_size=s.pool_max_size,
            name=self.name,
            password=s.database_password(),
            connect_timeout=s.database_connect_timeout,
            acquire_timeout=s.database_acquire_timeout,
            statement_timeout=s.database_statement_timeout,
            keepalive=(s.database_keepalive_idle, s.database_keepalive_interval),
        )
        self.watchdog.start()
        if applied:
            log.info("applied %d migrations", len(applied), extra={"count": len(applied)})
        self._relay = OutboxRelay(
            self._pool,
            await self._new_producer(),
            schema=s.db_schema,
            batch_size=s.outbox_batch_size,
            poll_interval=s.outbox_poll_interval,
            topic_prefix=s.topic_prefix,
            service=self.name,
            lease_seconds=s.outbox_lease_seconds,
            delivery_timeout=s.outbox_delivery_timeout,
            topic_wait=s.outbox_topic_wait,
            statement_timeout=s.outbox_statement_timeout,
            renew=self._new_producer,
        )
        self.tasks.append(asyncio.create_task(self._relay.run(), name=f"{self.name}-outbox"))
        if consume:
            self.start_consumers()

    def start_consumers(self) -> None:
        """One consumer task per subscription; each retries on its own while Kafka is away."""
        s = self.settings
        for subscription in self.subscriptions:
            consumer = Consumer(
                subscription,
                pool=self.pool,
                kafka_options={
                    **kafka.client_options(s),
                    "session_timeout_ms": s.consumer_session_timeout_ms,
                    "heartbeat_interval_ms": s.consumer_heartbeat_interval_ms,
                },
                source=self.source,
                topic_prefix=s.topic_prefix,
                client_id=self.name,
                on_commit=self.relay.wake,
                policy=replace(
                    self.consumer_policy, commit_interval=s.consumer_commit_interval_ms / 1000
                ),
            )
            self.consumers.append(consumer)
            self.tasks.append(
                asyncio.create_task(consumer.run(), name=f"{self.name}-{subscription.name}")
            )

    async def stop(self) -> None:
        for consumer in self.consumers:
            consumer.stop()
        if self._relay is not None:
            self._relay.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        self.consumers.clear()
        if self._relay is not None:
            await self._relay.producer.stop()
        if self._watchdog is not None:
            await self._watchdog.stop()
        if self._pool is not None:
            await self._pool.close()

    async def wait_until_assigned(self, timeout: float = 30) -> None:
        """Until every consumer holds partitions (a new group joins in seconds)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if len(self.consumers) == len(self.subscriptions) and all(
                # "latest" is resolved lazily; asking for the positions pins it now, so a
                # message produced after this returns is never skipped.
                [await consumer.positions_resolved() for consumer in self.consumers]
            ):
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name}: consumers not assigned within {timeout}s")

    async def database_problem(self) -> str | None:
        """The watchdog's answer when it finds PostgreSQL silent; else a question of our own
        through the pool, as a request would ask (a pool used up is not ready either)."""
        if not self.watchdog.available:
            return self.watchdog.problem or "PostgreSQL does not answer"
        limit = self.settings.database_watchdog_timeout
        async with self.pool.acquire(timeout=limit) as conn:
            await conn.fetchval("SELECT 1", timeout=limit)
        return None

    async def kafka_problem(self) -> str | None:
        await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 2)
        return None


def service_app(
    runtime: Runtime,
    routers: Sequence[APIRouter],
    *,
    title: str,
    description: str,
    on_start: Sequence[Hook] = (),
    body_limit: int = 256 * 1024,
    consume: bool = True,
    links: Mapping[str, str] | None = None,
    browser_home: str | None = None,
    ready_without: Sequence[str] = ("kafka",),
) -> FastAPI:
    """The service's FastAPI app; `GET /` lists its documents, probes and `links` (its API
    roots), and sends a browser to `browser_home` when there is one.

    `/ready` stays 200 ("degraded") while a dependency in `ready_without` does not answer:
    Kafka by default, since every HTTP operation writes to PostgreSQL and its events wait in
    the outbox (docs/operations.md). While PostgreSQL does not answer, every route but the
    operational ones (`no_database_paths`) answers 503 (api.DatabaseGuard)."""
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(runtime.name, settings.log_level)
        app.state.verifier = TokenVerifier(
            settings.jwt_jwks_file,
            settings.jwt_revoked_file,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            refresh_seconds=settings.jwt_refresh_seconds,
        )
        await runtime.start(consume=consume)
        for hook in on_start:
            await hook(runtime)
        heap.tune(settings)
        log.info("%s ready on port %d", runtime.name, settings.port)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    install_error_handlers(app)
    index = Index(
        service=runtime.name,
        title=title,
        links={
            "docs": app.docs_url or "",
            "openapi": app.openapi_url or "",
            "health": "/health",
            "ready": "/ready",
            "metrics": "/metrics",
            **(links or {}),
        },
    )
    app.include_router(index_router(index, browser_home=browser_home))
    install_openapi(app)
    app.include_router(
        health_router(
            runtime.name,
            {"postgres": runtime.database_problem, "kafka": runtime.kafka_problem},
            optional=ready_without,
        )
    )
    for router in routers:
        app.include_router(router)
    # Innermost: the request metrics count its 503s, and a body over the limit is still 413.
    app.add_middleware(
        DatabaseGuard,
        health=runtime.watchdog,
        retry_after=settings.database_retry_after,
        exempt=no_database_paths(app),
    )
    app.add_middleware(BodyLimit, limit=body_limit)
    app.add_middleware(UrlGuard)
    app.add_middleware(Metrics, service=runtime.name)
    return app


def no_database_paths(app: FastAPI) -> frozenset[str]:
    """The paths that never touch PostgreSQL and keep answering while it is away: the index,
    liveness, readiness (which says it is away), metrics and the API documents."""
    documents = (app.docs_url, app.openapi_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    return frozenset(["/", "/health", "/ready", "/metrics", *filter(None, documents)])


def serve(app_factory: str, settings: ServiceSettings) -> None:
    """Run `module:create_app` with uvicorn; several workers get a socket each (SO_REUSEPORT)."""
    if settings.workers > 1:
        raise SystemExit(workers.run(app_factory, settings.host, settings.port, settings.workers))
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )
