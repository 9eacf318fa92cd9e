"""`python -m appeals_tools.chaos run|down`: the fault suite (`make chaos`) and its clean-up.

`run` starts the suite's own stack instance from empty folders, runs the cases one after
another and prints one row per fault; it stops the instance at the end (its logs stay under
`.local/chaos/`). `--short` is the version `make test` runs: a few hundred appeals and the
cheap faults. The exit status is 1 when a case that ran did not pass.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from appeals_tools.chaos.cases import CASES, Case, Settings, run_case
from appeals_tools.chaos.faults import freezer
from appeals_tools.chaos.instance import STATE, Instance, Ports, choose_ports, say
from appeals_tools.chaos.report import Row, explanations, save, table
from appeals_tools.stack.layout import project_root

FULL = Settings(
    appeals=10_000,
    rate=100.0,
    concurrency=16,
    freeze=30.0,
    broker_down=10.0,
    settle=240.0,
    outage=300.0,
    short=False,
)
SHORT = Settings(
    appeals=300,
    rate=100.0,
    concurrency=8,
    freeze=10.0,
    broker_down=3.0,
    settle=90.0,
    outage=0.0,
    short=True,
)


def previous(root: Path) -> Instance | None:
    """The instance a previous run left (its ports are in its state folder)."""
    try:
        ports = Ports(**json.loads((root / STATE / "instance.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return Instance(root, ports)


async def stop(instance: Instance) -> None:
    instance.enter()
    freezer(instance).resume()  # a frozen process would not stop
    await instance.down()


async def run(instance: Instance, cases: list[Case], settings: Settings) -> list[Row]:
    rows: list[Row] = []
    started = time.monotonic()
    try:
        await instance.fresh()
        await instance.up()
        for number, case in enumerate(cases):
            rows.append(await run_case(instance, case, settings, seed=1000 + number))
    finally:
        say("stopping the suite's stack instance ...")
        await stop(instance)
    say(f"the suite took {time.monotonic() - started:.0f}s")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appeals_tools.chaos", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run the fault cases and print the table")
    run_parser.add_argument("--short", action="store_true", help="the version inside make test")
    run_parser.add_argument(
        "--cases", default="", help=f"comma-separated, of: {', '.join(c.slug for c in CASES)}"
    )
    run_parser.add_argument("--appeals", type=int, default=None, help="appeals per case")
    run_parser.add_argument("--rate", type=float, default=None, help="appeals per second")
    run_parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    sub.add_parser("down", help="stop a suite instance left running (resumes frozen processes)")
    args = parser.parse_args(argv)
    root = project_root()
    old = previous(root)
    if args.command == "down":
        if old is not None:
            asyncio.run(stop(old))
        return 0
    if old is not None:
        asyncio.run(stop(old))
    settings = SHORT if args.short else FULL
    if args.appeals:
        settings = replace(settings, appeals=args.appeals)
    if args.rate:
        settings = replace(settings, rate=args.rate)
    chosen = set(filter(None, args.cases.split(",")))
    unknown = chosen - {c.slug for c in CASES}
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    cases = [c for c in CASES if (c.slug in chosen if chosen else (c.short or not settings.short))]
    # A relay leader can only be replaced by another process of the service.
    instance = Instance(root, choose_ports(root), intake_workers=1 if settings.short else 2)
    say(
        f"{len(cases)} cases, {settings.appeals:,} appeals each at {settings.rate:.0f}/s; "
        f"instance in {STATE}/ on ports {instance.ports.kafka}-{instance.ports.kafka + 11}"
    )
    rows = asyncio.run(run(instance, cases, settings))
    print("\n" + table(rows) + "\n")
    if notes := explanations(rows):
        print(notes + "\n")
    save(rows, instance.state / "report.json")
    if args.json:
        save(rows, args.json)
    return 0 if all(r.passed or not r.ran for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
