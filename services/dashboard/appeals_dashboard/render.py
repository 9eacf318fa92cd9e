"""Pages from the Jinja2 templates in `templates/`, with autoescape on everywhere.

Every value a template prints is escaped unless it is already `Markup` (a fragment another
template rendered), so no page can forget to. A template that names a value it was not given
fails (StrictUndefined) rather than printing an empty page. The templates get the i18n
helpers as filters (`integer`, `percent`, `moment`, ...) and `text(lang, key)` as a global.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from appeals_dashboard import i18n

ENV = Environment(
    loader=PackageLoader("appeals_dashboard", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
ENV.globals.update(
    text=i18n.text,
    LANGUAGES=i18n.LANGUAGES,
    LANGUAGE_NAMES=i18n.LANGUAGE_NAMES,
    INDENT="\u2003",  # an em space per level of the locality tree in a <select>
)
ENV.filters.update(
    integer=lambda value, lang: i18n.integer(lang, int(value)),
    percent=lambda share, lang, places=1: i18n.percent(lang, share, places),
    decimal=lambda value, lang, places=1: i18n.decimal(lang, value, places),
    moment=lambda moment, lang, short=True: i18n.moment_text(lang, moment, short=short),
    iso_local=i18n.iso_local,
    day=lambda day, lang: i18n.day_text(lang, day),
    period=lambda label, lang: i18n.period_text(lang, label),
    # A routing explanation's part ({"code": ..., "how": ...}) on one line.
    described=lambda part: ", ".join(f"{k}: {v}" for k, v in part.items() if v not in (None, "")),
)


def render(name: str, **values: Any) -> Markup:
    """The template `templates/<name>` filled with `values`."""
    # Safe: the environment escaped every value the template printed (autoescape=True).
    return Markup(ENV.get_template(name).render(**values))  # noqa: S704


def fragment(template: str, macro: str, *args: Any, **kwargs: Any) -> Markup:
    """One macro of a template on its own (a table row the live stream sends, for one)."""
    # A macro of an autoescaping environment returns Markup already; strip keeps it Markup.
    rendered: Markup = getattr(ENV.get_template(template).module, macro)(*args, **kwargs)
    return rendered.strip()
