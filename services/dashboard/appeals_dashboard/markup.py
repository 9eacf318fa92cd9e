"""Escaped HTML without a template engine: `Html` marks safe markup, everything else is escaped.

Templates are `string.Template` files (`$name` placeholders) in `templates/`; `render`
escapes every value that is not already `Html`, so no page can forget to.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable, Mapping
from importlib.resources import files
from string import Template


class Html(str):
    """A string of markup that is safe to insert as it is."""

    __slots__ = ()


def escape(value: object) -> Html:
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[object], separator: str = "") -> Html:
    return Html(separator.join(escape(p) for p in parts))


VOID = frozenset({"input", "br", "hr", "meta", "link", "img", "rect"})


def element(name: str, content: object = "", /, **attributes: object) -> Html:
    """`<name attr="...">content</name>`; `class_` is `class`; None and False drop the attribute.

    Void elements (input, br, ...) and an empty SVG rect take no closing tag.
    """
    attrs = "".join(
        f" {key.rstrip('_').replace('_', '-')}" + ("" if value is True else f'="{escape(value)}"')
        for key, value in attributes.items()
        if value is not None and value is not False
    )
    if name in VOID and not content:
        return Html(f"<{name}{attrs}>" if name != "rect" else f"<{name}{attrs}/>")
    return Html(f"<{name}{attrs}>{escape(content)}</{name}>")


@functools.cache
def template(name: str) -> Template:
    source = files("appeals_dashboard").joinpath("templates", name).read_text("utf-8")
    return Template(source)


def render(name: str, values: Mapping[str, object]) -> Html:
    """Fill `templates/<name>`; a missing value is a KeyError, not a silently empty page."""
    return Html(template(name).substitute({k: escape(v) for k, v in values.items()}))
