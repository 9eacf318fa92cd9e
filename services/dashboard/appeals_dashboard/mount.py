"""The dashboard in the deadlines process: its live-alerts subscriber and its router.

`deadlines.app.create_app` calls `mount_dashboard` (named under the entry-point group
`appeals_deadlines.pages` in this package's pyproject.toml) before the broker starts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import AlertAcknowledged, DeadlineAlert
from appeals_dashboard.feed import AlertFeed, feed_item
from appeals_dashboard.names import Names
from appeals_dashboard.routes import (
    alerts,
    appeal,
    backlog,
    compliance,
    inboxes,
    risk,
    session,
    static,
    whatif,
)
from appeals_dashboard.state import PREFIX, Dashboard
from appeals_platform.consumer import Subscription
from appeals_platform.runtime import Runtime
from deadlines.clocks import Clock
from deadlines.config import Settings
from deadlines.context import Context
from deadlines.pages import Pages

PAGES = (session, static, alerts, compliance, appeal, backlog, risk, inboxes, whatif)


def mount_dashboard(
    runtime: Runtime,
    settings: Settings,
    *,
    clock: Clock,
    ctx: Context,
    feed: AlertFeed | None = None,
) -> Pages:
    """Register the live-alerts subscription on the runtime; the dashboard's routes.

    The subscription has no consumer group: each process instance (each uvicorn worker too)
    reads every partition of the alerts topic from the latest offset and commits nothing,
    so every open page sees every alert whichever instance serves it, and no group is left
    behind in Kafka by instances that come and go. A page that reconnects catches up from
    the alerts the service stored, so nothing depends on where this consumer stood.
    """
    live = feed or AlertFeed()

    async def publish(conn: object, items: list[dict[str, Any]]) -> None:
        await live.publish(items)

    runtime.subscribe(
        Subscription(
            name="dashboard-feed",
            topics=(settings.alerts_topic,),
            group=None,
            parse=feed_item,
            handle=publish,
        ),
        CloudEvent[DeadlineAlert | AlertAcknowledged],
        "Alerts and acknowledgements to the open dashboard pages.",
    )
    # PostgreSQL away: the open streams end (cleanly, as streams end) with the other routes'
    # 503s (appeals_platform.api.DatabaseGuard), rather than sending keep-alives meanwhile.
    runtime.watchdog.on_change(lambda available: None if available else live.end_streams())
    dashboard = Dashboard(runtime, settings, live, clock, ctx, Names(ctx.reference))
    router = APIRouter(
        prefix=PREFIX, include_in_schema=False, dependencies=[Depends(dashboard.bind)]
    )
    router.add_api_route("", session.home, methods=["GET"])
    for page in PAGES:
        router.include_router(page.router)
    return Pages(router, home=PREFIX, links={"dashboard": PREFIX})
