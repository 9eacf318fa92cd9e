"""A test that hangs is shown and stopped (tests/watchdog.py), with teardown, not waited for."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.platform.child_run import ROOT, pytest_command

CHILD_TEST = """
import asyncio
from pathlib import Path
import pytest

@pytest.fixture
def resource():
    yield
    Path(r"{torn_down}").write_text("torn down")

def test_quick():
    pass

async def wait_for_what_never_comes():
    await asyncio.Event().wait()

@pytest.mark.asyncio
async def test_hangs(resource):
    await wait_for_what_never_comes()
"""


def test_a_hanging_test_has_its_stacks_printed_and_the_run_stopped(tmp_path: Path) -> None:
    torn_down = tmp_path / "torn_down"
    (tmp_path / "test_child.py").write_text(CHILD_TEST.format(torn_down=torn_down))
    run = subprocess.run(
        pytest_command(tmp_path / "test_child.py", "tests.interrupt", "tests.watchdog"),
        cwd=ROOT,
        env={**os.environ, "TEST_HANG_SECONDS": "2"},
        capture_output=True,
        timeout=120,  # without the watchdog the child would wait for ever
    )
    output = run.stdout.decode() + run.stderr.decode()
    assert run.returncode not in (0, 1), output  # stopped (interrupted), not passed or failed
    assert "test_child.py::test_hangs still runs after 2s" in output, output
    assert "test_child.py::test_quick still runs" not in output, output
    # Where the task waits, seen from inside its event loop:
    assert "in wait_for_what_never_comes" in output, output
    assert torn_down.read_text() == "torn down"
