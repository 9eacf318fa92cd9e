"""`intake serve`: run the intake service (the same as `python -m intake`);
`intake migrate`: apply its missing schema migrations and exit (a deployment's migration job)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from appeals_platform.migrations import migrate_service, report
from appeals_platform.runtime import serve
from intake.config import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the HTTP API and the Kafka consumers")
    commands.add_parser("migrate", help="apply the missing schema migrations and exit")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        print(report(asyncio.run(migrate_service(Settings(), "intake.migrations"))), flush=True)
        return 0
    serve("intake.app:create_app", Settings())
    return 0
