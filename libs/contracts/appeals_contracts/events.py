"""Payloads (`data`) of the platform's events.

Changes are additive; a breaking change is a new event type version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

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


class AppealTriaged(_Event):
    appeal_id: str
    registration_number: str
    hop: int
    reason: str
    best_guess: str | None = None
    explanation: dict[str, Any] = {}
    triaged_at: datetime


class DeadlineExtended(_Event):
    appeal_id: str
    hop: int
    agency: str
    previous_due_at: datetime
    new_due_at: datetime
    reason: str
    notified_on: str | None = None
    extended_at: datetime


class DeadlineAlert(_Event):
    """deadlines.alerts: warnings, breaches, reminders, escalations, late redirects."""

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
