"""Routing's events: AppealAssigned (twice: for everyone, and with the appeal for the agency),
AppealTriaged and AppealRedirected, as rows for the transactional outbox."""

from __future__ import annotations

import orjson

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import event_id
from appeals_contracts.events import AppealRedirected, AppealTriaged
from appeals_platform import outbox
from appeals_reference import ReferenceData
from routing import db

SOURCE = "/appeals/routing"


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
) -> list[outbox.Event]:
    """The AppealAssigned events of an assignment: on routing.appeal-assigned for everyone,
    then on the agency's topic with `appeal` (the stored AppealReceived payload, as JSON).

    Plain data with the explanation and the appeal spliced in as JSON: this runs for every
    routed appeal, and models or a server-side json_build_object cost more (the latter ~40 µs
    of PostgreSQL's CPU per appeal). Tests validate both events against the contract. The
    agency's copy has an event id of its own, just as deterministic.
    """
    name, level, parent, topic = _agency_fields(ref, row.agency)
    key = str(row.appeal_id)
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
        "explanation": row.explanation_json or orjson.Fragment(orjson.dumps(row.explanation)),
        "assigned_at": row.assigned_at,
        "received_at": row.received_at,
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
        events.append(
            outbox.event(
                destination,
                key,
                type=event_types.APPEAL_ASSIGNED,
                source=SOURCE,
                subject=key,
                data=data,
                id=event_id(key, kind, row.hop),
                time=row.assigned_at,
            )
        )
    return events


def triage_message(row: db.Triage, registration_number: str) -> outbox.Event:
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
    return outbox.event(
        topics.APPEAL_TRIAGE,
        key,
        type=event_types.APPEAL_TRIAGED,
        source=SOURCE,
        subject=key,
        data=data,
        id=event_id(row.appeal_id, "triaged", row.hop),
        time=row.triaged_at,
    )


def redirect_message(
    row: db.Redirect, registration_number: str, to_agency: str | None
) -> outbox.Event:
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
    return outbox.event(
        topics.APPEAL_REDIRECTED,
        key,
        type=event_types.APPEAL_REDIRECTED,
        source=SOURCE,
        subject=key,
        data=data,
        # A partial redirect leaves the hop open, so one hop may be redirected twice; the
        # hop each redirect creates is unique.
        id=event_id(row.appeal_id, "redirected", row.to_hop),
        time=row.redirected_at,
    )
