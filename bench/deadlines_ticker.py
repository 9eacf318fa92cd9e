"""bench-deadlines: the ticker's claim cost and alert throughput, beside procrastinate.

(a) Claim time for the next 1,000 due clocks (the ticker's own `claim_due` statement:
    partial index on open clocks' next action time, FOR UPDATE SKIP LOCKED) with 10k and with
    1M open clocks; goal: ratio 1M/10k <= 1.5.
(b) 100k clocks falling due at once, drained by the ticker into alerts (alert rows, outbox
    rows, timers updated, one transaction per batch of 1,000): alerts/s, goal >= 5,000/s;
    beside procrastinate's throughput for jobs scheduled in the past, on the same PostgreSQL
    in the same run (its schema in a scratch database, a no-op task, worker concurrency 10);
    goal: >= 10x procrastinate.
(c) For information: the compliance report for a quarter over 300k clocks of history.

    .venv/bin/python bench/deadlines_ticker.py     (make bench-deadlines)

BENCH_BIG (1,000,000), BENCH_DUE (100,000), BENCH_JOBS (5,000), BENCH_HISTORY (300,000)
scale it down for a quick look.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from appeals_platform.migrations import migrate
from appeals_platform.pool import create_pool
from appeals_tools.stack.postgres import database_url
from deadlines import compliance, db
from deadlines.clocks import SettableClock
from deadlines.config import Settings
from deadlines.context import new_context
from deadlines.ticker import Ticker

SMALL = 10_000
BIG = int(os.environ.get("BENCH_BIG", "1000000"))
DUE_AT_ONCE = int(os.environ.get("BENCH_DUE", "100000"))
JOBS = int(os.environ.get("BENCH_JOBS", "5000"))
HISTORY = int(os.environ.get("BENCH_HISTORY", "300000"))
CLAIM = 1000
DUE_IN_FILL = 2000
NOW = datetime(2022, 6, 16, 9, 0, tzinfo=UTC)
SCHEMA = "deadlines"

AGENCIES = [
    ("KRG-ENERGY-HOUSING", "region_department", "KRG-AKIMAT"),
    ("KRG-KARAGANDA-AKIMAT", "city_akimat", "KRG-AKIMAT"),
    ("KRG-KARAGANDA-HOUSING-INSPECTION", "city_department", "KRG-KARAGANDA-AKIMAT"),
    ("KRG-D-BUKHAR-ZHYRAU-AKIMAT", "district_akimat", "KRG-AKIMAT"),
    ("KRG-TRANSPORT-ROADS", "region_department", "KRG-AKIMAT"),
    ("KRG-POLICE", "territorial_body", None),
    ("KRG-TEMIRTAU-AKIMAT", "city_akimat", "KRG-AKIMAT"),
]
LOCALITIES = ["KRG-KARAGANDA", "KRG-TEMIRTAU", "KRG-D-BUKHAR-ZHYRAU", "KRG-BALKHASH", "KRG-SARAN"]
CATEGORIES = ["HOUSING-HEATING", "HOUSING-WATER", "TRANSPORT-ROADS", "URBAN-LANDSCAPING"]


def say(message: str) -> None:
    print(message, flush=True)


# Synthetic clocks, generated in the database. Row g is due (its next action at or before NOW)
# when its scrambled position falls in the first `due` of `total`, so due rows are scattered
# over the heap like real ones. Every row is a statement whose breach is the next action.
FILL = """
INSERT INTO clocks (appeal_id, hop, registration_number, appeal_type, agency, agency_level,
                    agency_parent, category, locality, region, policy, received_at,
                    agency_received_at, assigned_at, received_day, registered_on, start_day,
                    term_days, unit, original_due_at, due_at, due_day, redirect_due_at,
                    rule_version, calendar_version, warned_offset, next_action, next_action_at)
SELECT gen_random_uuid(), 1, 'KRG-2022-' || lpad(g::text, 8, '0'), 'statement',
       ($5::text[])[1 + g % cardinality($5)], ($6::text[])[1 + g % cardinality($6)],
       ($7::text[])[1 + g % cardinality($7)], ($8::text[])[1 + g % 4], ($9::text[])[1 + g % 5],
       'KRG', 'restart', t.due - interval '21 days', t.due - interval '21 days',
       t.due - interval '21 days', (t.due - interval '21 days')::date,
       (t.due - interval '21 days')::date, (t.due - interval '21 days')::date, 15, 'working',
       t.due, t.due, t.due::date, t.due - interval '18 days', 'bench', 'bench', 1, 'breach',
       t.due + interval '1 second'
FROM generate_series($1::int, $2::int) AS g,
     LATERAL (SELECT CASE WHEN (g::bigint * 7919) % $3 < $4
                          THEN $10::timestamptz - interval '1 second' * (1 + g % 3600)
                          ELSE $10::timestamptz
                               + interval '1 second' * (60 + (g::bigint * 104729) % 2592000)
                     END - interval '1 second' AS due) AS t
"""


async def fill(conn: asyncpg.Connection, total: int, due: int, now: datetime) -> None:
    """`total` open clocks, `due` of them due at `now`, inserted 100k per statement."""
    names, levels, parents = (list(x) for x in zip(*AGENCIES, strict=True))
    step = 100_000
    for start in range(1, total + 1, step):
        end = min(total, start + step - 1)
        await conn.execute(
            FILL, start, end, total, due, names, levels, parents, CATEGORIES, LOCALITIES, now
        )
        if total >= 200_000:
            say(f"    inserted {end:,} / {total:,} clocks")
    await conn.execute("VACUUM ANALYZE clocks")


async def claim_ms(pools: list[asyncpg.Pool], now: datetime, runs: int = 60) -> list[list[float]]:
    """Claim times of the next 1,000 due clocks (rolled back each time) in each pool's schema,
    taken in turns so a busy moment of the machine weighs on every size alike."""
    timings: list[list[float]] = [[] for _ in pools]
    conns = [await pool.acquire() for pool in pools]
    try:
        for n in range(runs + 5):
            for conn, measured in zip(conns, timings, strict=True):
                tx = conn.transaction()
                await tx.start()
                started = time.perf_counter()
                rows = await db.claim_due(conn, now, CLAIM)
                elapsed = (time.perf_counter() - started) * 1000
                await tx.rollback()
                assert len(rows) == CLAIM, f"only {len(rows)} due"
                if n >= 5:  # warm-up
                    measured.append(elapsed)
    finally:
        for pool, conn in zip(pools, conns, strict=True):
            await pool.release(conn)
    return timings


def summary(timings: list[float]) -> tuple[float, float]:
    """(median, p95) in ms."""
    ordered = sorted(timings)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


async def drain(pool: asyncpg.Pool, settings: Settings, tickers: int, expected: int) -> float:
    """Alerts per second for `tickers` tickers draining everything due at NOW."""
    clock = SettableClock(NOW + timedelta(hours=1))
    ctx = new_context(settings)
    # The calendar builds each year's days off on first use (about a second): not timed.
    for year_start in ("2021-12-31", "2022-12-31"):
        ctx.law.calendar.is_working_day(datetime.fromisoformat(year_start).date())
    instances = [Ticker(pool, ctx, clock, batch_size=1000) for _ in range(tickers)]
    raised = 0
    started = time.perf_counter()

    async def run(ticker: Ticker) -> None:
        nonlocal raised
        while True:
            result = await ticker.tick()
            raised += result.alerts
            if result.clocks == 0:
                return
            if raised % 20_000 < result.alerts:
                say(f"    {raised:,} alerts raised")

    await asyncio.gather(*(run(t) for t in instances))
    elapsed = time.perf_counter() - started
    assert raised == expected, f"{raised} alerts for {expected} due clocks"
    return raised / elapsed


async def procrastinate_rate(dsn: str, jobs: int, concurrency: int) -> float:
    """Jobs per second of a procrastinate worker running jobs scheduled in the past."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(queue="bench", name="raise_alert")
    async def raise_alert(n: int) -> None:
        return None

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        past = datetime.now(UTC) - timedelta(minutes=1)
        deferrer = raise_alert.configure(schedule_at=past)
        for start in range(0, jobs, 1000):
            batch: list[dict[str, Any]] = [{"n": n} for n in range(start, min(jobs, start + 1000))]
            await deferrer.batch_defer_async(*batch)
        say(f"    procrastinate: {jobs:,} jobs scheduled; worker concurrency {concurrency} ...")
        started = time.perf_counter()
        await app.run_worker_async(
            queues=["bench"],
            concurrency=concurrency,
            wait=False,
            install_signal_handlers=False,
            listen_notify=False,
        )
        elapsed = time.perf_counter() - started
    return jobs / elapsed


HISTORY_FILL = """
INSERT INTO clocks (appeal_id, hop, registration_number, appeal_type, agency, agency_level,
                    agency_parent, category, locality, region, policy, received_at,
                    agency_received_at, assigned_at, received_day, registered_on, start_day,
                    term_days, unit, original_due_at, due_at, due_day, redirect_due_at,
                    rule_version, calendar_version, state, closed_at, closed_day, outcome,
                    answer_working_days, next_action, next_action_at)
SELECT gen_random_uuid(), 1, 'KRG-H-' || lpad(g::text, 8, '0'), 'statement',
       ($3::text[])[1 + g % cardinality($3)], ($4::text[])[1 + g % cardinality($4)],
       ($5::text[])[1 + g % cardinality($5)], ($6::text[])[1 + g % 4], ($7::text[])[1 + g % 5],
       'KRG', 'restart', r.at, r.at, r.at, r.at::date, r.at::date, r.at::date, 15, 'working',
       r.at + interval '21 days', r.at + interval '21 days', (r.at + interval '21 days')::date,
       r.at + interval '3 days', 'bench', 'bench',
       CASE WHEN g % 20 = 0 THEN 'open' ELSE 'answered' END,
       CASE WHEN g % 20 = 0 THEN NULL ELSE r.at + interval '1 day' * (1 + g % 27) END,
       CASE WHEN g % 20 = 0 THEN NULL ELSE (r.at + interval '1 day' * (1 + g % 27))::date END,
       CASE WHEN g % 20 = 0 THEN NULL WHEN 1 + g % 27 > 21 THEN 'late' ELSE 'on_time' END,
       CASE WHEN g % 20 = 0 THEN NULL ELSE 1 + (g % 27) * 5 / 7 END,
       CASE WHEN g % 20 = 0 THEN 'breach' END,
       CASE WHEN g % 20 = 0 THEN r.at + interval '21 days 1 second' END
FROM generate_series($1::int, $2::int) AS g,
     LATERAL (SELECT timestamptz '2021-01-01 04:00+00' + interval '1 minute' * (g % 1051200)
              AS at) AS r
"""


async def history_ms(pool: asyncpg.Pool, settings: Settings, total: int) -> dict[str, float]:
    names, levels, parents = (list(x) for x in zip(*AGENCIES, strict=True))
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE clocks, alerts, compliance_daily, compliance_answer_days")
        for start in range(1, total + 1, 100_000):
            end = min(total, start + 99_999)
            await conn.execute(
                HISTORY_FILL, start, end, names, levels, parents, CATEGORIES, LOCALITIES
            )
            say(f"    inserted {end:,} / {total:,} clocks of 2021-2022 history")
        await conn.execute("VACUUM ANALYZE")
        ctx = new_context(settings)
        result = {}
        for by in ("agency", "locality", "sector"):
            timings = []
            for _ in range(12):
                started = time.perf_counter()
                await compliance.report(
                    conn, compliance.parse_period("2022Q1"), by, NOW, ctx.reference, 10
                )
                timings.append((time.perf_counter() - started) * 1000)
            result[by] = statistics.median(timings[2:])
        return result


async def main() -> int:
    database = f"bench_deadlines_{uuid.uuid4().hex[:6]}"
    baseline_db = f"bench_procrastinate_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(database_url())
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.execute(f'CREATE DATABASE "{baseline_db}"')
    try:
        dsn = database_url(database)
        conn = await asyncpg.connect(dsn)
        # Three copies of the schema: the two claim sizes side by side, and one for the rest.
        for schema in (SCHEMA, "claim_small", "claim_big"):
            await migrate(conn, schema, ["deadlines.migrations"])
        await conn.close()
        settings = Settings(database_url=dsn)
        pool = await create_pool(dsn, SCHEMA, min_size=2, max_size=6)
        small_pool = await create_pool(dsn, "claim_small", min_size=1, max_size=1)
        big_pool = await create_pool(dsn, "claim_big", min_size=1, max_size=1)
        try:
            say(f"bench-deadlines: claim of the next {CLAIM:,} due clocks, median of 60 each")
            async with small_pool.acquire() as conn:
                say(f"  filling {SMALL:,} open clocks ({DUE_IN_FILL:,} due) ...")
                await fill(conn, SMALL, DUE_IN_FILL, NOW)
            async with big_pool.acquire() as conn:
                say(f"  filling {BIG:,} open clocks ({DUE_IN_FILL:,} due) ...")
                await fill(conn, BIG, DUE_IN_FILL, NOW)
            say("  claiming in turns from both ...")
            small_times, big_times = await claim_ms([small_pool, big_pool], NOW)
            small, small_p95 = summary(small_times)
            big, big_p95 = summary(big_times)
            say(f"  {SMALL:>9,} open clocks: {small:6.2f} ms (p95 {small_p95:.2f})")
            say(f"  {BIG:>9,} open clocks: {big:6.2f} ms (p95 {big_p95:.2f})")
            ratio = big / small
            verdict = "meets" if ratio <= 1.5 else "misses"
            say(f"(a) claim ratio {BIG:,}/{SMALL:,} = {ratio:.2f}: {verdict} the goal of <= 1.5")
            async with big_pool.acquire() as conn:
                await conn.execute("TRUNCATE clocks, compliance_daily, compliance_answer_days")

            rates = {}
            for tickers in (1, 2):
                async with pool.acquire() as conn:
                    await conn.execute(
                        "TRUNCATE clocks, alerts, outbox, compliance_daily, compliance_answer_days"
                    )
                    say(f"  filling {DUE_AT_ONCE:,} clocks due at the same moment ...")
                    await fill(conn, DUE_AT_ONCE, DUE_AT_ONCE, NOW)
                say(f"  draining with {tickers} ticker(s), batches of 1,000 ...")
                rates[tickers] = await drain(pool, settings, tickers, DUE_AT_ONCE)
                say(f"  {tickers} ticker(s): {rates[tickers]:,.0f} alerts/s")
            say(f"  procrastinate baseline in database {baseline_db} ...")
            baseline = await procrastinate_rate(database_url(baseline_db), JOBS, 10)
            say(f"  procrastinate: {baseline:,.0f} jobs/s")
            ours = rates[1]
            say(
                f"(b) ticker {ours:,.0f} alerts/s (2 tickers {rates[2]:,.0f}) vs procrastinate "
                f"{baseline:,.0f} jobs/s = {ours / baseline:.1f}x: "
                f"{'meets' if ours >= 5000 else 'misses'} >= 5,000/s, "
                f"{'meets' if ours >= 10 * baseline else 'misses'} >= 10x"
            )

            say(f"  compliance report over {HISTORY:,} clocks ...")
            timings = await history_ms(pool, settings, HISTORY)
            shown = ", ".join(f"by {k} {v:.1f} ms" for k, v in timings.items())
            say(f"(c) compliance 2022Q1 beside 2021Q4, median of 10: {shown}")
        finally:
            await pool.close()
            await small_pool.close()
            await big_pool.close()
        return 0
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'DROP DATABASE IF EXISTS "{baseline_db}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
