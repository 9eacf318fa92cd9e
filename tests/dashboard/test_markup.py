"""Escaping of everything a page shows (Jinja2's autoescape), the SVG chart, and templates
that keep to the Content-Security-Policy (pure)."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest
from jinja2 import UndefinedError
from markupsafe import Markup

from appeals_dashboard.charts import Bar, paired_bars
from appeals_dashboard.render import ENV, render


def test_text_is_escaped_and_markup_is_kept() -> None:
    template = ENV.from_string("{{ a }}|{{ b }}|{{ c }}")
    assert template.render(a='<script>alert("x")</script>', b=Markup("<b>ok</b>"), c="<i>") == (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;|<b>ok</b>|&lt;i&gt;"
    )


def test_attributes_are_escaped() -> None:
    link = ENV.from_string('<a href="{{ href }}" class="link">x</a>').render(href='/a?b="c"')
    assert link == '<a href="/a?b=&#34;c&#34;" class="link">x</a>'


def test_a_template_escapes_every_value_it_is_given() -> None:
    page = render("error.html", heading="<h1>", detail=Markup("<em>why</em>"))
    assert "&lt;h1&gt;" in page and "<em>why</em>" in page


def test_a_template_refuses_a_value_it_was_not_given() -> None:
    with pytest.raises(UndefinedError, match="detail"):  # no silently empty page
        render("error.html", heading="x")


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


def test_no_template_has_an_inline_script_or_style() -> None:
    """The CSP allows scripts and styles from the dashboard's own files only."""
    templates = list(files("appeals_dashboard").joinpath("templates").iterdir())
    assert len(templates) >= 10
    for template in templates:
        source = template.read_text("utf-8")
        for script in re.findall(r"<script\b[^>]*>", source):
            assert 'src="/dashboard/static/' in script, (template.name, script)
        assert "<style" not in source, template.name
        assert not re.search(r"\sstyle=", source), template.name
        assert not re.search(r"\son[a-z]+=", source), template.name
        assert "javascript:" not in source, template.name
