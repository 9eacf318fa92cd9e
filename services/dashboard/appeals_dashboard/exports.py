"""CSV files of the compliance tables: the columns of `/v1/compliance.csv`, in the page's
order (worst first), with names in the page's language."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from appeals_dashboard.report import Row, Table
from deadlines.queries import FIGURES, Figures

HEADER = (
    "rank",
    "by",
    "key",
    "name",
    "period",
    "period_first",
    "period_last",
    *FIGURES,
    "previous_period",
    "previous_first",
    "previous_last",
    *(f"previous_{name}" for name in FIGURES),
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _figures(figures: Figures) -> list[str]:
    return [_cell(getattr(figures, name)) for name in FIGURES]


def table_csv(table: Table, name_of: Callable[[str], str]) -> str:
    """RFC 4180 with CRLF, one line per row of the page's table, in its order.

    Starts with a byte-order mark so spreadsheet programs read Cyrillic names as UTF-8.
    """
    period, previous = table.choice.period, table.choice.previous
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)

    def line(rank: str, row: Row) -> list[str]:
        return [
            rank,
            table.by,
            row.key,
            name_of(row.key),
            period.label,
            period.first.isoformat(),
            period.last.isoformat(),
            *_figures(row.current),
            previous.label,
            previous.first.isoformat(),
            previous.last.isoformat(),
            *_figures(row.previous),
        ]

    for rank, row in enumerate(table.rows, start=1):
        writer.writerow(line(str(rank), row))
    return out.getvalue()


def csv_filename(table: Table) -> str:
    choice = table.choice
    return f"compliance-{table.by}-{choice.period.label}-vs-{choice.previous.label}.csv"
