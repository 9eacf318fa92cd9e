"""Page fragments: alert rows, acknowledgements and the routing explanation (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from appeals_dashboard.names import Names
from appeals_dashboard.views import AlertView, ack_cell, alert_row, routing_details
from appeals_reference.loader import load_reference
from deadlines.queries import AlertRecord

NAMES = Names(load_reference())


def alert(**changes: Any) -> AlertView:
    values: dict[str, Any] = {
        "id": "11111111-1111-1111-1111-111111111111",
        "appeal_id": "22222222-2222-2222-2222-222222222222",
        "hop": 1,
        "kind": "escalated",
        "severity": "critical",
        "agency": "KRG-HEALTH",
        "locality": "KRG-KARAGANDA",
        "region": "KRG",
        "raised_at": datetime(2022, 6, 16, 4, tzinfo=UTC),
        "registration_number": "KRG-<1>",
        "due_at": datetime(2022, 6, 15, 18, 59, 59, tzinfo=UTC),
        "working_days_late": 5,
        "working_days_left": None,
        "escalated_to": "KRG-AKIMAT",
    }
    values.update(changes)
    return AlertView(**values)


def test_an_alert_row_names_the_agency_and_escalation_in_the_pages_language() -> None:
    row = alert_row(alert(), "kk", NAMES, can_acknowledge=True)
    assert "Қарағанды облысының денсаулық сақтау басқармасы" in row
    assert "Қарағанды облысы әкімінің аппараты" in row  # escalated to the akim's office
    assert "KRG-&lt;1&gt;" in row and 'href="/dashboard/appeals/2222' in row
    assert 'class="ack-form"' in row and "2022" in row


def test_an_acknowledged_alert_shows_who_when_and_the_comment_escaped() -> None:
    acknowledged = alert(
        acknowledged_at=datetime(2022, 6, 16, 5, tzinfo=UTC),
        acknowledged_by="monitoring:aslan",
        acknowledge_comment="<img src=x onerror=alert(1)>",
    )
    cell = ack_cell(acknowledged, "en", can_acknowledge=True)
    assert "Acknowledged by" in cell and "monitoring:aslan" in cell
    assert "<img" not in cell and "&lt;img" in cell
    assert "ack-form" not in cell


def test_without_the_right_to_acknowledge_there_is_no_form() -> None:
    assert ack_cell(alert(), "ru", can_acknowledge=False) == "—"


def test_the_alert_from_a_live_event_matches_the_one_from_its_row() -> None:
    event = {
        "id": "11111111-1111-1111-1111-111111111111",
        "appeal_id": "22222222-2222-2222-2222-222222222222",
        "hop": 1,
        "kind": "breached",
        "severity": "violation",
        "agency": "KRG-HEALTH",
        "locality": "KRG-KARAGANDA",
        "region": "KRG",
        "raised_at": "2022-06-16T04:00:00Z",
        "registration_number": "KRG-1",
        "due_at": "2022-06-15T18:59:59Z",
        "working_days_late": 1,
    }
    row = AlertRecord(
        id=uuid.UUID(str(event["id"])),
        appeal_id=uuid.UUID(str(event["appeal_id"])),
        hop=1,
        kind="breached",
        severity="violation",
        agency="KRG-HEALTH",
        locality="KRG-KARAGANDA",
        region="KRG",
        raised_at=datetime(2022, 6, 16, 4, tzinfo=UTC),
        data=event,
        acknowledged_at=None,
        acknowledged_by=None,
        acknowledge_comment=None,
    )
    assert AlertView.from_event(event) == AlertView.from_record(row)


def test_the_routing_explanation_is_listed_when_the_clock_records_it() -> None:
    clock = {
        "routing": {
            "method": "rule",
            "confidence": 0.97,
            "explanation": {
                "locality": {"code": "KRG-KARAGANDA", "how": "alias"},
                "category": {"code": "HOUSING-HEATING", "source": "citizen"},
                "notes": ["category × locality rule"],
            },
        }
    }
    details = routing_details("en", clock["routing"])
    assert "Method: rule" in details and "97%" in details
    assert "KRG-KARAGANDA" in details and "category × locality rule" in details
    assert "not recorded" in routing_details("en", None)
