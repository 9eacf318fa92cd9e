"""The bench scripts (bench/*.py) loaded as modules by the tests, sys.modules restored after."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(script: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    name = f"bench_{script.removesuffix('.py')}"
    spec = importlib.util.spec_from_file_location(name, BENCH / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up
    monkeypatch.syspath_prepend(str(BENCH))  # the scripts import their neighbours
    spec.loader.exec_module(module)
    return module
