"""Working-day calendar of Kazakhstan; every expected date was checked by hand on a calendar."""

from datetime import date, datetime, timedelta

import pytest

from appeals_law.calendar import ALMATY, CalendarOverride, WorkingCalendar, parse_overrides


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


def test_almaty_moved_from_utc_plus_6_to_utc_plus_5_on_1_march_2024() -> None:
    assert ALMATY.utcoffset(datetime(2024, 2, 28, 12)) == timedelta(hours=6)
    assert ALMATY.utcoffset(datetime(2024, 3, 2, 12)) == timedelta(hours=5)


def test_nauryz_and_its_observed_monday_are_days_off_in_2024(calendar: WorkingCalendar) -> None:
    # 21 Mar 2024 is a Thursday; 23 Mar falls on Saturday and rolls to Monday 25 Mar.
    assert not calendar.is_working_day(date(2024, 3, 21))
    assert not calendar.is_working_day(date(2024, 3, 22))
    assert not calendar.is_working_day(date(2024, 3, 25))
    assert calendar.is_working_day(date(2024, 3, 26))


def test_sunday_5_january_2025_was_a_working_day_and_friday_3_january_a_day_off(
    calendar: WorkingCalendar,
) -> None:
    assert calendar.is_working_day(date(2025, 1, 5))
    assert not calendar.is_working_day(date(2025, 1, 3))
    assert not calendar.is_working_day(date(2025, 1, 4))


def test_saturday_1_july_2023_was_worked_for_friday_7_july(calendar: WorkingCalendar) -> None:
    assert calendar.is_working_day(date(2023, 7, 1))
    assert not calendar.is_working_day(date(2023, 7, 7))


def test_next_working_day_skips_the_weekend_and_a_holiday(calendar: WorkingCalendar) -> None:
    # Fri 2024-03-08 is Women's Day; Thu 2024-03-07 is followed by Mon 2024-03-11.
    assert calendar.next_working_day(date(2024, 3, 7)) == date(2024, 3, 11)


def test_add_working_days_counts_a_working_sunday(calendar: WorkingCalendar) -> None:
    # Tue 2024-12-31 + 1 working day: 1, 2 Jan holidays, 3 Jan moved day off, 5 Jan worked.
    assert calendar.add_working_days(date(2024, 12, 31), 1) == date(2025, 1, 5)


def test_add_working_days_backwards_skips_days_off(calendar: WorkingCalendar) -> None:
    # Before Tue 2024-03-26: 25, 22, 21 off and 23, 24 weekend, so Wed 20 then Tue 19 March.
    assert calendar.add_working_days(date(2024, 3, 26), -1) == date(2024, 3, 20)
    assert calendar.add_working_days(date(2024, 3, 26), -2) == date(2024, 3, 19)


def test_add_zero_working_days_rolls_a_day_off_forward(calendar: WorkingCalendar) -> None:
    assert calendar.add_working_days(date(2024, 3, 23), 0) == date(2024, 3, 26)
    assert calendar.add_working_days(date(2024, 3, 20), 0) == date(2024, 3, 20)


def test_working_days_between_excludes_the_first_day_and_includes_the_last(
    calendar: WorkingCalendar,
) -> None:
    # After Wed 2024-03-20 up to Fri 2024-03-29: 26, 27, 28, 29 March.
    assert calendar.working_days_between(date(2024, 3, 20), date(2024, 3, 29)) == 4
    assert calendar.working_days_between(date(2024, 3, 29), date(2024, 3, 20)) == -4
    assert calendar.working_days_between(date(2024, 3, 20), date(2024, 3, 20)) == 0


def test_override_makes_a_weekday_a_day_off_and_a_saturday_a_working_day() -> None:
    calendar = WorkingCalendar(
        [
            CalendarOverride(day=date(2026, 2, 11), kind="day_off", decree="test decree"),
            CalendarOverride(day=date(2026, 2, 7), kind="working_day", decree="test decree"),
        ]
    )
    assert not calendar.is_working_day(date(2026, 2, 11))
    assert calendar.is_working_day(date(2026, 2, 7))
    assert calendar.is_working_day(date(2026, 2, 10))


def test_override_can_cancel_a_transfer_the_holidays_package_knows() -> None:
    calendar = WorkingCalendar(
        [
            CalendarOverride(day=date(2025, 1, 3), kind="working_day", decree="test"),
            CalendarOverride(day=date(2025, 1, 5), kind="day_off", decree="test"),
        ]
    )
    assert calendar.is_working_day(date(2025, 1, 3))
    assert not calendar.is_working_day(date(2025, 1, 5))


def test_calendar_version_names_the_package_and_changes_with_the_overrides() -> None:
    plain = WorkingCalendar()
    with_override = WorkingCalendar(
        [CalendarOverride(day=date(2026, 8, 31), kind="day_off", decree="decree A")]
    )
    assert plain.version.startswith("holidays-")
    assert plain.version != with_override.version
    assert plain.version == WorkingCalendar().version


def test_conflicting_overrides_for_one_day_are_rejected() -> None:
    with pytest.raises(ValueError, match="conflicting"):
        WorkingCalendar(
            [
                CalendarOverride(day=date(2026, 8, 31), kind="day_off", decree="a"),
                CalendarOverride(day=date(2026, 8, 31), kind="working_day", decree="b"),
            ]
        )


def test_overrides_parse_from_json() -> None:
    [override] = parse_overrides('[{"day": "2026-08-31", "kind": "day_off", "decree": "X"}]')
    assert override == CalendarOverride(day=date(2026, 8, 31), kind="day_off", decree="X")
