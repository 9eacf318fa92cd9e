"""Every bench script still imports: a module moved elsewhere (the dashboard left deadlines)
broke `make bench-scale` without any test noticing."""

from __future__ import annotations

import pytest

from tests.bench.scripts import BENCH, load


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_the_bench_script_imports(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert callable(getattr(load(script, monkeypatch), "main", None))
