"""`intake serve`: run the intake service (the same as `python -m intake`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from appeals_platform.runtime import serve
from intake.config import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the HTTP API and the Kafka consumers")
    parser.parse_args(argv)
    serve("intake.app:create_app", Settings())
    return 0
