"""Agency actions over Kafka: the commands an agency writes to `agency.<code>.actions` and
their outcome on `agency.<code>.results`.

Each command is applied by the service that owns its rule, through the same function its
HTTP endpoint calls: answers by intake, redirects by routing, receipt confirmations and
extensions by deadlines (docs/topics.md says why). Every service reads every agency's actions
topic (one consumer group each) and takes only the command types it owns; intake also
answers the commands nobody can take (not JSON, not a CloudEvent, an unknown type), so every
command gets exactly one result.

- The acting agency is the topic's: only that agency's Kafka principal may write it (ACL), so
  a field of the record never says who acts.
- Exactly once: the inbox keeps `<agency>/<command id>` in the transaction that applies the
  command and writes its result (a command without an id is known by its coordinates).
- A refusal (`appeals_platform.problems.Refused`, what the HTTP endpoint answers as a problem
  document) rolls back to a savepoint and becomes a `refused` result with the same status,
  title, detail and field problems; an accepted command's result carries what the HTTP
  endpoint returns. A command that came before what it needs (`NotYet`: the assignment not
  yet followed) is tried again for a few seconds first.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import event_id
from appeals_contracts.events import ActionResult
from appeals_platform import outbox
from appeals_platform.consumer import Subscription
from appeals_platform.problems import FieldProblem, NotYet, Refused, validation_problems
from appeals_platform.records import Record

log = logging.getLogger(__name__)

MALFORMED = "malformed JSON body"
NOT_AN_ACTION = "the record is not an agency action"


class ActionEnvelope(BaseModel):
    """What every command must be: a CloudEvent of one of the four action types about an
    appeal (`subject`, else the record key, is its id). `data` is checked by the owner."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1)
    type: Literal[
        "kz.appeals.agency.receipt-confirmed.v1",
        "kz.appeals.agency.answer.v1",
        "kz.appeals.agency.redirect-requested.v1",
        "kz.appeals.agency.extension-requested.v1",
    ]
    subject: uuid.UUID | None = None
    data: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """One command as read: `refused` when it is wrong before any owner looks at its data."""

    inbox_id: str
    id: str
    agency: str
    type: str | None
    appeal_id: uuid.UUID | None
    key: str
    data: dict[str, Any]
    principal: str
    refused: Refused | None = None


# An owner's step for one command type: apply it on the connection (raising Refused when the
# HTTP endpoint would refuse), return the status and body the endpoint answers.
Apply = Callable[[asyncpg.Connection, Action, datetime], Awaitable[tuple[int, Mapping[str, Any]]]]


def _refused_action(
    record: Record, agency: str, key: str, refused: Refused, raw: Any = None
) -> Action:
    """A record that is no command: known by its id when it has one, else by its place."""
    stated = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(stated, str) and 0 < len(stated) <= 200:
        inbox_id, ident = f"{agency}/{stated}", stated
    else:
        ident = f"{record.topic}:{record.partition}:{record.offset}"
        inbox_id = f"{agency}/@{ident}"
    return Action(
        inbox_id=inbox_id,
        id=ident,
        agency=agency,
        type=None,
        appeal_id=None,
        key=key,
        data={},
        principal=f"User:agency-{agency.lower()}",
        refused=refused,
    )


def parser(owned: Collection[str], *, answers_the_rest: bool) -> Callable[[Record], Action | None]:
    """Parse a record of an actions topic into an Action for this service, or None (another
    service's command). With `answers_the_rest`, records that are no valid command at all
    come back as refused Actions (this service writes their result)."""

    def parse(record: Record) -> Action | None:
        agency = topics.agency_of_topic(record.topic)
        if agency is None:  # the pattern matches only actions topics: a bug, not input
            raise ValueError(f"{record.topic} is not an agency actions topic")
        key = (record.key or b"").decode("utf-8", "replace")
        try:
            raw = orjson.loads(record.value or b"")
        except orjson.JSONDecodeError as exc:
            refused = Refused(400, MALFORMED, f"the record is not valid JSON: {exc}")
            return _refused_action(record, agency, key, refused) if answers_the_rest else None
        try:
            envelope = ActionEnvelope.model_validate(raw)
        except ValidationError as exc:
            if not answers_the_rest:
                return None
            refused = Refused(422, NOT_AN_ACTION, problems=validation_problems(exc))
            return _refused_action(record, agency, key, refused, raw)
        appeal_id = envelope.subject
        if appeal_id is None:
            try:
                appeal_id = uuid.UUID(key)
            except ValueError:
                if not answers_the_rest:
                    return None
                problem = FieldProblem(
                    field="subject", message="must be the appeal id (or the record key must be)"
                )
                return _refused_action(
                    record, agency, key, Refused(422, NOT_AN_ACTION, problems=[problem]), raw
                )
        if envelope.type not in owned:
            return None
        return Action(
            inbox_id=f"{agency}/{envelope.id}",
            id=envelope.id,
            agency=agency,
            type=envelope.type,
            appeal_id=appeal_id,
            key=key or str(appeal_id),
            data=envelope.data,
            principal=f"User:agency-{agency.lower()}",
        )

    return parse


# How long a command that came before what it needs (`NotYet`) is tried again, in seconds:
# 3.1 s in all, then it is refused with the HTTP request's status. The partition waits, so a
# batch waits at most that long in all: commands of appeals nobody knows (a client's bug, or
# a flood of them) must not hold the consumer's transaction, or its poll, for minutes.
NOT_YET_WAITS = (0.1, 0.2, 0.4, 0.8, 1.6)


def result_event(action: Action, outcome: ActionResult, source: str) -> outbox.Event:
    return outbox.event(
        topics.agency_results_topic(action.agency),
        str(action.appeal_id) if action.appeal_id else action.key,
        type=event_types.AGENCY_ACTION_RESULT,
        source=source,
        subject=str(action.appeal_id) if action.appeal_id else action.key,
        data=outcome,
        id=event_id(action.inbox_id, "action-result"),
        time=outcome.decided_at,
    )


def handler(
    appliers: Mapping[str, Apply],
    source: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[asyncpg.Connection, list[Action]], Awaitable[None]]:
    """Apply each command in a savepoint and write its result in the consumer's transaction."""

    async def handle(conn: asyncpg.Connection, actions: list[Action]) -> None:
        results: list[outbox.Event] = []
        patience = sum(NOT_YET_WAITS)  # what this batch may still wait for, in seconds
        for action in actions:
            at = now()
            accepted: Mapping[str, Any] | None = None
            status = 0
            refused = action.refused
            if refused is None:
                assert action.type is not None
                for wait in (*NOT_YET_WAITS, None):
                    try:
                        async with conn.transaction():  # a savepoint: a refusal leaves nothing
                            status, accepted = await appliers[action.type](conn, action, at)
                    except NotYet as exc:
                        # Rolled back to the savepoint, so no lock of ours is in the way of
                        # the consumer that brings what is missing; each try reads afresh.
                        refused = exc
                        if wait is not None and patience >= wait:
                            patience -= wait
                            await asyncio.sleep(wait)
                            at = now()
                            continue
                    except Refused as exc:
                        refused = exc
                    else:
                        refused = None
                    break
            outcome = ActionResult(
                action_id=action.id,
                action_type=action.type,
                appeal_id=str(action.appeal_id) if action.appeal_id else None,
                agency=action.agency,
                outcome="refused" if refused is not None else "accepted",
                status=refused.status if refused is not None else status,
                title=refused.title if refused is not None else None,
                detail=refused.detail if refused is not None else None,
                problems=[{"field": p["field"], "message": p["message"]} for p in refused.problems]
                if refused is not None
                else [],
                result=dict(accepted) if accepted is not None else None,
                decided_at=at,
            )
            log.info(
                "agency action %s",
                outcome.outcome,
                extra={
                    "agency": action.agency,
                    "action_type": action.type,
                    "appeal_id": outcome.appeal_id,
                    "status": outcome.status,
                },
            )
            results.append(result_event(action, outcome, source))
        await outbox.add(conn, results)

    return handle


def subscription(
    name: str,
    group: str,
    appliers: Mapping[str, Apply],
    *,
    source: str,
    answers_the_rest: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    offset_reset: Literal["earliest", "latest"] = "earliest",
) -> Subscription[Action]:
    """A service's subscriber to every agency's actions topic, for the types in `appliers`."""
    return Subscription(
        name=name,
        topics=(),
        pattern=topics.AGENCY_ACTIONS_CHANNEL,
        group=group,
        parse=parser(set(appliers), answers_the_rest=answers_the_rest),
        handle=handler(appliers, source, now),
        event_id=lambda action: action.inbox_id,
        offset_reset=offset_reset,
        # A command of no known type is answered with a refusal by the service that
        # answers_the_rest; the others pass it by rather than dead-letter it a second time.
        known_types=None,
    )
