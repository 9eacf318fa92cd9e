"""A pytest plugin (loaded by `addopts`): a run stopped with SIGTERM tears down as Ctrl-C does.

Python's default for SIGTERM ends the process at once, so no fixture's teardown ran: the
service processes, brokers and PostgreSQL servers the tests start in sessions of their own
(so a test's Ctrl-C does not reach them first) kept running after a CI timeout or a
developer's `kill`, and took the cores of whatever ran next. Seen on 7 Dec 2026: six replica
processes of a killed `make test` ran under an hour of benchmarks.
"""

from __future__ import annotations

import signal
from types import FrameType

import pytest


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    signal.signal(signal.SIGTERM, _interrupt)
