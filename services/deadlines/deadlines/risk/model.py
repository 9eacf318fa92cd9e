"""The breach-risk model: a logistic regression (scikit-learn) on `features.row`, trained on
the hops whose outcome history knows (answered on time; answered late, redirected late or
breached), each observed on a few days it stood open before its due day.

A logistic regression fitted by log loss gives probabilities, not only a ranking; the bench
reports their calibration by decile. The fitted model is kept as JSON (the history's tables,
the scaler's means and scales, the coefficients), so the service stores it in a table and
loads it without running any pickled code, and a score is a dot product.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from deadlines.risk.features import NAMES, Backlog, Days, Hop, Stats, observations, own_outcome, row

# Observations per training hop (days it stood open), and the fewest rows worth a model.
PER_HOP = 4
MIN_ROWS = 20


class NotEnoughHistory(Exception):
    """Too few closed hops, or only one kind of outcome, to learn from."""


@dataclass(frozen=True)
class Model:
    stats: Stats
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    rows: int
    positives: int

    def probability(self, features: Sequence[float]) -> float:
        z = self.intercept
        for x, m, s, c in zip(features, self.mean, self.scale, self.coef, strict=True):
            z += c * (x - m) / s
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "logistic-regression",
            "features": list(NAMES),
            "mean": self.mean,
            "scale": self.scale,
            "coef": self.coef,
            "intercept": self.intercept,
            "rows": self.rows,
            "positives": self.positives,
            "stats": self.stats.to_json(),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Model:
        if doc.get("features") != list(NAMES):
            raise ValueError("the stored model was trained on other features; retrain it")
        return cls(
            Stats(doc["stats"]),
            [float(v) for v in doc["mean"]],
            [float(v) for v in doc["scale"]],
            [float(v) for v in doc["coef"]],
            float(doc["intercept"]),
            int(doc["rows"]),
            int(doc["positives"]),
        )


@dataclass(frozen=True)
class Dataset:
    x: list[list[float]]
    y: list[int]
    stats: Stats


def dataset(
    hops: Sequence[Hop], as_of: date, days: Days, *, per_hop: int = PER_HOP, seed: int = 0
) -> Dataset:
    """Rows of the hops whose outcome `as_of` knows, each observed on days before `as_of` it
    stood open; the history (answer times, late shares) as of `as_of`, each hop's own outcome
    left out of its rows."""
    stats = Stats.learn(hops, as_of, days)
    backlog = Backlog(hops)
    x: list[list[float]] = []
    y: list[int] = []
    for hop in hops:
        own = own_outcome(hop, as_of, days)
        if own is None:
            continue
        for day in observations(hop, as_of, days, per_hop, seed):
            x.append(row(hop, day, backlog.on(hop.agency, day), stats, days, own))
            y.append(int(own.late))
    return Dataset(x, y, stats)


def fit(data: Dataset) -> Model:
    """The logistic regression on standardised features."""
    positives = sum(data.y)
    if len(data.y) < MIN_ROWS or positives == 0 or positives == len(data.y):
        raise NotEnoughHistory(
            f"{len(data.y)} training rows, {positives} late: need {MIN_ROWS} rows and both outcomes"
        )
    # Imported here: scikit-learn loads slowly and only training needs it.
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(data.x, dtype=float)
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    regression = LogisticRegression(C=1.0, max_iter=1000).fit((x - scaler.mean_) / scale, data.y)
    return Model(
        data.stats,
        [float(v) for v in scaler.mean_],
        [float(v) for v in scale],
        [float(v) for v in regression.coef_[0]],
        float(regression.intercept_[0]),
        len(data.y),
        positives,
    )


def train(
    hops: Sequence[Hop], as_of: date, days: Days, *, per_hop: int = PER_HOP, seed: int = 0
) -> Model:
    return fit(dataset(hops, as_of, days, per_hop=per_hop, seed=seed))
