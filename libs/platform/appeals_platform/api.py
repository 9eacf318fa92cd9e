"""HTTP conventions shared by the services: health, readiness, metrics, and every refusal as
one problem+json shape (documented on every operation)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from http import HTTPStatus
from typing import Any, Literal, Protocol

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appeals_platform.availability import http_unavailable
from appeals_platform.problems import (
    MEDIA_TYPE,
    FieldProblem,
    Refused,
    error_problems,
    field_path,
    problem_body,
)

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "route", "status"])
LATENCY = Histogram(
    "http_request_seconds",
    "HTTP request latency",
    ["service", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class OrjsonResponse(JSONResponse):
    """A JSONResponse rendered by orjson: the stdlib encoder showed up in bench-intake profiles."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


ReadinessCheck = Callable[[], Awaitable[str | None]]


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "not ready"] = Field(
        description="degraded: a dependency the HTTP API can do without (Kafka: events wait "
        "in the outbox) does not answer; the service stays in service"
    )
    service: str
    checks: dict[str, str] = Field(description="ok, or what is wrong, per dependency")


def health_router(
    service: str, checks: dict[str, ReadinessCheck], *, optional: Collection[str] = ()
) -> APIRouter:
    """`/health` says the process answers; `/ready` asks PostgreSQL and Kafka for real.

    A failing check named in `optional` makes the answer 200 "degraded", any other 503.
    """
    router = APIRouter(tags=["operations"])

    @router.get("/health")
    async def health() -> dict[str, str | int]:
        # The worker process that answered: with several, each has its own socket.
        return {"status": "ok", "service": service, "worker": os.getpid()}

    @router.get(
        "/ready",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A dependency does not answer"}},
    )
    async def ready() -> JSONResponse:
        problems: dict[str, str] = {}
        for name, check in checks.items():
            try:
                problem = await check()
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem:
                problems[name] = problem
        essential = set(problems) - set(optional)
        status = "not ready" if essential else "degraded" if problems else "ready"
        body: dict[str, Any] = {
            "status": status,
            "service": service,
            "checks": {
                name: "ok"
                if name not in problems
                else problems[name]
                if name in essential
                else f"degraded: {problems[name]}"
                for name in checks
            },
        }
        return JSONResponse(body, status_code=503 if essential else 200)

    @router.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}
        },
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class Index(BaseModel):
    """What `GET /` answers: the service, and where its documents, probes and APIs are."""

    service: str
    title: str
    links: dict[str, str] = Field(
        description="Paths on this port: `docs`, `openapi`, `health`, `ready`, `metrics`, "
        "then the service's API roots (`{...}` is a path parameter)"
    )


def index_router(index: Index, *, browser_home: str | None = None) -> APIRouter:
    """`GET /` answers `index` as JSON; with `browser_home`, a client that asks for HTML
    (a browser's `Accept: text/html`) is sent there instead."""
    router = APIRouter(tags=["operations"])
    responses: dict[int | str, dict[str, Any]] = {}
    if browser_home:
        responses[307] = {"description": f"A client asking for HTML is sent to {browser_home}"}

    @router.get("/", response_model=Index, responses=responses, summary="Links of this service")
    async def root(request: Request) -> Response:
        if browser_home and _prefers_html(request.headers.get("accept", "")):
            return RedirectResponse(browser_home, status_code=307)
        return OrjsonResponse(index.model_dump())

    return router


def _prefers_html(accept: str) -> bool:
    """`text/html` named in Accept and weighted at least as high as `application/json`."""
    weights: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.lower()] = q
    html = weights.get("text/html", 0.0)
    return html > 0 and html >= weights.get("application/json", 0.0)


async def json_body(request: Request) -> Any:
    """The request's JSON body, for routes that validate it themselves (their own messages).

    415 when the body says it is something else, 400 when it is not JSON.
    """
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise Refused(415, "unsupported media type", "the body must be application/json")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise Refused(400, "malformed JSON body", f"the body is not valid JSON: {exc}") from exc
    if (path := _nul_at(body)) is not None:
        # PostgreSQL stores no NUL in text or jsonb: refused here, whatever the model says.
        raise Refused(
            422,
            "invalid request",
            problems=[FieldProblem(field=path, message="must not contain a NUL character")],
        )
    return body


def _nul_at(value: Any, path: tuple[int | str, ...] = ()) -> str | None:
    """The path of the first string (or key) holding a NUL character, if any."""
    if isinstance(value, str):
        return field_path(path) if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return field_path(path)
            if (found := _nul_at(item, (*path, key))) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _nul_at(item, (*path, index))) is not None:
                return found
    return None


def problem_response(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type=MEDIA_TYPE)


def _request_problems(exc: RequestValidationError) -> list[FieldProblem]:
    # FastAPI puts where the value came from first: a body field is named as in the body,
    # a parameter as "query.limit" or "path.appeal_id".
    errors = [
        {**error, "loc": tuple(error["loc"][1:] if error["loc"][:1] == ("body",) else error["loc"])}
        for error in exc.errors()
    ]
    return error_problems(errors)  # type: ignore[arg-type]


def _allowed_methods(request: Request) -> str:
    """Every method some route of this path answers."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        regex = getattr(context, "path_regex", None)
        if regex is not None and context.methods and regex.match(request.url.path):
            methods |= context.methods
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal of every service as one problem+json shape (appeals_platform.problems):
    `Refused` from handlers and routes, FastAPI's validation errors (400 for a malformed JSON
    body, 422 with the fields otherwise) and Starlette's own (404 no route, 405 method)."""

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return problem_response(exc.status, exc.body(), exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Starlette names only the methods of the first route of the path it tried.
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        if exc.status_code < 400:
            return Response(status_code=exc.status_code, headers=headers)  # a redirect
        phrase = HTTPStatus(exc.status_code).phrase
        detail = str(exc.detail) if exc.detail and exc.detail != phrase else None
        return problem_response(
            exc.status_code, problem_body(exc.status_code, phrase.lower(), detail=detail), headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        malformed = [e for e in errors if e.get("type") == "json_invalid"]
        if malformed:
            detail = "; ".join(str(e.get("ctx", {}).get("error", e.get("msg"))) for e in malformed)
            body = problem_body(
                400, "malformed JSON body", detail=f"the body is not valid JSON: {detail}"
            )
            return problem_response(400, body)
        return problem_response(422, problem_body(422, "invalid request", _request_problems(exc)))


class Metrics:
    """Request count and latency per route, as plain ASGI (BaseHTTPMiddleware costs ~1 ms)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recorded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recorded)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            LATENCY.labels(self.service, path).observe(time.perf_counter() - started)
            REQUESTS.labels(self.service, path, str(status)).inc()


class BodyLimit:
    """Refuse bodies over `limit` bytes with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = orjson.dumps(
            problem_body(413, "request body too large", detail=f"the limit is {self.limit} bytes")
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


class UrlGuard:
    """Refuse a path or query string that holds a NUL character with 422, before any route:
    PostgreSQL cannot store NUL in text, and a parameter read as plain text would carry it
    there (a 500). Typed parameters refuse it too; this covers every other one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "")
            or any(nul in scope.get("query_string", b"") for nul in (b"%00", b"\x00"))
        ):
            body = orjson.dumps(
                problem_body(
                    422,
                    "invalid request",
                    [FieldProblem(field="url", message="must not contain a NUL character")],
                )
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 422,
                    "headers": [
                        (b"content-type", MEDIA_TYPE.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


class DatabaseHealth(Protocol):
    """What the guard needs of appeals_platform.availability.Watchdog."""

    available: bool

    def on_change(self, listener: Callable[[bool], None]) -> None: ...


def _settle(wake: asyncio.Future[None]) -> None:
    if not wake.done():
        wake.set_result(None)


class _Request:
    """One request the guard watches: its handler's task, and whether it was cut."""

    __slots__ = ("cut", "handler", "started", "wake")

    def __init__(self, handler: asyncio.Task[None], wake: asyncio.Future[None]) -> None:
        self.handler = handler
        self.wake = wake  # set when the handler ends, or when the guard cuts it
        self.cut = False
        self.started = False


class DatabaseGuard:
    """While PostgreSQL is down or hung, every request that may need it is answered 503
    problem+json with Retry-After at once, never a 500 and never a wait.

    The one place where "database unavailable" becomes the refusal `Refused(503)`:
    - a request that comes while the watchdog says PostgreSQL does not answer;
    - a request waiting (on a pool connection, a statement, the registrar) when the watchdog
      finds PostgreSQL stopped answering: it is cut and answered at once, unless its answer
      has started (a stream ends as streams do);
    - a request whose handler failed because PostgreSQL was unavailable (connection refused
      or lost, a timeout: `availability.http_unavailable`), before the watchdog noticed.
    `exempt` paths need no database (health, metrics, documents) and are never touched.

    The handler runs in a task of its own so that the answer to a cut request does not wait
    for the handler to unwind. Unwinding can take long on a frozen server: asyncpg answers a
    cancelled statement with a CancelRequest on a new connection, which a frozen postmaster
    accepts and never answers, and its pool hands the connection back (shielded from any
    cancellation) only after waiting for that, up to the release timeout
    (`database_acquire_timeout`, 5 s). The cut handler is cancelled, its later messages go
    nowhere, and it finishes in the background. Its transaction commits whole or not at all;
    which one, no wait on a frozen server could tell (a COMMIT already sent is applied when the
    server thaws), so the refusal says a retry tells, and the writes' retries do (intake's
    registration answers 200 with the same appeal, a second acknowledgement 409).
    """

    def __init__(
        self, app: ASGIApp, health: DatabaseHealth, retry_after: int, exempt: Collection[str]
    ) -> None:
        self.app = app
        self.health = health
        self.exempt = frozenset(exempt)
        self.refusal = Refused(
            503,
            "the database is not available",
            "PostgreSQL does not answer; nothing was changed by this request unless a retry "
            "says so. Try again after Retry-After seconds.",
            headers={"Retry-After": str(retry_after)},
        )
        # Requests whose answer has not started; the handlers of cut ones still unwinding.
        self._waiting: set[_Request] = set()
        self._unwinding: set[asyncio.Task[None]] = set()
        health.on_change(self._changed)

    def _changed(self, available: bool) -> None:
        if available:
            return
        for request in self._waiting:
            if not request.cut:
                request.cut = True
                request.handler.cancel()
                _settle(request.wake)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.refusal
        response = problem_response(refusal.status, refusal.body(), refusal.headers)
        await response(scope, receive, send)

    def _unwound(self, handler: asyncio.Task[None]) -> None:
        """A cut handler has finished: what it ended with is no longer anybody's answer."""
        self._unwinding.discard(handler)
        if not handler.cancelled():
            handler.exception()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if not self.health.available:
            await self._refuse(scope, receive, send)
            return

        async def watched(message: Message) -> None:
            if request.cut:  # answered 503 by the guard: the cut handler's messages go nowhere
                return
            if message["type"] == "http.response.start":
                request.started = True
                self._waiting.discard(request)
            await send(message)

        async def handle() -> None:
            await self.app(scope, receive, watched)

        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handler = asyncio.create_task(handle())
        request = _Request(handler, wake)
        handler.add_done_callback(lambda _: _settle(wake))
        self._waiting.add(request)
        try:
            try:
                await wake
            except asyncio.CancelledError:  # the server stops, or the client's caller gave up
                handler.cancel()
                await asyncio.wait((handler,))  # it unwinds as the request's own task did
                raise
            if not handler.done():  # cut while waiting: answered now, unwinds on its own
                self._unwinding.add(handler)
                handler.add_done_callback(self._unwound)
                await self._refuse(scope, receive, send)
                return
            try:
                handler.result()
            except asyncio.CancelledError:
                if not request.cut or request.started:
                    raise
                await self._refuse(scope, receive, send)
            except Exception as exc:
                if request.started or not http_unavailable(exc):
                    raise
                await self._refuse(scope, receive, send)
        finally:
            self._waiting.discard(request)
