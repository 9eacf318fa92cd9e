"""When each alert of an open clock falls due, and which ones fire at a given moment.

Pure functions of the clock's timer state, so the ticker, the handlers and a rebuild all
compute the same next action. The state records only alerts actually raised: a warning the
ticker skipped (because a later one, or the breach, was already due) leaves no trace, which
is what a rebuild from the alerts topic sees too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from appeals_law.calendar import WorkingCalendar
from appeals_law.due import Due, warning_moments, working_days_late
from appeals_law.rules import RuleSet
from deadlines.law import local_day, start_of

# Next actions stored in clocks.next_action.
WARNING = "warning"
BREACH = "breach"
REMINDER = "overdue_reminder"
ESCALATION = "escalation"

# The breach fires once the last second of the due day has passed.
BREACH_DELAY = timedelta(seconds=1)


class Timer(NamedTuple):
    """What the schedule of one clock depends on (a tuple: the ticker copies thousands)."""

    start_day: date
    due_at: datetime
    warned_offset: int | None = None
    breached_at: datetime | None = None
    reminders_sent: int = 0
    escalated_at: datetime | None = None
    escalates: bool = True


@dataclass(frozen=True)
class Firing:
    """One alert due now. `kind` is the alert kind (warning, breached, ...)."""

    kind: str
    working_days_late: int = 0
    working_days_left: int | None = None
    reminder: int | None = None


def warnings(timer: Timer, rules: RuleSet, calendar: WorkingCalendar) -> list[tuple[int, datetime]]:
    """(offset, moment) of the warnings of this term, earliest first (appeals_law's rule)."""
    # warning_moments reads only day 1 and the due day of the term, so a partial Due will do.
    known: dict[str, Any] = {"start_day": timer.start_day, "due_at": timer.due_at}
    due = Due.model_construct(**known)
    return warning_moments(due, rules, calendar)


@functools.lru_cache(maxsize=65536)
def _start_of_working_day_after(calendar: WorkingCalendar, day: date, days: int) -> datetime:
    # Thousands of clocks share a due day; the ticker asks this for each of them. The key
    # holds the calendar object itself, so a new calendar never reads an old answer.
    return start_of(calendar.add_working_days(day, days))


def _reminder_moment(
    timer: Timer, number: int, rules: RuleSet, calendar: WorkingCalendar
) -> datetime:
    days = number * rules.overdue_reminder_every_working_days
    return _start_of_working_day_after(calendar, local_day(timer.due_at), days)


def _escalation_moment(timer: Timer, rules: RuleSet, calendar: WorkingCalendar) -> datetime:
    days = rules.escalate_after_working_days
    return _start_of_working_day_after(calendar, local_day(timer.due_at), days)


def next_action(timer: Timer, rules: RuleSet, calendar: WorkingCalendar) -> tuple[str, datetime]:
    """The next alert this clock owes and when; it may lie in the past (then it fires at once)."""
    if timer.breached_at is None:
        for offset, moment in warnings(timer, rules, calendar):
            if timer.warned_offset is None or offset < timer.warned_offset:
                return WARNING, moment
        return BREACH, timer.due_at + BREACH_DELAY
    candidates = [
        (
            _reminder_moment(timer, timer.reminders_sent + 1, rules, calendar),
            REMINDER,
        )
    ]
    if timer.escalates and timer.escalated_at is None:
        candidates.append((_escalation_moment(timer, rules, calendar), ESCALATION))
    moment, action = min(candidates)
    return action, moment


def fire(
    timer: Timer, now: datetime, rules: RuleSet, calendar: WorkingCalendar
) -> tuple[list[Firing], Timer]:
    """The alerts due at `now` and the timer after raising them.

    A clock that falls behind (the service was down, or the clock opened late) gets one
    alert per kind: the latest warning unless the breach is due, the breach, the latest
    reminder, the escalation. The next action of the new timer always lies after `now`.
    """
    firings: list[Firing] = []
    if timer.breached_at is None:
        if now < timer.due_at + BREACH_DELAY:
            due = [
                offset
                for offset, moment in warnings(timer, rules, calendar)
                if moment <= now and (timer.warned_offset is None or offset < timer.warned_offset)
            ]
            if due:
                offset = min(due)
                firings.append(Firing("warning", working_days_left=offset))
                timer = timer._replace(warned_offset=offset)
            return firings, timer
        late = working_days_late(timer.due_at, now, calendar)
        firings.append(Firing("breached", late))
        timer = timer._replace(breached_at=now)
    else:
        late = working_days_late(timer.due_at, now, calendar)
    reminder = late // rules.overdue_reminder_every_working_days
    if reminder > timer.reminders_sent:
        firings.append(Firing("overdue_reminder", late, reminder=reminder))
        timer = timer._replace(reminders_sent=reminder)
    if timer.escalates and timer.escalated_at is None and late >= rules.escalate_after_working_days:
        firings.append(Firing("escalated", late))
        timer = timer._replace(escalated_at=now)
    return firings, timer
