"""Wiring the dashboard into the deadlines service: its alerts subscriber and its router."""

from __future__ import annotations

from fastapi import APIRouter
from faststream.kafka.annotations import KafkaMessage

from appeals_platform.runtime import Runtime
from deadlines.clocks import Clock
from deadlines.config import Settings
from deadlines.context import Context
from deadlines.dashboard.feed import AlertFeed, on_alert_records
from deadlines.dashboard.pages import dashboard_router


def mount_dashboard(
    runtime: Runtime,
    settings: Settings,
    *,
    clock: Clock | None = None,
    ctx: Context | None = None,
    feed: AlertFeed | None = None,
) -> APIRouter:
    """Register the live-alerts subscriber on the runtime's broker; the dashboard's router.

    The subscriber has no consumer group: each process instance (each uvicorn worker too)
    reads every partition of the alerts topic from the latest offset and commits nothing,
    so every open page sees every alert whichever instance serves it, and no group is left
    behind in Kafka by instances that come and go. A page that reconnects catches up from
    the `alerts` table, so nothing depends on where this consumer stood.
    """
    live = feed or AlertFeed()

    @runtime.broker.subscriber(
        settings.alerts_topic,
        batch=True,
        max_records=500,
        auto_offset_reset="latest",
    )
    async def on_dashboard_alerts(message: KafkaMessage) -> None:
        """Alerts and acknowledgements to the open dashboard pages."""
        await on_alert_records(live, message.raw_message)

    return dashboard_router(runtime, settings, live, clock=clock, ctx=ctx)
