"""A test run stopped with SIGTERM still tears its fixtures down (tests/interrupt.py)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from appeals_tools.chaos.processes import alive
from tests.platform.child_run import ROOT, pytest_command

CHILD_TEST = """
import subprocess, time
from pathlib import Path
import pytest

@pytest.fixture
def service(tmp_path_factory):
    # Like the stack's services: a session of its own, so signals to the run do not reach it.
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    Path(r"{pid_file}").write_text(str(process.pid))
    try:
        yield process
    finally:
        process.kill()
        process.wait()

def test_waits(service):
    time.sleep(300)
"""


def test_a_run_stopped_with_sigterm_stops_what_its_fixtures_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "service.pid"
    (tmp_path / "test_child.py").write_text(CHILD_TEST.format(pid_file=pid_file))
    run = subprocess.Popen(
        pytest_command(tmp_path / "test_child.py", "tests.interrupt"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(600):  # a minute at most: the machine is shared
            if pid_file.exists() and pid_file.read_text():
                break
            time.sleep(0.1)
        service = int(pid_file.read_text())
        assert alive(service)
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    for _ in range(100):
        if not alive(service):
            break
        time.sleep(0.1)
    assert not alive(service), run.stdout.read().decode() if run.stdout else ""
