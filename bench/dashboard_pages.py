"""bench-dashboard: page load times with a year of data for the whole region.

Fills a fresh database with BENCH_APPEALS clocks (default 320,000) received across 2025 by
the agencies of the reference data, with realistic outcomes (most answered on time, some
late, some redirected, December's still open, some overdue) and their alerts, through the
same `clocks` table and triggers the service uses; then serves the deadlines service with
its dashboard over real HTTP and times, in the same run:
- one plain `SELECT count(*) FROM clocks` (the floor: a full scan of the table);
- the compliance page (every table) for 2025 against 2024, and for 2025Q4 against 2025Q3;
- the CSV export of the agency and locality tables;
- the alerts page and the backlog page.
Each figure is the median of BENCH_REPEAT requests after one warm-up request.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import uvicorn
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from appeals_law.calendar import ALMATY
from appeals_platform.auth import Role
from appeals_platform.kafka import client_options
from appeals_platform.migrations import migrate
from appeals_reference.loader import load_reference
from appeals_reference.models import ReferenceData
from appeals_tools.stack.kafka import admin_access, bootstrap_servers, settings_of
from appeals_tools.stack.layout import Layout, project_root
from appeals_tools.stack.postgres import as_role, database_url, prepare_database
from appeals_tools.tokens import ensure_keys, issue_token, signing_key
from deadlines.app import create_app
from deadlines.clocks import SettableClock
from deadlines.config import Settings

APPEALS = int(os.environ.get("BENCH_APPEALS", "320000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
KEEP = os.environ.get("BENCH_KEEP") == "1"  # keep the filled database to look at its plans
REUSE = os.environ.get("BENCH_DATABASE")  # measure a database a BENCH_KEEP run left
YEAR = 2025
NOW = datetime(YEAR + 1, 1, 15, 9, tzinfo=ALMATY)
BATCH = 20_000
TYPES: tuple[tuple[str, float], ...] = (
    ("statement", 0.62),
    ("complaint", 0.2),
    ("request", 0.1),
    ("proposal", 0.05),
    ("report", 0.02),
    ("feedback", 0.01),
)

COLUMNS = (
    "appeal_id",
    "hop",
    "registration_number",
    "appeal_type",
    "agency",
    "agency_level",
    "agency_parent",
    "category",
    "locality",
    "region",
    "policy",
    "received_at",
    "agency_received_at",
    "assigned_at",
    "received_day",
    "registered_on",
    "start_day",
    "term_days",
    "unit",
    "original_due_at",
    "due_at",
    "due_day",
    "redirect_due_at",
    "rule_version",
    "calendar_version",
    "state",
    "closed_at",
    "closed_day",
    "outcome",
    "working_days_late",
    "answer_working_days",
    "redirected_at",
    "redirected_day",
    "redirected_to",
    "redirect_partial",
    "redirect_late",
    "breached_at",
    "next_action",
    "next_action_at",
)
ALERT_COLUMNS = (
    "id",
    "appeal_id",
    "hop",
    "kind",
    "severity",
    "agency",
    "locality",
    "region",
    "raised_at",
    "data",
)


def say(message: str) -> None:
    print(message, flush=True)


def working_days_after(day: date, n: int) -> date:
    """Monday-to-Friday arithmetic: close enough to the real calendar for load figures."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def end_of(day: date) -> datetime:
    return datetime.combine(day, clock_time(23, 59, 59), tzinfo=ALMATY)


class Generator:
    """Clocks as the service would have stored them, with a sense of proportion: big cities
    and housing departments get most appeals, a few agencies are chronically late."""

    def __init__(self, reference: ReferenceData, seed: int = 2025) -> None:
        self.random = random.Random(seed)
        self.reference = reference
        self.plan: list[tuple[Any, str, str]] = []  # (agency, locality, category)
        weights: list[float] = []
        for agency in reference.agencies:
            if not agency.competences:
                continue
            places = [
                loc.code
                for loc in reference.localities
                if any(reference.is_within(loc.code, j) for j in agency.jurisdiction)
            ] or list(agency.jurisdiction)
            for category in agency.competences:
                for place in places[:12]:
                    self.plan.append((agency, place, category))
                    weight = 3.0 if "KARAGANDA" in place else 1.0
                    weights.append(weight * (4.0 if category.startswith("HOUSING") else 1.0))
        self.weights = weights
        self.lateness = {a.code: self.random.uniform(0.03, 0.35) for a in reference.agencies}

    def clocks(self, count: int) -> list[tuple[Any, ...]]:
        r = self.random
        start = datetime(YEAR, 1, 1, tzinfo=ALMATY)
        picks = r.choices(self.plan, weights=self.weights, k=count)
        types = r.choices([t for t, _ in TYPES], weights=[w for _, w in TYPES], k=count)
        rows = []
        for n, ((agency, locality, category), appeal_type) in enumerate(
            zip(picks, types, strict=True)
        ):
            received = start + timedelta(seconds=r.randrange(365 * 24 * 3600))
            received_day = received.astimezone(ALMATY).date()
            start_day = working_days_after(received_day, 1 if received.hour >= 18 else 0)
            term = 20 if appeal_type == "complaint" else 15
            due_day = working_days_after(start_day, term - 1)
            due_at = end_of(due_day)
            redirect_due = end_of(working_days_after(start_day, 2))
            state, closed_at, outcome, late_days, answer_days = "open", None, None, None, None
            redirected_at = redirected_to = redirect_late = None
            roll = r.random()
            if roll < 0.05:
                state = "redirected"
                redirected_at = received + timedelta(days=r.choice((1, 2, 3, 4, 6)))
                redirected_to = "KRG-AKIMAT"
                redirect_late = redirected_at > redirect_due
                closed_at = redirected_at
            elif due_at < NOW - timedelta(days=r.randrange(0, 3)) or roll < 0.6:
                if r.random() < 0.04 and due_at < NOW:
                    pass  # never answered: open and overdue
                else:
                    late = r.random() < self.lateness[agency.code]
                    answer_days = term + r.randrange(1, 25) if late else r.randrange(2, term + 1)
                    closed_day = working_days_after(start_day, answer_days - 1)
                    closed_at = datetime.combine(
                        closed_day, clock_time(r.randrange(9, 18), r.randrange(60)), ALMATY
                    )
                    if closed_at > NOW:
                        closed_at, answer_days = None, None
                    else:
                        state = "answered"
                        outcome = "late" if closed_at > due_at else "on_time"
                        late_days = max(0, answer_days - term)
            closed_local = closed_at.astimezone(ALMATY).date() if closed_at else None
            rows.append(
                (
                    uuid.UUID(int=r.getrandbits(128)),
                    1,
                    f"KRG-{YEAR % 100}-{n:07d}",
                    appeal_type,
                    agency.code,
                    agency.level,
                    agency.parent,
                    category,
                    locality,
                    self.reference.ancestors(locality)[-1].code
                    if self.reference.has_locality(locality)
                    else None,
                    "restart",
                    received,
                    received,
                    received + timedelta(minutes=2),
                    received_day,
                    received_day,
                    start_day,
                    term,
                    "working",
                    due_at,
                    due_at,
                    due_day,
                    redirect_due,
                    "kz-appk-eotinish-2021.1",
                    "bench",
                    state,
                    closed_at,
                    closed_local,
                    outcome,
                    late_days,
                    answer_days,
                    redirected_at,
                    redirected_at.astimezone(ALMATY).date() if redirected_at else None,
                    redirected_to,
                    False if redirected_at else None,
                    redirect_late,
                    due_at + timedelta(seconds=1) if due_at < (closed_at or NOW) else None,
                    "breach" if state == "open" and due_at >= NOW else None,
                    due_at if state == "open" and due_at >= NOW else None,
                )
            )
        return rows


def alerts_for(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """A warning for most clocks and a breach for every late one, as the ticker raised them."""
    index = {name: n for n, name in enumerate(COLUMNS)}
    result = []
    for row in rows:
        due_at: datetime = row[index["due_at"]]
        breached: datetime | None = row[index["breached_at"]]
        base = {
            "appeal_id": str(row[0]),
            "registration_number": row[2],
            "hop": 1,
            "agency": row[index["agency"]],
            "locality": row[index["locality"]],
            "region": row[index["region"]],
            "appeal_type": row[index["appeal_type"]],
            "due_at": due_at.isoformat(),
        }
        events = [("warning", "info", due_at - timedelta(days=3), 0)]
        if breached is not None:
            events.append(("breached", "violation", breached, 1))
        for kind, severity, raised, late in events:
            if raised > NOW:
                continue
            data = {**base, "kind": kind, "severity": severity, "raised_at": raised.isoformat()}
            data["working_days_late"] = late
            result.append(
                (
                    uuid.uuid5(row[0], kind),
                    row[0],
                    1,
                    kind,
                    severity,
                    base["agency"],
                    base["locality"],
                    base["region"],
                    raised,
                    orjson.dumps(data).decode(),
                )
            )
    return result


async def fill(dsn: str, count: int) -> None:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "deadlines"})
    try:
        generator = Generator(load_reference())
        done = 0
        started = time.perf_counter()
        while done < count:
            rows = generator.clocks(min(BATCH, count - done))
            await conn.copy_records_to_table("clocks", records=rows, columns=list(COLUMNS))
            await conn.copy_records_to_table(
                "alerts", records=alerts_for(rows), columns=list(ALERT_COLUMNS)
            )
            done += len(rows)
            say(f"  {done:,} clocks ({time.perf_counter() - started:.0f} s)")
        await conn.execute("VACUUM ANALYZE clocks")
        await conn.execute("VACUUM ANALYZE alerts")
        await conn.execute("VACUUM ANALYZE compliance_daily")
        await conn.execute("VACUUM ANALYZE compliance_answer_days")
        sizes = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM alerts) AS alerts,"
            " (SELECT count(*) FROM compliance_daily) AS daily,"
            " (SELECT count(*) FROM compliance_answer_days) AS answer_days,"
            " pg_size_pretty(pg_total_relation_size('clocks')) AS clocks_size"
        )
        say(
            f"  alerts {sizes['alerts']:,}; compliance_daily {sizes['daily']:,} rows; "
            f"compliance_answer_days {sizes['answer_days']:,} rows; clocks {sizes['clocks_size']}"
        )
    finally:
        await conn.close()


async def count_ms(dsn: str) -> float:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "deadlines"})
    try:
        await conn.fetchval("SELECT count(*) FROM clocks")  # warm the cache as for the pages
        times = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            await conn.fetchval("SELECT count(*) FROM clocks")
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)
    finally:
        await conn.close()


async def timed(client: httpx.AsyncClient, url: str) -> tuple[float, int, int]:
    """Median milliseconds, status and body size of GET url (after one warm-up request)."""
    await client.get(url)
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = await client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), response.status_code, len(response.content)


async def main() -> int:
    bootstrap = bootstrap_servers()
    name = REUSE or f"bench_dashboard_{os.getpid()}"
    admin_dsn = database_url()
    admin = await asyncpg.connect(admin_dsn)
    if not REUSE:
        await admin.execute(f'CREATE DATABASE "{name}"')
    # Migrated, filled and served as deadlines' own role, as in use.
    await prepare_database(admin_dsn, name)
    dsn = as_role(admin_dsn.rsplit("/", 1)[0] + "/" + name, "deadlines")
    kafka = AIOKafkaAdminClient(**client_options(admin_access(Layout(project_root()))))
    await kafka.start()
    suffix = uuid.uuid4().hex[:8]
    topic_names = {
        field: f"bench.dashboard.{field}.{suffix}"
        for field in (
            "assigned_topic",
            "redirected_topic",
            "answers_topic",
            "deadline_events_topic",
            "alerts_topic",
        )
    }
    await kafka.create_topics([NewTopic(t, 1, 1) for t in topic_names.values()])
    try:
        if not REUSE:
            conn = await asyncpg.connect(dsn)
            await migrate(conn, "deadlines", ["deadlines.migrations"])
            await conn.close()
            say(f"bench-dashboard: filling {APPEALS:,} clocks received in {YEAR} ...")
            await fill(dsn, APPEALS)
        with tempfile.TemporaryDirectory() as keys:
            return await measure(dsn, bootstrap, Path(keys), topic_names)
    finally:
        await kafka.delete_topics(list(topic_names.values()))
        await kafka.close()
        if KEEP or REUSE:
            say(f"kept database {name}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def measure(dsn: str, bootstrap: str, keys: Path, topic_names: dict[str, str]) -> int:
    ensure_keys(keys)
    token = issue_token(signing_key(keys), Role.MONITORING)
    settings = Settings(
        database_url=dsn,
        # As admin: the bench's topics are its own, with no ACLs for svc-deadlines.
        **settings_of(admin_access(Layout(project_root()), bootstrap)),
        jwt_jwks_file=keys / "jwks.json",
        consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
        consumer_offset_reset="latest",
        ticker_enabled=False,
        log_level="WARNING",
    ).model_copy(update=topic_names)
    clock = SettableClock(NOW)
    app = create_app(settings, clock)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.05)
    pages = [
        ("compliance 2025 vs 2024 (all tables)", "/dashboard/compliance?period=2025&compare=year"),
        (
            "compliance 2025Q4 vs 2025Q3 (all tables)",
            "/dashboard/compliance?period=2025Q4&compare=previous",
        ),
        ("CSV agencies 2025 vs 2024", "/dashboard/compliance/agency.csv?period=2025"),
        ("CSV localities 2025 vs 2024", "/dashboard/compliance/locality.csv?period=2025"),
        ("alerts page (latest 200)", "/dashboard/alerts"),
        ("alerts page, one agency", "/dashboard/alerts?agency=KRG-HEALTH"),
        ("backlog, every agency", "/dashboard/backlog"),
    ]
    try:
        baseline = await count_ms(dsn)
        say(f"\nSELECT count(*) FROM clocks ({APPEALS:,} rows): {baseline:8.1f} ms")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            # A session, as a browser gets one: the token goes once to the sign-in form.
            signed = await client.post("/dashboard/sign-in", data={"token": token})
            assert signed.status_code == 303, signed.text
            for label, url in pages:
                ms, status, size = await timed(client, url)
                say(
                    f"{label:<42} {ms:8.1f} ms  ({ms / baseline:4.1f}× count(*)), "
                    f"HTTP {status}, {size / 1024:.0f} KiB"
                )
                if status != 200:
                    return 1
        say(f"(median of {REPEAT} after a warm-up; data {YEAR}, 'now' {NOW.isoformat()})")
        return 0
    finally:
        server.should_exit = True
        await task
        sock.close()


if __name__ == "__main__":
    started = datetime.now(UTC)
    code = asyncio.run(main())
    say(f"bench-dashboard took {(datetime.now(UTC) - started).total_seconds():.0f} s")
    sys.exit(code)
