"""Routing's events: AppealAssigned (twice: for everyone, and with the appeal for the agency),
AppealTriaged and AppealRedirected, as rows for the transactional outbox."""

from __future__ import annotations

import functools
from datetime import datetime

import orjson
from pydantic import TypeAdapter

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import envelope, event_id
from appeals_contracts.events import AppealRedirected, AppealTriaged
from appeals_platform import outbox
from appeals_reference import ReferenceData
from routing import db

SOURCE = "/appeals/routing"


_MOMENT = TypeAdapter(datetime)


@functools.lru_cache(maxsize=4096)
def json_time(moment: datetime) -> str:
    """A datetime as pydantic writes it in JSON, so every event spells times alike.

    Cached: a batch's assignments share one moment, written into two events each.
    """
    return str(_MOMENT.dump_python(moment, mode="json"))


def _agency_fields(ref: ReferenceData, code: str) -> tuple[str, str, str | None, str]:
    """(name, level, parent, topic) of an agency; a code the data lacks still has a topic."""
    if not ref.has_agency(code):
        return "", "", None, topics.agency_topic(code)
    agency = ref.agency(code)
    return agency.name_ru, agency.level, agency.parent, agency.topic


def assignment_events(
    row: db.Assignment,
    ref: ReferenceData,
    *,
    registration_number: str,
    appeal_type: str,
    appeal: bytes,
    redirected_from: str | None = None,
) -> list[outbox.DumpedEvent]:
    """The AppealAssigned events of an assignment: on routing.appeal-assigned for everyone,
    then on the agency's topic with `appeal` (the stored AppealReceived payload, as JSON).

    Dumped here as plain data with the explanation and the appeal spliced in as JSON: this
    runs for every routed appeal, and models or a server-side json_build_object cost more
    (the latter ~40 µs of PostgreSQL's CPU per appeal). Tests validate both events against
    the contract. The agency's copy has an event id of its own, just as deterministic.
    """
    name, level, parent, topic = _agency_fields(ref, row.agency)
    key = str(row.appeal_id)
    assigned_at = json_time(row.assigned_at)
    data = {
        "appeal_id": key,
        "registration_number": registration_number,
        "hop": row.hop,
        "agency": row.agency,
        "agency_name": name,
        "agency_level": level,
        "agency_parent": parent,
        "category": row.category,
        "locality": row.locality,
        "method": row.method,
        "confidence": row.confidence,
        "explanation": orjson.Fragment(orjson.dumps(row.explanation)),
        "assigned_at": assigned_at,
        "received_at": json_time(row.received_at),
        "appeal_type": appeal_type,
        "appeal": None,
        "partial": row.partial,
        "redirected_from": redirected_from,
    }
    events = []
    for kind, destination, carried in (
        ("assigned", topics.APPEAL_ASSIGNED, None),
        ("delivered", topic, orjson.Fragment(appeal)),
    ):
        data["appeal"] = carried
        ident = event_id(key, kind, row.hop)
        event = {
            "specversion": "1.0",
            "id": ident,
            "source": SOURCE,
            "type": event_types.APPEAL_ASSIGNED,
            "subject": key,
            "time": assigned_at,
            "datacontenttype": "application/json",
            "data": data,
        }
        payload = orjson.dumps(event)
        events.append(outbox.DumpedEvent(ident, destination, key, str(event["type"]), payload))
    return events


def triage_message(row: db.Triage, registration_number: str) -> outbox.OutboxMessage:
    data = AppealTriaged(
        appeal_id=str(row.appeal_id),
        registration_number=registration_number,
        hop=row.hop,
        reason=row.reason,
        best_guess=row.best_guess,
        explanation=row.explanation,
        triaged_at=row.triaged_at,
    )
    key = str(row.appeal_id)
    event = envelope(
        event_type=event_types.APPEAL_TRIAGED,
        source=SOURCE,
        subject=key,
        data=data.model_dump(mode="json"),
        id=event_id(row.appeal_id, "triaged", row.hop),
        time=row.triaged_at,
    )
    return outbox.message(topics.APPEAL_TRIAGE, key, event)


def redirect_message(
    row: db.Redirect, registration_number: str, to_agency: str | None
) -> outbox.OutboxMessage:
    data = AppealRedirected(
        appeal_id=str(row.appeal_id),
        registration_number=registration_number,
        hop=row.from_hop,
        from_agency=row.from_agency,
        to_agency=to_agency,
        reason=row.reason,
        partial=row.partial,
        comment=row.comment,
        redirected_at=row.redirected_at,
        to_hop=row.to_hop,
    )
    key = str(row.appeal_id)
    event = envelope(
        event_type=event_types.APPEAL_REDIRECTED,
        source=SOURCE,
        subject=key,
        data=data.model_dump(mode="json"),
        # A partial redirect leaves the hop open, so one hop may be redirected twice; the
        # hop each redirect creates is unique.
        id=event_id(row.appeal_id, "redirected", row.to_hop),
        time=row.redirected_at,
    )
    return outbox.message(topics.APPEAL_REDIRECTED, key, event)
