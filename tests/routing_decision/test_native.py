"""Routing's compiled modules (`make install`), loaded through `routing.native`: the place
matcher behaves exactly like its source, the decision uses the build, and a build of another
source, or for another CPU, is not used."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import routing
from appeals_reference import load_reference
from routing import native

PACKAGE = Path(routing.__file__).parent
SHARED = Path(__file__).resolve().parents[2] / "examples" / "appeals-dev.jsonl"
HOLDOUT = Path(__file__).resolve().parents[2] / "bench" / "data" / "appeals-holdout.jsonl"

compiled = pytest.mark.skipif(
    native.compiled("locality") is None,
    reason="the place matcher is not compiled here (no C compiler, or a stale build)",
)


@compiled
def test_compiled_matcher_finds_the_same_places_as_its_source() -> None:
    build = native.load("locality")
    source = importlib.import_module("routing.locality")
    assert build.__file__ is not None and build.__file__.endswith(".so")
    assert source.__file__ is not None and source.__file__.endswith("locality.py")
    ref = load_reference()
    rows = [
        json.loads(line) for path in (SHARED, HOLDOUT) for line in path.read_text().splitlines()
    ]
    assert len(rows) > 200
    for row in rows:
        location = row.get("location") or {}
        text = f"{row.get('subject') or ''}.\n{row.get('text') or ''}"
        args = (ref, location.get("locality"), location.get("address"), text)
        mine, theirs = build.resolve_locality(*args), source.resolve_locality(*args)
        assert (mine.code, mine.how, mine.matched, mine.note) == (
            theirs.code,
            theirs.how,
            theirs.matched,
            theirs.note,
        )
        assert [vars_of(m) for m in build.find_mentions(ref, text)] == [
            vars_of(m) for m in source.find_mentions(ref, text)
        ]


def vars_of(mention: object) -> tuple[object, ...]:
    fields = ("code", "start", "end", "matched", "qualified", "peripheral")
    return tuple(getattr(mention, f) for f in fields)


@pytest.mark.parametrize("stamp_matches", [True, False])
def test_the_decision_uses_a_build_only_when_it_was_made_from_this_source_on_this_cpu(
    tmp_path: Path, stamp_matches: bool
) -> None:
    copy = tmp_path / "routing"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "training"))
    if native.compiled("locality") is None or native.compiled("margins") is None:
        pytest.skip("no compiled build to be stale")
    if not stamp_matches:
        (copy / "_compiled_locality.native").write_text("0" * 64)
        # The right source on another CPU is another build too.
        source = (copy / "_margins.native").read_text().split()[0]
        (copy / "_margins.native").write_text(f"{source} 0123456789abcdef")
    probe = (
        "import sys, routing.decision as d; from routing.classifier import _compiled_margins; "
        "print(d.resolve_locality.__module__, _compiled_margins(37) is not None, "
        "'routing._compiled_locality' in sys.modules)"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    built = "routing._compiled_locality"
    assert found == (
        [built, "True", "True"] if stamp_matches else ["routing.locality", "False", "False"]
    )


def test_a_plain_import_of_the_place_matcher_is_always_its_source() -> None:
    # Nothing is swapped in sys.modules: the build is a module of its own name.
    module = importlib.import_module("routing.locality")
    assert module.__file__ is not None and module.__file__.endswith("locality.py")
