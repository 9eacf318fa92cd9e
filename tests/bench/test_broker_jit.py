"""bench-pipeline reads what the broker's JIT compiler took, to show its phases ran warm."""

from __future__ import annotations

import os
from types import ModuleType

import pytest

from tests.bench.scripts import load
from tests.conftest import Stack


@pytest.fixture
def pipeline_latency(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load("pipeline_latency.py", monkeypatch)


@pytest.mark.infra
def test_the_running_broker_has_spent_cpu_in_its_compiler_threads(
    pipeline_latency: ModuleType, stack: Stack
) -> None:
    seconds = pipeline_latency.compiler_seconds()
    # HotSpot compiles from its first seconds: the broker's start-up alone takes some.
    assert seconds is not None and seconds > 0


def test_only_compiler_threads_count_and_no_broker_is_none(
    pipeline_latency: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This Python process has threads, none of them C1 or C2.
    monkeypatch.setattr(pipeline_latency, "read_pid", lambda _: os.getpid())
    assert pipeline_latency.compiler_seconds() == 0.0
    monkeypatch.setattr(pipeline_latency, "read_pid", lambda _: None)
    assert pipeline_latency.compiler_seconds() is None
    run = pipeline_latency.Run("50%", 400.0, 20.0, 8000, [], {})
    assert pipeline_latency.compiler_share(run) == "broker JIT not measured"
    run.compiler = 5.0
    assert pipeline_latency.compiler_share(run) == "broker JIT 25% of a core"
