"""Open data: monthly figures per agency or per district, for anyone, without a token.

Every figure comes from the compliance aggregates (`compliance_daily`,
`compliance_answer_days`), as the compliance report reads them, plus the extensions from
`clocks` (one partial index). The definitions, per month (Asia/Almaty days):

- received: hops whose agency received the appeal in the month (an appeal redirected to
  another body counts once for each body that received it);
- answered, on_time, late: answers given in the month; late = given after the due date in
  force (answered = on_time + late);
- redirected: redirects made in the month by the body (or about the district);
- extended: terms extended in the month (АППК art. 76(2));
- median_working_days: over the answers given in the month (day 1 = 1; an answer before
  day 1 of the term, the day of receipt, counts 0).

A district is the first level under the region: a city of regional significance or a
district (район); a hop counts for the district of the locality routing resolved for the
appeal, and for "" when it resolved none.

Disclosure control (docs/open-data.md says why): a count from 1 to THRESHOLD - 1 is withheld
(null in JSON, empty in CSV), and further cells are withheld until none of them can be worked
out from what is shown: answered = on_time + late in each row, and each column adds up to the
month's total row. The median is withheld with its answered count, or when fewer than
THRESHOLD answers make it.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from appeals_reference.models import ReferenceData
from deadlines.compliance import Period, median, month
from deadlines.law import local_day, start_of

Grouping = Literal["agency", "district"]
THRESHOLD = 5
MAX_MONTHS = 36
TOTAL = "all"
COUNTS = ("received", "answered", "on_time", "late", "redirected", "extended")
MONTH_PATTERN = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"
SCHEMA_ID = "/open-data/v1/monthly.schema.json"


# ------------------------------------------------------------------ the published shape


class Row(BaseModel):
    """One month of one agency or district (or the month's total, key "all")."""

    model_config = ConfigDict(extra="forbid")

    month: str = Field(pattern=MONTH_PATTERN, description="YYYY-MM (Asia/Almaty)")
    complete: bool = Field(description="false for the month still running: figures may grow")
    key: str = Field(
        description='agency code, district (locality) code, "" for appeals routing placed in '
        'no district, or "all" for the month\'s total'
    )
    name_ru: str
    name_kk: str
    received: int | None = Field(ge=0, description="null: withheld (disclosure control)")
    answered: int | None = Field(ge=0, description="on_time + late; null: withheld")
    on_time: int | None = Field(ge=0, description="answered by the due date; null: withheld")
    late: int | None = Field(ge=0, description="answered after the due date; null: withheld")
    redirected: int | None = Field(ge=0, description="redirects made; null: withheld")
    extended: int | None = Field(ge=0, description="terms extended; null: withheld")
    median_working_days: float | None = Field(
        ge=0,
        description="median working days to answer (0: before day 1 of the term); null: "
        "no answers, or withheld",
    )


class Suppression(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: int = Field(description="counts from 1 to threshold - 1 are withheld")
    rule: str


class Feed(BaseModel):
    """Monthly statistics of the appeals of Karaganda region (open data)."""

    model_config = ConfigDict(extra="forbid", title="Appeals open data: monthly statistics")

    dataset: Literal["appeals-monthly"] = "appeals-monthly"
    by: Grouping
    first_month: str = Field(pattern=MONTH_PATTERN)
    last_month: str = Field(pattern=MONTH_PATTERN)
    generated_at: datetime
    time_zone: Literal["Asia/Almaty"] = "Asia/Almaty"
    suppression: Suppression
    documentation: str = "docs/open-data.md"
    rows: list[Row]


def schema() -> dict[str, Any]:
    """The JSON Schema of the JSON feed (checked in as docs/open-data/monthly.schema.json)."""
    document = Feed.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **document}


SUPPRESSION = Suppression(
    threshold=THRESHOLD,
    rule=f"counts from 1 to {THRESHOLD - 1} are withheld (null), and further cells until "
    "no withheld count follows from answered = on_time + late or from a month's column total; "
    f"a median is withheld with its answered count or when under {THRESHOLD} answers make it",
)


# ------------------------------------------------------------------ months


def parse_month(text: str) -> Period:
    year_text, month_text = text.split("-")
    return month(int(year_text), int(month_text))


def months_between(first: Period, last: Period) -> list[Period]:
    """Every month from `first` to `last`; ValueError when reversed or over MAX_MONTHS."""
    chosen = [first]
    while chosen[-1].first < last.first:
        after = chosen[-1].last + timedelta(days=1)
        chosen.append(month(after.year, after.month))
    if first.first > last.first:
        raise ValueError(f"{first.label} comes after {last.label}")
    if len(chosen) > MAX_MONTHS:
        raise ValueError(f"at most {MAX_MONTHS} months at a time, not {len(chosen)}")
    return chosen


def year_ending(last: Period) -> Period:
    """The first of the twelve months ending with `last` (not before January 1900)."""
    back = max(last.first.year * 12 + last.first.month - 1 - 11, 1900 * 12)
    return month(back // 12, back % 12 + 1)


# ------------------------------------------------------------------ districts


def district_of(reference: ReferenceData, locality: str) -> str:
    """The city of regional significance or district a locality lies in; "" if none."""
    if not reference.has_locality(locality):
        return ""
    chain = reference.ancestors(locality)
    # chain runs from the locality up to its region; the district is the one below the region.
    return chain[-2].code if len(chain) >= 2 else ""


def name_of(reference: ReferenceData, by: Grouping, key: str) -> tuple[str, str]:
    if key == TOTAL:
        return "Всего", "Барлығы"
    if not key:
        return "(не указано)", "(көрсетілмеген)"
    if by == "agency" and reference.has_agency(key):
        agency = reference.agency(key)
        return agency.name_ru, agency.name_kk
    if by == "district" and reference.has_locality(key):
        locality = reference.locality(key)
        return locality.name_ru, locality.name_kk
    return key, key


# ------------------------------------------------------------------ figures


@dataclass
class Cell:
    received: int = 0
    on_time: int = 0
    late: int = 0
    redirected: int = 0
    extended: int = 0
    answer_days: Counter[int] = field(default_factory=Counter)

    @property
    def answered(self) -> int:
        return self.on_time + self.late


DAILY = """
SELECT dimension, key, to_char(day, 'YYYY-MM') AS month,
       sum(received)::int AS received, sum(answered_on_time)::int AS on_time,
       sum(answered_late)::int AS late, sum(redirected)::int AS redirected
FROM compliance_daily
WHERE dimension = ANY($1::text[]) AND day BETWEEN $2 AND $3
GROUP BY dimension, key, month
"""

ANSWER_DAYS = """
SELECT dimension, key, to_char(day, 'YYYY-MM') AS month, working_days,
       sum(answers)::int AS answers
FROM compliance_answer_days
WHERE dimension = ANY($1::text[]) AND day BETWEEN $2 AND $3
GROUP BY dimension, key, month, working_days
HAVING sum(answers) > 0
"""

# The extension moment is a timestamp: months are cut at local midnight in Python, as every
# *_day column is (the server's time-zone database may predate Kazakhstan's 2024 change).
EXTENDED = """
SELECT agency, coalesce(locality, '') AS locality, extended_at
FROM clocks
WHERE extended_at >= $1 AND extended_at < $2
"""


async def cells(
    conn: asyncpg.Connection, by: Grouping, first: Period, last: Period, reference: ReferenceData
) -> dict[str, dict[str, Cell]]:
    """month label -> key -> figures, the month's total under TOTAL."""
    dimension = "agency" if by == "agency" else "locality"

    def key_of(raw: str) -> str:
        return raw if by == "agency" else district_of(reference, raw)

    table: dict[str, dict[str, Cell]] = {}

    def cell(month_label: str, dim: str, raw: str) -> Cell:
        key = TOTAL if dim == "all" else key_of(raw)
        return table.setdefault(month_label, {}).setdefault(key, Cell())

    dims = [dimension, "all"]
    for r in await conn.fetch(DAILY, dims, first.first, last.last):
        c = cell(r["month"], r["dimension"], r["key"])
        c.received += r["received"]
        c.on_time += r["on_time"]
        c.late += r["late"]
        c.redirected += r["redirected"]
    for r in await conn.fetch(ANSWER_DAYS, dims, first.first, last.last):
        cell(r["month"], r["dimension"], r["key"]).answer_days[r["working_days"]] += r["answers"]
    until = start_of(last.last + timedelta(days=1))
    for r in await conn.fetch(EXTENDED, start_of(first.first), until):
        label = local_day(r["extended_at"]).strftime("%Y-%m")
        raw = r["agency"] if by == "agency" else r["locality"]
        cell(label, dimension, raw).extended += 1
        cell(label, "all", "").extended += 1
    return table


# ------------------------------------------------------------------ disclosure control


Relation = tuple[Any, list[Any]]


def withheld(values: dict[Any, int], relations: Iterable[Relation]) -> set[Any]:
    """The cells to withhold: the small ones, then more until none can be worked out.

    `relations` are (total cell, part cells): the total is the sum of the parts. A withheld
    cell must never be the one unknown of a relation: a withheld total needs a withheld part
    beside it, and the withheld parts of a shown total must be two or more cells adding up to
    THRESHOLD or more (else a reader narrows each down to a few values). The smallest shown
    non-zero part joins them until that holds. Then an audit solves all the relations at once
    (what chains of them reveal): while a small withheld count is still determined, the
    smallest shown non-zero cell of a relation it is in is withheld too. Zero is shown: it
    tells nothing about a person.
    """
    hidden = {c for c, v in values.items() if 0 < v < THRESHOLD}
    relations = list(relations)
    while True:
        changed = True
        while changed:
            changed = False
            for total, parts in relations:
                held = [p for p in parts if p in hidden]
                if total in hidden:
                    safe = bool(held)
                else:
                    safe = not held or (
                        len(held) >= 2 and sum(values[p] for p in held) >= THRESHOLD
                    )
                if not safe and _hide_smallest(values, hidden, parts):
                    changed = True
        exposed = [c for c in determined(hidden, relations) if values[c] < THRESHOLD]
        if not exposed:
            return hidden
        grew = any(
            _hide_smallest(values, hidden, [total, *parts])
            for cell in sorted(exposed, key=repr)
            for total, parts in relations
            if cell == total or cell in parts
        )
        if not grew:  # nothing shown is left beside them: withhold them all the same
            return hidden


def _hide_smallest(values: dict[Any, int], hidden: set[Any], cells: list[Any]) -> bool:
    shown = sorted(
        ((values[c], repr(c), c) for c in cells if c not in hidden and values[c] > 0),
        key=lambda x: (x[0], x[1]),
    )
    if not shown:
        return False
    hidden.add(shown[0][2])
    return True


def determined(hidden: set[Any], relations: list[Relation]) -> set[Any]:
    """The withheld cells whose value follows from the relations and the shown cells.

    Each relation is a linear equation in the withheld cells; a cell is determined exactly
    when its unit vector lies in the equations' row space, i.e. when a row of the reduced
    row echelon form is that unit vector. Sparse rows of Fractions: a month has a few
    hundred cells and each equation touches a handful of them (a column's: one per row).
    """
    pivots: dict[Any, dict[Any, Fraction]] = {}
    for total, parts in relations:
        row: dict[Any, Fraction] = {}
        for cell, sign in [(total, 1), *((p, -1) for p in parts)]:
            if cell in hidden:
                row[cell] = row.get(cell, Fraction(0)) + sign
        row = {c: v for c, v in row.items() if v}
        for pivot, prow in pivots.items():  # reduce by the pivots found so far
            if pivot in row:
                factor = row[pivot]
                for c, v in prow.items():
                    row[c] = row.get(c, Fraction(0)) - factor * v
                row = {c: v for c, v in row.items() if v}
        if not row:
            continue
        pivot = min(row, key=repr)
        scale = row[pivot]
        row = {c: v / scale for c, v in row.items()}
        for other, orow in pivots.items():  # keep the earlier rows reduced
            if pivot in orow:
                factor = orow[pivot]
                for c, v in row.items():
                    orow[c] = orow.get(c, Fraction(0)) - factor * v
                pivots[other] = {c: v for c, v in orow.items() if v}
        pivots[pivot] = row
    return {pivot for pivot, row in pivots.items() if len(row) == 1}


def protect(keys: list[str], table: dict[str, Cell]) -> set[tuple[str, str]]:
    values = {(k, col): getattr(table[k], col) for k in keys for col in COUNTS}
    relations: list[tuple[Any, list[Any]]] = [
        ((k, "answered"), [(k, "on_time"), (k, "late")]) for k in keys
    ]
    parts = [k for k in keys if k != TOTAL]
    relations += [((TOTAL, col), [(k, col) for k in parts]) for col in COUNTS]
    return withheld(values, relations)


def rows(
    table: dict[str, dict[str, Cell]],
    months: list[Period],
    by: Grouping,
    reference: ReferenceData,
    today: date,
) -> list[Row]:
    out: list[Row] = []
    for period in months:
        cells_of_month = dict(table.get(period.label, {}))
        cells_of_month.setdefault(TOTAL, Cell())
        keys = sorted(cells_of_month, key=lambda k: (k == TOTAL, k))
        hidden = protect(keys, cells_of_month)
        for key in keys:
            c = cells_of_month[key]
            shown = {col: None if (key, col) in hidden else getattr(c, col) for col in COUNTS}
            middle = median(c.answer_days)
            if shown["answered"] is None or sum(c.answer_days.values()) < THRESHOLD:
                middle = None
            name_ru, name_kk = name_of(reference, by, key)
            out.append(
                Row(
                    month=period.label,
                    complete=period.last < today,
                    key=key,
                    name_ru=name_ru,
                    name_kk=name_kk,
                    median_working_days=middle,
                    **shown,
                )
            )
    return out


async def feed(
    conn: asyncpg.Connection,
    by: Grouping,
    first: Period,
    last: Period,
    reference: ReferenceData,
    now: datetime,
) -> Feed:
    months = months_between(first, last)
    table = await cells(conn, by, first, last, reference)
    return Feed(
        by=by,
        first_month=first.label,
        last_month=last.label,
        generated_at=now,
        suppression=SUPPRESSION,
        rows=rows(table, months, by, reference, local_day(now)),
    )


# ------------------------------------------------------------------ CSV

COLUMNS = ("month", "complete", "key", "name_ru", "name_kk", *COUNTS, "median_working_days")


def as_csv(data: Feed) -> str:
    """One line per month and key, the columns of Row; a withheld or absent figure is empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in data.rows:
        values = row.model_dump()
        writer.writerow(
            [
                ("true" if values[c] else "false")
                if c == "complete"
                else ("" if values[c] is None else values[c])
                for c in COLUMNS
            ]
        )
    return out.getvalue()
