"""The rules and the working-day calendar in force, with the calendar rebuilt from the
`calendar_overrides` table whenever its revision changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from appeals_law.calendar import ALMATY, CalendarOverride, WorkingCalendar
from appeals_law.rules import RuleSet


@dataclass
class Law:
    rules: RuleSet
    calendar: WorkingCalendar
    revision: int = 0

    def adopt(self, overrides: Iterable[CalendarOverride], revision: int) -> None:
        """Swap in the calendar built from these overrides (one attribute write: no torn reads)."""
        self.calendar = WorkingCalendar(overrides)
        self.revision = revision

    def follow(self, other: Law) -> None:
        """Take the calendar another Law built (after the transaction that changed it commits)."""
        self.calendar = other.calendar
        self.revision = other.revision


def local_day(moment: datetime) -> date:
    """The Asia/Almaty date of a moment: every legal day and report day is local."""
    return moment.astimezone(ALMATY).date()


def start_of(day: date) -> datetime:
    """Local midnight starting `day`."""
    return datetime.combine(day, time(0), tzinfo=ALMATY)


def end_of(day: date, rules: RuleSet) -> datetime:
    """The due moment on `day` (23:59:59 local by default)."""
    return datetime.combine(day, rules.due_local_time, tzinfo=ALMATY)
