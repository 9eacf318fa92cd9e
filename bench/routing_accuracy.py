"""Routing accuracy on a labelled set: agency, triage, category, locality, by slice.

    .venv/bin/python bench/routing_accuracy.py [--threshold 0.5] [--sweep] [--errors]
        [--dev bench/data/appeals-holdout.jsonl --labels bench/data/appeals-holdout.labels.jsonl]

The default is the dev set in examples/; bench/data/ holds a holdout written apart from the training
corpus (see its README).

The dev set is for measuring only: do not tune names, keywords or thresholds on its texts.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appeals_reference import load_reference
from routing.decision import DEFAULT_THRESHOLD, Decision, decide_many

DATASETS = Path(__file__).resolve().parents[1] / "examples"


@dataclass(frozen=True)
class Case:
    submission: dict[str, Any]
    label: dict[str, Any]
    decision: Decision


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _rate(part: int, whole: int) -> str:
    return f"{part / whole:6.1%}" if whole else "     -"


def _row(name: str, cases: Sequence[Case]) -> str:
    n = len(cases)
    right = [c for c in cases if c.decision.agency == c.label["agency"]]
    kept = [c for c in cases if not c.decision.triage]
    kept_right = [c for c in kept if c.decision.agency == c.label["agency"]]
    category = sum(c.decision.category == c.label["category"] for c in cases)
    locality = sum(c.decision.locality == c.label["locality"] for c in cases)
    return (
        f"{name:<28}{n:>4}  {_rate(len(right), n)}  {_rate(n - len(kept), n)}  "
        f"{_rate(len(kept_right), len(kept))}  {_rate(category, n)}  {_rate(locality, n)}"
    )


SLICES: dict[str, Callable[[Case], bool]] = {
    "language ru": lambda c: c.submission["language"] == "ru",
    "language kk": lambda c: c.submission["language"] == "kk",
    "category given": lambda c: c.submission["category"] is not None,
    "category missing": lambda c: c.submission["category"] is None,
    "locality given": lambda c: c.submission["location"]["locality"] is not None,
    "locality missing": lambda c: c.submission["location"]["locality"] is None,
    "addressee given": lambda c: c.submission["addressee"] is not None,
    "область Ұлытау (gold)": lambda c: c.label["agency"] == "ULY-AKIMAT",
    "police (gold)": lambda c: c.label["agency"] == "KRG-POLICE",
    "no place (gold KRG)": lambda c: c.label["locality"] == "KRG",
    "anonymous": lambda c: c.submission["applicant"]["kind"] == "anonymous",
}


def evaluate(
    submissions: list[dict[str, Any]], labels: list[dict[str, Any]], threshold: float
) -> list[Case]:
    from routing.classifier import default_classifier

    by_id = {label["external_id"]: label for label in labels}
    decisions = decide_many(
        submissions, load_reference(), default_classifier(), threshold=threshold
    )
    return [
        Case(s, by_id[s["external_id"]], d) for s, d in zip(submissions, decisions, strict=True)
    ]


def report(cases: list[Case]) -> None:
    header = f"{'slice':<28}{'n':>4}  {'agency':>6}  {'triage':>6}  {'acc|kept':>6}  "
    print(header + f"{'categ.':>6}  {'local.':>6}")
    print(_row("all", cases))
    for name, member in SLICES.items():
        print(_row(name, [c for c in cases if member(c)]))
    methods: dict[str, int] = {}
    for c in cases:
        methods[c.decision.method] = methods.get(c.decision.method, 0) + 1
    print("methods:", ", ".join(f"{m} {n}" for m, n in sorted(methods.items())))


def sweep(cases: list[Case]) -> None:
    print("threshold  triage  acc|kept")
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        # the same rule as decide(): safety reports are never triaged
        kept = [
            c
            for c in cases
            if c.decision.agency is not None
            and (c.decision.method == "safety" or c.decision.confidence >= t)
        ]
        right = sum(c.decision.agency == c.label["agency"] for c in kept)
        print(f"{t:9.2f}  {_rate(len(cases) - len(kept), len(cases))}  {_rate(right, len(kept))}")


def errors(cases: list[Case]) -> None:
    for c in cases:
        d = c.decision
        if d.agency == c.label["agency"]:
            continue
        print(
            f"{c.label['external_id']}: {d.agency} ({d.method}, {d.confidence:.2f}, "
            f"triage={d.triage}) gold {c.label['agency']} | category {d.category} / "
            f"{c.label['category']} | locality {d.locality} ({d.explanation.locality_how}: "
            f"{d.explanation.locality_matched}) / {c.label['locality']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=DATASETS / "appeals-dev.jsonl")
    parser.add_argument("--labels", type=Path, default=DATASETS / "appeals-dev.labels.jsonl")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--sweep", action="store_true", help="triage/accuracy per threshold")
    parser.add_argument("--errors", action="store_true", help="list misrouted appeals")
    args = parser.parse_args()
    cases = evaluate(_read_jsonl(args.dev), _read_jsonl(args.labels), args.threshold)
    print(f"{args.dev.name}: threshold {args.threshold}")
    report(cases)
    if args.sweep:
        sweep(cases)
    if args.errors:
        errors(cases)


if __name__ == "__main__":
    main()
