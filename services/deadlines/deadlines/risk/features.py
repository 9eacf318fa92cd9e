"""Breach risk features: one function (`row`) from a hop's state on a day to a feature row.

The service (scoring the open clocks today, training on the closed ones as they stood on past
days) and `make bench-risk` (on the history simulator's appeals) both build their rows here,
so what the model learns from and what it is asked about are computed the same way.

A hop is described by its days only (Asia/Almaty dates, as the clocks store them): the
agency's receipt, the due day then and after an extension, and the day it closed. Working
days are counted on the service's calendar: `elapsed` from the receipt to the observed day,
`left` from the observed day to the due day (0 on the due day itself), so a hop is late when
it stays open beyond `elapsed + left` working days.

History enters through `Stats`: the answer-time distribution (working days from receipt to
answer) per agency x category, per agency and overall, and the share of hops answered late or
breached per agency. The strongest single feature is the history's own answer to the
question: of this agency's hops of this category still open after `elapsed` working days,
how many were still open after `elapsed + left`?
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from appeals_law.calendar import WorkingCalendar

# Answer times are counted exactly up to CAP working days; a longer one counts as CAP.
CAP = 60
# Weight of the coarser level's estimate when a finer one has few hops (pseudo-counts).
PRIOR = 10.0
# Probabilities are kept this far from 0 and 1 before their logit is taken.
EPSILON = 1e-3
# At most this many working days left enter the model (a long term behaves as a long term).
MAX_LEFT = 30

NAMES = (
    "working_days_left",
    "left_under_3",
    "elapsed_share",
    "history_late_given_open",
    "history_late_at_receipt",
    "agency_late_share",
    "redirects",
    "extended",
    "agency_backlog_log",
)


@dataclass(frozen=True)
class Hop:
    """One clock (an appeal at one agency), as of some day."""

    appeal_id: str
    hop: int
    agency: str
    category: str | None
    received_day: date  # the agency's receipt
    original_due_day: date
    due_day: date  # after extensions (the original when none)
    extended_day: date | None  # when the term was extended, if it was
    closed_day: date | None  # answered or redirected (a full redirect), None while open
    answered: bool  # closed by an answer

    def due_on(self, day: date) -> date:
        """The due day in force on `day` (an extension applies from its day on)."""
        if self.extended_day is not None and self.extended_day <= day:
            return self.due_day
        return self.original_due_day

    def open_on(self, day: date) -> bool:
        return self.received_day <= day and (self.closed_day is None or self.closed_day > day)

    def late(self, as_of: date) -> bool | None:
        """Did the hop breach, as `as_of` knows it: True when answered or redirected after its
        due day, or still open past it; False when answered or redirected by its due day;
        None while open and not due (not known yet)."""
        if self.closed_day is not None and self.closed_day <= as_of:
            return self.closed_day > self.due_day
        due = self.due_on(as_of)
        return True if due < as_of else None

    def timed(self, as_of: date) -> bool:
        """Whether the hop tells how long its agency takes to answer: answered by `as_of`, or
        breached (a redirect in time ends the clock without an answer)."""
        late = self.late(as_of)
        return late is True or (late is False and self.answered)


class Days:
    """Working-day counts on a calendar, by a running count per day (a hop's features need
    several counts; the calendar's own count walks day by day)."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self._calendar = calendar
        self._years: dict[int, tuple[int, list[int]]] = {}
        self._bases: dict[int, int] = {}

    def _year(self, year: int) -> tuple[int, list[int]]:
        if year not in self._years:
            day, running, counts = date(year, 1, 1), 0, []
            while day.year == year:
                running += self._calendar.is_working_day(day)
                counts.append(running)
                day += timedelta(days=1)
            self._years[year] = (running, counts)
        return self._years[year]

    def _ordinal(self, day: date) -> int:
        """Working days from 1 Jan 2000 up to and including `day` (within the years used)."""
        base = self._bases.get(day.year)
        if base is None:
            base = self._bases[day.year] = sum(self._year(y)[0] for y in range(2000, day.year))
        return base + self._year(day.year)[1][day.timetuple().tm_yday - 1]

    def between(self, a: date, b: date) -> int:
        """Working days after `a` up to and including `b` (the calendar's definition)."""
        return self._ordinal(b) - self._ordinal(a)

    def add(self, day: date, n: int) -> date:
        return self._calendar.add_working_days(day, n)


def _answer_days(hop: Hop, as_of: date, days: Days) -> int:
    """Working days to the answer, or (breached and still open) at least past the term."""
    if hop.closed_day is not None and hop.closed_day <= as_of:
        return min(CAP, max(0, days.between(hop.received_day, hop.closed_day)))
    return min(CAP, max(days.between(hop.received_day, hop.due_on(as_of)) + 1, 0))


@dataclass
class _Counts:
    histogram: list[int] = field(default_factory=lambda: [0] * (CAP + 1))
    late: int = 0


@dataclass(frozen=True)
class Own:
    """A training hop's own outcome, left out of the history it is described by (when the
    history counts it: `timed`)."""

    answer_days: int
    late: bool
    timed: bool


class Stats:
    """The history's answer-time distributions and late shares, with coarser levels standing
    in (by PRIOR pseudo-counts) where a finer one has few hops."""

    def __init__(self, counts: dict[str, dict[str, Any]]) -> None:
        # key: "*" overall, "a|<agency>", "ac|<agency>|<category>"
        self.counts = counts
        self._suffix = {k: _suffix(v["histogram"]) for k, v in counts.items()}

    @classmethod
    def learn(cls, hops: Iterable[Hop], as_of: date, days: Days) -> Stats:
        counts: dict[str, _Counts] = defaultdict(_Counts)
        for hop in hops:
            if not hop.timed(as_of):
                continue
            late = bool(hop.late(as_of))
            answer = _answer_days(hop, as_of, days)
            for key in _keys(hop.agency, hop.category):
                counts[key].histogram[answer] += 1
                counts[key].late += late
        return cls({k: {"histogram": c.histogram, "late": c.late} for k, c in counts.items()})

    def to_json(self) -> dict[str, Any]:
        return self.counts

    def _n_over(self, key: str, t: int, own: Own | None) -> tuple[float, float]:
        """Hops of `key` open after t working days, and all hops of `key`."""
        suffix = self._suffix.get(key)
        if suffix is None:
            return 0.0, 0.0
        over = suffix[min(max(t, -1) + 1, CAP)] if t < CAP else suffix[CAP]
        total = suffix[0]
        if own is not None and own.timed:
            total -= 1
            over -= 1 if own.answer_days > t or (t >= CAP and own.answer_days >= CAP) else 0
        return float(max(over, 0)), float(max(total, 0))

    def survival(self, agency: str, category: str | None, t: int, own: Own | None) -> float:
        """P(answer after more than t working days), overall -> agency -> agency x category."""
        over, total = self._n_over("*", t, own)
        estimate = over / total if total else 0.5
        for key in _keys(agency, category)[1:]:
            over, total = self._n_over(key, t, own)
            estimate = (over + PRIOR * estimate) / (total + PRIOR)
        return estimate

    def late_share(self, agency: str, own: Own | None) -> float:
        prior_late, prior_n = self._late("*", own)
        estimate = prior_late / prior_n if prior_n else 0.5
        late, n = self._late(f"a|{agency}", own)
        return (late + PRIOR * estimate) / (n + PRIOR)

    def _late(self, key: str, own: Own | None) -> tuple[float, float]:
        entry = self.counts.get(key)
        if entry is None:
            return 0.0, 0.0
        late, n = float(entry["late"]), float(sum(entry["histogram"]))
        if own is not None and own.timed:
            late, n = late - own.late, n - 1
        return max(late, 0.0), max(n, 0.0)


def _suffix(histogram: Sequence[int]) -> list[int]:
    out = [0] * (CAP + 2)
    for i in range(CAP, -1, -1):
        out[i] = out[i + 1] + int(histogram[i])
    return out


def _keys(agency: str, category: str | None) -> list[str]:
    return ["*", f"a|{agency}", f"ac|{agency}|{category or '-'}"]


def _logit(p: float) -> float:
    p = min(max(p, EPSILON), 1 - EPSILON)
    return math.log(p / (1 - p))


def row(
    hop: Hop, day: date, backlog: int, stats: Stats, days: Days, own: Own | None = None
) -> list[float]:
    """The features of `hop` as it stands on `day` (open, not past its due day), its agency
    having `backlog` open hops then. `own`: a training hop's own outcome, left out of the
    history so a hop does not describe itself."""
    due = hop.due_on(day)
    elapsed = max(0, days.between(hop.received_day, day))
    left = max(0, days.between(day, due))
    term = elapsed + left
    open_now = stats.survival(hop.agency, hop.category, elapsed - 1, own)
    open_after = stats.survival(hop.agency, hop.category, term, own)
    given_open = open_after / open_now if open_now > 0 else open_after
    at_receipt = stats.survival(hop.agency, hop.category, term, own) / max(
        stats.survival(hop.agency, hop.category, -1, own), EPSILON
    )
    return [
        float(min(left, MAX_LEFT)),
        1.0 if left < 3 else 0.0,
        elapsed / term if term else 1.0,
        _logit(given_open),
        _logit(at_receipt),
        _logit(stats.late_share(hop.agency, own)),
        float(min(hop.hop - 1, 3)),
        1.0 if hop.extended_day is not None and hop.extended_day <= day else 0.0,
        math.log1p(backlog),
    ]


def own_outcome(hop: Hop, as_of: date, days: Days) -> Own | None:
    late = hop.late(as_of)
    if late is None:
        return None
    return Own(_answer_days(hop, as_of, days), late, hop.timed(as_of))


class Backlog:
    """Open hops per agency on any day: received on or before it, not closed by then."""

    def __init__(self, hops: Iterable[Hop]) -> None:
        received: dict[str, list[date]] = defaultdict(list)
        closed: dict[str, list[date]] = defaultdict(list)
        for hop in hops:
            received[hop.agency].append(hop.received_day)
            if hop.closed_day is not None:
                closed[hop.agency].append(hop.closed_day)
        self._received = {a: sorted(d) for a, d in received.items()}
        self._closed = {a: sorted(d) for a, d in closed.items()}

    def on(self, agency: str, day: date) -> int:
        return bisect_right(self._received.get(agency, []), day) - bisect_right(
            self._closed.get(agency, []), day
        )


def observations(hop: Hop, before: date, days: Days, per_hop: int, seed: int) -> list[date]:
    """Up to `per_hop` days on which `hop` stood open and not past due, before `before`
    (the days a training or evaluation row observes it on), chosen reproducibly."""
    candidates = []
    k = 0
    while True:
        day = days.add(hop.received_day, k)
        if day >= before or not hop.open_on(day) or day > hop.due_on(day):
            break
        candidates.append(day)
        k += 1
    if len(candidates) <= per_hop:
        return candidates
    chooser = random.Random(f"{hop.appeal_id}/{hop.hop}/{seed}")
    return sorted(chooser.sample(candidates, per_hop))
