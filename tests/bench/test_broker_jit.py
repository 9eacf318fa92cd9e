"""bench-pipeline reads what the broker's JIT compiler took, to show its phases ran warm."""

from __future__ import annotations

import os
from types import ModuleType

import pytest

from tests.conftest import Stack
from tests.named_thread import named_thread


@pytest.mark.infra
def test_the_running_broker_has_spent_cpu_in_its_compiler_threads(
    pipeline_latency: ModuleType, stack: Stack
) -> None:
    threads = pipeline_latency.compiler_threads()
    # HotSpot compiles from its first seconds: the broker's start-up alone takes some.
    assert threads is not None
    total = sum(seconds for _, seconds in threads.values())
    assert total > 0 and {owner for owner, _ in threads.values()} == {"compiler"}
    assert pipeline_latency.compiled_since({}) == pytest.approx(total, abs=1)


def test_compiler_threads_are_found_by_name_and_counted_from_their_own_reading(
    pipeline_latency: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline_latency, "read_pid", lambda _: os.getpid())
    assert pipeline_latency.compiler_threads() == {}  # no thread of pytest is named C1 or C2
    with named_thread("C2 test", cpu_seconds=0.3) as tid:
        threads = pipeline_latency.compiler_threads()
        [(found, started)] = threads
        seconds = threads[found, started][1]
        assert found == tid and seconds > 0
        assert pipeline_latency.compiled_since({}) > 0  # a thread new since the reading
        # A reading of another thread of that id (since ended): this one counts from nothing,
        # never less.
        earlier = {(tid, started - 1): ("compiler", seconds + 100)}
        assert pipeline_latency.compiled_since(earlier) == pytest.approx(seconds, abs=0.03)
    monkeypatch.setattr(pipeline_latency, "read_pid", lambda _: None)
    assert pipeline_latency.compiler_threads() is None
    assert pipeline_latency.compiled_since({}) is None


def test_the_share_of_a_core_is_printed_or_said_missing(pipeline_latency: ModuleType) -> None:
    run = pipeline_latency.Run("50%", 400.0, 20.0, 8000, [], {})
    assert pipeline_latency.compiler_share(run) == "broker JIT not measured"
    run.compiler = 0.25
    assert pipeline_latency.compiler_share(run) == "broker JIT 25% of a core"


def test_the_cores_are_printed_by_owner_most_first(pipeline_latency: ModuleType) -> None:
    run = pipeline_latency.Run("50%", 400.0, 20.0, 8000, [], {})
    assert pipeline_latency.machine_share(run) == "cores not measured"
    run.busy, run.cores = 0.004, {"intake": 0.001}
    cores = os.cpu_count() or 1
    assert pipeline_latency.machine_share(run) == f"cores busy 0.00 of {cores}"
    run.busy, run.cores = 1.84, {"routing": 0.3, "intake": 0.66, "other": 0.004, "kafka": 0.17}
    assert pipeline_latency.machine_share(run) == (
        f"cores busy 1.84 of {cores} (intake 0.66, routing 0.30, kafka 0.17)"
    )
