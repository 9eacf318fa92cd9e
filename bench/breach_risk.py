"""bench-risk: the breach-risk model against two baselines, on the history simulator's past.

The history simulator's plan (appeals_tools.history.plan: seeded agency behaviour profiles,
category difficulty, redirects, extensions, last-day answers, the holiday season) gives a
year of appeals and what their agencies did. Each appeal becomes its hops as the deadlines
service keeps them (the agency's receipt, the due day, an extension, the answer or the
redirect), counted on the same calendar with the same rules.

- Training: the model of the service (deadlines.risk.model.train, the same features function
  as the service's scoring pass) on what was known at the cut-off date.
- Evaluation: every hop of the appeals registered after the cut-off whose outcome is known at
  the end of the simulated period, observed on one day it stood open before its due day
  (chosen reproducibly); outcome 1 when it breached (answered or redirected after its due
  day, or still open past it).
- Baselines, in the same run, on the same rows: "working days left < 3" (as a probability:
  the late share of training rows with fewer than 3 working days left, and of the others),
  and the agency's historical late share (as of the cut-off, the service's smoothing).

It prints the Brier score (lower is better), the AUC (higher is better) and calibration by
decile of the model's risk, and last a line that starts with `met` when the model beats both
baselines on both Brier and AUC, else `missed`.

    .venv/bin/python bench/breach_risk.py     (make bench-risk)

BENCH_RISK_SEED (1), BENCH_RISK_APPEALS (12,000 over the year), BENCH_RISK_CUTOFF_MONTHS (8).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sklearn.metrics import roc_auc_score

from appeals_law.calendar import ALMATY, WorkingCalendar
from appeals_law.due import compute_due
from appeals_law.rules import RuleSet, load_rules
from appeals_reference.loader import load_reference
from appeals_tools.history.plan import PlannedAppeal, plan
from deadlines.law import local_day
from deadlines.risk.features import NAMES, Backlog, Days, Hop, observations, row
from deadlines.risk.model import Dataset, dataset, fit

SEED = int(os.environ.get("BENCH_RISK_SEED", "1"))
APPEALS = int(os.environ.get("BENCH_RISK_APPEALS", "12000"))
CUTOFF_MONTHS = int(os.environ.get("BENCH_RISK_CUTOFF_MONTHS", "8"))
START = datetime(2025, 1, 1, tzinfo=ALMATY)
END = datetime(2026, 1, 1, tzinfo=ALMATY)


def say(line: str) -> None:
    print(line, flush=True)


def hops_of(appeal: PlannedAppeal, calendar: WorkingCalendar, rules: RuleSet) -> list[Hop]:
    """The appeal's clocks, as deadlines opens and closes them for these steps."""
    kind = appeal.submission.type.value
    appeal_id = appeal.submission.external_id or ""
    received = appeal.registered_at
    agency = appeal.agency
    due = local_day(appeal.due_at)
    original = due
    extended: date | None = None
    hop = 1
    out: list[Hop] = []
    for step in appeal.steps:
        if step.kind == "redirect":
            out.append(
                Hop(appeal_id, hop, agency, appeal.submission.category, local_day(received),
                    original, due, extended, local_day(step.at), answered=False)
            )  # fmt: skip
            hop += 1
            agency, received = step.target or agency, step.at
            due = original = compute_due(kind, step.at, rules, calendar).due_day
            extended = None
        elif step.kind == "extend" and step.new_due_day is not None:
            due, extended = step.new_due_day, local_day(step.at)
        elif step.kind == "answer":
            out.append(
                Hop(appeal_id, hop, agency, appeal.submission.category, local_day(received),
                    original, due, extended, local_day(step.at), answered=True)
            )  # fmt: skip
            return out
    out.append(
        Hop(appeal_id, hop, agency, appeal.submission.category, local_day(received),
            original, due, extended, None, answered=False)
    )  # fmt: skip
    return out


@dataclass(frozen=True)
class Scores:
    name: str
    brier: float
    auc: float


def score(name: str, predicted: Sequence[float], outcome: Sequence[int]) -> Scores:
    brier = sum((p - y) ** 2 for p, y in zip(predicted, outcome, strict=True)) / len(outcome)
    return Scores(name, brier, float(roc_auc_score(outcome, predicted)))


def deciles(predicted: Sequence[float], outcome: Sequence[int]) -> list[tuple[int, float, float]]:
    """Per decile of the predicted risk: rows, mean predicted, observed breach share."""
    ordered = sorted(zip(predicted, outcome, strict=True))
    out = []
    for d in range(10):
        part = ordered[d * len(ordered) // 10 : (d + 1) * len(ordered) // 10]
        if part:
            mean = sum(p for p, _ in part) / len(part)
            out.append((len(part), mean, sum(y for _, y in part) / len(part)))
    return out


def main() -> int:
    started = time.monotonic()
    calendar, rules, reference = WorkingCalendar(), load_rules(None), load_reference(None)
    days = Days(calendar)
    cutoff_day = date(2025, 1 + CUTOFF_MONTHS, 1)
    end_day = local_day(END)
    say(
        f"bench-risk: seed {SEED}, {APPEALS:,} appeals planned {START:%Y-%m-%d} .. "
        f"{END:%Y-%m-%d}, cut-off {cutoff_day.isoformat()} ..."
    )
    history = plan(SEED, START, END, APPEALS, reference, rules, calendar)
    hops = [h for a in history.appeals for h in hops_of(a, calendar, rules)]
    chronic = sum(p.chronic for p in history.profiles.values())
    say(
        f"  plan: {len(history.appeals):,} appeals, {len(hops):,} hops, "
        f"{len(history.profiles)} agencies ({chronic} chronically late) "
        f"[{time.monotonic() - started:.0f} s]"
    )

    # Training: what the service would have known on the cut-off day.
    data = dataset(hops, cutoff_day, days)
    model = fit(data)
    say(
        f"  trained on {model.rows:,} observations of hops known by the cut-off "
        f"({model.positives:,} breached) [{time.monotonic() - started:.0f} s]"
    )

    # Evaluation: the hops of appeals registered after the cut-off, outcome known at the end.
    backlog = Backlog(hops)
    later = {
        a.submission.external_id
        for a in history.appeals
        if local_day(a.registered_at) >= cutoff_day
    }
    rows: list[list[float]] = []
    outcome: list[int] = []
    agencies: list[str] = []
    for hop in hops:
        if hop.appeal_id not in later:
            continue
        late = hop.late(end_day)
        if late is None:
            continue
        for day in observations(hop, end_day, days, per_hop=1, seed=SEED):
            rows.append(row(hop, day, backlog.on(hop.agency, day), model.stats, days))
            outcome.append(int(late))
            agencies.append(hop.agency)
    if not rows or len(set(outcome)) < 2:
        say("missed: no evaluation rows with both outcomes (more appeals, an earlier cut-off)")
        return 1
    say(
        f"  evaluated on {len(rows):,} hops opened after the cut-off ({sum(outcome):,} breached, "
        f"{sum(outcome) / len(outcome):.1%}) [{time.monotonic() - started:.0f} s]"
    )

    predicted = [model.probability(r) for r in rows]
    baselines = [
        score("working days left < 3", left_under_3(data, rows), outcome),
        score(
            "agency's historical late share",
            [model.stats.late_share(a, None) for a in agencies],
            outcome,
        ),
    ]
    mine = score("model (logistic regression)", predicted, outcome)
    say("")
    say(f"  {'':<34} {'Brier':>7} {'AUC':>7}")
    for s in (mine, *baselines):
        say(f"  {s.name:<34} {s.brier:>7.4f} {s.auc:>7.4f}")
    say("")
    say("  calibration of the model by decile of its risk:")
    say(f"  {'decile':>6} {'hops':>6} {'predicted':>10} {'observed':>9}")
    for n, (count, p, o) in enumerate(deciles(predicted, outcome), start=1):
        say(f"  {n:>6} {count:>6} {p:>10.3f} {o:>9.3f}")
    say("")
    wins = all(mine.brier < b.brier and mine.auc > b.auc for b in baselines)
    verdict = "met" if wins else "missed"
    say(
        f"{verdict}: the model against both baselines on Brier and AUC "
        f"(Brier {mine.brier:.4f} vs {', '.join(f'{b.brier:.4f}' for b in baselines)}; "
        f"AUC {mine.auc:.4f} vs {', '.join(f'{b.auc:.4f}' for b in baselines)})"
    )
    return 0 if wins else 1


def left_under_3(training: Dataset, rows: Sequence[Sequence[float]]) -> list[float]:
    """The rule as a probability: the breach share of the training observations on its side
    (`left_under_3` is a column of the feature rows)."""
    column = NAMES.index("left_under_3")
    late = {True: 0, False: 0}
    seen = {True: 0, False: 0}
    for x, y in zip(training.x, training.y, strict=True):
        late[x[column] > 0] += y
        seen[x[column] > 0] += 1
    share = {side: late[side] / max(seen[side], 1) for side in (True, False)}
    return [share[r[column] > 0] for r in rows]


if __name__ == "__main__":
    sys.exit(main())
