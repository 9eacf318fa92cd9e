"""Breach-risk features and model without the stack: the outcome a day knows, working-day
counts equal to the calendar's, a hop left out of the history that describes it, and a model
that survives its JSON form unchanged."""

from __future__ import annotations

import random
from datetime import date, timedelta

from appeals_law.calendar import WorkingCalendar
from deadlines.risk.features import Days, Hop, Stats, observations, own_outcome, row
from deadlines.risk.model import Model, train

CALENDAR = WorkingCalendar()
DAYS = Days(CALENDAR)


def hop(
    agency: str, received: date, answer_after: int | None, *, answered: bool = True, n: int = 0
) -> Hop:
    due = CALENDAR.add_working_days(received, 15)
    closed = None if answer_after is None else CALENDAR.add_working_days(received, answer_after)
    return Hop(f"a{n}", 1, agency, "HOUSING-HEATING", received, due, due, None, closed, answered)


def test_the_outcome_is_what_the_day_knows() -> None:
    received = date(2025, 3, 3)
    late = hop("A", received, 20)
    on_time = hop("A", received, 5)
    redirected = hop("A", received, 2, answered=False)
    still_open = hop("A", received, None)
    before = CALENDAR.add_working_days(received, 3)
    after = date(2025, 6, 1)
    assert [h.late(before) for h in (late, on_time, redirected, still_open)] == [
        None,
        None,
        False,
        None,
    ]
    assert [h.late(after) for h in (late, on_time, redirected, still_open)] == [
        True,
        False,
        False,
        True,  # open past its due day: breached
    ]
    # A redirect in time says nothing about how long the agency takes to answer.
    assert not redirected.timed(after) and late.timed(after) and still_open.timed(after)


def test_working_days_match_the_calendar() -> None:
    rng = random.Random(7)
    for _ in range(200):
        a = date(2024, 1, 1) + timedelta(days=rng.randrange(900))
        b = a + timedelta(days=rng.randrange(-60, 60))
        assert DAYS.between(a, b) == CALENDAR.working_days_between(a, b)


def test_a_training_hop_is_left_out_of_its_own_history() -> None:
    only = hop("A", date(2025, 3, 3), 25)
    as_of = date(2025, 6, 1)
    stats = Stats.learn([only], as_of, DAYS)
    own = own_outcome(only, as_of, DAYS)
    assert own is not None and own.late
    day = CALENDAR.add_working_days(only.received_day, 2)
    with_itself = row(only, day, 1, stats, DAYS)
    without = row(only, day, 1, stats, DAYS, own)
    # With itself the history says "late"; without it there is no history: a coin toss.
    assert with_itself[5] > 0 and without[5] == 0.0


def test_a_model_keeps_its_probabilities_through_json() -> None:
    rng = random.Random(3)
    hops = []
    for n in range(300):
        received = CALENDAR.add_working_days(date(2025, 1, 6), rng.randrange(150))
        agency = rng.choice(["LATE", "PUNCTUAL"])
        days = max(1, int(rng.gauss(17 if agency == "LATE" else 6, 3)))
        hops.append(hop(agency, received, days, n=n))
    model = train(hops, date(2025, 12, 1), DAYS)
    again = Model.from_json(model.to_json())
    probe = hop("LATE", date(2025, 11, 3), None, n=999)
    punctual = hop("PUNCTUAL", date(2025, 11, 3), None, n=998)
    day = date(2025, 11, 10)
    late_risk = model.probability(row(probe, day, 5, model.stats, DAYS))
    assert late_risk == again.probability(row(probe, day, 5, again.stats, DAYS))
    assert late_risk > model.probability(row(punctual, day, 5, model.stats, DAYS))
    # Observation days: open, not past due, before the day asked, at most as many as asked.
    for h in hops[:20]:
        seen = observations(h, date(2025, 12, 1), DAYS, 4, 0)
        assert len(seen) <= 4
        assert all(h.open_on(d) and d <= h.due_on(d) for d in seen)
