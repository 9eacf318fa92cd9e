"""What every route of one mounted dashboard shares, handed to the routes as a dependency.

`mount_dashboard` builds one `Dashboard` and binds it to its router (`bind`); a route asks
for it with `Depends(dashboard)`, so the routes are plain module-level functions rather than
closures over the mount's arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from appeals_dashboard.feed import AlertFeed
from appeals_dashboard.names import Names
from appeals_platform.auth import TokenVerifier
from appeals_platform.runtime import Runtime
from deadlines.clocks import Clock
from deadlines.config import Settings
from deadlines.context import Context

PREFIX = "/dashboard"


@dataclass(frozen=True)
class Dashboard:
    """The deadlines process's runtime (its pool and outbox relay), settings, clock and
    context; the live feed the alerts subscriber publishes to; names of codes."""

    runtime: Runtime
    settings: Settings
    feed: AlertFeed
    clock: Clock
    ctx: Context
    names: Names

    async def bind(self, request: Request) -> None:
        """A router-level dependency: makes this dashboard the request's."""
        request.state.dashboard = self


def dashboard(request: Request) -> Dashboard:
    """The dashboard serving this request (a FastAPI dependency)."""
    found: Dashboard = request.state.dashboard
    return found


def verifier(request: Request) -> TokenVerifier:
    """The service's token verifier (keys, revocations), shared with its API."""
    found: TokenVerifier = request.app.state.verifier
    return found
