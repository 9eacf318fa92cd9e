"""Statements composed of other statements' text."""

from __future__ import annotations

import re


def numbered(sql: str, first: int) -> str:
    """`sql` with its parameters $1, $2, ... numbered from `first`: a statement's text reused
    as a part of a larger one (a data-modifying CTE), whose parameters come after the
    statement's own."""
    return re.sub(r"\$(\d+)", lambda m: f"${int(m.group(1)) + first - 1}", sql)
