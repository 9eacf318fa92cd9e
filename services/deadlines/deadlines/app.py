"""Deadlines: legal clocks, alerts, compliance and the monitoring dashboard."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage

from appeals_platform.runtime import Runtime, service_app
from deadlines import inputs, webhook
from deadlines.api import (
    Service,
    alerts_router,
    calendar_router,
    clocks_router,
    compliance_router,
)
from deadlines.clocks import Clock, SystemClock
from deadlines.config import Settings
from deadlines.context import new_context, refresh_calendar
from deadlines.dashboard.mount import mount_dashboard
from deadlines.dashboard.pages import PREFIX as DASHBOARD
from deadlines.ticker import Ticker


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """The service; `clock` lets tests move time (the ticker and the API read it)."""
    settings = settings or Settings()
    runtime = Runtime.create("deadlines", settings, "deadlines.migrations")
    ctx = new_context(settings)
    service = Service(runtime, settings, ctx, clock or SystemClock())
    names = inputs.TopicNames.from_settings(settings)
    broker = runtime.broker

    @broker.subscriber(
        *names.live,
        group_id=f"{settings.consumer_group}-clocks",
        batch=True,
        max_records=500,
        auto_offset_reset=settings.consumer_offset_reset,
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_appeal_events(message: KafkaMessage) -> None:
        """Assignments open clocks, redirects close hops, answers stop clocks."""
        await inputs.consume(runtime, message.raw_message, ctx, names)

    sender: webhook.WebhookSender | None = None
    if settings.webhook_url:
        sender = webhook.WebhookSender(
            settings.webhook_url,
            secret=settings.webhook_secret,
            timeout=settings.webhook_timeout,
            max_attempts=settings.webhook_max_attempts,
            backoff_initial=settings.webhook_backoff_initial,
            backoff_max=settings.webhook_backoff_max,
        )
        alert_sender = sender

        @broker.subscriber(
            names.alerts,
            group_id=f"{settings.consumer_group}-webhook",
            batch=True,
            max_records=100,
            auto_offset_reset=settings.webhook_offset_reset,
            ack_policy=AckPolicy.NACK_ON_ERROR,
        )
        async def on_alerts(message: KafkaMessage) -> None:
            """Deliver alerts to the configured webhook."""
            await webhook.consume(runtime, alert_sender, message.raw_message)

    async def start(runtime: Runtime) -> None:
        async with runtime.pool.acquire() as conn:
            await refresh_calendar(conn, ctx.law, force=True)
        ticker = Ticker(
            runtime.pool,
            ctx,
            service.clock,
            batch_size=settings.ticker_batch_size,
            wake=runtime.relay.wake,
        )
        service.tickers.append(ticker)
        if settings.ticker_enabled:
            runtime.tasks.append(
                asyncio.create_task(ticker.run(settings.ticker_interval), name="ticker")
            )
        if sender is not None:
            runtime.tasks.append(asyncio.create_task(_close_on_stop(sender), name="webhook"))

    app = service_app(
        runtime,
        [
            clocks_router(service),
            alerts_router(service),
            calendar_router(service),
            compliance_router(service),
            mount_dashboard(runtime, settings, clock=service.clock, ctx=service.ctx),
        ],
        title="Appeals deadlines",
        description="Legal clocks on the Kazakhstan working-day calendar (Asia/Almaty), alerts "
        "before and after the due date, term extensions, calendar overrides, compliance.",
        on_start=[start],
        links={
            "clock": "/v1/appeals/{appeal_id}/clock",
            "alerts": "/v1/alerts",
            "calendar": "/v1/calendar",
            "compliance": "/v1/compliance",
            "dashboard": DASHBOARD,
        },
        browser_home=DASHBOARD,
    )
    app.state.deadlines = service
    return app


async def _close_on_stop(sender: webhook.WebhookSender) -> None:
    # Runtime.stop cancels its tasks: this one's only job is to close the HTTP client then.
    try:
        await asyncio.Event().wait()
    finally:
        await sender.close()
