"""`deadlines`: calendar overrides, compliance reports, a rebuild from Kafka, one ticker pass.

    deadlines calendar add 2025-01-03 day_off --decree "ПП РК от … № …"
    deadlines calendar list [--year 2025]
    deadlines calendar remove 2025-01-03
    deadlines compliance --period 2022Q1 --by agency [--format table|csv|json]
    deadlines rebuild
    deadlines tick
    deadlines digests send [--day 2025-01-03]     (today's, or a day's, not sent yet; now)
    deadlines digests preview EMAIL [--html]      (what EMAIL would get; nothing is sent)
    deadlines digests list [--day 2025-01-03]     (what went out; no addresses)
    deadlines risk train                          (a breach-risk model from the history now)
    deadlines risk score                          (score the open clocks, raise at-risk warnings)
    deadlines migrate

Settings come from the DEADLINES_* environment variables, like the service's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date

import asyncpg

from appeals_law.calendar import CalendarOverride
from appeals_platform import kafka
from appeals_platform.migrations import migrate, migrate_service, report
from appeals_platform.pool import connect, create_pool
from deadlines import compliance, db, overrides
from deadlines.clocks import SystemClock
from deadlines.config import Settings
from deadlines.context import Context, new_context, refresh_calendar
from deadlines.digests import db as digest_db
from deadlines.digests import recipients as digest_recipients
from deadlines.digests import sender as digest_sender
from deadlines.inputs import TopicNames
from deadlines.law import local_day
from deadlines.rebuild import rebuild
from deadlines.risk.model import NotEnoughHistory
from deadlines.risk.scoring import Scorer
from deadlines.ticker import Ticker


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deadlines", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    calendar = commands.add_parser("calendar", help="Government decree overrides of the calendar")
    actions = calendar.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add or replace a day off or a working day")
    add.add_argument("day", type=date.fromisoformat, help="YYYY-MM-DD")
    add.add_argument("kind", choices=("day_off", "working_day"))
    add.add_argument("--decree", required=True, help="the decree, e.g. 'ПП РК от … № …'")
    add.add_argument("--by", default="cli", help="who makes the change (recorded)")
    listing = actions.add_parser("list", help="the overrides, oldest first")
    listing.add_argument("--year", type=int)
    remove = actions.add_parser("remove", help="drop a day's override")
    remove.add_argument("day", type=date.fromisoformat, help="YYYY-MM-DD")

    report = commands.add_parser("compliance", help="answered on time and late, overdue, ...")
    report.add_argument("--period", required=True, help="2022-03, 2022Q1 or 2022")
    report.add_argument("--by", default="agency", choices=compliance.DIMENSIONS)
    report.add_argument("--format", default="table", choices=("table", "csv", "json"))
    report.add_argument("--min-sample", type=int)

    commands.add_parser("rebuild", help="rebuild clocks and alerts from the Kafka topics")
    commands.add_parser("tick", help="raise every alert due now, once, and exit")

    digest = commands.add_parser("digests", help="daily digests by email")
    digest_actions = digest.add_subparsers(dest="action", required=True)
    send = digest_actions.add_parser("send", help="send the day's digests not sent yet, now")
    send.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD (default: today)")
    preview = digest_actions.add_parser("preview", help="print a recipient's digest, send nothing")
    preview.add_argument("email", help="an address of the recipients file")
    preview.add_argument("--html", action="store_true", help="the HTML part, not the text")
    sent = digest_actions.add_parser("list", help="the digests of a day and their state")
    sent.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD (default: today)")

    risk = commands.add_parser("risk", help="breach risk (predicted)")
    risk_actions = risk.add_subparsers(dest="action", required=True)
    risk_actions.add_parser("train", help="train a model on the clocks' history now")
    risk_actions.add_parser("score", help="score the open clocks with the newest model")

    commands.add_parser("migrate", help="apply the missing schema migrations and exit")
    return parser


async def _connect(settings: Settings) -> asyncpg.Connection:
    conn = await connect(
        settings.database_url, settings.db_schema, password=settings.database_password()
    )
    await migrate(conn, settings.db_schema, ["deadlines.migrations"])
    return conn


async def _context(conn: asyncpg.Connection, settings: Settings) -> Context:
    ctx = new_context(settings)
    await refresh_calendar(conn, ctx.law, force=True)
    return ctx


async def _calendar(args: argparse.Namespace, conn: asyncpg.Connection, settings: Settings) -> int:
    if args.action == "list":
        rows = await db.list_overrides(conn, args.year)
        for r in rows:
            print(f"{r['day'].isoformat()} {r['day']:%a}  {r['kind']:<11}  {r['decree']}")
        if not rows:
            print("no overrides")
        return 0
    ctx = await _context(conn, settings)
    async with conn.transaction():
        if args.action == "add":
            override = CalendarOverride(day=args.day, kind=args.kind, decree=args.decree)
            created, moved, law = await overrides.add_override(conn, ctx, override, args.by)
            verb = "added" if created else "replaced"
        else:
            existed, moved, law = await overrides.remove_override(conn, ctx, args.day)
            if not existed:
                print(f"no override for {args.day.isoformat()}", file=sys.stderr)
                return 1
            verb = "removed"
    print(
        f"{verb} {args.day.isoformat()}; calendar {law.calendar.version}; "
        f"open clocks moved: {moved}"
    )
    return 0


async def _compliance(
    args: argparse.Namespace, conn: asyncpg.Connection, settings: Settings
) -> int:
    ctx = new_context(settings)
    try:
        period = compliance.parse_period(args.period)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    result = await compliance.report(
        conn,
        period,
        args.by,
        SystemClock().now(),
        ctx.reference,
        args.min_sample or settings.min_sample,
    )
    if args.format == "csv":
        sys.stdout.write(compliance.as_csv(result))
    elif args.format == "json":
        print(json.dumps(compliance.as_json(result), ensure_ascii=False, indent=2))
    else:
        print(compliance.as_table(result))
    return 0


async def _rebuild(conn: asyncpg.Connection, settings: Settings) -> int:
    ctx = await _context(conn, settings)
    names = TopicNames.from_settings(settings)
    print(f"rebuilding from {', '.join(names.history)} (earliest offsets) ...", flush=True)
    async with conn.transaction():
        result = await rebuild(
            conn,
            ctx,
            kafka.client_options(settings),
            names,
            progress=lambda line: print(f"  {line}", flush=True),
            topic_prefix=settings.topic_prefix,
        )
    print(
        f"rebuilt: {result.records:,} records, {result.applied:,} events applied, "
        f"{result.skipped:,} skipped; {result.clocks:,} clocks, {result.alerts:,} alerts"
    )
    return 0


@asynccontextmanager
async def _service_pool(settings: Settings) -> AsyncIterator[tuple[asyncpg.Pool, Context]]:
    """A small pool on the migrated schema, and the context with the calendar in force."""
    pool = await create_pool(
        settings.database_url,
        settings.db_schema,
        min_size=1,
        max_size=2,
        password=settings.database_password(),
    )
    try:
        async with pool.acquire() as conn:
            await migrate(conn, settings.db_schema, ["deadlines.migrations"])
            ctx = await _context(conn, settings)
        yield pool, ctx
    finally:
        await pool.close()


async def _tick(settings: Settings) -> int:
    async with _service_pool(settings) as (pool, ctx):
        result = await Ticker(
            pool, ctx, SystemClock(), batch_size=settings.ticker_batch_size
        ).drain()
    print(f"{result.clocks:,} clocks due, {result.alerts:,} alerts raised (to the outbox)")
    return 0


async def _digests(args: argparse.Namespace, settings: Settings) -> int:
    async with _service_pool(settings) as (pool, ctx):
        recipients = digest_recipients.load(settings.digest_recipients_file, ctx.reference)
        if not recipients and args.action != "list":
            print("no recipients: set DEADLINES_DIGEST_RECIPIENTS_FILE", file=sys.stderr)
            return 2
        clock = SystemClock()
        day = getattr(args, "day", None) or local_day(clock.now())
        sender = digest_sender.create(pool, ctx, clock, settings, recipients)
        if args.action == "send":
            print(f"{await sender.send_day(day)} digests sent for {day.isoformat()}")
            return 0
        async with pool.acquire() as conn:
            if args.action == "preview":
                chosen = [r for r in recipients if r.email.lower() == args.email.lower()]
                if not chosen:
                    print("that address is not in the recipients file", file=sys.stderr)
                    return 2
                letter = await sender.compose(conn, chosen[0], day)
                print(f"Subject: {letter.subject}\n")
                print(letter.html if args.html else letter.text)
                return 0
            rows = await digest_db.sent_on(conn, day)
    for r in rows:
        when = r["sent_at"].isoformat() if r["sent_at"] else "-"
        print(f"{r['scope']:<32} {r['language']}  {r['state']:<7} x{r['attempts']}  {when}")
    if not rows:
        print(f"no digests for {day.isoformat()}")
    return 0


async def _risk(args: argparse.Namespace, settings: Settings) -> int:
    from deadlines.app import risk_settings  # the service's wiring, not needed elsewhere

    async with _service_pool(settings) as (pool, ctx):
        scorer = Scorer(pool, ctx, SystemClock(), risk_settings(settings))
        if args.action == "train":
            try:
                trained = await scorer.train()
            except NotEnoughHistory as why:
                print(f"not trained: {why}", file=sys.stderr)
                return 1
            assert trained is not None  # forced: never skipped
            print(
                f"model {trained.model_id}: {trained.rows:,} training rows, "
                f"{trained.positives:,} late or breached"
            )
            return 0
        scored = await scorer.score()
    if scored.model_id is None:
        print("no model yet: run `deadlines risk train` first", file=sys.stderr)
        return 1
    print(
        f"model {scored.model_id}: {scored.clocks:,} open clocks scored, "
        f"{scored.warnings:,} at-risk warnings raised (to the outbox)"
    )
    return 0


async def run(argv: Sequence[str] | None, settings: Settings | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = settings or Settings()
    if args.command == "tick":
        return await _tick(settings)
    if args.command == "digests":
        return await _digests(args, settings)
    if args.command == "risk":
        return await _risk(args, settings)
    if args.command == "migrate":
        print(report(await migrate_service(settings, "deadlines.migrations")), flush=True)
        return 0
    conn = await _connect(settings)
    try:
        if args.command == "calendar":
            return await _calendar(args, conn, settings)
        if args.command == "compliance":
            return await _compliance(args, conn, settings)
        return await _rebuild(conn, settings)
    finally:
        await conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(argv))


if __name__ == "__main__":
    sys.exit(main())
