"""Payloads (`data`) of the platform's events.

Changes are additive; a breaking change is a new event type version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from appeals_contracts.submission import AnswerOutcome, AppealSubmission, TerminationGround


class _Event(BaseModel):
    # Consumers accept fields they do not know yet: producers may add them.
    model_config = ConfigDict(extra="ignore", frozen=True)


class AppealReceived(_Event):
    """intake.appeal-received: everything an agency needs to answer, applicant contact included."""

    appeal_id: str
    registration_number: str
    registered_at: datetime
    source: str
    channel: str
    due_at: datetime | None = None
    submission: AppealSubmission


class AnswerGiven(_Event):
    appeal_id: str
    registration_number: str
    agency: str
    outcome: AnswerOutcome
    ground: TerminationGround | None = None
    text: str
    signed_at: datetime
    answered_at: datetime


class Explanation(_Event):
    method: str
    locality: dict[str, Any] = {}
    category: dict[str, Any] = {}
    alternatives: list[dict[str, Any]] = []
    hint: dict[str, Any] | None = None
    reference_version: str = ""
    classifier_version: str | None = None
    notes: list[str] = []


class AppealAssigned(_Event):
    """routing.appeal-assigned and agency.<code>.appeals: who must answer, and why."""

    appeal_id: str
    registration_number: str
    hop: int
    agency: str
    agency_name: str = ""
    agency_level: str = ""
    agency_parent: str | None = None
    category: str | None = None
    locality: str | None = None
    method: str
    confidence: float | None = None
    explanation: dict[str, Any] = {}
    assigned_at: datetime
    received_at: datetime
    appeal_type: str
    appeal: AppealReceived | None = None
    # A partial redirect: this agency considers a part; the previous one keeps the rest.
    partial: bool = False
    # The agency that redirected the appeal here (later hops only).
    redirected_from: str | None = None


class AppealRedirected(_Event):
    appeal_id: str
    registration_number: str
    hop: int
    from_agency: str
    to_agency: str | None = None
    reason: str
    partial: bool = False
    comment: str | None = None
    redirected_at: datetime
    # The hop the redirect created: an assignment to `to_agency`, or a triage item.
    to_hop: int | None = None


class AppealTriaged(_Event):
    appeal_id: str
    registration_number: str
    hop: int
    reason: str
    best_guess: str | None = None
    explanation: dict[str, Any] = {}
    triaged_at: datetime


class ReferenceChanged(_Event):
    """routing.reference-changed: a new version of the reference data is active."""

    version: str
    previous_version: str | None = None
    changed_by: str
    changed_at: datetime
    localities: int
    categories: int
    agencies: int
    # The whole document (ReferenceData.to_document()), so consumers need no other source.
    document: dict[str, Any] = {}


class DeadlineExtended(_Event):
    appeal_id: str
    hop: int
    agency: str
    previous_due_at: datetime
    new_due_at: datetime
    reason: str
    notified_on: str | None = None
    extended_at: datetime
    # Added for the deadlines service (additive): which extension of this hop it is, and
    # the appeal's registration number for agencies that read only this topic.
    extension: int = 1
    registration_number: str = ""


class ReceiptConfirmed(_Event):
    """deadlines.deadline-events: the assigned agency confirmed it took the appeal into work."""

    appeal_id: str
    registration_number: str
    hop: int
    agency: str
    received_at: datetime  # when the hop reached the agency (its assignment)
    confirmed_at: datetime


class StatusAnswer(_Event):
    outcome: AnswerOutcome
    ground: TerminationGround | None = None
    text: str
    signed_at: datetime


class AppealStatusChanged(_Event):
    """integration.<source>.updates: a step in the life of an appeal the integration submitted,
    for telling the applicant: registered under a number, assigned to a body (hop by hop),
    redirected, in triage, extended, answered. Never the routing explanation, internal
    comments, or anyone else's appeal."""

    appeal_id: str
    registration_number: str
    external_id: str
    status: Literal["registered", "assigned", "redirected", "triage", "extended", "answered"]
    at: datetime
    hop: int = 0
    agency: str | None = None  # the body the appeal is with (assigned, extended, answered)
    agency_name: str | None = None
    due_at: datetime | None = None  # the term of the answer, when known
    redirect_reason: str | None = None  # not_competent, partially_competent, other
    answer: StatusAnswer | None = None


class ActionResult(_Event):
    """agency.<code>.results: what became of one command from agency.<code>.actions.

    `accepted`: it took effect, and `result` is what the HTTP endpoint answers. `refused`:
    nothing changed; `status`, `title`, `detail` and `problems` are the problem document the
    HTTP endpoint gives for the same request (RFC 9457, `appeals_platform.problems`).
    """

    action_id: str  # the command's CloudEvent id
    action_type: str | None = None
    appeal_id: str | None = None
    agency: str
    outcome: Literal["accepted", "refused"]
    status: int
    title: str | None = None
    detail: str | None = None
    problems: list[dict[str, str]] = []
    result: dict[str, Any] | None = None
    decided_at: datetime


class DeadlineAlert(_Event):
    """deadlines.alerts: warnings, breaches, reminders, escalations, late redirects, and the
    breach-risk model's early warning (kind at_risk: predicted, not a breach)."""

    appeal_id: str
    registration_number: str
    hop: int
    kind: str
    severity: str
    agency: str
    escalated_to: str | None = None
    region: str | None = None
    locality: str | None = None
    appeal_type: str
    category: str | None = None
    due_at: datetime
    working_days_late: int = 0
    raised_at: datetime
    # Added for the deadlines service (additive).
    agency_level: str | None = None
    working_days_left: int | None = None  # warnings: working days before the due day
    reminder: int | None = None  # overdue reminders: 1, 2, ...
    extensions: int = 0  # extensions of the term when the alert was raised
    redirected_at: datetime | None = None  # redirect-overdue alerts
    redirected_to: str | None = None
    # at_risk alerts: the predicted probability that the hop breaches (0..1) when raised
    risk: float | None = Field(default=None, ge=0, le=1)


class AlertAcknowledged(_Event):
    """deadlines.alerts: monitoring staff saw an alert and say so."""

    alert_id: str
    appeal_id: str
    kind: str
    acknowledged_by: str
    acknowledged_at: datetime
    comment: str | None = None


class InboxAlert(_Event):
    """deadlines.alerts, keyed by agency code: an agency stopped taking its appeals in
    (inbox-stalled) or caught up again (inbox-recovered), for monitoring and the parent body.

    Stalled when its consumer groups leave its assignment topic unread for longer than the
    allowed working time, or an assignment stays unconfirmed for longer than the allowed
    working days (`reasons` says which)."""

    agency: str
    parent_agency: str | None = None
    state: Literal["stalled", "recovered"]
    reasons: list[Literal["lag", "unconfirmed"]] = []
    lag: int  # records on its assignment topic that no consumer group of it has committed
    lagging_since: datetime | None = None
    oldest_unconfirmed_at: datetime | None = None  # the oldest open, unconfirmed assignment
    unconfirmed: int = 0  # open, unconfirmed assignments, counted up to 1,000 ("or more")
    last_commit_at: datetime | None = None  # when deadlines last saw its groups' offsets move
    at: datetime


class DeadLetterHeader(_Event):
    """A header of the original record: `value` when it is UTF-8 text, else `value_base64`."""

    key: str
    value: str | None = None
    value_base64: str | None = None


class DeadLetter(_Event):
    """`<topic>.dlq`: a record its consumer could not handle, kept whole so it can be replayed.

    `value_base64` is the record's value; values over the dead-letter limit keep only their
    first bytes (`value_truncated`) and cannot be replayed from here.
    """

    error: str
    attempts: int
    consumer: str
    topic: str
    partition: int
    offset: int
    timestamp: int | None = None
    key: str | None = None  # as text, for reading; `key_base64` is exact
    key_base64: str | None = None
    value_base64: str | None = None
    value_bytes: int = 0
    value_truncated: bool = False
    headers: list[DeadLetterHeader] = []
