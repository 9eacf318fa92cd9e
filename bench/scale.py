"""bench-scale: the deadlines analytics at 10 million appeals over five years, same run baselines.

1. Fill: a throwaway database on the stack's PostgreSQL, migrated as the deadlines service
   migrates its own, gets BENCH_SCALE_APPEALS clocks (default 10,000,000) received over the
   five years before NOW, written by `INSERT ... SELECT FROM generate_series` in chunks (no
   Python per row), through the same table and compliance triggers the service uses.
   Distributions: localities by their population, categories by the dev set's labels
   (examples/, every category at least once), the agency the reference rule gives for that
   category at that place, appeal types as the dev set has them, each agency its own share
   of late answers, 5 % redirected (some late), a few never answered; volume grows over the
   years.
2. Measure, through the real deadlines service over HTTP (a monitoring session), the median of
   BENCH_REPEAT after a warm-up, each beside `SELECT count(*) FROM clocks` of the same run:
   the compliance report by agency for a quarter (API), the dashboard's compliance page
   (every table), the CSV exports, the backlog pages, and the monthly trends (24 months of
   on-time share and late answers, region-wide and per agency, from the daily aggregates).
3. Rebuild: BENCH_SCALE_REBUILD appeals' events (an assignment each, most answered) on topics
   of the bench's own; `deadlines rebuild` replays them (a) into an empty database: a new
   replica brought to the current state, and (b) in place over that state; events/s, and
   the time 10 million appeals' history would take at that rate.
Goal (issue 17): every read under 1 s at 10 million appeals. BENCH_SCALE_APPEALS=200000 for
a quick check; BENCH_KEEP=1 keeps the database to look at its plans.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from appeals_contracts import event_types
from appeals_contracts.envelope import event_id
from appeals_contracts.events import AnswerGiven, AppealAssigned
from appeals_law.calendar import ALMATY
from appeals_platform import outbox
from appeals_platform.auth import Role
from appeals_platform.kafka import client_options
from appeals_reference import NoCompetentAgencyError, competent_agency
from appeals_reference.loader import load_reference
from appeals_reference.models import ReferenceData
from appeals_tools.stack.kafka import admin_access, admin_options, bootstrap_servers, settings_of
from appeals_tools.stack.layout import Layout, project_root
from appeals_tools.stack.postgres import database_url, prepare_database
from appeals_tools.tokens import ensure_keys, issue_token, signing_key
from deadlines import cli
from deadlines.app import create_app
from deadlines.clocks import SettableClock
from deadlines.config import Settings

APPEALS = int(os.environ.get("BENCH_SCALE_APPEALS", "10000000"))
REBUILD = int(os.environ.get("BENCH_SCALE_REBUILD", "50000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
REUSE = os.environ.get("BENCH_SCALE_DATABASE")  # measure again what a BENCH_KEEP=1 run left
CHUNK = int(os.environ.get("BENCH_SCALE_CHUNK", "250000"))
GOAL_MS = 1000.0
NOW = datetime(2026, 12, 1, 10, tzinfo=ALMATY)
YEARS = 5
SLOTS = 10_000  # the plan's weights, as slots a uniform random number picks from
DEV_SET = project_root() / "examples"
TOPIC_FIELDS = (
    "assigned_topic",
    "redirected_topic",
    "answers_topic",
    "deadline_events_topic",
    "alerts_topic",
)

# Inhabitants (thousands, rounded) of the places the reference data names; a place not listed
# weighs by its type. A region code alone is an appeal whose place was not found more finely.
POPULATION = {
    "KRG-KARAGANDA": 200,
    "KRG-KARAGANDA-KAZYBEK-BI": 170,
    "KRG-KARAGANDA-BOKEIKHAN": 130,
    "KRG-TEMIRTAU": 170,
    "ULY-ZHEZKAZGAN": 90,
    "ULY-SATPAYEV": 70,
    "KRG-BALKHASH": 65,
    "KRG-SHAKHTINSK": 55,
    "KRG-SARAN": 45,
    "KRG-PRIOZERSK": 10,
    "ULY-KARAZHAL": 15,
    "KRG": 40,
    "ULY": 10,
}
BY_TYPE = {"city": 30, "town": 8, "district": 12, "village": 3, "city_district": 100, "region": 20}

COLUMNS = """appeal_id, hop, registration_number, appeal_type, agency, agency_level,
agency_parent, category, locality, region, policy, received_at, agency_received_at, assigned_at,
received_day, registered_on, start_day, term_days, unit, original_due_at, due_at, due_day,
redirect_due_at, rule_version, calendar_version, state, closed_at, closed_day, outcome,
working_days_late, answer_working_days, redirected_at, redirected_day, redirected_to,
redirect_partial, redirect_late, breached_at, next_action, next_action_at"""

HELPERS = """
CREATE SCHEMA bench;
CREATE TABLE bench.plan (
    slot int PRIMARY KEY, agency text, agency_level text, agency_parent text,
    category text, locality text, region text, late_share float8);
CREATE TABLE bench.types (slot int PRIMARY KEY, appeal_type text, term int);
"""


def working_day(start: str, dow: str, n: str) -> str:
    """SQL for day `n` after `start` (a Monday-to-Friday day whose ISO weekday is `dow`) in
    Monday-to-Friday arithmetic: close enough to the KZ calendar for load figures, and plain
    expressions (a SQL function per row made the fill ten times slower)."""
    return (
        f"({start} + (({n}) / 5) * 7 + ({n}) % 5"
        f" + CASE WHEN {dow} + ({n}) % 5 > 5 THEN 2 ELSE 0 END)"
    )


# One chunk of clocks: $1 first number, $2 last, $3 the first moment, $4 the span in seconds,
# $5 now. sqrt() of a uniform number: the volume grows over the years. A term starts on the
# day of receipt, or the Monday after it. Each step is MATERIALIZED: inlined, every use of a
# column repeated the expressions it is made of (a hundred times slower). Appeal ids grow with
# n (random after the first half), so the primary key is appended to, not written all over.
FILL = f"""
INSERT INTO clocks ({COLUMNS})
WITH drawn AS (
    SELECT n, $3::timestamptz + sqrt(random()) * $4 * interval '1 second' AS received_at,
           floor(random() * {SLOTS})::int AS slot, floor(random() * 100)::int AS tslot,
           random() AS roll, random() AS roll2, random() AS roll3
    FROM generate_series($1::bigint, $2::bigint) AS n
), dated AS MATERIALIZED (
    SELECT d.*, p.*, t.appeal_type, t.term,
           (d.received_at AT TIME ZONE 'Asia/Almaty')::date AS received_day
    FROM drawn d JOIN bench.plan p USING (slot) JOIN bench.types t ON t.slot = d.tslot
), started AS MATERIALIZED (
    SELECT x.*, received_day + CASE extract(isodow FROM received_day)::int
                                   WHEN 6 THEN 2 WHEN 7 THEN 1 ELSE 0 END AS start_day
    FROM dated x
), termed AS MATERIALIZED (
    SELECT y.*, {working_day("start_day", "dow", "term - 1")} AS due_day,
           ({working_day("start_day", "dow", "2")} + time '23:59:59')
             AT TIME ZONE 'Asia/Almaty' AS redirect_due_at,
           CASE WHEN roll2 < late_share THEN term + 1 + floor(roll3 * 24)::int
                ELSE 2 + floor(roll3 * (term - 1))::int END AS answer_days
    FROM (SELECT s.*, extract(isodow FROM start_day)::int AS dow FROM started s) y
), judged AS MATERIALIZED (
    SELECT z.*, (due_day + time '23:59:59') AT TIME ZONE 'Asia/Almaty' AS due_at,
           CASE WHEN roll < 0.05
                THEN received_at + (1 + floor(roll3 * 6)::int) * interval '1 day' END
             AS redirected_at,
           CASE WHEN roll >= 0.053
                THEN ({working_day("start_day", "dow", "answer_days - 1")} + time '09:00'
                      + roll2 * interval '9 hours') AT TIME ZONE 'Asia/Almaty' END
             AS answered_at
    FROM termed z
), closed AS MATERIALIZED (
    SELECT c.*,
           CASE WHEN redirected_at IS NOT NULL AND redirected_at <= $5 THEN redirected_at
                WHEN answered_at <= $5 THEN answered_at END AS closed_at
    FROM judged c
)
SELECT (lpad(to_hex(n), 16, '0') || left(md5(n::text), 16))::uuid, 1,
       'KRG-' || extract(year FROM received_at)::int || '-' || lpad(n::text, 8, '0'),
       appeal_type, agency, agency_level, agency_parent, category, locality, region, 'restart',
       received_at, received_at, received_at + interval '2 minutes', received_day,
       received_day, start_day, term, 'working', due_at, due_at, due_day, redirect_due_at,
       'kz-appk-eotinish-2021.1', 'bench',
       CASE WHEN closed_at IS NULL THEN 'open'
            WHEN redirected_at IS NOT NULL THEN 'redirected' ELSE 'answered' END,
       closed_at, (closed_at AT TIME ZONE 'Asia/Almaty')::date,
       CASE WHEN closed_at IS NOT NULL AND redirected_at IS NULL
            THEN CASE WHEN closed_at > due_at THEN 'late' ELSE 'on_time' END END,
       CASE WHEN closed_at IS NOT NULL AND redirected_at IS NULL
            THEN greatest(0, answer_days - term) END,
       CASE WHEN closed_at IS NOT NULL AND redirected_at IS NULL THEN answer_days END,
       CASE WHEN closed_at IS NOT NULL THEN redirected_at END,
       CASE WHEN closed_at IS NOT NULL
            THEN (redirected_at AT TIME ZONE 'Asia/Almaty')::date END,
       CASE WHEN closed_at IS NOT NULL AND redirected_at IS NOT NULL THEN 'KRG-AKIMAT' END,
       CASE WHEN closed_at IS NOT NULL AND redirected_at IS NOT NULL THEN false END,
       CASE WHEN closed_at IS NOT NULL AND redirected_at IS NOT NULL
            THEN redirected_at > redirect_due_at END,
       CASE WHEN due_at < coalesce(closed_at, $5) THEN due_at + interval '1 second' END,
       CASE WHEN closed_at IS NULL AND due_at >= $5 THEN 'breach' END,
       CASE WHEN closed_at IS NULL AND due_at >= $5 THEN due_at END
FROM closed
"""

FOLD = """
INSERT INTO compliance_changes
SELECT 1, received_day, state, closed_at, closed_day, outcome, answer_working_days,
       redirected_day, redirect_late, due_at, due_day, agency, agency_level, region, locality,
       category
FROM clocks
"""

# What a month-by-month trend reads: on-time share and late answers per month over the last
# 24 months, region-wide and per agency, and the open overdue at each month's end (the
# running sum of the daily aggregates), in one statement per dimension.
TRENDS = """
WITH months AS (
    SELECT date_trunc('month', day)::date AS month, key,
           sum(answered_on_time) AS on_time, sum(answered_late) AS late,
           sum(overdue_started - overdue_ended) AS overdue_change
    FROM compliance_daily
    WHERE dimension = $1 AND day < $2
    GROUP BY 1, 2
)
SELECT month, key, on_time, late,
       sum(overdue_change) OVER (PARTITION BY key ORDER BY month) AS open_overdue
FROM months
ORDER BY key, month DESC
"""


def say(message: str) -> None:
    print(message, flush=True)


@contextlib.asynccontextmanager
async def ticking(label: str, every: float = 15.0) -> AsyncIterator[None]:
    """Say that `label` still runs every `every` seconds: one statement (the fold, a VACUUM)
    can take minutes at 10 million rows, and gives no progress of its own to show."""
    started = time.perf_counter()

    async def tick() -> None:
        while True:
            await asyncio.sleep(every)
            say(f"  {label}: {time.perf_counter() - started:.0f} s so far ...")

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)


def dev_counts() -> tuple[Counter[str], Counter[str]]:
    """Categories (labels) and appeal types (submissions) of the dev set."""
    labels = [
        json.loads(x) for x in (DEV_SET / "appeals-dev.labels.jsonl").read_text().split("\n") if x
    ]
    appeals = [json.loads(x) for x in (DEV_SET / "appeals-dev.jsonl").read_text().split("\n") if x]
    return Counter(x["category"] for x in labels), Counter(x["type"] for x in appeals)


def slots(weights: list[float], total: int) -> list[int]:
    """Whole slots per weight, adding up to `total` (largest remainders)."""
    exact = [w * total / sum(weights) for w in weights]
    whole = [int(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda n: whole[n] - exact[n])
    for n in order[: total - sum(whole)]:
        whole[n] += 1
    return whole


def plan(
    ref: ReferenceData, seed: int = 2026
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The slots of (agency, category, place) and of appeal types."""
    rng = random.Random(seed)
    categories, types = dev_counts()
    lateness = {a.code: rng.uniform(0.03, 0.3) for a in ref.agencies}
    combos: list[tuple[Any, ...]] = []
    weights: list[float] = []
    for loc in ref.localities:
        people = POPULATION.get(loc.code, BY_TYPE.get(loc.type, 5))
        region = ref.ancestors(loc.code)[-1].code
        for cat in ref.categories:
            try:
                agency = competent_agency(ref, cat.code, loc.code)
            except (NoCompetentAgencyError, KeyError):
                continue
            combos.append(
                (
                    agency.code,
                    agency.level,
                    agency.parent,
                    cat.code,
                    loc.code,
                    region,
                    lateness[agency.code],
                )
            )
            weights.append(people * (categories[cat.code] + 1))
    plan_rows: list[tuple[Any, ...]] = []
    for combo, count in zip(combos, slots(weights, SLOTS), strict=True):
        plan_rows += [(len(plan_rows) + n, *combo) for n in range(count)]
    type_rows: list[tuple[Any, ...]] = []
    names = sorted(types)
    for name, count in zip(names, slots([types[t] for t in names], 100), strict=True):
        term = 20 if name == "complaint" else 15
        type_rows += [(len(type_rows) + n, name, term) for n in range(count)]
    return plan_rows, type_rows


async def fill(admin_dsn: str, count: int, ref: ReferenceData) -> None:
    """Clocks in chunks of CHUNK rows, each one statement (triggers and all), with progress."""
    conn = await asyncpg.connect(admin_dsn, server_settings={"search_path": "deadlines"})
    try:
        await conn.execute(HELPERS)
        plan_rows, type_rows = plan(ref)
        await conn.copy_records_to_table("plan", schema_name="bench", records=plan_rows)
        await conn.copy_records_to_table("types", schema_name="bench", records=type_rows)
        say(
            f"  plan: {len({r[1] for r in plan_rows})} agencies, "
            f"{len({r[5] for r in plan_rows})} places, {len({r[4] for r in plan_rows})} categories"
        )
        # The compliance triggers are off while filling: each chunk's fold would upsert most of
        # the aggregates' rows again. The rows are folded once at the end by the same
        # function the triggers use (migration 0007), so the aggregates are what the
        # service would have kept.
        await conn.execute("ALTER TABLE clocks DISABLE TRIGGER USER")
        first = NOW - timedelta(days=365 * YEARS)
        span = (NOW - first).total_seconds()
        started = time.perf_counter()
        done = 0
        while done < count:
            last = min(count, done + CHUNK)
            await conn.execute(FILL, done + 1, last, first, span, NOW)
            done = last
            elapsed = time.perf_counter() - started
            say(
                f"  {done:,}/{count:,} clocks ({elapsed:.0f} s, {done / elapsed:,.0f}/s; "
                f"about {(count - done) * elapsed / done:.0f} s to go)"
            )
        await conn.execute("ALTER TABLE clocks ENABLE TRIGGER USER")
        folding = time.perf_counter()
        await conn.execute("SET work_mem = '256MB'")
        say("  folding the compliance aggregates (one statement each: time only) ...")
        async with conn.transaction():
            async with ticking("collecting the clocks' changes"):
                await conn.execute(FOLD)
            async with ticking("folding them into the aggregates"):
                await conn.execute("SELECT compliance_flush()")
        say(f"  compliance aggregates folded in {time.perf_counter() - folding:.0f} s")
        for table in ("clocks", "compliance_daily", "compliance_answer_days"):
            async with ticking(f"VACUUM ANALYZE {table}"):
                await conn.execute(f"VACUUM ANALYZE {table}")
        sizes = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM compliance_daily) AS daily,"
            " (SELECT count(*) FROM clocks WHERE state = 'open') AS open,"
            " (SELECT count(*) FROM clocks WHERE state = 'open' AND due_at < $1) AS overdue,"
            " pg_size_pretty(pg_total_relation_size('clocks')) AS size",
            NOW,
        )
        say(
            f"  filled in {time.perf_counter() - started:.0f} s: clocks {sizes['size']} with "
            f"indexes; {sizes['open']:,} open, {sizes['overdue']:,} of them overdue; "
            f"compliance_daily {sizes['daily']:,} rows"
        )
    finally:
        await conn.close()


async def median_ms(run: Any) -> float:
    await run()  # warm-up
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class Table:
    def __init__(self, baseline: float) -> None:
        self.baseline = baseline
        self.worst = 0.0

    def row(self, label: str, ms: float, note: str = "") -> None:
        self.worst = max(self.worst, ms)
        say(
            f"{label:<46} {ms:8.1f} ms  (count(*) {self.baseline:7.1f} ms: "
            f"{ms / self.baseline:5.2f}×) {note}"
        )


async def measure(dsn: str, topics: dict[str, str], keys: Path, busiest: str) -> tuple[float, int]:
    """The reads through the service over HTTP; returns the slowest median (ms) and the
    number of clocks."""
    ensure_keys(keys)
    token = issue_token(signing_key(keys), Role.MONITORING)
    settings = Settings(
        database_url=dsn,
        **settings_of(admin_access(Layout(project_root()), bootstrap_servers())),
        jwt_jwks_file=keys / "jwks.json",
        consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
        consumer_offset_reset="latest",
        ticker_enabled=False,
        # The breach-risk trainer would fit its model on the whole history in a thread of
        # this process, during the reads and the rebuild measured after them.
        risk_enabled=False,
        log_level="WARNING",
    ).model_copy(update=topics)
    clock = SettableClock(NOW)
    app = create_app(settings, clock)  # with the dashboard: create_app mounts installed pages
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.05)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "deadlines"})
    try:
        baseline = await median_ms(lambda: conn.fetchval("SELECT count(*) FROM clocks"))
        table = Table(baseline)
        rows = int(await conn.fetchval("SELECT count(*) FROM clocks"))
        say(
            f"\nSELECT count(*) FROM clocks ({rows:,} rows): {baseline:.1f} ms "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
        )
        quarter = "2026Q3"
        pages = [
            (
                "compliance by agency, 2026Q3 (API, JSON)",
                f"/v1/compliance?by=agency&period={quarter}",
            ),
            (
                "compliance by locality, 2026 (API, CSV)",
                "/v1/compliance.csv?by=locality&period=2026",
            ),
            (
                "dashboard compliance 2026Q3 (all tables)",
                f"/dashboard/compliance?period={quarter}&compare=previous",
            ),
            ("dashboard compliance 2026 vs 2025", "/dashboard/compliance?period=2026&compare=year"),
            (
                "dashboard CSV agencies, 2026Q3",
                f"/dashboard/compliance/agency.csv?period={quarter}",
            ),
            ("dashboard CSV localities, 2026", "/dashboard/compliance/locality.csv?period=2026"),
            ("backlog page, every agency (overdue first)", "/dashboard/backlog"),
            (f"backlog page, {busiest}", f"/dashboard/backlog?agency={busiest}"),
        ]
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}",
            timeout=300,
        ) as client:
            signed = await client.post("/dashboard/sign-in", data={"token": token})
            assert signed.status_code == 303, signed.text
            for label, url in pages:
                last: list[httpx.Response] = []

                async def get(url: str = url, last: list[httpx.Response] = last) -> None:
                    last[:] = [await client.get(url, headers=headers)]

                ms = await median_ms(get)
                response = last[0]
                if response.status_code != 200:
                    raise SystemExit(f"{url}: HTTP {response.status_code} {response.text[:300]}")
                table.row(label, ms, f"{len(response.content) / 1024:.0f} KiB")
        cutoff = NOW.date().replace(day=1)
        for dimension in ("all", "agency", "locality"):

            async def trends(dimension: str = dimension) -> None:
                await conn.fetch(TRENDS, dimension, cutoff)

            table.row(f"monthly trends, {dimension} (SQL, 60 months)", await median_ms(trends))
        say(f"(median of {REPEAT} after a warm-up; 'now' {NOW.isoformat()})")
        return table.worst, rows
    finally:
        await conn.close()
        server.should_exit = True
        await task
        sock.close()


# ------------------------------------------------------------------ rebuild


def history(count: int, ref: ReferenceData) -> list[tuple[str, bytes, bytes]]:
    """(topic field, key, CloudEvent) for `count` appeals: an assignment each, 90 % answered."""
    rng = random.Random(7)
    plan_rows, type_rows = plan(ref)
    events: list[tuple[str, bytes, bytes]] = []
    answers: list[tuple[datetime, str, bytes, bytes]] = []
    start = NOW - timedelta(days=120)
    for n in range(count):
        _, agency, level, parent, category, locality, _, _ = rng.choice(plan_rows)
        appeal_type = rng.choice(type_rows)[1]
        received = start + timedelta(seconds=rng.randrange(110 * 24 * 3600))
        appeal_id = str(uuid.UUID(int=rng.getrandbits(128)))
        number = f"KRG-2026-{n:08d}"
        assigned = AppealAssigned(
            appeal_id=appeal_id,
            registration_number=number,
            hop=1,
            agency=agency,
            agency_level=level,
            agency_parent=parent,
            category=category,
            locality=locality,
            method="rule",
            confidence=0.9,
            assigned_at=received + timedelta(minutes=1),
            received_at=received,
            appeal_type=appeal_type,
        )
        message = outbox.event(
            "assigned",
            appeal_id,
            type=event_types.APPEAL_ASSIGNED,
            source="/appeals/routing",
            subject=appeal_id,
            data=assigned,
            id=event_id(appeal_id, "assigned", 1),
            time=assigned.assigned_at,
        )
        events.append(("assigned_topic", appeal_id.encode(), message.payload))
        if rng.random() < 0.9:
            answered = received + timedelta(days=rng.uniform(1, 30))
            if answered < NOW:
                answer = AnswerGiven(
                    appeal_id=appeal_id,
                    registration_number=number,
                    agency=agency,
                    outcome="explained",
                    text="Разъяснено.",
                    signed_at=answered,
                    answered_at=answered,
                )
                payload = outbox.event(
                    "answers",
                    appeal_id,
                    type=event_types.ANSWER_GIVEN,
                    source="/appeals/agency",
                    subject=appeal_id,
                    data=answer,
                    id=event_id(appeal_id, "answered", 1),
                    time=answered,
                ).payload
                answers.append((answered, "answers_topic", appeal_id.encode(), payload))
    events += [(field, key, value) for _, field, key, value in sorted(answers)]
    return events


async def produce(topics: dict[str, str], events: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(**admin_options(), linger_ms=5, max_batch_size=512 * 1024)
    await producer.start()
    try:
        for start in range(0, len(events), 5000):
            sends = [
                await producer.send(topics[field], value=value, key=key)
                for field, key, value in events[start : start + 5000]
            ]
            await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def rebuild_rates(admin_dsn: str, base: str, ref: ReferenceData, prefix: str) -> None:
    """Events/s of `deadlines rebuild` into an empty database, then in place."""
    say(f"\nrebuild: {REBUILD:,} appeals' events on topics {prefix}* ...")
    # The service's own topic names, under the bench's prefix.
    names = {f: str(Settings.model_fields[f].default) for f in TOPIC_FIELDS}
    admin = AIOKafkaAdminClient(**admin_options())
    await admin.start()
    await admin.create_topics([NewTopic(prefix + t, 6, 1) for t in names.values()])
    database = f"{base}_replica"
    db_admin = await asyncpg.connect(admin_dsn)
    try:
        events = history(REBUILD, ref)
        await produce({f: prefix + t for f, t in names.items()}, events)
        await db_admin.execute(f'CREATE DATABASE "{database}"')
        await prepare_database(admin_dsn, database)
        dsn = database_url(database, role="deadlines")
        settings = Settings(
            database_url=dsn,
            **settings_of(admin_access(Layout(project_root()), bootstrap_servers())),
            topic_prefix=prefix,
            log_level="WARNING",
        ).model_copy(update=names)
        for label in ("an empty replica to the current state", "in place, over that state"):
            started = time.perf_counter()
            code = await cli.run(["rebuild"], settings)
            seconds = time.perf_counter() - started
            if code != 0:
                raise SystemExit(f"deadlines rebuild exited with {code}")
            rate = len(events) / seconds
            per_appeal = len(events) / REBUILD
            say(
                f"rebuild, {label}: {len(events):,} events in {seconds:.1f} s = "
                f"{rate:,.0f} events/s; 10,000,000 appeals (~{per_appeal:.1f} events each) "
                f"would take {10_000_000 * per_appeal / rate / 3600:.1f} h"
            )
    finally:
        await admin.delete_topics([prefix + t for t in names.values()])
        await admin.close()
        await db_admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await db_admin.close()


async def main() -> int:
    ref = load_reference()
    started = time.perf_counter()
    base = REUSE or f"bench_scale_{os.getpid()}"
    admin_dsn = database_url()
    admin = await asyncpg.connect(admin_dsn)
    if not REUSE:
        await admin.execute(f'CREATE DATABASE "{base}"')
    prefix = f"bench.scale.{uuid.uuid4().hex[:8]}."
    kafka = AIOKafkaAdminClient(**client_options(admin_access(Layout(project_root()))))
    await kafka.start()
    topics = {field: f"{prefix}{field}" for field in TOPIC_FIELDS}
    await kafka.create_topics([NewTopic(t, 1, 1) for t in topics.values()])
    try:
        dsn = database_url(base, role="deadlines")
        if not REUSE:
            await prepare_database(admin_dsn, base)
            settings = Settings(database_url=dsn, log_level="WARNING")
            conn = await cli._connect(settings)  # migrated as the service migrates itself
            await conn.close()
            say(
                f"bench-scale: {APPEALS:,} appeals and clocks over {YEARS} years before "
                f"{NOW.date()} into {base} ..."
            )
            await fill(database_url(base), APPEALS, ref)
        check = await asyncpg.connect(dsn, server_settings={"search_path": "deadlines"})
        busiest = await check.fetchval(
            "SELECT agency FROM clocks WHERE state = 'open' GROUP BY agency "
            "ORDER BY count(*) DESC LIMIT 1"
        )
        await check.close()
        with tempfile.TemporaryDirectory() as keys:
            worst, rows = await measure(dsn, topics, Path(keys), busiest)
        if REBUILD:
            await rebuild_rates(admin_dsn, base, ref, prefix + "rebuild.")
        say(f"bench-scale took {time.perf_counter() - started:.0f} s")
        say(
            f"{'met' if worst < GOAL_MS else 'missed'}: the slowest read took {worst:.0f} ms "
            f"at {rows:,} appeals (goal < {GOAL_MS:.0f} ms each)"
        )
        return 0
    finally:
        await kafka.delete_topics(list(topics.values()))
        await kafka.close()
        if KEEP or REUSE:
            say(f"kept database {base}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{base}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
