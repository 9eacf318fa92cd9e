"""Deadlines: legal clocks, alerts and compliance; the pages installed beside it (the
monitoring dashboard, `appeals_dashboard`) are mounted through `deadlines.pages`."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import FastAPI

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import (
    ActionResult,
    AnswerGiven,
    AppealAssigned,
    AppealRedirected,
    DeadlineAlert,
    DeadlineExtended,
    InboxAlert,
    ReceiptConfirmed,
)
from appeals_platform import actions
from appeals_platform.consumer import Subscription
from appeals_platform.runtime import Runtime, service_app
from deadlines import db, extensions, inboxes, inputs, pages, receipts, webhook
from deadlines.api import (
    Service,
    alerts_router,
    appeal_view,
    calendar_router,
    clocks_router,
    compliance_router,
    open_data_router,
)
from deadlines.clocks import Clock, SystemClock
from deadlines.config import Settings
from deadlines.context import new_context, refresh_calendar
from deadlines.digests import recipients
from deadlines.digests import sender as digests
from deadlines.risk import scoring
from deadlines.ticker import Ticker


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """The service; `clock` lets tests move time (the ticker and the API read it)."""
    settings = settings or Settings()
    runtime = Runtime.create("deadlines", settings, "deadlines.migrations")
    ctx = new_context(settings)
    service = Service(runtime, settings, ctx, clock or SystemClock())
    names = inputs.TopicNames.from_settings(settings)
    # A bad recipients file stops the start here, not at the first morning's digests.
    digest_recipients = recipients.load(settings.digest_recipients_file, ctx.reference)

    runtime.subscribe(
        Subscription(
            name=inputs.CONSUMER,
            topics=names.live,
            group=f"{settings.consumer_group}-clocks",
            parse=lambda record: inputs.parse(record, names),
            handle=inputs.clocks_handler(ctx),
            event_id=lambda item: item.event_id,
            offset_reset=settings.consumer_offset_reset,
            # Off the appeal's way to its agency: gathers (a receipt confirmed before the
            # clock is open is asked to retry: extensions.held_clock, NotYet).
            gather_ms=settings.consumer_gather_ms,
        ),
        CloudEvent[AppealAssigned | AppealRedirected | AnswerGiven],
        "Assignments open clocks, redirects close hops, answers stop clocks.",
    )

    async def confirm_action(
        conn: asyncpg.Connection, action: actions.Action, at: datetime
    ) -> tuple[int, dict[str, Any]]:
        """`kz.appeals.agency.receipt-confirmed.v1`: POST /v1/appeals/{appeal_id}/receipt."""
        assert action.appeal_id is not None
        request = receipts.receipt_request(action.data)
        confirmed = await receipts.confirm(
            conn, action.appeal_id, action.agency, at, ctx, request.hop
        )
        return 201, confirmed.model_dump(mode="json")

    async def extension_action(
        conn: asyncpg.Connection, action: actions.Action, at: datetime
    ) -> tuple[int, dict[str, Any]]:
        """`kz.appeals.agency.extension-requested.v1`: POST /v1/appeals/{appeal_id}/extend."""
        assert action.appeal_id is not None
        request = extensions.command_data(extensions.ExtensionRequest, action.data)
        message = await extensions.request_extension(
            conn, action.appeal_id, action.agency, request, at, ctx
        )
        body = appeal_view(await db.get_clocks(conn, action.appeal_id), at)
        return 200, {**body, "event_id": message.id}

    runtime.subscribe(
        actions.subscription(
            "deadlines-actions",
            f"{settings.consumer_group}-actions",
            {
                event_types.AGENCY_RECEIPT_CONFIRMED: confirm_action,
                event_types.AGENCY_EXTENSION_REQUESTED: extension_action,
            },
            source=runtime.source,
            now=service.clock.now,
            offset_reset=settings.consumer_offset_reset,
        ),
        CloudEvent[extensions.ExtensionRequest | dict[str, Any]],
        "Receipt confirmations (kz.appeals.agency.receipt-confirmed.v1, data {} or with the "
        'hop acted on, {"hop": n}) and extension requests '
        "(kz.appeals.agency.extension-requested.v1) an agency writes to its own "
        "actions topic (key: appeal id), applied as POST /v1/appeals/{appeal_id}/receipt and "
        "/extend; the acting agency is the topic's. The outcome goes to agency.<code>.results.",
    )
    runtime.documents_publication(
        topics.AGENCY_RESULTS_CHANNEL,
        CloudEvent[ActionResult],
        "The outcome of each receipt confirmation and extension an agency sent on "
        "agency.<code>.actions.",
    )
    runtime.documents_publication(
        settings.alerts_topic,
        CloudEvent[InboxAlert],
        "Forgotten inboxes (key: agency code): kz.appeals.agency.inbox-stalled.v1 when an "
        "agency leaves its assignments unread or unconfirmed too long, "
        "kz.appeals.agency.inbox-recovered.v1 when it catches up.",
    )
    runtime.documents_publication(
        settings.deadline_events_topic,
        CloudEvent[DeadlineExtended | ReceiptConfirmed],
        "Extensions of a term and receipt confirmations (key: appeal id).",
    )

    if settings.webhook_url:
        runtime.subscribe(
            Subscription(
                name=webhook.CONSUMER,
                topics=(names.alerts,),
                group=f"{settings.consumer_group}-webhook",
                parse=webhook.parse,
                handle=webhook.queue,
                event_id=lambda item: item.event_id,
                offset_reset=settings.webhook_offset_reset,
            ),
            CloudEvent[DeadlineAlert | InboxAlert],
            "Alerts (and inbox-stalled/-recovered) queued for the configured webhook.",
        )

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
        watcher = inboxes.Watcher(
            runtime.pool,
            ctx,
            service.clock,
            inboxes.KafkaView(settings, settings.topic_prefix),
            inboxes.Limits(
                lag_seconds=settings.inbox_lag_minutes * 60,
                unconfirmed_days=settings.inbox_unconfirmed_days,
                hours=inboxes.Hours(settings.working_hours_start, settings.working_hours_end),
            ),
        )
        service.watchers.append(watcher)
        if settings.inbox_watch_enabled:
            runtime.tasks.append(
                asyncio.create_task(watcher.run(settings.inbox_interval), name="inboxes")
            )
        scorer = scoring.Scorer(runtime.pool, ctx, service.clock, risk_settings(settings))
        service.scorers.append(scorer)
        if settings.risk_enabled:
            runtime.tasks.append(
                asyncio.create_task(scorer.run(settings.risk_interval), name="risk")
            )
        if digest_recipients:
            sender = digests.create(runtime.pool, ctx, service.clock, settings, digest_recipients)
            service.digests.append(sender)
            runtime.tasks.append(asyncio.create_task(sender.run(), name="digests"))
        if settings.webhook_url:
            dispatcher = webhook.Dispatcher(
                runtime.pool,
                webhook.WebhookSender(
                    settings.webhook_url,
                    secret=settings.webhook_secret,
                    timeout=settings.webhook_timeout,
                ),
                webhook.Backoff(
                    settings.webhook_max_attempts,
                    settings.webhook_backoff_initial,
                    settings.webhook_backoff_max,
                ),
                wake=runtime.relay.wake,
            )
            runtime.tasks.append(asyncio.create_task(dispatcher.run(), name="webhook"))

    # Mounted in create_app: a mount subscribes its consumers before the broker starts.
    mounted = [
        mount(runtime, settings, clock=service.clock, ctx=service.ctx)
        for mount in pages.installed()
    ]
    app = service_app(
        runtime,
        [
            clocks_router(service),
            alerts_router(service),
            calendar_router(service),
            compliance_router(service),
            open_data_router(service),
            *(m.router for m in mounted),
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
            "open_data": "/open-data/v1",
            **{name: href for m in mounted for name, href in m.links.items()},
        },
        browser_home=next((m.home for m in mounted if m.home), None),
    )
    app.state.deadlines = service
    return app


def risk_settings(settings: Settings) -> scoring.Settings:
    return scoring.Settings(
        threshold=settings.risk_threshold,
        history_days=settings.risk_history_days,
        train_hours=settings.risk_train_hours,
    )
