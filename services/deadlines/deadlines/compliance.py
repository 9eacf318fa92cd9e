"""Compliance with the legal terms, grouped by agency, level, sector, region, locality or
category, for a month, quarter or year beside the previous one.

Definitions (one period; "as of" = the end of the period, or the start of today while the
period runs):
- received: hops whose agency received the appeal in the period;
- answered on time / late: answers given in the period, judged against the due date in force;
- open and overdue: hops still unanswered as of the end of the period and past their due date;
- late redirects: redirects in the period made after the 3-working-day window (АППК art. 65);
- violations = answered late + open and overdue + late redirects;
- on-time share = answered on time / (answered on time + answered late + open and overdue);
- median working days to answer: over the answers given in the period (day 1 = 1);
- small sample: fewer than `min_sample` in the on-time share's denominator;
- working days lost to redirects: for every hop a full redirect closed in the period, the
  working days the appeal spent at that hop, from the day its agency received it (after that
  day) up to and including the day of the redirect, on the service's calendar (the count of
  `deadlines.hops`; the same as the hop table's while routing hands the appeal to the named
  agency at once, which it does; a wait in triage after a redirect to nobody is not in it).
  `redirect_days_lost` counts them for the agency that redirected (and its level, sector,
  region, locality, category and the total); `redirect_days_received` for the agency the
  redirect sent the appeal to, in the grouping by agency and the total only (0 in the
  others, whose keys describe the redirecting hop; the total is less than the days lost by
  the days of redirects to triage). A partial redirect closes nothing and loses nothing; the
  hops redirected before migration 0008 count 0 until a rebuild.

Every figure comes from the pre-aggregated `compliance_daily` and `compliance_answer_days`
tables (kept by triggers on `clocks`): a report reads a few rows per day and group, however
many clocks there are. "Open and overdue" is the running sum of hops that became overdue
minus hops closed late, up to the "as of" day.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args

import asyncpg

from appeals_reference.models import ReferenceData
from deadlines.law import local_day, start_of

Dimension = Literal["agency", "level", "sector", "region", "locality", "category"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)

# Local executive bodies (местные исполнительные органы): akimats and their departments.
LOCAL_EXECUTIVE_LEVELS = frozenset(
    {"region_akimat", "city_akimat", "district_akimat", "region_department", "city_department"}
)
LEVEL_NAMES = {
    "region_akimat": "Аппарат акима области",
    "region_department": "Управления акимата области",
    "city_akimat": "Акиматы городов",
    "city_department": "Отделы акиматов городов",
    "district_akimat": "Акиматы районов",
    "territorial_body": "Территориальные органы центральных госорганов",
    "out_of_region": "Органы за пределами области",
}
SECTOR_NAMES = {
    "local_executive": "Местные исполнительные органы (акиматы и их подразделения)",
    "territorial": "Территориальные органы центральных госорганов",
    "other": "Прочие органы",
}
UNKNOWN = "(не указано)"


def sector_of(level: str) -> str:
    if level in LOCAL_EXECUTIVE_LEVELS:
        return "local_executive"
    return "territorial" if level == "territorial_body" else "other"


# ------------------------------------------------------------------ periods

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})[Qq]([1-4])")
_YEAR = re.compile(r"(\d{4})")


@dataclass(frozen=True)
class Period:
    label: str
    first: date
    last: date

    def previous(self) -> Period:
        """The comparable period just before: the previous month, quarter or year."""
        if _YEAR.fullmatch(self.label):
            return year(self.first.year - 1)
        if _QUARTER.fullmatch(self.label):
            q = (self.first.month - 1) // 3 + 1
            return quarter(self.first.year - (q == 1), 4 if q == 1 else q - 1)
        prior = self.first - timedelta(days=1)
        return month(prior.year, prior.month)


def month(y: int, m: int) -> Period:
    first = date(y, m, 1)
    nxt = date(y + (m == 12), 1 if m == 12 else m + 1, 1)
    return Period(f"{y:04d}-{m:02d}", first, nxt - timedelta(days=1))


def quarter(y: int, q: int) -> Period:
    first = date(y, 3 * q - 2, 1)
    end = month(y, 3 * q).last
    return Period(f"{y:04d}Q{q}", first, end)


def year(y: int) -> Period:
    return Period(f"{y:04d}", date(y, 1, 1), date(y, 12, 31))


def parse_period(text: str) -> Period:
    """`2022-03` (month), `2022Q1` (quarter) or `2022` (year)."""
    text = text.strip()
    try:
        if m := _MONTH.fullmatch(text):
            return month(int(m[1]), int(m[2]))
        if m := _QUARTER.fullmatch(text):
            return quarter(int(m[1]), int(m[2]))
        if m := _YEAR.fullmatch(text):
            return year(int(m[1]))
    except ValueError:
        pass
    raise ValueError(f"period {text!r} is not a month (2022-03), quarter (2022Q1) or year (2022)")


def period_containing(day: date, kind: Literal["month", "quarter", "year"]) -> Period:
    if kind == "month":
        return month(day.year, day.month)
    if kind == "quarter":
        return quarter(day.year, (day.month - 1) // 3 + 1)
    return year(day.year)


# ------------------------------------------------------------------ figures


@dataclass
class Tally:
    received: int = 0
    on_time: int = 0
    late: int = 0
    redirected_late: int = 0
    open_overdue: int = 0
    answer_days: Counter[int] = field(default_factory=Counter)
    redirect_days_lost: int = 0
    redirect_days_received: int = 0

    def add(self, other: Tally) -> None:
        self.received += other.received
        self.on_time += other.on_time
        self.late += other.late
        self.redirected_late += other.redirected_late
        self.redirect_days_lost += other.redirect_days_lost
        self.redirect_days_received += other.redirect_days_received
        self.open_overdue += other.open_overdue
        self.answer_days.update(other.answer_days)


def median(histogram: Counter[int]) -> float | None:
    """Median of a histogram {value: count}; the mean of the two middle values when even."""
    n = sum(histogram.values())
    if n == 0:
        return None
    wanted = [(n - 1) // 2, n // 2]
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while wanted and wanted[0] < seen:
            found.append(value)
            wanted.pop(0)
    return (found[0] + found[1]) / 2


@dataclass(frozen=True)
class Figures:
    received: int
    answered_on_time: int
    answered_late: int
    open_overdue: int
    late_redirects: int
    violations: int
    on_time_share: float | None
    median_working_days: float | None
    sample: int
    small_sample: bool
    redirect_days_lost: int
    redirect_days_received: int

    @classmethod
    def of(cls, tally: Tally, min_sample: int) -> Figures:
        sample = tally.on_time + tally.late + tally.open_overdue
        return cls(
            received=tally.received,
            answered_on_time=tally.on_time,
            answered_late=tally.late,
            open_overdue=tally.open_overdue,
            late_redirects=tally.redirected_late,
            violations=tally.late + tally.open_overdue + tally.redirected_late,
            on_time_share=round(tally.on_time / sample, 4) if sample else None,
            median_working_days=median(tally.answer_days),
            sample=sample,
            small_sample=sample < min_sample,
            redirect_days_lost=tally.redirect_days_lost,
            redirect_days_received=tally.redirect_days_received,
        )


@dataclass(frozen=True)
class Line:
    key: str
    name: str
    current: Figures
    previous: Figures


@dataclass(frozen=True)
class Report:
    by: str
    period: Period
    previous: Period
    as_of: datetime
    previous_as_of: datetime
    min_sample: int
    lines: list[Line]
    total: Line


# ------------------------------------------------------------------ queries

DAILY = """
SELECT key, day >= $3 AS current,
       sum(received)::int AS received, sum(answered_on_time)::int AS on_time,
       sum(answered_late)::int AS late, sum(redirected_late)::int AS redirected_late,
       sum(redirect_days_lost)::int AS redirect_days_lost,
       sum(redirect_days_received)::int AS redirect_days_received
FROM compliance_daily
WHERE dimension = $1 AND day BETWEEN $2 AND $4
GROUP BY key, current
"""

ANSWER_DAYS = """
SELECT key, day >= $3 AS current, working_days, sum(answers)::int AS answers
FROM compliance_answer_days
WHERE dimension = $1 AND day BETWEEN $2 AND $4
GROUP BY key, current, working_days
HAVING sum(answers) > 0
"""

# Hops open and overdue at the start of day $2: every hop that became overdue by then minus
# those closed late by then, from the daily aggregates (a few rows per day and key).
OPEN_OVERDUE = """
SELECT key, sum(overdue_started - overdue_ended)::int AS n
FROM compliance_daily
WHERE dimension = $1 AND day <= $2
GROUP BY key
HAVING sum(overdue_started - overdue_ended) <> 0
"""


async def _tallies(
    conn: asyncpg.Connection,
    dimension: str,
    period: Period,
    previous: Period,
    as_of: datetime,
    previous_as_of: datetime,
) -> tuple[dict[str, Tally], dict[str, Tally]]:
    current: dict[str, Tally] = {}
    earlier: dict[str, Tally] = {}

    def tally(is_current: bool, key: str) -> Tally:
        table = current if is_current else earlier
        return table.setdefault(key, Tally())

    for r in await conn.fetch(DAILY, dimension, previous.first, period.first, period.last):
        t = tally(r["current"], r["key"])
        t.received += r["received"]
        t.on_time += r["on_time"]
        t.late += r["late"]
        t.redirected_late += r["redirected_late"]
        t.redirect_days_lost += r["redirect_days_lost"]
        t.redirect_days_received += r["redirect_days_received"]
    for r in await conn.fetch(ANSWER_DAYS, dimension, previous.first, period.first, period.last):
        tally(r["current"], r["key"]).answer_days[r["working_days"]] += r["answers"]
    for is_current, moment in ((True, as_of), (False, previous_as_of)):
        for r in await conn.fetch(OPEN_OVERDUE, dimension, local_day(moment)):
            tally(is_current, r["key"]).open_overdue += r["n"]
    return current, earlier


def _fold(tallies: dict[str, Tally], key_of: Any) -> dict[str, Tally]:
    folded: dict[str, Tally] = {}
    for key, t in tallies.items():
        folded.setdefault(key_of(key), Tally()).add(t)
    return folded


def name_of(reference: ReferenceData, by: str, key: str) -> str:
    if not key:
        return UNKNOWN
    if by == "agency" and reference.has_agency(key):
        return reference.agency(key).name_ru
    if by in ("region", "locality") and reference.has_locality(key):
        return reference.locality(key).name_ru
    if by == "category" and reference.has_category(key):
        return reference.category(key).name_ru
    if by == "level":
        return LEVEL_NAMES.get(key, key)
    if by == "sector":
        return SECTOR_NAMES.get(key, key)
    return key


async def report(
    conn: asyncpg.Connection,
    period: Period,
    by: str,
    now: datetime,
    reference: ReferenceData,
    min_sample: int,
) -> Report:
    """The compliance table for `period` grouped `by` a dimension, beside the previous period."""
    if by not in DIMENSIONS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(DIMENSIONS)}")
    previous = period.previous()
    today = local_day(now)
    as_of = start_of(min(period.last + timedelta(days=1), today))
    previous_as_of = start_of(min(previous.last + timedelta(days=1), today))
    dimension = "level" if by == "sector" else by
    current, earlier = await _tallies(conn, dimension, period, previous, as_of, previous_as_of)
    if by == "sector":
        current = _fold(current, sector_of)
        earlier = _fold(earlier, sector_of)
    totals = await _tallies(conn, "all", period, previous, as_of, previous_as_of)
    lines = [
        Line(
            key,
            name_of(reference, by, key),
            Figures.of(current.get(key, Tally()), min_sample),
            Figures.of(earlier.get(key, Tally()), min_sample),
        )
        for key in set(current) | set(earlier)
    ]
    lines.sort(key=lambda line: (-line.current.violations, line.key))
    total = Line(
        "all",
        "Всего",
        Figures.of(totals[0].get("all", Tally()), min_sample),
        Figures.of(totals[1].get("all", Tally()), min_sample),
    )
    return Report(by, period, previous, as_of, previous_as_of, min_sample, lines, total)


# ------------------------------------------------------------------ output

FIGURES = (
    "received",
    "answered_on_time",
    "answered_late",
    "open_overdue",
    "late_redirects",
    "violations",
    "on_time_share",
    "median_working_days",
    "sample",
    "small_sample",
    "redirect_days_lost",
    "redirect_days_received",
)


def _figures_json(f: Figures) -> dict[str, Any]:
    return {name: getattr(f, name) for name in FIGURES}


def as_json(r: Report) -> dict[str, Any]:
    def line(x: Line) -> dict[str, Any]:
        return {
            "key": x.key,
            "name": x.name,
            "current": _figures_json(x.current),
            "previous": _figures_json(x.previous),
        }

    return {
        "by": r.by,
        "period": {
            "label": r.period.label,
            "first": r.period.first.isoformat(),
            "last": r.period.last.isoformat(),
            "as_of": r.as_of.isoformat(),
        },
        "previous_period": {
            "label": r.previous.label,
            "first": r.previous.first.isoformat(),
            "last": r.previous.last.isoformat(),
            "as_of": r.previous_as_of.isoformat(),
        },
        "min_sample": r.min_sample,
        "rows": [line(x) for x in r.lines],
        "total": line(r.total),
    }


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def as_csv(r: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["by", "key", "name", "period", *FIGURES, "previous_period"]
        + [f"previous_{name}" for name in FIGURES]
    )
    for x in [*r.lines, r.total]:
        writer.writerow(
            [r.by, x.key, x.name, r.period.label]
            + [_cell(getattr(x.current, name)) for name in FIGURES]
            + [r.previous.label]
            + [_cell(getattr(x.previous, name)) for name in FIGURES]
        )
    return out.getvalue()


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def as_table(r: Report) -> str:
    """A fixed-width console table, one line per group and a total."""
    head = (
        f"{'key':<28} {'recv':>6} {'on time':>7} {'late':>5} {'overdue':>7} {'late redir':>10} "
        f"{'viol.':>6} {'on-time':>7} {'median':>6} | {'viol.':>6} {'on-time':>7}  n<min"
    )
    lines = [
        f"compliance by {r.by}: {r.period.label} ({r.period.first} … {r.period.last}), "
        f"previous {r.previous.label}; as of {r.as_of.isoformat()}",
        head,
        "-" * len(head),
    ]

    def row(x: Line) -> str:
        c, p = x.current, x.previous
        flag = "*" if c.small_sample else ""
        return (
            f"{(x.key or UNKNOWN)[:28]:<28} {c.received:>6} {c.answered_on_time:>7} "
            f"{c.answered_late:>5} {c.open_overdue:>7} {c.late_redirects:>10} "
            f"{c.violations:>6} {_share(c.on_time_share):>7} "
            f"{_number(c.median_working_days):>6} | {p.violations:>6} "
            f"{_share(p.on_time_share):>7}  {flag}"
        )

    lines += [row(x) for x in r.lines]
    lines += ["-" * len(head), row(r.total)]
    lines.append(
        f"right of '|': {r.previous.label}. * = fewer than {r.min_sample} answered + overdue."
    )
    return "\n".join(lines)
