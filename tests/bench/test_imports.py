"""Every bench script still imports: a module moved elsewhere (the dashboard left deadlines)
broke `make bench-scale` without any test noticing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_the_bench_script_imports(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"bench_{script.removesuffix('.py')}"
    spec = importlib.util.spec_from_file_location(name, BENCH / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up
    monkeypatch.syspath_prepend(str(BENCH))
    spec.loader.exec_module(module)
    assert callable(getattr(module, "main", None))
