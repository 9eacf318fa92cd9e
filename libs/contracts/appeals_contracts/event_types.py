"""CloudEvents `type` values: reverse-DNS and versioned; a breaking change is a new version."""

APPEAL_RECEIVED = "kz.appeals.appeal.received.v1"
SUBMISSION_REJECTED = "kz.appeals.submission.rejected.v1"
ANSWER_GIVEN = "kz.appeals.answer.given.v1"
APPEAL_ASSIGNED = "kz.appeals.appeal.assigned.v1"
APPEAL_REDIRECTED = "kz.appeals.appeal.redirected.v1"
APPEAL_TRIAGED = "kz.appeals.appeal.triaged.v1"
REFERENCE_CHANGED = "kz.appeals.reference.changed.v1"
DEADLINE_EXTENDED = "kz.appeals.deadline.extended.v1"
DEADLINE_WARNING = "kz.appeals.deadline.warning.v1"
DEADLINE_BREACHED = "kz.appeals.deadline.breached.v1"
OVERDUE_REMINDER = "kz.appeals.deadline.overdue-reminder.v1"
DEADLINE_ESCALATED = "kz.appeals.deadline.escalated.v1"
REDIRECT_OVERDUE = "kz.appeals.redirect.overdue.v1"
DEADLINE_AT_RISK = "kz.appeals.deadline.at-risk.v1"
ALERT_ACKNOWLEDGED = "kz.appeals.alert.acknowledged.v1"
INBOX_STALLED = "kz.appeals.agency.inbox-stalled.v1"
INBOX_RECOVERED = "kz.appeals.agency.inbox-recovered.v1"
DEAD_LETTER = "kz.appeals.dead-letter.v1"
RECEIPT_CONFIRMED = "kz.appeals.receipt.confirmed.v1"

# Commands an agency writes to its own `agency.<code>.actions` topic, and their outcome on
# `agency.<code>.results` (appeals_platform.actions).
AGENCY_RECEIPT_CONFIRMED = "kz.appeals.agency.receipt-confirmed.v1"
AGENCY_ANSWER = "kz.appeals.agency.answer.v1"
AGENCY_REDIRECT_REQUESTED = "kz.appeals.agency.redirect-requested.v1"
AGENCY_EXTENSION_REQUESTED = "kz.appeals.agency.extension-requested.v1"
AGENCY_ACTIONS = (
    AGENCY_RECEIPT_CONFIRMED,
    AGENCY_ANSWER,
    AGENCY_REDIRECT_REQUESTED,
    AGENCY_EXTENSION_REQUESTED,
)
AGENCY_ACTION_RESULT = "kz.appeals.agency.action-result.v1"

# integration.<source>.updates: what became of an appeal the integration submitted.
APPEAL_STATUS_CHANGED = "kz.appeals.appeal.status-changed.v1"

# Every event type the platform writes: a consumer that meets a type outside this set on one
# of its topics dead-letters the record (appeals_platform.consumer) instead of passing it by.
KNOWN = frozenset(
    value
    for name, value in list(globals().items())
    if name.isupper() and isinstance(value, str) and value.startswith("kz.appeals.")
)
