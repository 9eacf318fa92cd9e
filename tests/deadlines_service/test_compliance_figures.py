"""Compliance periods and figures, and alert ids (pure)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date

import pytest

from appeals_contracts.envelope import event_id
from deadlines import alerts
from deadlines.compliance import Figures, Tally, median, parse_period, sector_of


def test_month_quarter_and_year_periods_and_their_previous_periods() -> None:
    march = parse_period("2022-03")
    assert (march.first, march.last, march.previous().label) == (
        date(2022, 3, 1),
        date(2022, 3, 31),
        "2022-02",
    )
    assert parse_period("2022-01").previous().label == "2021-12"
    q1 = parse_period("2022Q1")
    assert (q1.first, q1.last) == (date(2022, 1, 1), date(2022, 3, 31))
    assert q1.previous() == parse_period("2021Q4")
    assert parse_period("2022q3").previous().label == "2022Q2"
    year = parse_period("2022")
    assert (year.first, year.last, year.previous().label) == (
        date(2022, 1, 1),
        date(2022, 12, 31),
        "2021",
    )
    assert parse_period("2024-02").last == date(2024, 2, 29)


@pytest.mark.parametrize("text", ["2022-13", "2022Q5", "22", "2022-3", "Q1 2022", ""])
def test_a_period_that_is_not_a_month_quarter_or_year_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="period"):
        parse_period(text)


def test_median_of_a_histogram_takes_the_middle_or_the_mean_of_the_two_middles() -> None:
    assert median(Counter()) is None
    assert median(Counter({3: 1})) == 3
    assert median(Counter({2: 1, 9: 1})) == 5.5
    assert median(Counter({1: 2, 4: 1, 20: 1})) == 2.5
    assert median(Counter({5: 3, 15: 2})) == 5


def test_on_time_share_counts_open_overdue_in_the_denominator() -> None:
    tally = Tally(received=30, on_time=6, late=2, redirected_late=1, open_overdue=2)
    figures = Figures.of(tally, min_sample=10)
    assert figures.on_time_share == 0.6
    assert figures.violations == 5
    assert figures.sample == 10 and not figures.small_sample
    assert Figures.of(Tally(on_time=3), min_sample=10).small_sample
    assert Figures.of(Tally(received=4), min_sample=10).on_time_share is None


def test_local_executive_bodies_are_akimats_and_their_departments() -> None:
    for level in (
        "region_akimat",
        "city_akimat",
        "district_akimat",
        "region_department",
        "city_department",
    ):
        assert sector_of(level) == "local_executive"
    assert sector_of("territorial_body") == "territorial"
    assert sector_of("out_of_region") == "other"


def test_alert_ids_are_deterministic_and_distinct_per_kind_offset_reminder_and_extension() -> None:
    appeal = "0b9a6c8e-2f1d-4a51-9e0c-3d2b1a4f5e6d"
    breach = alerts.alert_id(appeal, 1, "breached")
    assert breach == alerts.alert_id(appeal, 1, "breached")
    ids = {
        breach,
        alerts.alert_id(appeal, 2, "breached"),
        alerts.alert_id(appeal, 1, "warning", working_days_left=3),
        alerts.alert_id(appeal, 1, "warning", working_days_left=1),
        alerts.alert_id(appeal, 1, "warning", working_days_left=1, extensions=1),
        alerts.alert_id(appeal, 1, "overdue_reminder", reminder=1),
        alerts.alert_id(appeal, 1, "overdue_reminder", reminder=2),
        alerts.alert_id(appeal, 1, "escalated"),
        alerts.alert_id(appeal, 1, "redirect_overdue"),
    }
    assert len(ids) == 9


def test_alert_ids_equal_the_contracts_event_ids() -> None:
    for n in range(200):
        appeal = str(uuid.uuid4())
        assert alerts.alert_id(appeal, n % 4, "breached") == event_id(appeal, "breached", n % 4)
        assert alerts.alert_id(appeal, 1, "overdue_reminder", reminder=n) == event_id(
            appeal, f"overdue-reminder-{n}", 1
        )


def test_severity_rises_from_early_warning_to_escalation() -> None:
    assert alerts.severity("warning", 3) == "info"
    assert alerts.severity("warning", 1) == "warning"
    assert alerts.severity("breached") == "violation"
    assert alerts.severity("redirect_overdue") == "violation"
    assert alerts.severity("escalated") == "critical"
