"""The live feed: alerts and acknowledgements from Kafka records to open pages (pure)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from appeals_contracts import event_types
from appeals_contracts.envelope import envelope
from appeals_contracts.events import AlertAcknowledged, DeadlineAlert
from appeals_dashboard.feed import AlertFeed, feed_items, on_alert_records


@dataclass(frozen=True)
class Record:
    value: bytes | None
    topic: str = "deadlines.alerts"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)


def breach(appeal_id: str = "a1") -> Record:
    data = DeadlineAlert(
        appeal_id=appeal_id,
        registration_number="KRG-1",
        hop=1,
        kind="breached",
        severity="violation",
        agency="KRG-HEALTH",
        appeal_type="statement",
        due_at=datetime(2022, 6, 15, 18, 59, 59, tzinfo=UTC),
        working_days_late=1,
        raised_at=datetime(2022, 6, 16, 4, tzinfo=UTC),
    )
    event = envelope(
        event_type=event_types.DEADLINE_BREACHED,
        source="/appeals/deadlines",
        subject=appeal_id,
        data=data.model_dump(mode="json"),
        id="11111111-1111-1111-1111-111111111111",
    )
    return Record(event.model_dump_json().encode())


def acknowledgement() -> Record:
    data = AlertAcknowledged(
        alert_id="11111111-1111-1111-1111-111111111111",
        appeal_id="a1",
        kind="breached",
        acknowledged_by="monitoring:x",
        acknowledged_at=datetime(2022, 6, 16, 5, tzinfo=UTC),
        comment="ok",
    )
    event = envelope(
        event_type=event_types.ALERT_ACKNOWLEDGED,
        source="/appeals/deadlines",
        subject="a1",
        data=data.model_dump(mode="json"),
    )
    return Record(event.model_dump_json().encode())


def test_alerts_and_acknowledgements_become_feed_items_and_the_rest_is_skipped() -> None:
    items = feed_items([breach(), acknowledgement(), Record(b"{not json"), Record(None)])
    assert [i["event"] for i in items] == ["alert", "acknowledged"]
    assert items[0]["id"] == "11111111-1111-1111-1111-111111111111"
    assert items[0]["agency"] == "KRG-HEALTH" and items[0]["kind"] == "breached"
    assert items[1]["alert_id"] == "11111111-1111-1111-1111-111111111111"


async def test_every_open_page_receives_each_published_alert() -> None:
    feed = AlertFeed()
    async with feed.subscribe() as first, feed.subscribe() as second:
        assert feed.subscribers == 2
        await on_alert_records(feed, [breach()])
        for subscription in (first, second):
            item = await subscription.next(1)
            assert item is not None and item["kind"] == "breached"
    assert feed.subscribers == 0


async def test_a_page_that_reads_too_slowly_is_told_to_reload_instead_of_blocking_kafka() -> None:
    feed = AlertFeed(queue_size=3)
    async with feed.subscribe() as slow:
        await feed.publish([{"event": "alert", "n": n} for n in range(10)])
        items = [await slow.next(0.1) for _ in range(3)]
        assert items[-1] == {"event": "overflow"}
        assert await slow.next(0.05) is None


async def test_closing_the_feed_ends_every_open_stream() -> None:
    feed = AlertFeed()
    async with feed.subscribe() as page:
        feed.close()
        assert await asyncio.wait_for(page.next(1), 1) == {"event": "closed"}


async def test_ending_the_streams_keeps_the_feed_open_for_pages_that_come_back() -> None:
    feed = AlertFeed()
    async with feed.subscribe() as page:
        feed.end_streams()
        assert await asyncio.wait_for(page.next(1), 1) == {"event": "closed"}
    async with feed.subscribe() as again:
        await feed.publish([{"event": "alert", "n": 1}])
        assert await asyncio.wait_for(again.next(1), 1) == {"event": "alert", "n": 1}
