"""The live part of the dashboard: alerts from `deadlines.alerts` fanned out to open pages.

Every process instance reads the whole topic (its own consumer, from the latest offset), so
a page connected to any instance sees every alert and every acknowledgement. The feed only
holds what arrives while pages are open; a page that reconnects catches up from the table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from appeals_contracts import event_types
from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import AlertAcknowledged, DeadlineAlert
from appeals_platform.records import KafkaRecord

log = logging.getLogger(__name__)

ALERT_TYPES = frozenset(
    {
        event_types.DEADLINE_WARNING,
        event_types.DEADLINE_BREACHED,
        event_types.OVERDUE_REMINDER,
        event_types.DEADLINE_ESCALATED,
        event_types.REDIRECT_OVERDUE,
        event_types.DEADLINE_AT_RISK,
    }
)

# What a subscriber's queue receives when it fell too far behind: the page reloads.
OVERFLOW: dict[str, Any] = {"event": "overflow"}
CLOSED: dict[str, Any] = {"event": "closed"}


class Subscription:
    """One open page's queue; `overflowed` once it missed items because it read too slowly."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(size)
        self.overflowed = False

    def offer(self, item: dict[str, Any]) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # Never block the consumer on a slow browser: drop it and let it reload.
            self.overflowed = True
            self.queue.get_nowait()
            self.queue.put_nowait(OVERFLOW)

    async def next(self, timeout: float) -> dict[str, Any] | None:
        """The next item, or None after `timeout` seconds (time for a heartbeat)."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class AlertFeed:
    """In-process broadcaster: `publish` hands each item to every open subscription."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    async def publish(self, alerts: list[dict[str, Any]]) -> None:
        for subscription in list(self._subscriptions):
            for item in alerts:
                subscription.offer(item)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        subscription = Subscription(self._queue_size)
        if self._closed:
            subscription.offer(CLOSED)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def end_streams(self) -> None:
        """End every open stream now and keep the feed open (PostgreSQL went away: a page
        reconnects and hears 503 until it is back, instead of a stream that looks live)."""
        for subscription in list(self._subscriptions):
            subscription.overflowed = False
            subscription.offer(CLOSED)

    def close(self) -> None:
        """End every open stream (on shutdown, so the server need not wait for browsers)."""
        self._closed = True
        self.end_streams()


def feed_item(record: KafkaRecord) -> dict[str, Any] | None:
    """An alert or an acknowledgement as a feed item; None for anything else on the topic.

    Raises ValueError for a record that is not a readable event: the live view skips it (the
    service's own group consumers dead-letter it).
    """
    event = CloudEvent[dict[str, Any]].model_validate_json(record.value or b"")
    if event.type in ALERT_TYPES:
        alert = DeadlineAlert.model_validate(event.data)
        return {"event": "alert", "id": event.id, **alert.model_dump(mode="json")}
    if event.type == event_types.ALERT_ACKNOWLEDGED:
        ack = AlertAcknowledged.model_validate(event.data)
        return {"event": "acknowledged", "id": event.id, **ack.model_dump(mode="json")}
    return None


def feed_items(records: Sequence[KafkaRecord]) -> list[dict[str, Any]]:
    """Alerts and acknowledgements from raw records; anything else is not for the dashboard."""
    items: list[dict[str, Any]] = []
    for record in records:
        try:
            item = feed_item(record)
        except ValueError as exc:
            log.debug("skipping an unreadable alert record: %s", exc)
            continue
        if item is not None:
            items.append(item)
    return items


async def on_alert_records(feed: AlertFeed, records: Sequence[KafkaRecord]) -> None:
    """What the dashboard does with a batch of alert records."""
    items = feed_items(records)
    if items:
        await feed.publish(items)
