"""Compliance tables for the dashboard: the service's report for a period, beside any
comparison period, ranked worst first.

The figures and their definitions are the service's (read through `deadlines.queries`: its
statements, `Tally` and `Figures.of`), so the page, its CSV files and the `/v1/compliance`
API agree.
This module adds what the page needs on top: a comparison with the same period a year
earlier or with any other period (the seed's "40 late answers in Q1 2022 against 91 in all
of 2021"), districts and cities (localities folded to their depth-1 ancestor: the clocks'
`region` is the oblast), the agency's own view, and the ranking by on-time share with small
samples after the reliable rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from appeals_platform.runtime import Runtime
from appeals_reference.models import ReferenceData
from deadlines import queries
from deadlines.queries import Figures, OverdueGroup, Period, Tally, start_of

T = TypeVar("T")
K = TypeVar("K")

# Comparison modes offered on the page; anything else is read as a period label.
PREVIOUS = "previous"
YEAR_EARLIER = "year"


@dataclass(frozen=True)
class Choice:
    """The period on show and the period beside it."""

    period: Period
    previous: Period
    compare: str  # PREVIOUS, YEAR_EARLIER or the label of the comparison period


def year_earlier(period: Period) -> Period:
    """The same month, quarter or year one year before."""
    label = period.label
    return queries.parse_period(f"{int(label[:4]) - 1:04d}{label[4:]}")


def choose(period_text: str | None, compare_text: str | None, today: date) -> Choice:
    """The period from its label (the current quarter when absent), and the comparison:
    the same period a year earlier (default), the preceding period, or a period label.
    Raises ValueError for a label that is not a month, quarter or year."""
    text = (period_text or "").strip()
    period = queries.parse_period(text) if text else queries.period_containing(today, "quarter")
    compare = (compare_text or YEAR_EARLIER).strip() or YEAR_EARLIER
    if compare == PREVIOUS:
        return Choice(period, period.previous(), PREVIOUS)
    if compare == YEAR_EARLIER:
        return Choice(period, year_earlier(period), YEAR_EARLIER)
    return Choice(period, queries.parse_period(compare), compare)


def recent_periods(today: date) -> list[Period]:
    """Periods offered in the chooser: this and the last two years, their quarters, and the
    months of the last twelve."""
    years = [queries.year(today.year - n) for n in range(3)]
    quarters = [
        queries.quarter(y, q)
        for y in (today.year, today.year - 1, today.year - 2)
        for q in (4, 3, 2, 1)
        if queries.quarter(y, q).first <= today
    ]
    months: list[Period] = []
    y, m = today.year, today.month
    for _ in range(12):
        months.append(queries.month(y, m))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return years + quarters + months


@dataclass(frozen=True)
class Row:
    key: str
    current: Figures
    previous: Figures


@dataclass(frozen=True)
class Table:
    by: str
    choice: Choice
    as_of: datetime
    previous_as_of: datetime
    min_sample: int
    rows: list[Row]


def rank(rows: list[Row]) -> list[Row]:
    """Worst first: the lowest on-time share, then the most violations; rows flagged as a
    small sample after all reliable rows, rows with nothing to judge last."""

    def order(row: Row) -> tuple[int, float, int, str]:
        share = row.current.on_time_share
        group = 2 if share is None else (1 if row.current.small_sample else 0)
        return group, 1.0 if share is None else share, -row.current.violations, row.key

    return sorted(rows, key=order)


def as_of(period: Period, now: datetime) -> datetime:
    """The moment a period's open-and-overdue count is taken: its end, or now while it runs."""
    return min(start_of(period.last + timedelta(days=1)), now)


def fold(tallies: dict[str, Tally], key_of: Callable[[str], str]) -> dict[str, Tally]:
    folded: dict[str, Tally] = {}
    for key, tally in tallies.items():
        folded.setdefault(key_of(key), Tally()).add(tally)
    return folded


def district_of(reference: ReferenceData) -> Callable[[str], str]:
    """A locality's city of regional significance or district (the region itself stays)."""

    def key_of(code: str) -> str:
        if not reference.has_locality(code):
            return code
        chain = reference.ancestors(code)
        return chain[-2].code if len(chain) >= 2 else chain[-1].code

    return key_of


# Which field of `queries.OverdueGroup` a stored dimension's key is.
OVERDUE_COLUMN = {
    "agency": "agency",
    "level": "level",
    "region": "region",
    "locality": "locality",
    "category": "category",
}
STORED = ("all", *OVERDUE_COLUMN)


class Figuring:
    """The compliance figures one page needs, each read once and read concurrently.

    Several tables share their sources (districts and localities both read the locality
    aggregates; sectors and levels the level ones), and every table of a period shares one
    open-and-overdue count, so a page with six tables costs about a dozen indexed reads of
    the aggregates and two of the clocks, spread over the pool's connections.
    """

    def __init__(
        self,
        runtime: Runtime,
        now: datetime,
        reference: ReferenceData,
        *,
        min_sample: int,
    ) -> None:
        self.runtime = runtime
        self.now = now
        self.reference = reference
        self.min_sample = min_sample
        self._stored: dict[tuple[str, Period], asyncio.Task[dict[str, Tally]]] = {}
        self._overdue: dict[datetime, asyncio.Task[list[OverdueGroup]]] = {}

    @staticmethod
    def _once(
        tasks: dict[K, asyncio.Task[T]], key: K, make: Callable[[], Coroutine[Any, Any, T]]
    ) -> asyncio.Task[T]:
        """The task computing `key`, started by the first table that asks for it."""
        if key not in tasks:
            tasks[key] = asyncio.ensure_future(make())
        return tasks[key]

    async def _overdue_groups(self, moment: datetime) -> list[OverdueGroup]:
        async with self.runtime.pool.acquire() as conn:
            return await queries.overdue_groups(conn, moment)

    async def _aggregates(self, dimension: str, period: Period) -> dict[str, Tally]:
        """A stored dimension's tally per key, with the service's own statements (one period
        at a time, so a comparison period need not be adjacent)."""
        moment = as_of(period, self.now)
        overdue = self._once(self._overdue, moment, lambda: self._overdue_groups(moment))
        async with self.runtime.pool.acquire() as conn:
            tallies = await queries.period_tallies(conn, dimension, period)
        column = OVERDUE_COLUMN.get(dimension)
        for r in await overdue:
            key = getattr(r, column) if column else "all"
            tallies.setdefault(key, Tally()).open_overdue += r.n
        return tallies

    async def tallies(self, by: str, period: Period) -> dict[str, Tally]:
        """`district` folds localities, `sector` folds agency levels; the rest are stored."""
        if by == "district":
            stored = await self.tallies("locality", period)
            return fold(stored, district_of(self.reference))
        if by == "sector":
            return fold(await self.tallies("level", period), queries.sector_of)
        if by not in STORED:
            raise ValueError(f"cannot group by {by!r}")
        task = self._once(self._stored, (by, period), lambda: self._aggregates(by, period))
        return await task

    async def table(self, by: str, choice: Choice, *, agency: str | None = None) -> Table:
        """One table grouped `by` a dimension (`all` gives the one total row). With `agency`,
        the agency dimension narrowed to that agency's row: an agency sees nothing else."""
        if agency is not None:
            by = "agency"
        current, previous = await asyncio.gather(
            self.tallies(by, choice.period), self.tallies(by, choice.previous)
        )
        keys = {agency} if agency is not None else current.keys() | previous.keys()
        rows = [
            Row(
                key,
                Figures.of(current.get(key, Tally()), self.min_sample),
                Figures.of(previous.get(key, Tally()), self.min_sample),
            )
            for key in keys
        ]
        return Table(
            by,
            choice,
            as_of(choice.period, self.now),
            as_of(choice.previous, self.now),
            self.min_sample,
            rank(rows),
        )

    async def tables(
        self, wanted: Sequence[str], choice: Choice, *, agency: str | None = None
    ) -> dict[str, Table]:
        found = await asyncio.gather(*(self.table(by, choice, agency=agency) for by in wanted))
        return dict(zip(wanted, found, strict=True))


# ------------------------------------------------------------------ trends

TREND_MONTHS = 24


@dataclass(frozen=True)
class Scope:
    """Whose trend: the region (`all`), a district or city, or an agency."""

    by: str  # "all", "district" or "agency"
    key: str  # "" for the region

    @property
    def value(self) -> str:
        """As the page's `trend` parameter spells it: `all`, `district:CODE`, `agency:CODE`."""
        return self.by if self.by == "all" else f"{self.by}:{self.key}"


REGION = Scope("all", "")


def districts(reference: ReferenceData) -> list[str]:
    """The home region's cities of regional significance and districts."""
    home = reference.home_region.code
    return [x.code for x in reference.localities if x.parent == home]


def parse_scope(text: str | None, reference: ReferenceData) -> Scope | None:
    """The scope a `trend` parameter names (the region when absent); None when it names no
    district or agency of the reference data."""
    text = (text or "").strip()
    if text in ("", "all"):
        return REGION
    by, _, key = text.partition(":")
    if by == "agency" and reference.has_agency(key):
        return Scope(by, key)
    if by == "district" and key in districts(reference):
        return Scope(by, key)
    return None


@dataclass(frozen=True)
class TrendMonth:
    period: Period
    figures: Figures


@dataclass(frozen=True)
class Trend:
    scope: Scope
    months: list[TrendMonth]  # oldest first, the running month last


def months_back(today: date, count: int) -> date:
    """The first day of the month `count - 1` months before today's."""
    index = today.year * 12 + today.month - 1 - (count - 1)
    return date(index // 12, index % 12 + 1, 1)


async def trend(
    runtime: Runtime,
    reference: ReferenceData,
    scope: Scope,
    today: date,
    *,
    min_sample: int,
    count: int = TREND_MONTHS,
) -> Trend:
    """The scope's figures month by month over the last `count` months, by the service's
    definitions: on-time share, answers on time and late (the seed's "late answers": given
    after the due date), and the open overdue at each month's end beside them."""
    if scope.by == "all":
        dimension, keys = "all", ["all"]
    elif scope.by == "agency":
        dimension, keys = "agency", [scope.key]
    else:
        within = district_of(reference)
        dimension = "locality"
        keys = [x.code for x in reference.localities if within(x.code) == scope.key]
    async with runtime.pool.acquire() as conn:
        tallies = await queries.monthly_tallies(
            conn, dimension, keys, months_back(today, count), today
        )
    return Trend(scope, [TrendMonth(p, Figures.of(t, min_sample)) for p, t in tallies])
