"""A pytest run of one test file of a test's own, as a child process (for the plugins that
act on a whole run: tests/interrupt.py, tests/watchdog.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the child's working folder: `tests` imports


def pytest_command(test_file: Path, *plugins: str) -> list[str]:
    """Only the plugins named, none of the project's configuration (no addopts), the file's
    folder as the run's root."""
    loaded = [arg for plugin in plugins for arg in ("-p", plugin)]
    return [
        sys.executable,
        "-m",
        "pytest",
        *loaded,
        "-p",
        "no:cacheprovider",
        "-q",
        "-c",
        os.devnull,
        "--rootdir",
        str(test_file.parent),
        str(test_file),
    ]
