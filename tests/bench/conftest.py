"""bench-pipeline's script, loaded as a module for the tests of its helpers."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.bench.scripts import load


@pytest.fixture
def pipeline_latency(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load("pipeline_latency.py", monkeypatch)
