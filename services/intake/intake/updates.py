"""integration.<source>.updates: the status changes of the appeals an integration submitted,
on its own topic (only that integration may read it), so a portal can tell the applicant what
became of the appeal: registered under a number, assigned to a body, redirected, in triage,
extended, answered.

Intake writes them because it is the registry: it knows which integration submitted each
appeal, and it already follows every step (its own registrations and answers, routing's and
deadlines' events for the timeline). Each update is made from the step's own fields, never a
copy of the event: no routing explanation, no internal comment, nothing of another appeal.
Ids derive from the step's event id, so a replay writes nothing twice; the topics are kept
forever, so a portal that reconnects after a day reads what it missed from its offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from appeals_contracts import event_types, topics
from appeals_contracts.envelope import event_id
from appeals_contracts.events import AppealStatusChanged, StatusAnswer
from appeals_platform import outbox
from appeals_reference import load_integrations

SOURCE = "/appeals/intake"

# Only integrations of the reference data have an updates topic; an appeal from any other
# source (a test's, a benchmark's) gets none, rather than a record the relay cannot deliver.
SOURCES = frozenset(i.source for i in load_integrations())

# What each step of the timeline means to the applicant (other kinds are internal).
STATUSES = {
    "assigned": "assigned",
    "redirected": "redirected",
    "triaged": "triage",
    "extended": "extended",
}


def update(
    appeal: Mapping[str, Any], status: str, cause: str, at: datetime, **fields: Any
) -> outbox.Event | None:
    """The update of `appeal` (its id, source, external_id, registration_number) caused by the
    event `cause`; None for a source without an updates topic."""
    if appeal["source"] not in SOURCES:
        return None
    appeal_id = str(appeal["id"])
    data = AppealStatusChanged(
        appeal_id=appeal_id,
        registration_number=appeal["registration_number"],
        external_id=appeal["external_id"],
        status=status,  # type: ignore[arg-type]  # one of STATUSES' values or the two below
        at=at,
        **fields,
    )
    return outbox.event(
        topics.integration_updates_topic(appeal["source"]),
        appeal_id,
        type=event_types.APPEAL_STATUS_CHANGED,
        source=SOURCE,
        subject=appeal_id,
        data=data,
        id=event_id(cause, "integration-update"),
        time=at,
    )


def registered(appeal: Mapping[str, Any], cause: str) -> outbox.Event | None:
    return update(appeal, "registered", cause, appeal["registered_at"], due_at=appeal.get("due_at"))


def answered(
    appeal: Mapping[str, Any], cause: str, given: Mapping[str, Any]
) -> outbox.Event | None:
    answer = StatusAnswer(
        outcome=given["outcome"],
        ground=given.get("ground"),
        text=given["text"],
        signed_at=given["signed_at"],
    )
    return update(
        appeal,
        "answered",
        cause,
        datetime.fromisoformat(given["answered_at"]),
        agency=given["agency"],
        answer=answer,
    )


def from_step(
    appeal: Mapping[str, Any], kind: str, cause: str, at: datetime, data: Mapping[str, Any]
) -> outbox.Event | None:
    """The update for a routing or deadlines step, from the fields an applicant may see."""
    status = STATUSES.get(kind)
    if status is None:
        return None
    hop = int(data.get("hop", 0) or 0)
    if status == "assigned":
        return update(
            appeal,
            status,
            cause,
            at,
            hop=hop,
            agency=data.get("agency"),
            agency_name=data.get("agency_name") or None,
            due_at=data.get("due_at"),
        )
    if status == "redirected":
        return update(appeal, status, cause, at, hop=hop, redirect_reason=data.get("reason"))
    if status == "extended":
        return update(
            appeal, status, cause, at, hop=hop, agency=data.get("agency"),
            due_at=data.get("new_due_at"),
        )  # fmt: skip
    return update(appeal, status, cause, at, hop=hop)
