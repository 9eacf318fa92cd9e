"""Inline SVG bar charts: nothing to download, nothing to run in the browser."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from appeals_dashboard.markup import Html, element, escape, join

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


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _bar(y: float, share: float | None, css: str, title: str) -> Html:
    width = round(BAR_WIDTH * max(0.0, min(1.0, share or 0.0)), 1)
    return element(
        "rect",
        element("title", title),
        x=LABEL_WIDTH,
        y=y,
        width=width,
        height=BAR_HEIGHT,
        class_=css,
    )


def paired_bars(bars: Sequence[Bar], *, title: str, current_name: str, previous_name: str) -> Html:
    """One row per label: the period's share above the comparison period's."""
    height = LEGEND_HEIGHT + ROW_HEIGHT * len(bars) + 4
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    parts: list[Html] = [
        element("title", title),
        element("rect", x=LABEL_WIDTH, y=4, width=12, height=BAR_HEIGHT, class_="bar-current"),
        element("text", current_name, x=LABEL_WIDTH + 16, y=13, class_="legend"),
        element(
            "rect", x=LABEL_WIDTH + 190, y=4, width=12, height=BAR_HEIGHT, class_="bar-previous"
        ),
        element("text", previous_name, x=LABEL_WIDTH + 206, y=13, class_="legend"),
    ]
    for index, bar in enumerate(bars):
        top = LEGEND_HEIGHT + index * ROW_HEIGHT
        parts += [
            element("text", _label(bar.label), x=LABEL_WIDTH - 8, y=top + 15, class_="label"),
            _bar(top + 3, bar.current, "bar-current", f"{bar.label}: {bar.current_text}"),
            _bar(
                top + 3 + BAR_HEIGHT + 1,
                bar.previous,
                "bar-previous",
                f"{bar.label}: {bar.previous_text}",
            ),
            element(
                "text",
                bar.current_text,
                x=LABEL_WIDTH + BAR_WIDTH + 6,
                y=top + 12,
                class_="value",
            ),
            element(
                "text",
                bar.previous_text,
                x=LABEL_WIDTH + BAR_WIDTH + 6,
                y=top + 24,
                class_="value previous",
            ),
        ]
    return element(
        "svg",
        join(parts),
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width} {height}",
        width=width,
        height=height,
        role="img",
        aria_label=escape(title),
        class_="chart",
    )
