"""When a clock's alerts fall due: warnings, the breach, reminders, escalation (pure)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from appeals_law.calendar import ALMATY, WorkingCalendar
from appeals_law.due import compute_due
from appeals_law.rules import RuleSet, load_rules
from deadlines.schedule import BREACH, ESCALATION, REMINDER, WARNING, Timer, fire, next_action


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A moment in Asia/Almaty time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ALMATY)


@pytest.fixture
def timer(rules: RuleSet, calendar: WorkingCalendar) -> Timer:
    # The eOtinish example: received Thu 2022-05-26 17:17, due Wed 2022-06-15 23:59:59.
    due = compute_due("statement", local(2022, 5, 26, 17, 17), rules, calendar)
    return Timer(start_day=due.start_day, due_at=due.due_at)


def test_first_action_is_the_warning_three_working_days_before_the_due_day(
    timer: Timer, rules: RuleSet, calendar: WorkingCalendar
) -> None:
    assert timer.due_at == local(2022, 6, 15, 23, 59, 59)
    # Three working days before Wed 15 June: Tue 14, Mon 13, Fri 10.
    assert next_action(timer, rules, calendar) == (WARNING, local(2022, 6, 10))


def test_warnings_fire_one_at_a_time_then_the_breach_is_next(
    timer: Timer, rules: RuleSet, calendar: WorkingCalendar
) -> None:
    fired, timer = fire(timer, local(2022, 6, 10, 0, 0, 5), rules, calendar)
    assert [(f.kind, f.working_days_left) for f in fired] == [("warning", 3)]
    assert next_action(timer, rules, calendar) == (WARNING, local(2022, 6, 14))
    fired, timer = fire(timer, local(2022, 6, 14), rules, calendar)
    assert [(f.kind, f.working_days_left) for f in fired] == [("warning", 1)]
    assert next_action(timer, rules, calendar) == (BREACH, local(2022, 6, 16))


def test_a_clock_that_fell_behind_gets_only_the_latest_warning(
    timer: Timer, rules: RuleSet, calendar: WorkingCalendar
) -> None:
    fired, after = fire(timer, local(2022, 6, 15, 9), rules, calendar)
    assert [(f.kind, f.working_days_left) for f in fired] == [("warning", 1)]
    assert after.warned_offset == 1


def test_breach_fires_once_after_the_last_second_of_the_due_day(
    timer: Timer, rules: RuleSet, calendar: WorkingCalendar
) -> None:
    fired, still = fire(timer, local(2022, 6, 15, 23, 59, 59), rules, calendar)
    assert "breached" not in [f.kind for f in fired]
    fired, breached = fire(still, local(2022, 6, 16, 0, 0, 0), rules, calendar)
    assert [f.kind for f in fired] == ["breached"]
    assert breached.breached_at == local(2022, 6, 16)
    again, _ = fire(breached, local(2022, 6, 16, 0, 0, 1), rules, calendar)
    assert again == []


def test_breach_skips_warnings_that_were_never_raised(
    timer: Timer, rules: RuleSet, calendar: WorkingCalendar
) -> None:
    fired, after = fire(timer, local(2022, 6, 17, 10), rules, calendar)
    assert [f.kind for f in fired] == ["breached"]
    assert after.warned_offset is None


def test_reminders_every_five_working_days_and_escalation_after_ten(
    timer: Timer, rules: RuleSet, calendar: WorkingCalendar
) -> None:
    _, timer = fire(timer, local(2022, 6, 16), rules, calendar)
    # Five working days after Wed 15 June: 16, 17, 20, 21, 22 → Wed 22 June 00:00.
    assert next_action(timer, rules, calendar) == (REMINDER, local(2022, 6, 22))
    fired, timer = fire(timer, local(2022, 6, 22), rules, calendar)
    assert [(f.kind, f.reminder, f.working_days_late) for f in fired] == [
        ("overdue_reminder", 1, 5)
    ]
    # Ten working days after the due day: Wed 29 June; the second reminder is due then too.
    assert next_action(timer, rules, calendar)[1] == local(2022, 6, 29)
    fired, timer = fire(timer, local(2022, 6, 29, 8), rules, calendar)
    assert sorted(f.kind for f in fired) == ["escalated", "overdue_reminder"]
    assert timer.escalated_at == local(2022, 6, 29, 8)
    # Fifteen: 30 June, 1, 4, 5 July, then Wed 6 July is Capital Day, so Thu 7 July.
    assert next_action(timer, rules, calendar) == (REMINDER, local(2022, 7, 7))


def test_a_body_without_a_parent_is_never_escalated(
    timer: Timer, rules: RuleSet, calendar: WorkingCalendar
) -> None:
    top = timer._replace(escalates=False)
    fired, after = fire(top, local(2022, 7, 30), rules, calendar)
    assert "escalated" not in [f.kind for f in fired]
    assert next_action(after, rules, calendar)[0] == REMINDER


def test_a_clock_opened_long_after_its_due_date_raises_each_kind_once(
    timer: Timer, rules: RuleSet, calendar: WorkingCalendar
) -> None:
    now = local(2022, 7, 20, 12)
    fired, after = fire(timer, now, rules, calendar)
    assert [f.kind for f in fired] == ["breached", "overdue_reminder", "escalated"]
    action, at = next_action(after, rules, calendar)
    assert at > now and action in (REMINDER, ESCALATION)


def test_next_action_is_always_after_the_moment_fired(
    timer: Timer, rules: RuleSet, calendar: WorkingCalendar
) -> None:
    moment = local(2022, 6, 1)
    state = timer
    while moment < local(2022, 9, 1):
        _, state = fire(state, moment, rules, calendar)
        assert next_action(state, rules, calendar)[1] > moment
        moment += timedelta(hours=7)


def test_warnings_of_a_three_day_term_that_fall_before_day_one_are_dropped(
    rules: RuleSet, calendar: WorkingCalendar
) -> None:
    due = compute_due("bailiff_request", local(2024, 4, 1, 10), rules, calendar)
    timer = Timer(start_day=due.start_day, due_at=due.due_at)
    assert due.start_day == date(2024, 4, 1)
    # Day 3 is Wed 3 April; 3 working days before it is before day 1, 1 before it is Tue 2.
    assert next_action(timer, rules, calendar) == (WARNING, local(2024, 4, 2))
