"""Legal clock arithmetic: due moments, warnings, lateness, redirect window, extension checks.

Counting follows eOtinish practice (kz-law.md §4.3), with the knobs in `RuleSet`: an appeal
received at or after the cutoff (18:30 local), or on a non-working day, is registered on the next
working day (АППК art. 64(3)); that day is day 1; the term ends at 23:59:59 local of its last day.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict

from appeals_law.calendar import ALMATY, WorkingCalendar, parse_overrides
from appeals_law.rules import RuleSet, Unit, load_rules


class Due(BaseModel):
    """The computed term of one appeal, with the rule and calendar versions it came from."""

    model_config = ConfigDict(frozen=True)

    appeal_type: str
    received_at: AwareDatetime
    registered_on: date
    start_day: date
    due_at: AwareDatetime
    term_days: int
    unit: Unit
    rule_version: str
    calendar_version: str

    @property
    def due_day(self) -> date:
        return self.due_at.astimezone(ALMATY).date()


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no UTC offset; legal clocks need one")
    return moment.astimezone(ALMATY)


def _end_of(day: date, rules: RuleSet) -> datetime:
    return datetime.combine(day, rules.due_local_time, tzinfo=ALMATY)


def registration_day(received_at: datetime, rules: RuleSet, calendar: WorkingCalendar) -> date:
    """The day the appeal is registered: the next working day if received after hours."""
    local = _local(received_at)
    day = local.date()
    if local.time() >= rules.cutoff_local_time or not calendar.is_working_day(day):
        return calendar.next_working_day(day)
    return day


def day_one(received_at: datetime, rules: RuleSet, calendar: WorkingCalendar) -> date:
    """Day 1 of every term counted from this receipt."""
    registered = registration_day(received_at, rules, calendar)
    if rules.first_day == "day_after_registration":
        return calendar.next_working_day(registered)
    return registered


def compute_due(
    appeal_type: str, received_at: datetime, rules: RuleSet, calendar: WorkingCalendar
) -> Due:
    term = rules.term(appeal_type)
    registered = registration_day(received_at, rules, calendar)
    start = day_one(received_at, rules, calendar)
    if term.unit == "working":
        last = calendar.add_working_days(start, term.days - 1)
    else:
        # Calendar-day terms that end on a day off run to the next working day (eOtinish).
        last = calendar.add_working_days(start + timedelta(days=term.days - 1), 0)
    return Due(
        appeal_type=appeal_type,
        received_at=received_at,
        registered_on=registered,
        start_day=start,
        due_at=_end_of(last, rules),
        term_days=term.days,
        unit=term.unit,
        rule_version=rules.version,
        calendar_version=calendar.version,
    )


def warning_moments(
    due: Due, rules: RuleSet, calendar: WorkingCalendar
) -> list[tuple[int, datetime]]:
    """(offset, local midnight starting the working day `offset` working days before the due day).

    Warnings that would fall before day 1 are dropped: a short term (a 3-day request) has no
    room for them, and the assignment itself tells the agency the due date.
    """
    moments = []
    for offset in rules.warning_offsets_working_days:
        day = calendar.add_working_days(due.due_day, -offset)
        if day >= due.start_day:
            moments.append((offset, datetime.combine(day, time(0), tzinfo=ALMATY)))
    return sorted(moments, key=lambda pair: pair[1])


def working_days_late(due_at: datetime, at: datetime, calendar: WorkingCalendar) -> int:
    """Working days begun since the due moment: 1 on the first working day after the due day.

    An answer on the weekend right after a Friday due date is late (`at > due_at`) but 0
    working days late; use the comparison, not this count, to decide a breach.
    """
    if at <= due_at:
        return 0
    return calendar.working_days_between(_local(due_at).date(), _local(at).date())


def redirect_deadline(received_at: datetime, rules: RuleSet, calendar: WorkingCalendar) -> datetime:
    """End of the last working day of the redirect window (АППК art. 65), day 1 as for terms."""
    start = day_one(received_at, rules, calendar)
    last = calendar.add_working_days(start, rules.redirect_window_working_days - 1)
    return _end_of(last, rules)


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    # 31 Dec + 2 months is the last day of February, not an error.
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has at least 28 days")


def extension_cap(start_day: date, rules: RuleSet, calendar: WorkingCalendar) -> date:
    """Latest lawful due day after an extension: the whole term within the cap in months.

    Counted like calendar-day terms (day 1 = start day, so two months from 1 March end on
    30 April) and rolled forward off a day off.
    """
    last = _add_months(start_day, rules.extension_cap_months) - timedelta(days=1)
    return calendar.add_working_days(last, 0)


def check_extension(
    start_day: date,
    original_due: date | datetime,
    new_due: date,
    notified_on: date | None,
    decided_on: date,
    rules: RuleSet,
    calendar: WorkingCalendar,
    extensions_so_far: int = 0,
) -> list[str]:
    """Human-readable violations of АППК art. 76(2) by one extension; empty when lawful."""
    current = _local(original_due).date() if isinstance(original_due, datetime) else original_due
    violations = []
    if extensions_so_far >= rules.max_extensions:
        violations.append(
            f"the term was already extended {extensions_so_far} time(s); "
            f"at most {rules.max_extensions} extension(s) allowed"
        )
    if new_due <= current:
        violations.append(
            f"new due date {new_due.isoformat()} is not after the current due date "
            f"{current.isoformat()}"
        )
    cap = extension_cap(start_day, rules, calendar)
    if new_due > cap:
        violations.append(
            f"new due date {new_due.isoformat()} makes the whole term longer than "
            f"{rules.extension_cap_months} months from {start_day.isoformat()} "
            f"(latest {cap.isoformat()})"
        )
    if notified_on is not None:
        if notified_on < decided_on:
            violations.append(
                f"applicant notified on {notified_on.isoformat()}, before the extension "
                f"was decided on {decided_on.isoformat()}"
            )
        elif calendar.working_days_between(decided_on, notified_on) > (
            rules.extension_notice_working_days
        ):
            violations.append(
                f"applicant notified on {notified_on.isoformat()}, more than "
                f"{rules.extension_notice_working_days} working days after the extension "
                f"was decided on {decided_on.isoformat()}"
            )
    return violations


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deadlines-due",
        description="Due moment of an appeal; the last line is the due moment in ISO-8601.",
    )
    parser.add_argument("appeal_type", metavar="TYPE", help="e.g. statement, complaint")
    parser.add_argument(
        "received_at",
        metavar="RECEIVED_AT",
        help="ISO-8601 with offset, e.g. 2023-06-30T09:00+06:00",
    )
    parser.add_argument("--rules", type=Path, help="rule set JSON file (default: packaged)")
    parser.add_argument("--overrides", type=Path, help="JSON array of calendar overrides")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        received_at = datetime.fromisoformat(args.received_at)
        rules = load_rules(args.rules)
        overrides = (
            parse_overrides(args.overrides.read_text(encoding="utf-8")) if args.overrides else []
        )
        calendar = WorkingCalendar(overrides)
        due = compute_due(args.appeal_type, received_at, rules, calendar)
    except (ValueError, OSError) as error:
        # Pydantic's ValidationError and UnknownAppealTypeError are ValueErrors too.
        parser.error(str(error))
    local_received = due.received_at.astimezone(ALMATY)
    print(f"type:       {due.appeal_type} ({due.term_days} {due.unit} days)")
    print(f"received:   {local_received.isoformat()} (Asia/Almaty)")
    print(f"registered: {due.registered_on.isoformat()} {due.registered_on:%a}")
    print(f"day 1:      {due.start_day.isoformat()} {due.start_day:%a}")
    print(f"rules:      {due.rule_version}")
    print(f"calendar:   {due.calendar_version}")
    print(due.due_at.isoformat())
    return 0


if __name__ == "__main__":
    sys.exit(main())
