"""Escaping of everything a page shows, and the SVG chart (pure)."""

from __future__ import annotations

from appeals_dashboard.charts import Bar, paired_bars
from appeals_dashboard.markup import Html, element, escape, join, render


def test_text_is_escaped_and_markup_is_kept() -> None:
    assert escape('<script>alert("x")</script>') == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    )
    assert escape(Html("<b>ok</b>")) == "<b>ok</b>"
    assert join(["<i>", Html("<b>")]) == "&lt;i&gt;<b>"


def test_attributes_are_escaped_and_false_ones_dropped() -> None:
    html = element("a", "x", href='/a?b="c"', class_="link", hidden=False, download=True)
    assert html == '<a href="/a?b=&quot;c&quot;" class="link" download>x</a>'
    assert element("input", name="comment") == '<input name="comment">'


def test_a_template_escapes_every_value_it_is_given() -> None:
    page = render("error.html", {"heading": "<h1>", "detail": Html("<em>why</em>")})
    assert "&lt;h1&gt;" in page and "<em>why</em>" in page


def test_a_comment_cannot_inject_markup_into_the_chart() -> None:
    svg = paired_bars(
        [Bar("<b>evil</b>", 0.5, 0.25, "50%", "25%")],
        title="On time",
        current_name="2022",
        previous_name="2021",
    )
    assert "<b>" not in svg and "&lt;b&gt;evil" in svg


def test_bars_are_as_long_as_their_share() -> None:
    svg = paired_bars(
        [Bar("A", 1.0, 0.5, "100%", "50%"), Bar("B", None, 0.0, "—", "0%")],
        title="t",
        current_name="c",
        previous_name="p",
    )
    assert 'width="380.0"' in svg and 'width="190.0"' in svg and 'width="0.0"' in svg
