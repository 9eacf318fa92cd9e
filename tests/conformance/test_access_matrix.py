"""The access-control matrix: every HTTP route of the three services (the dashboard, its alert
stream and the CSV exports included) against every kind of caller, on the real pipeline.

The expectations are the table CASES below: who may get through each route. Everyone else
must be refused (401, 403, a 404 that does not tell "not yours" from "absent", or the
dashboard's redirect to its sign-in form), and everyone listed must really get through (a
2xx, or the redirect the route is for), so no cell holds by accident. The routes are read from
the apps themselves: a route without a row fails the test, as does a row without a route.

Resources the callers act on belong to `agency` and were submitted by `integration`, so the
other agency and the other integration show what a party sees of someone else's appeal.
The matrix is printed (`pytest -s`) and written to access-matrix.txt in the test's tmp dir.
Alone: `make test PYTEST_ARGS="-s tests/conformance/test_access_matrix.py"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from appeals_contracts import topics
from appeals_platform.auth import Role
from appeals_reference import load_integrations, load_reference
from appeals_tools.provisioning import librdkafka
from appeals_tools.stack.postgres import as_role
from tests.conformance.conftest import (
    AGENCY,
    INTEGRATION,
    OTHER_AGENCY,
    Party,
    Platform,
    eventually,
)
from tests.conftest import Stack
from tests.intake.conftest import dev_submissions, fresh

pytestmark = pytest.mark.infra

PARTIES = (
    "anonymous",
    "expired",
    "revoked",
    "integration",
    "other-integration",
    "agency",
    "other-agency",
    "operator",
    "monitoring",
)
EVERYONE = frozenset(PARTIES)
# Routes that read a key where none is needed refuse a broken one rather than ignore it.
KEYLESS_OR_VALID = EVERYONE - {"expired", "revoked"}
ANY_ROLE = frozenset(PARTIES[3:])
STAFF = frozenset({"operator", "monitoring"})
# The dashboard signs in monitoring staff and agencies only.
VIEWERS = frozenset({"monitoring", "agency", "other-agency"})
SIGN_IN = "/dashboard/sign-in"
THIRD_AGENCY = "KRG-ENERGY-HOUSING"
UNUSED_DSN = "postgresql://nobody:none@127.0.0.1:1/unused"  # apps built, never started
ORIGIN = "http://test"


@dataclass(frozen=True)
class Case:
    """One request to one route, and who must get through it.

    `url` and the values of `body` are format strings over `w` (the World) and `mine` (the
    caller's own resources: a party allowed to change something gets a thing of its own).
    """

    service: str
    method: str
    route: str
    allowed: frozenset[str]
    url: str = ""
    body: str | None = None
    ok: frozenset[int] = frozenset({200, 201})
    variant: str = ""
    expect_all: str | None = None  # one outcome for every caller (a route that is gone)

    @property
    def name(self) -> str:
        return f"{self.service} {self.method} {self.route}" + (
            f" [{self.variant}]" if self.variant else ""
        )


def public(service: str, *routes: str) -> list[Case]:
    return [Case(service, "GET", route, EVERYONE) for route in routes]


DOCS = ("/", "/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect")

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ intake
    *public("intake", *DOCS, "/redoc"),
    Case("intake", "POST", "/v1/appeals", frozenset({"integration", "other-integration"}),
         body="submission"),
    Case("intake", "GET", "/v1/appeals/{appeal_id}",
         frozenset({"integration", "agency", "operator", "monitoring"}),
         url="/v1/appeals/{w.main}"),
    # The other integration gets its own (none): allowed, scoped.
    Case("intake", "POST", "/v1/applicants/search",
         frozenset({"integration", "other-integration", "monitoring"}), body="search"),
    Case("intake", "GET", "/v1/applicants/{identifier}/appeals", EVERYONE,
         url="/v1/applicants/790322499544/appeals", expect_all="gone"),
    Case("intake", "POST", "/v1/appeals/{appeal_id}/answer", frozenset({"agency"}),
         url="/v1/appeals/{w.to_answer}/answer", body="answer"),
    *[
        case
        for fmt in ("json", "xml")
        for case in (
            # The services are the public list of categories: no key is read.
            Case("intake", "GET", f"/open311/v2/services.{fmt}", EVERYONE),
            Case("intake", "GET", f"/open311/v2/services/{{service_code}}.{fmt}",
                 EVERYONE, url=f"/open311/v2/services/HOUSING-HEATING.{fmt}"),
            # Anonymous readers get the published appeals only (redacted): allowed, scoped.
            Case("intake", "GET", f"/open311/v2/requests.{fmt}", KEYLESS_OR_VALID),
            Case("intake", "GET", f"/open311/v2/requests/{{request_id}}.{fmt}",
                 frozenset({"integration", "agency", "operator", "monitoring"}),
                 url=f"/open311/v2/requests/{{w.main}}.{fmt}"),
            Case("intake", "POST", f"/open311/v2/requests.{fmt}",
                 frozenset({"integration", "other-integration"}), body="open311"),
        )
    ],
    # ------------------------------------------------------------------ routing
    *public("routing", *DOCS, "/redoc"),
    Case("routing", "GET", "/v1/triage", STAFF),
    Case("routing", "POST", "/v1/appeals/{appeal_id}/assign", frozenset({"operator"}),
         url="/v1/appeals/{w.triaged}/assign", body="assign"),
    Case("routing", "POST", "/v1/appeals/{appeal_id}/redirect", frozenset({"agency"}),
         url="/v1/appeals/{w.to_redirect}/redirect", body="redirect"),
    Case("routing", "GET", "/v1/appeals/{appeal_id}/routing",
         frozenset({"agency", "operator", "monitoring"}), url="/v1/appeals/{w.main}/routing"),
    Case("routing", "GET", "/v1/reference", ANY_ROLE),
    Case("routing", "GET", "/v1/reference/versions", STAFF),
    Case("routing", "PUT", "/v1/reference", frozenset({"operator"}), body="reference"),
    # A what-if replays stored appeals through a proposed version: operators only.
    Case("routing", "POST", "/v1/what-if", frozenset({"operator"}), body="what-if"),
    # ------------------------------------------------------------------ deadlines
    *public("deadlines", *DOCS, "/redoc"),
    Case("deadlines", "GET", "/v1/appeals/{appeal_id}/clock",
         frozenset({"agency", "operator", "monitoring"}), url="/v1/appeals/{w.main}/clock"),
    # Time at each hop: whoever may read the appeal's clock.
    Case("deadlines", "GET", "/v1/appeals/{appeal_id}/hops",
         frozenset({"agency", "operator", "monitoring"}), url="/v1/appeals/{w.main}/hops"),
    Case("deadlines", "POST", "/v1/appeals/{appeal_id}/extend", frozenset({"agency"}),
         url="/v1/appeals/{w.to_extend}/extend", body="extension"),
    # Receipt confirmation: the assignee only (its open hop, once).
    Case("deadlines", "POST", "/v1/appeals/{appeal_id}/receipt", frozenset({"agency"}),
         url="/v1/appeals/{w.main}/receipt"),
    # An agency lists its own alerts only: allowed, scoped.
    Case("deadlines", "GET", "/v1/alerts", frozenset({"agency", "other-agency", *STAFF})),
    Case("deadlines", "POST", "/v1/alerts/{alert_id}/acknowledge", STAFF,
         url="/v1/alerts/{mine.alert}/acknowledge", body="acknowledgement"),
    Case("deadlines", "GET", "/v1/calendar", STAFF),
    Case("deadlines", "POST", "/v1/calendar/overrides", STAFF, body="override"),
    Case("deadlines", "DELETE", "/v1/calendar/overrides/{day}", STAFF,
         url="/v1/calendar/overrides/{mine.day}"),
    Case("deadlines", "GET", "/v1/compliance", STAFF),
    Case("deadlines", "GET", "/v1/compliance.csv", STAFF),
    # Open data: anonymous by design, nothing about any one person (docs/open-data.md).
    *public("deadlines", "/open-data/v1", "/open-data/v1/monthly.json",
            "/open-data/v1/monthly.csv", "/open-data/v1/monthly.schema.json"),
    # The dashboard: a session cookie from the sign-in form, never a bearer token.
    Case("deadlines", "GET", "/dashboard", EVERYONE, ok=frozenset({303})),
    Case("deadlines", "GET", SIGN_IN, EVERYONE),
    Case("deadlines", "POST", SIGN_IN, VIEWERS, body="sign_in", ok=frozenset({303})),
    Case("deadlines", "GET", "/dashboard/language/{code}", EVERYONE,
         url="/dashboard/language/kk", ok=frozenset({303})),
    Case("deadlines", "GET", "/dashboard/static/{name}", EVERYONE,
         url="/dashboard/static/dashboard.css"),
    Case("deadlines", "GET", "/dashboard/alerts", VIEWERS),
    Case("deadlines", "GET", "/dashboard/alerts/stream", VIEWERS),
    Case("deadlines", "POST", "/dashboard/alerts/{alert_id}/acknowledge",
         frozenset({"monitoring"}), url="/dashboard/alerts/{mine.dashboard_alert}/acknowledge",
         body="dashboard_acknowledgement"),
    Case("deadlines", "GET", "/dashboard/compliance", VIEWERS),
    Case("deadlines", "GET", "/dashboard/compliance/{by}.csv", VIEWERS,
         url="/dashboard/compliance/agency.csv", variant="own agency"),
    Case("deadlines", "GET", "/dashboard/compliance/{by}.csv", frozenset({"monitoring"}),
         url="/dashboard/compliance/district.csv", variant="every district"),
    Case("deadlines", "GET", "/dashboard/appeals/{appeal_id}", frozenset({"monitoring", "agency"}),
         url="/dashboard/appeals/{w.main}"),
    Case("deadlines", "GET", "/dashboard/backlog", VIEWERS),
    Case("deadlines", "GET", "/dashboard/inboxes", VIEWERS),
    Case("deadlines", "GET", "/dashboard/at-risk", VIEWERS),
    # What-if: monitoring staff only; an empty form is refused by the page itself (422),
    # before routing is asked (routing checks the operator token the form forwards).
    Case("deadlines", "GET", "/dashboard/what-if", frozenset({"monitoring"})),
    Case("deadlines", "POST", "/dashboard/what-if", frozenset({"monitoring"}),
         body="dashboard_what_if", ok=frozenset({422})),
    # Last: it ends the caller's session.
    Case("deadlines", "POST", "/dashboard/sign-out", EVERYONE, ok=frozenset({303})),
)  # fmt: skip


@dataclass
class World:
    """The appeals, alerts and sessions the cases act on, made through the services."""

    main: str  # agency's appeal, submitted by integration: read by everyone who may
    to_answer: str
    to_redirect: str
    to_extend: str
    triaged: str  # bounced agency -> other agency -> agency -> triage
    new_due_date: str
    reference: dict[str, Any]
    tokens: dict[str, str]
    sessions: dict[str, str]
    own: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of(self, party: str) -> SimpleNamespace:
        """The party's own alerts and calendar day; others' are ids nobody holds."""
        mine = SimpleNamespace(alert=uuid.uuid4(), dashboard_alert=uuid.uuid4(), day="2099-12-31")
        mine.__dict__.update(self.own.get(party, {}))
        return mine


def bodies(world: World, party: str) -> dict[str, Callable[[], dict[str, Any]]]:
    """httpx keyword arguments of each kind of body, for this caller."""
    mine = world.of(party)
    return {
        "submission": lambda: {"json": fresh(dev_submissions()[1])},
        "search": lambda: {"json": {"iin": "790322499544"}},
        "answer": lambda: {
            "json": {
                "outcome": "explained",
                "text": "Разъяснено.",
                "signed_at": "2026-03-10T12:00:00+05:00",
            }
        },
        "open311": lambda: {
            "data": {
                "service_code": "HOUSING-HEATING",
                "address_string": "Караганда, ул. Ерубаева",
                "description": f"Холодные батареи в подъезде ({party}, {uuid.uuid4().hex[:6]})",
            }
        },
        "assign": lambda: {"json": {"agency": AGENCY}},
        # To a third agency: the other agency naming itself would be a 422 before the 403.
        "redirect": lambda: {"json": {"reason": "not_competent", "target": THIRD_AGENCY}},
        "reference": lambda: {"json": world.reference},
        "what-if": lambda: {"json": {"since": "2020-01-01", "reference": world.reference}},
        "extension": lambda: {
            "json": {"new_due_date": world.new_due_date, "reason": "нужен выезд на место"}
        },
        "acknowledgement": lambda: {"json": {"comment": "seen"}},
        "override": lambda: {
            "json": {"day": mine.day, "kind": "day_off", "decree": "ПП РК (test)"}
        },
        "sign_in": lambda: {"data": {"token": world.tokens.get(party, "")}},
        "dashboard_acknowledgement": lambda: {"data": {"comment": "seen"}},
        "dashboard_what_if": lambda: {"data": {"since": ""}},
    }


def outcome(case: Case, response: httpx.Response | tuple[int, dict[str, str]]) -> str:
    status, headers = (
        response if isinstance(response, tuple) else (response.status_code, response.headers)
    )
    if case.expect_all == "gone" and status == 410:
        return "gone"
    if status in case.ok:
        return "allow"
    if status in (401, 403, 404):
        return "deny"
    if status == 303 and str(headers.get("location", "")).startswith(SIGN_IN):
        return "deny"
    return str(status)


def expected(case: Case, party: str) -> str:
    if case.expect_all is not None:
        return case.expect_all
    return "allow" if party in case.allowed else "deny"


async def stream_head(
    app: FastAPI, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str]]:
    """The status and headers of a streaming response, then a disconnect: an event stream
    does not end by itself, and an in-process client would wait for its whole body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    started: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message)

    task = asyncio.create_task(app(scope, receive, send))
    try:
        message = await asyncio.wait_for(started, 30)
    finally:
        gone.set()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
    return message["status"], {k.decode(): v.decode() for k, v in message["headers"]}


def declared_routes(apps: dict[str, FastAPI]) -> set[tuple[str, str, str]]:
    """(service, method, path) of every route the apps serve (HEAD goes with GET)."""
    found = set()
    for service, app in apps.items():
        for context in iter_route_contexts(app.routes):
            path = getattr(context, "path_format", None) or getattr(context, "path", None)
            for method in context.methods or ():
                if method != "HEAD" and path is not None:
                    found.add((service, method, str(path)))
    return found


def test_every_route_has_a_row_and_every_row_a_route(platform_apps: dict[str, FastAPI]) -> None:
    routes = declared_routes(platform_apps)
    rows = {(c.service, c.method, c.route) for c in CASES}
    assert sorted(routes - rows) == [], "routes without an expectation: add them to CASES"
    assert sorted(rows - routes) == [], "rows for routes that do not exist"


@pytest.fixture
def platform_apps(stack: Any, key_dir: Path, tmp_path: Path) -> dict[str, FastAPI]:
    """The apps (not started): enough to read their routes."""
    from tests.conformance.conftest import SERVICES, service_app

    return {name: service_app(name, UNUSED_DSN, stack, key_dir, tmp_path)
            for name in SERVICES}  # fmt: skip


async def submit(platform: Platform, body: dict[str, Any]) -> str:
    created = await platform.intake.post(
        "/v1/appeals", json=body, headers=platform.auth(Role.INTEGRATION, source=INTEGRATION)
    )
    assert created.status_code == 201, created.text
    return str(created.json()["appeal_id"])


async def held_by_agency(platform: Platform, appeal_id: str) -> dict[str, Any]:
    """Once intake and deadlines both know the appeal is the agency's; its clock."""
    monitoring = platform.auth(Role.MONITORING)

    async def seen() -> Any:
        view = await platform.intake.get(f"/v1/appeals/{appeal_id}", headers=monitoring)
        clock = await platform.deadlines.get(f"/v1/appeals/{appeal_id}/clock", headers=monitoring)
        return (
            view.json().get("agency"),
            clock.json()["current"] if clock.status_code == 200 else None,
        )

    _, clock = await eventually(
        seen, lambda s: s[0] == AGENCY and s[1] is not None, what="the agency's appeal", timeout=120
    )
    return dict(clock)


async def insert_alerts(database: str, appeal_id: str, count: int) -> list[uuid.UUID]:
    """Alert rows on the agency's appeal, as the ticker writes them (a breach would take
    15 working days of real time): only their acknowledgement is under test."""
    ids = [uuid.uuid4() for _ in range(count)]
    conn = await asyncpg.connect(
        as_role(database, "deadlines"), server_settings={"search_path": "deadlines"}
    )
    try:
        await conn.executemany(
            "INSERT INTO alerts (id, appeal_id, hop, kind, severity, agency, raised_at, data) "
            "VALUES ($1, $2, 1, 'breached', 'critical', $3, $4, $5::jsonb)",
            [
                (i, uuid.UUID(appeal_id), AGENCY, datetime.now(UTC), orjson.dumps({}).decode())
                for i in ids
            ],
        )
    finally:
        await conn.close()
    return ids


async def make_world(platform: Platform, parties: list[Party], database: str) -> World:
    submissions = [fresh(dev_submissions()[0]) for _ in range(5)]
    main, to_answer, to_redirect, to_extend, triaged = [
        await submit(platform, body) for body in submissions
    ]
    clocks = [await held_by_agency(platform, a) for a in (main, to_answer, to_redirect, to_extend)]
    for who, target in ((AGENCY, OTHER_AGENCY), (OTHER_AGENCY, AGENCY), (AGENCY, OTHER_AGENCY)):
        bounced = await platform.routing.post(
            f"/v1/appeals/{triaged}/redirect",
            json={"reason": "not_competent", "target": target},
            headers=platform.agency(who),
        )
        assert bounced.status_code == 201, bounced.text
    assert bounced.json()["outcome"] == "triage"
    due = datetime.fromisoformat(clocks[3]["due_at"]).date()
    reference = await platform.routing.get("/v1/reference", headers=platform.auth(Role.OPERATOR))
    document = {k: v for k, v in reference.json().items() if k != "version"}
    api_alerts = await insert_alerts(database, main, 3)
    tokens = {
        p.name: p.headers["Authorization"].removeprefix("Bearer ")
        for p in parties
        if "Authorization" in p.headers
    }
    sessions = {}
    for name, token in tokens.items():
        signed = await platform.deadlines.post(
            SIGN_IN, data={"token": token}, headers={"Origin": ORIGIN}
        )
        if signed.status_code == 303:
            sessions[name] = signed.cookies["dashboard_session"]
        platform.deadlines.cookies.clear()
    world = World(
        main=main,
        to_answer=to_answer,
        to_redirect=to_redirect,
        to_extend=to_extend,
        triaged=triaged,
        new_due_date=(due + timedelta(days=7)).isoformat(),
        reference=document,
        tokens=tokens,
        sessions=sessions,
    )
    world.own["operator"] = {"alert": api_alerts[0], "day": "2099-03-02"}
    world.own["monitoring"] = {
        "alert": api_alerts[1],
        "dashboard_alert": api_alerts[2],
        "day": "2099-03-03",
    }
    assert date.fromisoformat(world.new_due_date) > due
    return world


async def call(platform: Platform, world: World, case: Case, party: Party) -> str:
    mine = world.of(party.name)
    url = (case.url or case.route).format(w=world, mine=mine)
    dashboard = case.route.startswith("/dashboard")
    headers = dict(party.headers)
    if dashboard:
        # A bearer token opens no dashboard page: the caller's session, if it has one.
        if party.name in world.sessions:
            headers["Cookie"] = f"dashboard_session={world.sessions[party.name]}"
        headers["Origin"] = ORIGIN
        headers["Accept"] = "application/json, text/html"
    if case.route == "/dashboard/alerts/stream":
        return outcome(case, await stream_head(platform.apps["deadlines"], url, headers))
    kwargs = bodies(world, party.name)[case.body]() if case.body else {}
    client = platform.client(case.service)
    # The client would keep a session cookie from one caller's sign-in for the next caller.
    client.cookies.clear()
    response = await client.request(case.method, url, headers=headers, **kwargs)
    return outcome(case, response)


def render(results: dict[str, dict[str, str]]) -> str:
    width = max(len(name) for name in results)
    lines = [" " * width + " | " + " | ".join(f"{p[:12]:^12}" for p in PARTIES)]
    lines.append("-" * len(lines[0]))
    for name, row in results.items():
        lines.append(f"{name:<{width}} | " + " | ".join(f"{row[p]:^12}" for p in PARTIES))
    return "\n".join(lines)


async def test_the_access_matrix_holds(
    platform: Platform, parties: list[Party], database: str, tmp_path: Path
) -> None:
    world = await make_world(platform, parties, database)
    by_name = {p.name: p for p in parties}
    assert set(by_name) == EVERYONE
    results: dict[str, dict[str, str]] = {}
    wrong: list[str] = []
    for case in CASES:
        row: dict[str, str] = {}
        # Refusals first: the allowed calls change things (an answer, a redirect, ...).
        for name in sorted(PARTIES, key=lambda p: p in case.allowed):
            seen = await call(platform, world, case, by_name[name])
            want = expected(case, name)
            row[name] = seen if seen == want else f"{seen}!{want}"
            if seen != want:
                wrong.append(f"{case.name} as {name}: {seen}, expected {want}")
        results[case.name] = row
    matrix = render(results)
    (tmp_path / "access-matrix.txt").write_text(matrix + "\n")
    print(f"\nHTTP access matrix (allow/deny; seen!expected where they differ)\n{matrix}")
    assert wrong == [], "\n".join(wrong)


# ---------------------------------------------------------------------- Kafka

# Who may write and who may read each topic, per principal: services, two integrations,
# two agencies. `<source>` and `<code>` stand for any integration and agency: their own
# principal only. A dead-letter twin `<topic>.dlq` is written by the topic's readers (the
# consumer that gives up on a record) and read by no principal here (tools use `admin`).
KAFKA_TABLE: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("intake.appeal-submissions.<source>", ("integration-<source>",), ("svc-intake",)),
    # What became of the appeals an integration submitted: for it alone to read.
    ("integration.<source>.updates", ("svc-intake",), ("integration-<source>",)),
    ("intake.appeal-rejections", ("svc-intake",), ()),
    ("intake.appeal-received", ("svc-intake",), ("svc-routing",)),
    ("intake.answer-given", ("svc-intake",), ("svc-routing", "svc-deadlines")),
    ("routing.appeal-assigned", ("svc-routing",), ("svc-intake", "svc-deadlines")),
    ("routing.appeal-redirected", ("svc-routing",), ("svc-intake", "svc-deadlines")),
    ("routing.appeal-triage", ("svc-routing",), ("svc-intake",)),
    ("routing.reference-changed", ("svc-routing",), ()),  # read by the provisioner tool
    ("deadlines.deadline-events", ("svc-deadlines",), ("svc-intake", "svc-deadlines")),
    ("deadlines.alerts", ("svc-deadlines",), ("svc-intake", "svc-deadlines")),
    ("agency.<code>.appeals", ("svc-routing",), ("agency-<code>",)),
    # An agency's commands: its principal alone writes them; each service applies its own.
    (
        "agency.<code>.actions",
        ("agency-<code>",),
        ("svc-intake", "svc-routing", "svc-deadlines"),
    ),
    ("agency.<code>.results", ("svc-intake", "svc-routing", "svc-deadlines"), ("agency-<code>",)),
)
KAFKA_PRINCIPALS = (
    "svc-intake",
    "svc-routing",
    "svc-deadlines",
    "integration-egov-portal",
    "integration-egov-mobile",
    f"agency-{AGENCY.lower()}",
    f"agency-{OTHER_AGENCY.lower()}",
    "anonymous",
)
KAFKA_WAIT = 20.0
MARKER = b"access-matrix"


def kafka_expectation(name: str) -> tuple[set[str], set[str]]:
    """(writers, readers) among KAFKA_PRINCIPALS of a topic, from KAFKA_TABLE."""
    twin = name.endswith(".dlq")
    base = name.removesuffix(".dlq")
    for pattern, writers, readers in KAFKA_TABLE:
        regex = re.escape(pattern).replace("<source>", "(?P<p>[a-z0-9-]+)")
        regex = regex.replace("<code>", "(?P<p>[a-z0-9-]+)")
        found = re.fullmatch(regex, base)
        if found is None:
            continue
        party = found.groupdict().get("p") or ""
        write, read = (
            {u.replace("<source>", party).replace("<code>", party) for u in users}
            for users in (writers, readers)
        )
        return (read, set()) if twin else (write, read)
    raise AssertionError(f"topic {name} has no row in KAFKA_TABLE")


def write_outcomes(config: dict[str, Any], names: list[str]) -> dict[str, str]:
    """allow/deny per topic: one record each, every delivery report within KAFKA_WAIT."""
    seen: dict[str, str] = {}

    def report(error: KafkaError | None, message: Message) -> None:
        seen[message.topic() or ""] = (
            "allow"
            if error is None
            else "deny"
            if error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
            else error.name()
        )

    producer = Producer(
        {**config, "enable.idempotence": False, "message.timeout.ms": int(KAFKA_WAIT * 1000)}
    )
    for name in names:
        producer.produce(name, b'{"access-matrix": true}', key=MARKER, partition=0,
                         on_delivery=report)  # fmt: skip
    assert producer.flush(KAFKA_WAIT + 5) == 0, "delivery reports did not come in time"
    return seen


def read_outcomes(config: dict[str, Any], names: list[str]) -> dict[str, str]:
    """allow (the marker record read) or deny (an authorisation error) per topic, without
    a consumer group (assigned partitions, nothing committed): only READ on the topic."""
    consumer = Consumer(
        {**config, "group.id": f"matrix-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
    )
    # Kafka hides a topic from a principal without DESCRIBE, which READ implies: a topic
    # missing from its metadata is refused already (a fetch would only go unanswered).
    visible = set(consumer.list_topics(timeout=KAFKA_WAIT).topics)
    seen: dict[str, str] = {n: "deny" for n in names if n not in visible}
    fetched = [n for n in names if n in visible]
    if fetched:
        consumer.assign([TopicPartition(n, 0, OFFSET_BEGINNING) for n in fetched])
    deadline = time.monotonic() + KAFKA_WAIT
    try:
        while len(seen) < len(names) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.topic() not in names or message.topic() in seen:
                continue
            error = message.error()
            if error is None and message.key() == MARKER:
                seen[message.topic()] = "allow"
            elif error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                seen[message.topic()] = "deny"
            elif error is not None:
                seen[message.topic()] = error.name()
    finally:
        consumer.close()
    return seen


def anonymous_refused(bootstrap: str) -> bool:
    """A client without credentials gets no metadata at all (refused at once, not hung)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        admin.list_topics(timeout=10)
    except KafkaException:
        return True
    return False


def test_the_kafka_access_matrix_holds(stack: Stack, tmp_path: Path) -> None:
    codes = [a.code for a in load_reference().agencies]
    sources = [i.source for i in load_integrations()]
    names = [spec.name for spec in topics.all_topic_specs(codes, sources)]
    physical = {stack.topic(name): name for name in names}
    # A marker on every topic (as admin), for the readers to find.
    assert write_outcomes(librdkafka(stack.access()), list(physical)) == dict.fromkeys(
        physical, "allow"
    )
    refused = anonymous_refused(stack.bootstrap)
    results: dict[str, dict[str, str]] = {name: {} for name in names}
    wrong: list[str] = []
    for user in KAFKA_PRINCIPALS:
        if user == "anonymous":
            writes = reads = dict.fromkeys(physical, "deny" if refused else "allow")
        else:
            config = librdkafka(stack.access(user))
            writes = write_outcomes(config, list(physical))
            reads = read_outcomes(config, list(physical))
        for topic, name in physical.items():
            writers, readers = kafka_expectation(name)
            cell = ""
            for letter, seen, allowed in (("R", reads, readers), ("W", writes, writers)):
                got = seen.get(topic, "silent")
                want = "allow" if user in allowed else "deny"
                cell += letter if got == "allow" else "-"
                if got != want:
                    cell += "!"
                    wrong.append(f"{name} {letter} by {user}: {got}, expected {want}")
            results[name][user] = cell
    width = max(len(n) for n in names)
    short = [u.removeprefix("integration-").removeprefix("agency-")[:14] for u in KAFKA_PRINCIPALS]
    lines = [" " * width + " | " + " | ".join(f"{u:^14}" for u in short)]
    lines += [
        f"{name:<{width}} | " + " | ".join(f"{row[u]:^14}" for u in KAFKA_PRINCIPALS)
        for name, row in results.items()
    ]
    matrix = "\n".join(lines)
    (tmp_path / "kafka-access-matrix.txt").write_text(matrix + "\n")
    print(f"\nKafka access matrix (R read, W write, - refused; ! not as expected)\n{matrix}")
    assert wrong == [], "\n".join(wrong)
