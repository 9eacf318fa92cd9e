"""Wiring the dashboard into the deadlines service: its alerts subscriber and its router."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter

from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import AlertAcknowledged, DeadlineAlert
from appeals_platform.consumer import Subscription
from appeals_platform.runtime import Runtime
from deadlines.clocks import Clock
from deadlines.config import Settings
from deadlines.context import Context
from deadlines.dashboard.feed import AlertFeed, feed_item
from deadlines.dashboard.pages import dashboard_router


def mount_dashboard(
    runtime: Runtime,
    settings: Settings,
    *,
    clock: Clock | None = None,
    ctx: Context | None = None,
    feed: AlertFeed | None = None,
) -> APIRouter:
    """Register the live-alerts subscription on the runtime; the dashboard's router.

    The subscription has no consumer group: each process instance (each uvicorn worker too)
    reads every partition of the alerts topic from the latest offset and commits nothing,
    so every open page sees every alert whichever instance serves it, and no group is left
    behind in Kafka by instances that come and go. A page that reconnects catches up from
    the `alerts` table, so nothing depends on where this consumer stood.
    """
    live = feed or AlertFeed()

    async def publish(conn: asyncpg.Connection, items: list[dict[str, Any]]) -> None:
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

    return dashboard_router(runtime, settings, live, clock=clock, ctx=ctx)
