"""Inline SVG bar charts (templates/chart.svg): nothing to download, nothing to run in the
browser."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from appeals_dashboard.render import render

LABEL_WIDTH = 250
BAR_WIDTH = 380
VALUE_WIDTH = 70
ROW_HEIGHT = 30
BAR_HEIGHT = 10
LEGEND_HEIGHT = 24
MAX_LABEL = 34


@dataclass(frozen=True)
class Bar:
    label: str
    current: float | None  # a share in 0..1, or None when there is nothing to show
    previous: float | None
    current_text: str
    previous_text: str


@dataclass(frozen=True)
class ChartRow:
    bar: Bar
    label: str  # shortened to fit
    top: int
    current_width: float
    previous_width: float


@dataclass(frozen=True)
class Chart:
    title: str
    current_name: str
    previous_name: str
    rows: list[ChartRow]
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT
    value_x: int = LABEL_WIDTH + BAR_WIDTH + 6
    width: int = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH

    @property
    def height(self) -> int:
        return LEGEND_HEIGHT + ROW_HEIGHT * len(self.rows) + 4


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _width(share: float | None) -> float:
    return round(BAR_WIDTH * max(0.0, min(1.0, share or 0.0)), 1)


def paired_bars(
    bars: Sequence[Bar], *, title: str, current_name: str, previous_name: str
) -> Markup:
    """One row per label: the period's share above the comparison period's."""
    rows = [
        ChartRow(
            bar,
            _label(bar.label),
            LEGEND_HEIGHT + index * ROW_HEIGHT,
            _width(bar.current),
            _width(bar.previous),
        )
        for index, bar in enumerate(bars)
    ]
    chart = Chart(title, current_name, previous_name, rows)
    return render("chart.svg", chart=chart)


# A month-by-month trend: one column per month, the on-time share (0..100 %) and the late
# answers (0..the most in any month shown) as two bars side by side, each on its own scale.
TREND_LEFT = 8
TREND_COLUMN = 28
TREND_PLOT = 120
TREND_TOP = 24


@dataclass(frozen=True)
class TrendColumn:
    label: str  # under the column: the month's number
    year: str  # under the label, at January and at the first column
    title: str  # the month in words, for the tooltips
    share: float | None
    share_text: str
    late: int
    late_text: str


@dataclass(frozen=True)
class TrendBar:
    column: TrendColumn
    x: int
    share_top: float
    share_height: float
    late_top: float
    late_height: float


@dataclass(frozen=True)
class TrendChart:
    title: str
    share_name: str
    late_name: str
    bars: list[TrendBar]
    bar_width: int = 11
    top: int = TREND_TOP
    baseline: int = TREND_TOP + TREND_PLOT
    height: int = TREND_TOP + TREND_PLOT + 34

    @property
    def width(self) -> int:
        return TREND_LEFT * 2 + TREND_COLUMN * max(len(self.bars), 12)


def trend_bars(
    columns: Sequence[TrendColumn], *, title: str, share_name: str, late_name: str
) -> Markup:
    most_late = max((c.late for c in columns), default=0) or 1
    bars = []
    for index, column in enumerate(columns):
        share_height = round(TREND_PLOT * max(0.0, min(1.0, column.share or 0.0)), 1)
        late_height = round(TREND_PLOT * column.late / most_late, 1)
        bars.append(
            TrendBar(
                column,
                TREND_LEFT + index * TREND_COLUMN,
                TREND_TOP + TREND_PLOT - share_height,
                share_height,
                TREND_TOP + TREND_PLOT - late_height,
                late_height,
            )
        )
    chart = TrendChart(title, share_name, late_name, bars)
    return render("trend.svg", chart=chart)
