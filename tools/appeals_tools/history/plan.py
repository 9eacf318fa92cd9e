"""The plan of a simulated past: which appeals came in when, and what each agency did with them.

Pure and deterministic: the same seed, period and reference data give the same plan, to the
microsecond. Nothing here talks to a service; `appeals_tools.history.feeder` pushes a plan
through the real ones.

The model (docs/demo-history.md explains the figures):

- Appeals arrive on working days mostly (a tenth as many on days off), at the hours of
  `appeals_tools.demo`, with its texts and applicants. Every planned appeal names its
  category and locality, so routing's rule decides its agency, which the plan knows
  beforehand (`appeals_reference.rule.competent_agency`).
- Every agency has a behaviour profile drawn from the seed: how much of the term it usually
  uses, its share of late answers (a few agencies are chronically late), its share of answers
  given on the last day, and how often it redirects and extends. A category has a difficulty
  that stretches the answer time of every agency handling it.
- The holiday season (the New Year fortnight, the Nauryz week, the summer leave of July and
  August) makes everyone slower and later.
- Terms are counted exactly as deadlines counts them: `appeals_law.due.compute_due` on the
  Kazakhstan working-day calendar. A redirect restarts the term for the new agency (the
  default `DEADLINES_REDIRECT_POLICY=restart`); an extension moves the due day within the
  legal cap.
- Whatever would happen after the end of the period does not: those appeals stay open, and
  the ones already past their due day are the open breaches of the dashboard. A chronically
  late agency also never answers one appeal in twenty.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import Literal

from appeals_contracts.submission import AnswerOutcome, AppealSubmission
from appeals_law.calendar import ALMATY, WorkingCalendar
from appeals_law.due import compute_due, extension_cap
from appeals_law.rules import RuleSet
from appeals_reference.models import ReferenceData
from appeals_reference.rule import NoCompetentAgencyError, competent_agencies, competent_agency
from appeals_tools.demo import demo_submissions

# What marks simulated history everywhere: the intake source of its appeals, the id prefix.
SOURCE = "demo-history"

StepKind = Literal["redirect", "extend", "answer"]
Fate = Literal["on_time", "last_day", "late", "open"]


@dataclass(frozen=True)
class Profile:
    """How one agency behaves, drawn from the seed."""

    agency: str
    term_share: float  # the median share of the term its on-time answers take (0..1)
    late_share: float  # the chance an answer comes after the due moment
    last_day_share: float  # the chance an on-time answer is given on the last day
    redirect_share: float
    extension_share: float
    chronic: bool  # chronically late: the agencies a head of region should see first


@dataclass(frozen=True)
class Step:
    """One thing an agency does to a planned appeal, at a simulated moment."""

    kind: StepKind
    at: datetime
    agency: str  # who acts (the agency the appeal is with at that moment)
    target: str | None = None  # redirect: the agency it goes to
    new_due_day: date | None = None  # extend: the new last day of the term
    outcome: AnswerOutcome | None = None  # answer


@dataclass(frozen=True)
class PlannedAppeal:
    submission: AppealSubmission  # submitted_at is the moment intake registers it
    agency: str  # the agency routing's rule assigns it to
    due_at: datetime  # the first hop's due moment
    steps: tuple[Step, ...]  # in time order, all before the end of the period
    fate: Fate

    @property
    def registered_at(self) -> datetime:
        return self.submission.submitted_at


@dataclass(frozen=True)
class Plan:
    seed: int
    start: datetime
    end: datetime
    profiles: dict[str, Profile]
    appeals: tuple[PlannedAppeal, ...] = field(repr=False)


# Categories that take longer everywhere (a multiplier of the share of the term used).
_DIFFICULTY = {
    "HOUSING-PROVISION": 1.35,
    "BUILD-LAND": 1.4,
    "BUILD-CONSTRUCTION": 1.25,
    "SOCIAL-BENEFITS": 1.2,
    "HOUSING-HEATING": 1.15,
    "TRANSPORT-ROADS": 1.15,
    "ECOLOGY-ENVIRONMENT": 1.2,
    "GOV-CORRUPTION": 1.3,
    "SAFETY-POLICE": 0.85,
    "HEALTH-CARE": 0.9,
    "OTHER": 0.9,
}
_WORKING_HOURS = (9, 10, 11, 12, 14, 15, 16, 17)
_OUTCOMES = (
    (AnswerOutcome.EXPLAINED, 0.55),
    (AnswerOutcome.SATISFIED, 0.2),
    (AnswerOutcome.REFUSED, 0.15),
    (AnswerOutcome.TAKEN_NOTE, 0.1),
)


def holiday_season(day: date) -> bool:
    """The New Year fortnight, the Nauryz week and the summer leave of July and August."""
    return (
        (day.month == 12 and day.day >= 20)
        or (day.month == 1 and day.day <= 10)
        or (day.month == 3 and 18 <= day.day <= 26)
        or day.month in (7, 8)
    )


def profiles(seed: int, reference: ReferenceData) -> dict[str, Profile]:
    """Every agency's behaviour for this seed: about one agency in five is chronically late."""
    out: dict[str, Profile] = {}
    for agency in reference.agencies:
        # A generator per agency, keyed by its code: adding an agency changes no other's.
        digest = hashlib.sha256(f"{seed}/{agency.code}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        chronic = rng.random() < 0.2
        out[agency.code] = Profile(
            agency=agency.code,
            term_share=round(rng.uniform(0.55, 0.85) if chronic else rng.uniform(0.25, 0.6), 3),
            late_share=round(rng.uniform(0.3, 0.5) if chronic else rng.uniform(0.01, 0.07), 3),
            last_day_share=round(rng.uniform(0.15, 0.3) if chronic else rng.uniform(0.03, 0.12), 3),
            redirect_share=round(rng.uniform(0.02, 0.1), 3),
            extension_share=round(rng.uniform(0.03, 0.12), 3),
            chronic=chronic,
        )
    return out


def _local(moment: datetime) -> datetime:
    return moment.astimezone(ALMATY)


def _at(day: date, rng: random.Random) -> datetime:
    """A moment of office hours on `day`, in Almaty time."""
    hour = _WORKING_HOURS[int(rng.random() * len(_WORKING_HOURS))]
    return datetime.combine(day, time(hour, int(rng.random() * 60)), tzinfo=ALMATY)


def _arrivals(
    start: datetime, end: datetime, count: int, calendar: WorkingCalendar, rng: random.Random
) -> list[datetime]:
    """`count` moments in [start, end): working days weigh ten times a day off."""
    days: list[date] = []
    weights: list[float] = []
    day, last = _local(start).date(), _local(end).date()
    while day <= last:
        days.append(day)
        weights.append(1.0 if calendar.is_working_day(day) else 0.1)
        day += timedelta(days=1)
    moments: list[datetime] = []
    hours = list(range(24))
    hour_weights = (1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 8, 9, 10, 10, 9, 8, 6, 5, 4, 3, 2, 1)
    day_cumulative = list(accumulate(weights))
    hour_cumulative = list(accumulate(hour_weights))
    while len(moments) < count:
        day = rng.choices(days, cum_weights=day_cumulative)[0]
        hour = rng.choices(hours, cum_weights=hour_cumulative)[0]
        moment = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), ALMATY)
        if start <= moment < end:
            moments.append(moment)
    return sorted(moments)


def _outcome(rng: random.Random) -> AnswerOutcome:
    roll, total = rng.random(), 0.0
    for outcome, share in _OUTCOMES:
        total += share
        if roll < total:
            return outcome
    return AnswerOutcome.EXPLAINED


def _answer_day(
    start_day: date,
    due_day: date,
    profile: Profile,
    difficulty: float,
    season: bool,
    calendar: WorkingCalendar,
    rng: random.Random,
) -> tuple[date, Literal["on_time", "last_day", "late"]]:
    """The working day the agency answers on, counted from day 1 of its term."""
    term = calendar.working_days_between(start_day, due_day) + 1
    # The season adds late answers to everyone, most to those already late.
    late_share = min(0.9, (profile.late_share + (0.08 if season else 0.0)) * difficulty)
    late_share *= 1.5 if season else 1.0
    roll = rng.random()
    if roll < late_share:
        # Late by a few working days mostly, some by weeks (a geometric tail).
        late = 1 + int(-math.log(1.0 - rng.random()) * (6 if profile.chronic else 3))
        return calendar.add_working_days(due_day, late), "late"
    if roll < late_share + profile.last_day_share:
        return due_day, "last_day"
    share = profile.term_share * difficulty * (1.25 if season else 1.0)
    used = max(1, min(term - 1, round(term * min(0.95, rng.gauss(share, 0.15)))))
    return calendar.add_working_days(start_day, used - 1), "on_time"


def _redirect_target(
    reference: ReferenceData, category: str, locality: str | None, agency: str
) -> str | None:
    """Another body competent for the category along the locality's chain, else anywhere."""
    for candidate in competent_agencies(reference, category, locality):
        if candidate.agency.code != agency:
            return candidate.agency.code
    others = [a.code for a in reference.agencies_for(category) if a.code != agency]
    return others[0] if others else None


def _lifecycle(
    submission: AppealSubmission,
    agency: str,
    reference: ReferenceData,
    prof: dict[str, Profile],
    rules: RuleSet,
    calendar: WorkingCalendar,
    end: datetime,
    rng: random.Random,
) -> PlannedAppeal:
    category = submission.category or "OTHER"
    difficulty = _DIFFICULTY.get(category, 1.0)
    registered_at = submission.submitted_at
    first_due = compute_due(submission.type.value, registered_at, rules, calendar)
    steps: list[Step] = []
    holder, due = agency, first_due
    profile = prof[holder]
    season = holiday_season(first_due.start_day)

    if rng.random() < profile.redirect_share:
        target = _redirect_target(reference, category, submission.location.locality, holder)
        if target is not None:
            # Most redirects within the 3-working-day window, one in six later.
            within = rng.random() < 5 / 6
            day = calendar.add_working_days(
                first_due.start_day, rng.randrange(0, 3) if within else rng.randrange(3, 7)
            )
            at = max(_at(day, rng), registered_at + timedelta(minutes=30))
            steps.append(Step("redirect", at, holder, target=target))
            holder, profile = target, prof[target]
            due = compute_due(submission.type.value, at, rules, calendar)

    fate: Fate
    answer_day, fate = _answer_day(
        due.start_day, due.due_day, profile, difficulty, season, calendar, rng
    )
    if fate != "on_time" and rng.random() < profile.extension_share * 3:
        # Extended a few working days before the due day: the answer then usually keeps the
        # new term (an answer after the original due day that is on time).
        decided = max(due.start_day, calendar.add_working_days(due.due_day, -rng.randrange(1, 4)))
        cap = extension_cap(due.start_day, rules, calendar)
        new_due = min(cap, calendar.add_working_days(due.due_day, rng.randrange(5, 21)))
        if new_due > due.due_day:
            at = max(_at(decided, rng), (steps[-1].at if steps else registered_at))
            at += timedelta(minutes=1)
            steps.append(Step("extend", at, holder, new_due_day=new_due))
            if rng.random() < 0.85:
                used = calendar.working_days_between(due.due_day, new_due)
                answer_day = calendar.add_working_days(due.due_day, max(1, rng.randrange(used)))
                fate = "on_time"
            else:
                answer_day, fate = calendar.add_working_days(new_due, rng.randrange(1, 6)), "late"
    answered_at = max(_at(answer_day, rng), (steps[-1].at if steps else registered_at))
    answered_at += timedelta(minutes=5)
    # A chronically late agency loses a few appeals altogether: the open breaches of the past.
    lost = profile.chronic and rng.random() < 0.05
    if answered_at < end and not lost:
        steps.append(Step("answer", answered_at, holder, outcome=_outcome(rng)))
    else:
        fate = "open"
    return PlannedAppeal(
        submission=submission,
        agency=agency,
        due_at=first_due.due_at,
        steps=tuple(s for s in steps if s.at < end),
        fate=fate,
    )


def plan(
    seed: int,
    start: datetime,
    end: datetime,
    count: int,
    reference: ReferenceData,
    rules: RuleSet,
    calendar: WorkingCalendar,
) -> Plan:
    """`count` appeals registered in [start, end) and what their agencies did with them."""
    if end <= start:
        raise ValueError("the period must end after it starts")
    rng = random.Random(seed)
    prof = profiles(seed, reference)
    moments = _arrivals(start, end, count, calendar, rng)
    appeals: list[PlannedAppeal] = []
    texts = _routable(seed)
    for n, moment in enumerate(moments):
        submission = _planned_submission(next(texts), n, seed, moment)
        assert submission.category is not None
        try:
            agency = competent_agency(
                reference, submission.category, submission.location.locality
            ).code
        except NoCompetentAgencyError:
            continue
        appeals.append(_lifecycle(submission, agency, reference, prof, rules, calendar, end, rng))
    return Plan(seed, start, end, prof, tuple(appeals))


def _planned_submission(
    text: AppealSubmission, n: int, seed: int, moment: datetime
) -> AppealSubmission:
    """A demo submission, renamed and moved to its simulated moment."""
    return text.model_copy(
        update={"external_id": f"history-{seed}-{n:06d}", "submitted_at": moment, "addressee": None}
    )


def _routable(seed: int) -> Iterator[AppealSubmission]:
    """The demo submissions that name their category and locality, so that routing's rule
    decides their agency and the plan knows it (the others would go by the text's place)."""
    for text in demo_submissions(10**9, seed):
        if text.category is not None and text.location.locality is not None:
            yield text


__all__ = ["SOURCE", "Plan", "PlannedAppeal", "Profile", "Step", "plan", "profiles"]
