"""The routing goal on appeals written apart from the training corpus (bench/data/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appeals_reference import load_reference
from routing.classifier import default_classifier
from routing.decision import decide_many

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"


def _read(name: str) -> list[dict[str, Any]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


@pytest.mark.parametrize("name", ["appeals-holdout", "appeals-blind"])
def test_held_out_appeals_meet_the_routing_goal(name: str) -> None:
    """>= 90 % right agency among the appeals not triaged, with <= 10 % triaged."""
    appeals, labels = _read(f"{name}.jsonl"), _read(f"{name}.labels.jsonl")
    assert len(appeals) == len(labels) >= 100
    decisions = decide_many(appeals, load_reference(), default_classifier())
    kept = [(d, label) for d, label in zip(decisions, labels, strict=True) if not d.triage]
    right = sum(d.agency == label["agency"] for d, label in kept)
    assert 1 - len(kept) / len(appeals) <= 0.10
    assert right / len(kept) >= 0.90
