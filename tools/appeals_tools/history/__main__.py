"""`python -m appeals_tools.history` (`make history`): seed the running stack with a past."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, date, datetime, timedelta
from functools import cache

from appeals_law.calendar import ALMATY, WorkingCalendar
from appeals_law.rules import load_rules
from appeals_platform.auth import Role
from appeals_platform.backdating import DEMO_SUBJECT
from appeals_reference.loader import load_reference
from appeals_tools.history.feeder import FeedError, Urls, feed
from appeals_tools.history.plan import plan
from appeals_tools.stack.layout import Layout, project_root
from appeals_tools.stack.services import service_port
from appeals_tools.tokens import ensure_keys, issue_token, signing_key


def _day(text: str) -> date:
    return date.fromisoformat(text)


def default_since(today: date) -> date:
    """Two quarters back: the same day six months ago."""
    month = today.month - 6
    year = today.year + (month <= 0) * -1
    month = month + 12 if month <= 0 else month
    for day in (today.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    """Seed the running stack with a simulated past through its real services."""
    parser = argparse.ArgumentParser(prog="appeals_tools.history", description=main.__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--since", type=_day, default=None, help="first day (default: 6 months ago)"
    )
    parser.add_argument(
        "--until", type=_day, default=None, help="end day, exclusive (default: now)"
    )
    parser.add_argument("--count", type=int, default=2000, help="appeals over the period")
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--intake", default=f"http://127.0.0.1:{service_port('intake')}")
    parser.add_argument("--routing", default=f"http://127.0.0.1:{service_port('routing')}")
    parser.add_argument("--deadlines", default=f"http://127.0.0.1:{service_port('deadlines')}")
    args = parser.parse_args(argv)

    now = datetime.now(UTC)
    end = (
        datetime.combine(args.until, datetime.min.time(), ALMATY)
        if args.until
        else now - timedelta(minutes=1)
    )
    since = args.since or default_since(now.astimezone(ALMATY).date())
    start = datetime.combine(since, datetime.min.time(), ALMATY)
    print(
        f"history: planning {args.count} appeals from {start.date()} to {end.date()} "
        f"(seed {args.seed}) ...",
        flush=True,
    )
    the_plan = plan(
        args.seed, start, end, args.count, load_reference(), load_rules(), WorkingCalendar()
    )
    late = sum(a.fate == "late" for a in the_plan.appeals)
    chronic = sorted(p.agency for p in the_plan.profiles.values() if p.chronic)
    print(
        f"history: {len(the_plan.appeals)} appeals planned, {late} to be answered late; "
        f"chronically late: {', '.join(chronic)}",
        flush=True,
    )
    keys = Layout(project_root()).local / "keys"
    ensure_keys(keys)
    key = signing_key(keys)
    integration = issue_token(key, Role.INTEGRATION, source=DEMO_SUBJECT, subject=DEMO_SUBJECT)

    @cache
    def agency_token(code: str) -> str:
        return issue_token(key, Role.AGENCY, agency=code, subject=DEMO_SUBJECT)

    started = time.monotonic()
    try:
        tally = asyncio.run(
            feed(
                the_plan,
                Urls(args.intake, args.routing, args.deadlines),
                integration,
                agency_token,
                concurrency=args.concurrency,
                progress=lambda line: print(line, flush=True),
            )
        )
    except FeedError as exc:
        print(f"history: stopped: {exc}", file=sys.stderr, flush=True)
        if "backdating is off" in str(exc):
            print(
                "history: the stack runs without demo history: `make down`, then "
                "`make run DEMO=1` (it sets <PREFIX>_DEMO_HISTORY=true for the services)",
                file=sys.stderr,
                flush=True,
            )
        return 1
    print(
        f"history: done in {time.monotonic() - started:.0f} s: {tally.registered} registered, "
        f"{tally.existing} there already, {tally.triaged} left in triage, steps "
        f"{dict(tally.steps or {})}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
