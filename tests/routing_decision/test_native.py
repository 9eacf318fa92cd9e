"""Routing's compiled modules (`make install`): the place matcher behaves exactly like its
source, and a build of another source, or for another CPU, is not used."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import routing.locality
from appeals_reference import load_reference

PACKAGE = Path(routing.__file__).parent
SHARED = Path(__file__).resolve().parents[2] / "examples" / "appeals-dev.jsonl"
HOLDOUT = Path(__file__).resolve().parents[2] / "bench" / "data" / "appeals-holdout.jsonl"

compiled = pytest.mark.skipif(
    not routing.locality.__file__ or not routing.locality.__file__.endswith(".so"),
    reason="the place matcher is not compiled here (no C compiler, or a stale build)",
)


def _source_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("locality_source", PACKAGE / "locality.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@compiled
def test_compiled_matcher_finds_the_same_places_as_its_source() -> None:
    source = _source_module()
    ref = load_reference()
    rows = [
        json.loads(line) for path in (SHARED, HOLDOUT) for line in path.read_text().splitlines()
    ]
    assert len(rows) > 200
    for row in rows:
        location = row.get("location") or {}
        text = f"{row.get('subject') or ''}.\n{row.get('text') or ''}"
        args = (ref, location.get("locality"), location.get("address"), text)
        mine, theirs = routing.locality.resolve_locality(*args), source.resolve_locality(*args)
        assert (mine.code, mine.how, mine.matched, mine.note) == (
            theirs.code,
            theirs.how,
            theirs.matched,
            theirs.note,
        )
        assert [vars_of(m) for m in routing.locality.find_mentions(ref, text)] == [
            vars_of(m) for m in source.find_mentions(ref, text)
        ]


def vars_of(mention: object) -> tuple[object, ...]:
    fields = ("code", "start", "end", "matched", "qualified", "peripheral")
    return tuple(getattr(mention, f) for f in fields)


@pytest.mark.parametrize("stamp_matches", [True, False])
def test_a_build_of_another_source_is_not_used(tmp_path: Path, stamp_matches: bool) -> None:
    copy = tmp_path / "routing"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "training"))
    if not any(copy.glob("locality.*.so")) or not any(copy.glob("_margins.*.so")):
        pytest.skip("no compiled build to be stale")
    if not stamp_matches:
        (copy / "locality.native").write_text("0" * 64)
        # The right source on another CPU is another build too.
        source = (copy / "_margins.native").read_text().split()[0]
        (copy / "_margins.native").write_text(f"{source} 0123456789abcdef")
    probe = (
        "import routing.locality as m; from routing.classifier import _compiled_margins; "
        "print(m.__file__, _compiled_margins(37) is not None)"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert found[0].endswith(".so") is stamp_matches
    assert found[1] == str(stamp_matches)
