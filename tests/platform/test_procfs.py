"""/proc read one way: what the benches say of the machine's CPU and what the chaos suite
signals rest on the same fields of /proc/<pid>/stat."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from appeals_tools import procfs
from appeals_tools.chaos import processes
from appeals_tools.stack import usage
from appeals_tools.stack.layout import Layout
from tests.named_thread import named_thread

BURN = """
import time
while time.process_time() < 0.3:
    pass
print("burned", flush=True)
time.sleep(60)
"""


@pytest.fixture
def burner() -> Iterator[subprocess.Popen[bytes]]:
    """A child that spends 0.3 s of CPU, says so, then sleeps."""
    child = subprocess.Popen([sys.executable, "-c", BURN], stdout=subprocess.PIPE)
    try:
        yield child
    finally:
        child.kill()
        child.wait()


def burned(child: subprocess.Popen[bytes]) -> float:
    """The child's CPU seconds once it has spent them all (it sleeps from then on)."""
    assert child.stdout is not None and child.stdout.readline() == b"burned\n"
    found = procfs.stat(child.pid)
    assert found is not None
    return found.cpu_seconds


def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_process_is_read_with_its_parent_state_and_cpu(
    burner: subprocess.Popen[bytes],
) -> None:
    assert burned(burner) >= 0.25  # in ticks of 10 ms, counted a little differently
    child = procfs.stat(burner.pid)
    assert child is not None and child.parent == os.getpid() and child.state in ("R", "S")
    assert child.name.startswith("python")
    mine = procfs.stat(os.getpid())
    assert mine is not None and mine.state == "R" and mine.parent == os.getppid()
    listed = {p.pid: p for p in procfs.processes()}
    assert listed[burner.pid].parent == os.getpid()


def test_a_thread_named_with_parentheses_and_spaces_is_read_right() -> None:
    # The fields after the name must still be found.
    with named_thread("C2 x) (y z", cpu_seconds=0.2) as tid:

        def worker() -> procfs.Stat:
            return {t.pid: t for t in procfs.threads(os.getpid())}[tid]

        # Once it waits for the block to end (it may still be running just after its CPU).
        until(lambda: worker().state == "S", "the thread did not go to sleep")
        found = worker()
        assert found.name == "C2 x) (y z" and found.parent == os.getppid()
        assert found.cpu_seconds > 0.1


def test_a_zombie_is_not_alive_and_a_reaped_process_is_gone() -> None:
    child = subprocess.Popen(["true"])
    until(lambda: getattr(procfs.stat(child.pid), "state", None) == "Z", "no zombie")
    assert not processes.alive(child.pid)
    child.wait()
    assert procfs.stat(child.pid) is None and not processes.alive(child.pid)
    assert list(procfs.threads(child.pid)) == []


def test_descendants_are_found_through_the_parents() -> None:
    shell = subprocess.Popen(["sh", "-c", "sleep 60 & wait"])
    try:
        # Its child is a copy of sh until it has become `sleep`.
        def sleepers() -> list[int]:
            return [
                pid
                for pid in processes.descendants(shell.pid)
                if getattr(procfs.stat(pid), "name", None) == "sleep"
            ]

        until(lambda: bool(sleepers()), "no sleep under the shell")
        (sleeper,) = sleepers()
        found = procfs.stat(sleeper)
        assert found is not None and found.parent == shell.pid
        assert shell.pid in processes.descendants(os.getpid())
    finally:
        for pid in processes.descendants(shell.pid):
            os.kill(pid, 9)
        shell.kill()
        shell.wait()


def test_cpu_is_counted_by_owner_since_a_reading(burner: subprocess.Popen[bytes]) -> None:
    def owner(process: procfs.Stat) -> str:
        return "child" if process.pid == burner.pid else "other"

    busy = procfs.machine_busy_seconds()
    before = procfs.spent(owner)
    child = procfs.stat(burner.pid)
    assert child is not None
    key = (child.pid, child.started)
    spent = burned(burner) - before.get(key, ("child", 0.0))[1]
    since = procfs.since(before, procfs.spent(owner))
    # Ticks: the two readings of the same counter agree to a tick or two.
    assert since["child"] == pytest.approx(spent, abs=0.03) and since["child"] > 0
    assert procfs.machine_busy_seconds() - busy >= since["child"] - 0.03
    # A process that ended is left out, not subtracted; the same pid started at another time
    # (a reused pid) counts from nothing.
    gone = (max(p.pid for p in procfs.processes()) + 1_000_000, 0)
    reused = (child.pid, child.started - 1)
    stale = {gone: ("child", 1e9), reused: ("child", 1e9)}
    total = procfs.stat(burner.pid)
    assert total is not None
    assert procfs.since(stale, procfs.spent(owner))["child"] == pytest.approx(
        total.cpu_seconds, abs=0.03
    )
    now = procfs.spent(owner)
    assert procfs.since(now, now)["child"] == 0.0
    # Threads too: a reading of some stats only (here, this process's threads).
    mine = procfs.spent(owner, procfs.threads(os.getpid()))
    assert {pid for pid, _ in mine} == {t.pid for t in procfs.threads(os.getpid())}
    assert procfs.spent(owner, []) == {}


def test_the_stack_owns_its_pid_files_postgres_children_and_brokers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = Layout(tmp_path, home=tmp_path / "state")
    layout.run.mkdir(parents=True)
    children = [subprocess.Popen(["sleep", "60"]) for _ in range(5)]
    try:
        intake, intake_2, broker, postmaster, provisioner = (c.pid for c in children)
        for name, pid in [
            ("intake", intake),
            ("intake-2", intake_2),
            ("kafka", broker),
            ("provisioner", provisioner),
        ]:
            layout.pid_file(name).write_text(str(pid))
        layout.pid_file("routing").write_text("999999999")  # stale: no such process
        named = usage.service_pids(layout)
        assert named == {intake: "intake", intake_2: "intake", provisioner: "provisioner"}
        monkeypatch.setattr(usage, "postmaster_pid", lambda _: postmaster)
        owner = usage.owner(layout, {**named, provisioner: "bench"})
        owners = {p.pid: owner(p) for p in procfs.processes()}
        assert owners[intake] == owners[intake_2] == "intake"
        assert owners[broker] == "kafka" and owners[postmaster] == "postgres"
        assert owners[provisioner] == "bench" and owners[os.getpid()] == "other"
        backend = procfs.Stat(
            pid=1, name="postgres", state="S", parent=postmaster, cpu_seconds=0, started=0
        )
        assert owner(backend) == "postgres"
    finally:
        for child in children:
            child.kill()
            child.wait()
