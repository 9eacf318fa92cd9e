"""The events the clocks are made of: parsing them from Kafka and applying them.

Live, the service consumes assignments, redirects and answers. A rebuild also reads back its
own topics (extensions, alerts, acknowledgements) to restore what it decided itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ValidationError

from appeals_contracts import event_types
from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import (
    AlertAcknowledged,
    AnswerGiven,
    AppealAssigned,
    AppealRedirected,
    DeadlineAlert,
    DeadlineExtended,
    ReceiptConfirmed,
)
from appeals_platform import outbox
from appeals_platform.consumer import Poison
from appeals_platform.records import KafkaRecord, dead_letter, describe
from deadlines import alerts, db, extensions, handlers, receipts
from deadlines.config import Settings
from deadlines.context import Context, refresh_calendar

log = logging.getLogger(__name__)

CONSUMER = "deadlines-clocks"

ASSIGNED, REDIRECTED, ANSWERED = "assigned", "redirected", "answered"
EXTENDED, CONFIRMED, ALERT, ACKNOWLEDGED = "extended", "confirmed", "alert", "acknowledged"

# At equal times an assignment goes before a redirect, and a redirect before an answer.
RANK = {
    ASSIGNED: 0,
    REDIRECTED: 1,
    ANSWERED: 2,
    EXTENDED: 3,
    CONFIRMED: 3,
    ALERT: 4,
    ACKNOWLEDGED: 5,
}


@dataclass(frozen=True)
class Input:
    kind: str
    event_id: str
    time: datetime
    payload: BaseModel
    data: dict[str, Any]
    record: KafkaRecord

    @property
    def order(self) -> tuple[datetime, int, str, int, int]:
        return (
            self.time,
            RANK[self.kind],
            self.record.topic,
            self.record.partition,
            self.record.offset,
        )


@dataclass(frozen=True)
class TopicNames:
    assigned: str
    redirected: str
    answers: str
    deadline_events: str
    alerts: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        return cls(
            settings.assigned_topic,
            settings.redirected_topic,
            settings.answers_topic,
            settings.deadline_events_topic,
            settings.alerts_topic,
        )

    @property
    def live(self) -> tuple[str, str, str]:
        return (self.assigned, self.redirected, self.answers)

    @property
    def history(self) -> tuple[str, ...]:
        return (*self.live, self.deadline_events, self.alerts)


def _kind(topic: str, event_type: str, names: TopicNames) -> tuple[str, type[BaseModel]] | None:
    if topic == names.assigned and event_type == event_types.APPEAL_ASSIGNED:
        return ASSIGNED, AppealAssigned
    if topic == names.redirected and event_type == event_types.APPEAL_REDIRECTED:
        return REDIRECTED, AppealRedirected
    if topic == names.answers and event_type == event_types.ANSWER_GIVEN:
        return ANSWERED, AnswerGiven
    if topic == names.deadline_events and event_type == event_types.DEADLINE_EXTENDED:
        return EXTENDED, DeadlineExtended
    if topic == names.deadline_events and event_type == event_types.RECEIPT_CONFIRMED:
        return CONFIRMED, ReceiptConfirmed
    if topic == names.alerts and event_type in alerts.KINDS:
        return ALERT, DeadlineAlert
    if topic == names.alerts and event_type == event_types.ALERT_ACKNOWLEDGED:
        return ACKNOWLEDGED, AlertAcknowledged
    return None


def parse(record: KafkaRecord, names: TopicNames) -> Input | None:
    """The typed event, or None for an event type this service does not use.

    Raises ValidationError (a ValueError) for a record that is not a CloudEvent with the
    right data: the consumer dead-letters it.
    """
    event = CloudEvent[dict[str, Any]].model_validate_json(record.value or b"")
    known = _kind(record.topic, event.type, names)
    if known is None:
        return None
    kind, model = known
    return Input(kind, event.id, event.time, model.model_validate(event.data), event.data, record)


# The most events applied by one statement: a rebuild's runs can be long, and a run with an
# event that makes no clock is applied again one by one.
MAX_RUN = 2000

# The kinds applied set-wise: consecutive events of one of these kinds go together.
SET_WISE = (ASSIGNED, ANSWERED)


def runs(items: Sequence[Input]) -> Iterator[list[Input]]:
    """The items in order, in groups to apply at once: consecutive assignments together (one
    statement opens all their clocks), consecutive answers together (one statement closes
    theirs), every other event alone."""
    run: list[Input] = []
    for item in items:
        if run and (item.kind != run[0].kind or len(run) == MAX_RUN):
            yield run
            run = []
        if item.kind in SET_WISE:
            run.append(item)
        else:
            yield [item]
    if run:
        yield run


async def apply_run(conn: asyncpg.Connection, run: Sequence[Input], ctx: Context) -> None:
    """The effect of one group of `runs`. Raises ValueError for an event that can never make
    or change a clock (an unknown appeal type, an impossible date)."""
    if len(run) > 1 and run[0].kind == ASSIGNED:
        assigned = [item.payload for item in run if isinstance(item.payload, AppealAssigned)]
        await handlers.open_clocks(conn, assigned, ctx)
    elif len(run) > 1 and run[0].kind == ANSWERED:
        answers = [(i.event_id, i.payload) for i in run if isinstance(i.payload, AnswerGiven)]
        await handlers.record_answers(conn, answers, ctx)
    else:
        await apply(conn, run[0], ctx)


async def apply(conn: asyncpg.Connection, item: Input, ctx: Context) -> list[alerts.Alert]:
    """The effect of one event on the clocks; the alerts it raised (already in the outbox)."""
    payload = item.payload
    if isinstance(payload, AppealAssigned):
        return await handlers.open_clocks(conn, [payload], ctx)
    if isinstance(payload, AppealRedirected):
        return await handlers.record_redirect(conn, item.event_id, payload, ctx)
    if isinstance(payload, AnswerGiven):
        return await handlers.record_answers(conn, [(item.event_id, payload)], ctx)
    if isinstance(payload, DeadlineExtended):
        await extensions.replay_extension(conn, payload, ctx)
    elif isinstance(payload, ReceiptConfirmed):
        await receipts.replay(conn, payload)
    elif isinstance(payload, DeadlineAlert):
        await handlers.replay_alert(conn, item.event_id, payload, item.data, ctx)
    elif isinstance(payload, AlertAcknowledged):
        await handlers.replay_acknowledgement(conn, payload)
    return []


def parse_batch(
    records: Sequence[KafkaRecord], names: TopicNames
) -> tuple[list[Input], list[outbox.Event]]:
    """Typed events and dead letters for the records that are not (a rebuild's reading)."""
    items: list[Input] = []
    dead: list[outbox.Event] = []
    for record in records:
        try:
            item = parse(record, names)
        except ValidationError as exc:
            dead.append(dead_letter(record, describe(exc), handlers.SOURCE))
            continue
        if item is not None:
            items.append(item)
    return items, dead


def clocks_handler(
    ctx: Context,
) -> Callable[[asyncpg.Connection, list[Input]], Awaitable[None]]:
    async def handle(conn: asyncpg.Connection, items: list[Input]) -> None:
        """Apply new events to the clocks; the alerts they raise are already in the outbox."""
        # One cheap query: a calendar change made by the CLI or another instance applies here.
        await refresh_calendar(conn, ctx.law)
        async with db.compliance_deferred(conn):
            for run in runs(items):
                try:
                    await apply_run(conn, run, ctx)
                except ValueError as exc:
                    # An unknown appeal type, an impossible date: the event can never make a
                    # clock.
                    raise Poison(f"{type(exc).__name__}: {exc}") from exc

    return handle
