"""Browser pages that other packages add to the deadlines process (the monitoring dashboard).

The dependency points one way: `appeals-dashboard` depends on `appeals-deadlines` and reads
it through `deadlines.queries` and `deadlines.commands`; deadlines never imports the
dashboard. A package offers pages by naming a `Mount` under the entry-point group `GROUP` in
its pyproject.toml; `create_app` mounts every one installed beside the service (the image
installs the dashboard with it, so does `make install`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Protocol

from fastapi import APIRouter

from appeals_platform.runtime import Runtime
from deadlines.clocks import Clock
from deadlines.config import Settings
from deadlines.context import Context

GROUP = "appeals_deadlines.pages"


@dataclass(frozen=True)
class Pages:
    """What a package mounts: its routes, where a browser at the service's root goes, and the
    links it adds to the service's index (`GET /`)."""

    router: APIRouter
    home: str | None = None
    links: dict[str, str] = field(default_factory=dict)


class Mount(Protocol):
    def __call__(
        self, runtime: Runtime, settings: Settings, *, clock: Clock, ctx: Context
    ) -> Pages: ...


def installed() -> list[Mount]:
    """The mounts installed with the service, in the order of their names."""
    found = sorted(entry_points(group=GROUP), key=lambda point: point.name)
    return [point.load() for point in found]
