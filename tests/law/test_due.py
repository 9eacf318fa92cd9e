"""Due moments and clock checks; each expected date was counted by hand on the real calendar."""

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from appeals_law.calendar import CalendarOverride, WorkingCalendar
from appeals_law.due import (
    check_extension,
    compute_due,
    extension_cap,
    main,
    redirect_deadline,
    warning_moments,
    working_days_late,
)
from appeals_law.rules import RuleSet, UnknownAppealTypeError, load_rules

PLUS_6 = timezone(timedelta(hours=6))
PLUS_5 = timezone(timedelta(hours=5))


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


def test_eotinish_example_thursday_17_17_is_due_on_15_june_2022(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    due = compute_due("statement", datetime(2022, 5, 26, 17, 17, tzinfo=PLUS_6), rules, calendar)
    assert due.start_day == date(2022, 5, 26)
    assert due.due_at.isoformat() == "2022-06-15T23:59:59+06:00"
    assert (due.term_days, due.unit) == (15, "working")
    assert due.rule_version == rules.version
    assert due.calendar_version == calendar.version


def test_statement_received_at_1829_counts_from_the_same_day(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    due = compute_due(
        "statement", datetime(2023, 10, 2, 18, 29, 59, tzinfo=PLUS_6), rules, calendar
    )
    assert due.start_day == date(2023, 10, 2)
    assert due.due_at.isoformat() == "2023-10-20T23:59:59+06:00"


def test_statement_received_at_1830_counts_from_next_working_day(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    due = compute_due("statement", datetime(2023, 10, 2, 18, 30, tzinfo=PLUS_6), rules, calendar)
    assert due.registered_on == date(2023, 10, 3)
    assert due.start_day == date(2023, 10, 3)
    assert due.due_at.isoformat() == "2023-10-23T23:59:59+06:00"


def test_cutoff_is_judged_in_almaty_time_not_in_the_offset_given(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    # 12:30 UTC is 18:30 in Almaty (UTC+6 in 2023).
    due = compute_due("statement", datetime(2023, 10, 2, 12, 30, tzinfo=UTC), rules, calendar)
    assert due.start_day == date(2023, 10, 3)


@pytest.mark.parametrize("received_day", [date(2023, 10, 7), date(2023, 10, 8)])
def test_statement_received_on_the_weekend_counts_from_monday_and_skips_republic_day(
    rules: RuleSet, calendar: WorkingCalendar, received_day: date
) -> None:
    received = datetime.combine(received_day, datetime.min.time(), tzinfo=PLUS_6).replace(hour=10)
    due = compute_due("statement", received, rules, calendar)
    assert due.start_day == date(2023, 10, 9)
    # Wed 25 Oct 2023 (Republic Day) is not counted.
    assert due.due_at.isoformat() == "2023-10-30T23:59:59+06:00"


def test_nauryz_and_womens_day_inside_the_term_push_the_due_date(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    due = compute_due("statement", datetime(2024, 3, 11, 10, tzinfo=PLUS_5), rules, calendar)
    # 21, 22 and 25 (observed) March 2024 are days off.
    assert due.due_at.isoformat() == "2024-04-03T23:59:59+05:00"


def test_received_on_the_moved_day_off_counts_from_the_working_sunday(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    due = compute_due("statement", datetime(2025, 1, 3, 10, tzinfo=PLUS_5), rules, calendar)
    assert due.start_day == date(2025, 1, 5)
    assert due.due_at.isoformat() == "2025-01-24T23:59:59+05:00"


def test_received_on_the_working_sunday_counts_that_sunday_as_day_one(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    due = compute_due("statement", datetime(2025, 1, 5, 10, tzinfo=PLUS_5), rules, calendar)
    assert due.start_day == date(2025, 1, 5)
    assert due.due_at.isoformat() == "2025-01-24T23:59:59+05:00"


def test_term_spanning_the_new_year_bridge_counts_the_working_sunday(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    # Day 1 Tue 31 Dec 2024, day 2 Sun 5 Jan 2025 (1-4 Jan off), 7 Jan Orthodox Christmas.
    due = compute_due("statement", datetime(2024, 12, 31, 10, tzinfo=PLUS_5), rules, calendar)
    assert due.due_at.isoformat() == "2025-01-23T23:59:59+05:00"


def test_override_cancelling_the_transfer_makes_the_friday_day_one(rules: RuleSet) -> None:
    calendar = WorkingCalendar(
        [
            CalendarOverride(day=date(2025, 1, 3), kind="working_day", decree="test"),
            CalendarOverride(day=date(2025, 1, 5), kind="day_off", decree="test"),
        ]
    )
    due = compute_due("statement", datetime(2025, 1, 3, 10, tzinfo=PLUS_5), rules, calendar)
    assert due.start_day == date(2025, 1, 3)
    assert due.due_at.isoformat() == "2025-01-24T23:59:59+05:00"


def test_appeal_received_before_1_march_2024_and_due_after_it_ends_at_plus_5(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    due = compute_due("statement", datetime(2024, 2, 21, 10, tzinfo=PLUS_6), rules, calendar)
    # 8 March 2024 (Friday) is a day off.
    assert due.due_at.isoformat() == "2024-03-13T23:59:59+05:00"
    assert due.due_at.utcoffset() == timedelta(hours=5)


def test_complaint_has_20_working_days_across_the_july_2023_transfer(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    # Sat 1 Jul 2023 worked; 6 Jul (Capital Day) and Fri 7 Jul off.
    due = compute_due("complaint", datetime(2023, 6, 30, 9, tzinfo=PLUS_6), rules, calendar)
    assert due.term_days == 20
    assert due.due_at.isoformat() == "2023-07-28T23:59:59+06:00"


def test_calendar_day_term_ending_on_a_holiday_rolls_to_the_next_working_day(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    # 11 Mar + 14 days = Mon 25 Mar 2024, the observed Nauryz day off.
    due = compute_due(
        "information_request", datetime(2024, 3, 11, 10, tzinfo=PLUS_5), rules, calendar
    )
    assert due.unit == "calendar"
    assert due.due_at.isoformat() == "2024-03-26T23:59:59+05:00"


def test_calendar_day_term_received_on_a_holiday_starts_on_the_next_working_day(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    due = compute_due(
        "information_request", datetime(2024, 3, 22, 10, tzinfo=PLUS_5), rules, calendar
    )
    assert due.start_day == date(2024, 3, 26)
    assert due.due_at.isoformat() == "2024-04-09T23:59:59+05:00"


def test_override_adding_a_day_off_shifts_the_due_date_by_one_working_day(rules: RuleSet) -> None:
    received = datetime(2026, 2, 2, 10, tzinfo=PLUS_5)
    plain = compute_due("statement", received, rules, WorkingCalendar())
    day_off = CalendarOverride(day=date(2026, 2, 11), kind="day_off", decree="test decree")
    shifted = compute_due("statement", received, rules, WorkingCalendar([day_off]))
    assert plain.due_at.isoformat() == "2026-02-20T23:59:59+05:00"
    assert shifted.due_at.isoformat() == "2026-02-23T23:59:59+05:00"
    assert plain.calendar_version != shifted.calendar_version


def test_override_adding_a_working_saturday_brings_the_due_date_forward(rules: RuleSet) -> None:
    saturday = CalendarOverride(day=date(2026, 2, 7), kind="working_day", decree="test decree")
    due = compute_due(
        "statement", datetime(2026, 2, 2, 10, tzinfo=PLUS_5), rules, WorkingCalendar([saturday])
    )
    assert due.due_at.isoformat() == "2026-02-19T23:59:59+05:00"


def test_day_after_registration_setting_starts_the_count_a_working_day_later(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    civil = rules.model_copy(update={"first_day": "day_after_registration"})
    due = compute_due("statement", datetime(2022, 5, 26, 17, 17, tzinfo=PLUS_6), civil, calendar)
    assert due.registered_on == date(2022, 5, 26)
    assert due.start_day == date(2022, 5, 27)
    assert due.due_at.isoformat() == "2022-06-16T23:59:59+06:00"


def test_unknown_appeal_type_is_rejected(rules: RuleSet, calendar: WorkingCalendar) -> None:
    with pytest.raises(UnknownAppealTypeError):
        compute_due("petition", datetime(2022, 5, 26, 10, tzinfo=PLUS_6), rules, calendar)


def test_received_at_without_offset_is_rejected(rules: RuleSet, calendar: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="offset"):
        compute_due("statement", datetime(2022, 5, 26, 10), rules, calendar)


def test_warnings_fall_at_midnight_3_and_1_working_days_before_the_due_day(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    due = compute_due("statement", datetime(2022, 5, 26, 17, 17, tzinfo=PLUS_6), rules, calendar)
    moments = warning_moments(due, rules, calendar)
    assert [(offset, moment.isoformat()) for offset, moment in moments] == [
        (3, "2022-06-10T00:00:00+06:00"),
        (1, "2022-06-14T00:00:00+06:00"),
    ]


def test_warnings_before_day_one_are_dropped_for_short_terms(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    # 3 working days from Thu 26 May 2022: due Mon 30 May; 3 working days before is 25 May.
    due = compute_due("bailiff_request", datetime(2022, 5, 26, 10, tzinfo=PLUS_6), rules, calendar)
    assert due.due_day == date(2022, 5, 30)
    moments = warning_moments(due, rules, calendar)
    assert [(offset, moment.date()) for offset, moment in moments] == [(1, date(2022, 5, 27))]


def test_working_days_late_counts_working_days_begun_after_the_due_day(
    calendar: WorkingCalendar,
) -> None:
    due_at = datetime(2022, 6, 15, 23, 59, 59, tzinfo=PLUS_6)
    assert working_days_late(due_at, datetime(2022, 6, 15, 23, 0, tzinfo=PLUS_6), calendar) == 0
    assert working_days_late(due_at, datetime(2022, 6, 16, 9, 0, tzinfo=PLUS_6), calendar) == 1
    assert working_days_late(due_at, datetime(2022, 6, 18, 9, 0, tzinfo=PLUS_6), calendar) == 2
    assert working_days_late(due_at, datetime(2022, 6, 20, 10, 0, tzinfo=PLUS_6), calendar) == 3


def test_redirect_deadline_is_the_end_of_the_third_working_day(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    # Wed 5 Jul 2023 is day 1; 6 and 7 Jul off, then the weekend; Mon 10 is day 2, Tue 11 day 3.
    deadline = redirect_deadline(datetime(2023, 7, 5, 10, tzinfo=PLUS_6), rules, calendar)
    assert deadline.isoformat() == "2023-07-11T23:59:59+06:00"


def test_redirect_deadline_after_hours_counts_from_the_next_working_day(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    deadline = redirect_deadline(datetime(2023, 7, 5, 19, tzinfo=PLUS_6), rules, calendar)
    assert deadline.isoformat() == "2023-07-12T23:59:59+06:00"


START = date(2023, 10, 2)
ORIGINAL_DUE = datetime(2023, 10, 20, 23, 59, 59, tzinfo=PLUS_6)


def test_lawful_extension_has_no_violations(rules: RuleSet, calendar: WorkingCalendar) -> None:
    # Decided Fri 13 Oct, notified Wed 18 Oct: 3 working days later (16, 17, 18).
    violations = check_extension(
        START,
        ORIGINAL_DUE,
        date(2023, 12, 1),
        date(2023, 10, 18),
        date(2023, 10, 13),
        rules,
        calendar,
    )
    assert violations == []


def test_extension_to_a_date_not_after_the_current_due_date_is_a_violation(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    violations = check_extension(
        START, ORIGINAL_DUE, date(2023, 10, 20), None, date(2023, 10, 13), rules, calendar
    )
    assert len(violations) == 1
    assert "not after the current due date 2023-10-20" in violations[0]


def test_extension_beyond_two_months_from_day_one_is_a_violation(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    # Two months from Mon 2 Oct 2023 end on Fri 1 Dec 2023.
    violations = check_extension(
        START, ORIGINAL_DUE, date(2023, 12, 4), None, date(2023, 10, 13), rules, calendar
    )
    assert len(violations) == 1
    assert "longer than 2 months" in violations[0]
    assert "latest 2023-12-01" in violations[0]


def test_extension_cap_ending_on_a_sunday_rolls_to_monday(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    # Wed 4 Oct 2023 + 2 months - 1 day = Sun 3 Dec 2023.
    assert extension_cap(date(2023, 10, 4), rules, calendar) == date(2023, 12, 4)


def test_notifying_the_applicant_4_working_days_after_the_decision_is_a_violation(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    violations = check_extension(
        START,
        ORIGINAL_DUE,
        date(2023, 11, 30),
        date(2023, 10, 19),
        date(2023, 10, 13),
        rules,
        calendar,
    )
    assert len(violations) == 1
    assert "more than 3 working days" in violations[0]


def test_second_extension_is_a_violation(rules: RuleSet, calendar: WorkingCalendar) -> None:
    violations = check_extension(
        START,
        date(2023, 11, 1),
        date(2023, 11, 30),
        None,
        date(2023, 10, 25),
        rules,
        calendar,
        extensions_so_far=1,
    )
    assert len(violations) == 1
    assert "already extended 1 time" in violations[0]


def test_every_violation_of_one_extension_is_reported(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    violations = check_extension(
        START,
        ORIGINAL_DUE,
        date(2023, 10, 1),
        date(2023, 10, 12),
        date(2023, 10, 13),
        rules,
        calendar,
        extensions_so_far=1,
    )
    assert len(violations) == 3
    assert any("before the extension was decided" in v for v in violations)


def test_default_rules_give_15_working_days_and_20_for_complaints(rules: RuleSet) -> None:
    for appeal_type in ("statement", "proposal", "feedback", "report", "request"):
        assert (rules.term(appeal_type).days, rules.term(appeal_type).unit) == (15, "working")
    assert rules.term("complaint").days == 20
    assert rules.redirect_window_working_days == 3
    assert rules.warning_offsets_working_days == (3, 1)


def test_rule_set_without_a_core_appeal_type_is_rejected(rules: RuleSet) -> None:
    document = json.loads(rules.model_dump_json())
    document["terms"] = [t for t in document["terms"] if t["appeal_type"] != "complaint"]
    with pytest.raises(ValidationError, match="complaint"):
        RuleSet.model_validate_json(json.dumps(document))


def test_rule_set_listing_a_type_twice_is_rejected(rules: RuleSet) -> None:
    document = json.loads(rules.model_dump_json())
    document["terms"].append(document["terms"][0])
    with pytest.raises(ValidationError, match="more than once"):
        RuleSet.model_validate_json(json.dumps(document))


def test_cli_prints_the_due_moment_on_its_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["complaint", "2023-06-30T09:00:00+06:00"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "2023-07-28T23:59:59+06:00"
    assert any("2023-06-30" in line for line in lines[:-1])


def test_cli_uses_an_operator_rules_file(
    rules: RuleSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(rules.model_dump_json())
    document["version"] = "operator-test"
    for term in document["terms"]:
        if term["appeal_type"] == "complaint":
            term["days"] = 1
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert main(["complaint", "2023-06-30T09:00:00+06:00", "--rules", str(path)]) == 0
    out = capsys.readouterr().out
    assert "operator-test" in out
    assert out.strip().splitlines()[-1] == "2023-06-30T23:59:59+06:00"


@pytest.mark.parametrize(
    "argv",
    [
        ["petition", "2023-06-30T09:00:00+06:00"],
        ["complaint", "2023-06-30T09:00:00"],
        ["complaint", "yesterday"],
        ["complaint"],
    ],
)
def test_cli_rejects_bad_input_with_exit_code_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error" in captured.err
