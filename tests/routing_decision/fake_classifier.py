"""A stand-in for routing.classifier: fixed probabilities chosen by words in the text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from appeals_reference import load_reference


@dataclass(frozen=True)
class Score:
    code: str
    probability: float


class FakeClassifier:
    """The first rule whose word occurs in the text gives the distribution; else uniform.

    Probabilities not named in a rule share the remainder equally, so every category gets
    one and the list sums to 1 like the real, calibrated classifier's.
    """

    version = "fake-1"

    def __init__(self, rules: Mapping[str, Mapping[str, float]]) -> None:
        self.rules = rules
        self.calls: list[int] = []

    def rank(self, text: str) -> list[Score]:
        codes = [c.code for c in load_reference().categories]
        named: Mapping[str, float] = {}
        for word, distribution in self.rules.items():
            if word in text.lower():
                named = distribution
                break
        rest = (1.0 - sum(named.values())) / (len(codes) - len(named))
        scores = [Score(c, named.get(c, rest)) for c in codes]
        return sorted(scores, key=lambda s: -s.probability)

    def rank_many(self, texts: Sequence[str]) -> list[list[Score]]:
        self.calls.append(len(texts))
        return [self.rank(t) for t in texts]

    def score_matrix(self, texts: Sequence[str]) -> tuple[list[str], np.ndarray[Any, Any]]:
        codes = [c.code for c in load_reference().categories]
        rows = [{s.code: s.probability for s in ranking} for ranking in self.rank_many(texts)]
        return codes, np.array([[row[c] for c in codes] for row in rows], dtype=np.float64)
