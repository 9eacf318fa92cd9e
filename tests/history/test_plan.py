"""The history plan: reproducible by seed, lawful by the calendar, agencies visibly different."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from functools import cache

from appeals_contracts.submission import AppealSubmission
from appeals_law.calendar import ALMATY, WorkingCalendar
from appeals_law.due import compute_due, extension_cap
from appeals_law.rules import RuleSet, load_rules
from appeals_reference.loader import load_reference
from appeals_reference.models import ReferenceData
from appeals_reference.rule import competent_agency
from appeals_tools.history.plan import Plan, holiday_season, plan

START = datetime(2026, 4, 1, tzinfo=ALMATY)
END = datetime(2026, 10, 1, tzinfo=ALMATY)


@cache
def _law() -> tuple[ReferenceData, RuleSet, WorkingCalendar]:
    return load_reference(), load_rules(), WorkingCalendar()


@cache
def _plan(seed: int, count: int) -> Plan:
    reference, rules, calendar = _law()
    return plan(seed, START, END, count, reference, rules, calendar)


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    reference, rules, calendar = _law()
    again = plan(7, START, END, 300, reference, rules, calendar)
    assert again == _plan(7, 300)
    other = plan(8, START, END, 300, reference, rules, calendar)
    assert [a.submission for a in other.appeals] != [a.submission for a in again.appeals]
    assert other.profiles != again.profiles


def test_every_planned_appeal_is_valid_routable_and_inside_the_period() -> None:
    reference, rules, calendar = _law()
    p = _plan(7, 300)
    assert len(p.appeals) == 300
    assert len({a.submission.external_id for a in p.appeals}) == 300
    for appeal in p.appeals:
        sub = appeal.submission
        assert AppealSubmission.model_validate(sub.model_dump()) == sub
        assert START <= appeal.registered_at < END
        assert sub.category is not None
        assert competent_agency(reference, sub.category, sub.location.locality).code == (
            appeal.agency
        )
        due = compute_due(sub.type.value, appeal.registered_at, rules, calendar)
        assert appeal.due_at == due.due_at
        times = [s.at for s in appeal.steps]
        assert times == sorted(times) and all(appeal.registered_at < t < END for t in times)
        assert [s.kind for s in appeal.steps].count("answer") <= 1
        assert appeal.fate == "open" or appeal.steps[-1].kind == "answer"


def test_redirects_go_to_another_agency_and_extensions_stay_lawful() -> None:
    _, rules, calendar = _law()
    p = _plan(3, 1500)
    redirects = extensions = 0
    for appeal in p.appeals:
        holder = appeal.agency
        for step in appeal.steps:
            assert step.agency == holder
            if step.kind == "redirect":
                redirects += 1
                assert step.target is not None and step.target != holder
                holder = step.target
            elif step.kind == "extend":
                extensions += 1
                assert step.new_due_day is not None
                hop_start = compute_due(
                    appeal.submission.type.value,
                    max(s.at for s in appeal.steps if s.kind == "redirect")
                    if any(s.kind == "redirect" for s in appeal.steps)
                    else appeal.registered_at,
                    rules,
                    calendar,
                )
                assert hop_start.due_day < step.new_due_day
                assert step.new_due_day <= extension_cap(hop_start.start_day, rules, calendar)
                assert calendar.is_working_day(step.new_due_day)
    assert redirects >= 20 and extensions >= 20
    fates = Counter(a.fate for a in p.appeals)
    assert min(fates["on_time"], fates["late"], fates["last_day"], fates["open"]) >= 20


def test_chronically_late_agencies_are_late_far_more_often_than_the_others() -> None:
    p = _plan(3, 1500)
    answered: dict[bool, Counter[str]] = defaultdict(Counter)
    for appeal in p.appeals:
        if appeal.fate != "open" and not any(s.kind == "redirect" for s in appeal.steps):
            answered[p.profiles[appeal.agency].chronic][appeal.fate] += 1
    chronic, others = answered[True], answered[False]
    assert chronic.total() >= 50 and others.total() >= 50
    assert chronic["late"] / chronic.total() > 3 * others["late"] / others.total()
    assert chronic["last_day"] / chronic.total() > others["last_day"] / others.total()


def test_the_holiday_season_makes_answers_later() -> None:
    p = _plan(3, 1500)
    late: dict[bool, Counter[str]] = defaultdict(Counter)
    for appeal in p.appeals:
        if appeal.fate != "open" and not p.profiles[appeal.agency].chronic:
            season = holiday_season(appeal.registered_at.astimezone(ALMATY).date())
            late[season][appeal.fate] += 1
    assert late[True].total() >= 100 and late[False].total() >= 100
    assert late[True]["late"] / late[True].total() > late[False]["late"] / late[False].total()


def test_appeals_whose_answer_would_come_after_the_end_stay_open() -> None:
    p = _plan(3, 1500)
    opened = [a for a in p.appeals if a.fate == "open"]
    assert all(not any(s.kind == "answer" for s in a.steps) for a in opened)
    # The open ones are the recent ones, and some of them are already past their due moment.
    assert sum(a.due_at < END for a in opened) >= 5
    assert (
        max(a.registered_at for a in opened)
        > max(a.registered_at for a in p.appeals if a.fate != "open") - (END - START) / 2
    )
