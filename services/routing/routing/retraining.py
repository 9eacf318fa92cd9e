"""Retraining the category classifier with the examples operators and agencies labelled.

Accuracy before and after is measured on a hold-out set: every fifth text (by a hash of
the text, so the split is the same on every run and a text never lands on both sides) of
the packaged corpus and of the labelled examples. "Before" is trained on the packaged
training part only, "after" on that plus the examples' training part. The model that is
saved is then trained on everything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from routing.classifier import CategoryClassifier, LabelledText

HOLD_OUT_ONE_IN = 5


def held_out(example: LabelledText) -> bool:
    digest = hashlib.sha256(example.text.encode("utf-8")).digest()
    return digest[0] % HOLD_OUT_ONE_IN == 0


def _split(examples: Sequence[LabelledText]) -> tuple[list[LabelledText], list[LabelledText]]:
    train = [e for e in examples if not held_out(e)]
    test = [e for e in examples if held_out(e)]
    return train, test


@dataclass(frozen=True)
class Retrained:
    corpus: int
    examples: int
    hold_out: int
    hold_out_examples: int
    accuracy_before: float
    accuracy_after: float
    examples_accuracy_before: float | None
    examples_accuracy_after: float | None
    version: str
    path: Path

    def lines(self) -> list[str]:
        def pct(value: float | None) -> str:
            return "n/a (no labelled example in the hold-out)" if value is None else f"{value:.3f}"

        return [
            f"training data: {self.corpus} packaged texts + {self.examples} labelled examples",
            f"hold-out: {self.hold_out} texts, {self.hold_out_examples} of them labelled examples",
            f"accuracy before: {pct(self.accuracy_before)}  after: {pct(self.accuracy_after)}",
            f"on labelled examples before: {pct(self.examples_accuracy_before)}  "
            f"after: {pct(self.examples_accuracy_after)}",
            f"saved classifier {self.version} to {self.path}",
        ]


def retrain(
    corpus: Sequence[LabelledText],
    examples: Sequence[LabelledText],
    path: Path,
    progress: Callable[[str], None] = lambda _: None,
) -> Retrained:
    corpus_train, corpus_test = _split(corpus)
    examples_train, examples_test = _split(examples)
    hold_out = corpus_test + examples_test
    progress(f"training 'before' on {len(corpus_train)} texts ...")
    before = CategoryClassifier.train(corpus_train)
    progress(f"training 'after' on {len(corpus_train) + len(examples_train)} texts ...")
    after = CategoryClassifier.train(corpus_train + examples_train)
    progress(f"training the final model on {len(corpus) + len(examples)} texts ...")
    final = CategoryClassifier.train([*corpus, *examples])
    final.save(path)
    return Retrained(
        corpus=len(corpus),
        examples=len(examples),
        hold_out=len(hold_out),
        hold_out_examples=len(examples_test),
        accuracy_before=before.accuracy(hold_out),
        accuracy_after=after.accuracy(hold_out),
        examples_accuracy_before=before.accuracy(examples_test) if examples_test else None,
        examples_accuracy_after=after.accuracy(examples_test) if examples_test else None,
        version=final.version,
        path=path,
    )
