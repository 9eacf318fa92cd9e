"""HTTP conventions shared by the services: health, readiness, metrics, and 4xx for bad input."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def health_router(service: str, checks: dict[str, ReadinessCheck]) -> APIRouter:
    """`/health` says the process answers; `/ready` asks PostgreSQL and Kafka for real."""
    router = APIRouter(tags=["operations"])

    @router.get("/health")
    async def health() -> dict[str, str | int]:
        # The worker process that answered: with several, each has its own socket.
        return {"status": "ok", "service": service, "worker": os.getpid()}

    @router.get("/ready")
    async def ready() -> JSONResponse:
        problems: dict[str, str] = {}
        for name, check in checks.items():
            try:
                problem = await check()
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem:
                problems[name] = problem
        body: dict[str, Any] = {
            "status": "ready" if not problems else "not ready",
            "service": service,
            "checks": {name: problems.get(name, "ok") for name in checks},
        }
        return JSONResponse(body, status_code=200 if not problems else 503)

    @router.get("/metrics")
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


def install_error_handlers(app: FastAPI) -> None:
    """A malformed body is 400 and an invalid one 422, each with the field path; never a 500."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": str(exc.detail),
                "status": exc.status_code,
                "detail": str(exc.detail),
            },
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
            media_type="application/problem+json",
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(
                {
                    "title": "malformed JSON body",
                    "status": 400,
                    "detail": "; ".join(str(e.get("msg")) for e in errors[:3]),
                },
                status_code=400,
            )
        problems = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p != "body") or "(body)",
                "message": str(e["msg"]),
            }
            for e in errors
        ]
        return JSONResponse(
            {"title": "invalid request", "status": 422, "problems": problems}, status_code=422
        )


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
        body = (
            b'{"title":"request body too large","status":413,'
            b'"detail":"the limit is ' + str(self.limit).encode() + b' bytes"}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass
