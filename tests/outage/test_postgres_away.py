"""PostgreSQL down or hung: every route of every service answers 503 problem+json with
Retry-After (never a 500, never no answer), and the service recovers by itself.

Each test runs one service in-process against the test stack's PostgreSQL through a proxy
of its own (tests/outage/proxy.py), which the test stops (connections reset, new ones
refused) or freezes (connections open, nothing answers: SIGSTOP of the server) without
touching the server other tests use. The routes come from the app's own route table, so a
new endpoint is covered without a change here. No time is asserted; a request that does
not answer within CLIENT_TIMEOUT fails the test (the fault suite's "PostgreSQL frozen" case
measures the answers of a running stack: docs/faults.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from appeals_platform.auth import Role
from appeals_platform.runtime import no_database_paths
from appeals_tools.stack.postgres import pg_port
from tests.conftest import Stack, TokenFactory
from tests.intake.conftest import dev_submissions, fresh
from tests.outage.proxy import PostgresProxy
from tests.services import running, serving, settings_for

pytestmark = pytest.mark.infra

# Requests while PostgreSQL is away; others (before, after) may wait for a busy machine.
CLIENT_TIMEOUT, CALM_TIMEOUT = 5.0, 60.0
SETTLE_TIMEOUT = 30.0
# How long a cut request's pool connection may take to be handed back in the in-flight test
# (its acquire and statement timeouts): far beyond the test's own patience (CALM_TIMEOUT), so
# an answer that waited for it could only come after the server thawed.
UNWIND_TIMEOUT = 3600.0


def build(service: str, dsn: str, stack: Stack, key_dir: Path, tmp: Path, **extra: Any) -> FastAPI:
    if service == "intake":
        from intake.app import create_app as intake_app
        from intake.config import Settings as IntakeSettings

        return intake_app(settings_for(IntakeSettings, dsn, stack, key_dir, **extra))
    if service == "routing":
        from routing.app import create_app as routing_app
        from routing.config import Settings as RoutingSettings

        settings = settings_for(
            RoutingSettings, dsn, stack, key_dir, model_path=tmp / "no-model.joblib", **extra
        )
        return routing_app(settings)
    from deadlines.app import create_app as deadlines_app
    from deadlines.config import Settings as DeadlinesSettings

    return deadlines_app(
        settings_for(DeadlinesSettings, dsn, stack, key_dir, ticker_enabled=False, **extra)
    )


def every_request(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route of the app, documented or not (the dashboard's pages,
    its CSV exports and its event stream too), path parameters filled in."""
    for route in app.routes:
        if isinstance(route, Mount):
            yield "GET", route.path + "/anything"
            continue
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path is None or not methods:
            continue
        filled = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        for method in sorted(methods - {"HEAD"}):
            yield method, filled


def waiting_request(service: str, token: TokenFactory) -> dict[str, Any]:
    """A request that needs PostgreSQL, with what it takes to get that far."""
    if service == "intake":
        auth = token(Role.INTEGRATION, source="egov-portal")
        body = fresh(dev_submissions()[0])
        return {"method": "POST", "url": "/v1/appeals", "json": body, "auth": auth}
    if service == "routing":
        return {"method": "GET", "url": "/v1/triage", "auth": token(Role.OPERATOR)}
    return {"method": "GET", "url": "/v1/alerts", "auth": token(Role.MONITORING)}


async def ask(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    limit: float = CLIENT_TIMEOUT,
    **options: Any,
) -> httpx.Response:
    """The answer, or the test fails: in-process, no socket timeout would end a hang."""
    auth = options.pop("auth", None)
    headers = {"Authorization": f"Bearer {auth}"} if auth else {}
    try:
        return await asyncio.wait_for(
            client.request(method, url, headers=headers, **options), limit
        )
    except TimeoutError:
        pytest.fail(f"{method} {url}: no answer within {limit}s")


def assert_refused(response: httpx.Response, what: str) -> None:
    assert response.status_code == 503, (what, response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json", what
    assert response.headers.get("retry-after", "").isdigit(), (what, response.headers)
    body = response.json()
    assert body["status"] == 503 and body["title"] == "the database is not available", what


async def until_ready(client: httpx.AsyncClient, status: int) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT
    while True:
        ready = await ask(client, "GET", "/ready", limit=CALM_TIMEOUT)
        if ready.status_code == status:
            return ready
        assert asyncio.get_running_loop().time() < deadline, ready.text
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("fault", ["stopped", "hung"])
@pytest.mark.parametrize("service", ["intake", "routing", "deadlines"])
async def test_every_route_answers_503_while_postgres_is_away_and_recovers(
    service: str,
    fault: str,
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    tmp_path: Path,
) -> None:
    proxy = PostgresProxy(pg_port())
    await proxy.start()
    # Hung: the watchdog waits longer than by default, so the request sent right after the
    # freeze is surely waiting on the server when the watchdog gives up (the request is
    # cancelled and answered), rather than refused at the door.
    extra = {"database_watchdog_timeout": 1.5} if fault == "hung" else {}
    app = build(service, proxy.dsn(database), stack, key_dir, tmp_path, **extra)
    try:
        async with contextlib.AsyncExitStack() as started:
            client = await started.enter_async_context(running(app, wait_for_consumers=False))
            # On the way out the server is back before the service stops (its pool closes).
            started.push_async_callback(proxy.restore)
            await until_ready(client, 200)
            waiting = waiting_request(service, token)
            before = None
            if service == "intake":
                before = await ask(
                    client, **{**waiting, "json": fresh(dev_submissions()[1])}, limit=CALM_TIMEOUT
                )
                assert before.status_code == 201, before.text

            if fault == "hung":
                await proxy.freeze()
            else:
                await proxy.stop()
            assert_refused(await ask(client, **waiting), f"{waiting['url']} in flight")

            ready = await until_ready(client, 503)
            assert ready.json()["checks"]["postgres"] != "ok"
            exempt = no_database_paths(app)
            for method, path in every_request(app):
                if path not in exempt:
                    assert_refused(await ask(client, method, path), f"{method} {path}")
            assert (await ask(client, "GET", "/health")).status_code == 200
            assert (await ask(client, "GET", "/metrics")).status_code == 200

            await proxy.restore()
            await until_ready(client, 200)
            again = await ask(client, **waiting, limit=CALM_TIMEOUT)
            assert again.status_code in (200, 201), again.text
            if before is not None:  # accepted before the outage: still there
                appeal = await ask(
                    client, "GET", before.headers["location"], auth=waiting["auth"], limit=60
                )
                assert appeal.status_code == 200, appeal.text
                assert appeal.json()["registration_number"] == before.json()["registration_number"]
    finally:
        await proxy.close()


@pytest.mark.parametrize("fault", ["stopped", "hung"])
async def test_an_open_dashboard_stream_ends_cleanly_when_postgres_goes_away(
    fault: str,
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    tmp_path: Path,
) -> None:
    """A live-alerts stream open when PostgreSQL goes away ends as streams end (the last
    chunk, no reset): the page's EventSource notices, and its reconnect hears 503. Without
    this the stream would go on sending keep-alives and the client's wait would run out."""
    proxy = PostgresProxy(pg_port())
    await proxy.start()
    app = build("deadlines", proxy.dsn(database), stack, key_dir, tmp_path)
    try:
        async with contextlib.AsyncExitStack() as started:
            # Over a real socket: the stream arrives in pieces, its end as a client sees it.
            url = await started.enter_async_context(serving(app))
            browser = await started.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=CALM_TIMEOUT)
            )
            started.push_async_callback(proxy.restore)
            signed = await browser.post(
                "/dashboard/sign-in", data={"token": token(Role.MONITORING)}
            )
            assert signed.status_code == 303, signed.text
            stream = await started.enter_async_context(
                browser.stream("GET", "/dashboard/alerts/stream")
            )
            assert stream.status_code == 200
            chunks = stream.aiter_text()
            seen = await anext(chunks)  # "retry: ..." : the stream is open and subscribed
            assert seen.startswith("retry:"), seen

            if fault == "hung":
                await proxy.freeze()
            else:
                await proxy.stop()
            try:  # to its end: any reset or truncation raises here
                async with asyncio.timeout(CLIENT_TIMEOUT * 2):
                    async for chunk in chunks:
                        seen += chunk
            except TimeoutError:
                pytest.fail(f"the stream went on after PostgreSQL went away: {seen!r}")
            assert "event: alert" not in seen

            assert_refused(
                await ask(browser, "GET", "/dashboard/alerts/stream"), "the stream's reconnect"
            )
            await proxy.restore()
            await until_ready(browser, 200)
            again = await browser.get("/dashboard/alerts")
            assert again.status_code == 200, again.text
    finally:
        await proxy.close()


def in_flight_requests(service: str, token: TokenFactory) -> list[dict[str, Any]]:
    """Requests that wait on PostgreSQL: a write and a read (which waits on a statement)."""
    if service == "intake":
        read = {"method": "GET", "url": f"/v1/appeals/{uuid.uuid4()}"}
        auth = token(Role.INTEGRATION, source="egov-portal")
        return [waiting_request(service, token), {**read, "auth": auth}]
    if service == "routing":
        return [waiting_request(service, token), waiting_request(service, token)]
    acknowledge = {"method": "POST", "url": f"/v1/alerts/{uuid.uuid4()}/acknowledge"}
    return [waiting_request(service, token), {**acknowledge, "auth": token(Role.OPERATOR)}]


@pytest.mark.parametrize("service", ["intake", "routing", "deadlines"])
async def test_requests_in_flight_when_postgres_freezes_are_answered_while_it_is_frozen(
    service: str,
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    tmp_path: Path,
) -> None:
    """Requests waiting on PostgreSQL when it freezes are answered 503 problem+json with
    Retry-After while it is still frozen, over uvicorn as in use; their retries after the thaw
    find what they left (intake's registration is idempotent on its external_id).

    A cancelled statement leaves asyncpg waiting, when the connection goes back to the pool,
    for the server to acknowledge the cancellation, up to the release timeout (the acquire
    timeout) and the client's statement timeout; a frozen server never does. Here both
    (UNWIND_TIMEOUT) are longer than the test waits, so a guard
    that answered only once the request had unwound would answer only after the thaw. The
    watchdog waits 2 s, so the requests sent right after the freeze are surely waiting on the
    server when it gives up (rather than refused at the door)."""
    proxy = PostgresProxy(pg_port())
    await proxy.start()
    extra = {
        "database_watchdog_timeout": 2.0,
        "database_acquire_timeout": UNWIND_TIMEOUT,
        "database_statement_timeout": UNWIND_TIMEOUT,
        # Idle connections for every request: each waits on a statement, not on a new
        # connection (a connect that is cut leaves nothing to unwind).
        "pool_min_size": 8,
    }
    app = build(service, proxy.dsn(database), stack, key_dir, tmp_path, **extra)
    try:
        async with contextlib.AsyncExitStack() as started:
            url = await started.enter_async_context(serving(app))
            client = await started.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=UNWIND_TIMEOUT)
            )
            started.push_async_callback(proxy.restore)
            await until_ready(client, 200)
            requests = in_flight_requests(service, token)

            await proxy.freeze()
            flying = [asyncio.create_task(ask(client, **r, limit=UNWIND_TIMEOUT)) for r in requests]
            _, waiting = await asyncio.wait(flying, timeout=CALM_TIMEOUT)
            await proxy.restore()
            if waiting:  # they end after the thaw (their connections go back); a failure anyway
                await asyncio.wait(waiting, timeout=CALM_TIMEOUT)
                pytest.fail(f"{len(waiting)} of {len(flying)} requests not answered while frozen")
            for request, task in zip(requests, flying, strict=True):
                assert_refused(task.result(), f"{request['method']} {request['url']} in flight")

            await until_ready(client, 200)
            for request in requests:  # the retry after the thaw: one effect, whatever happened
                again = await ask(client, **request, limit=CALM_TIMEOUT)
                assert again.status_code in (200, 201, 404), again.text
                if request["method"] == "POST" and service == "intake":
                    twice = await ask(client, **request, limit=CALM_TIMEOUT)
                    assert twice.status_code == 200, twice.text
                    number = twice.json()["registration_number"]
                    assert again.json()["registration_number"] == number
    finally:
        await proxy.close()
