"""Breach risk (issue 14 item 2) in the service, on the real Kafka and PostgreSQL: a model
trained on a small history of assigned and answered appeals ranks a chronically late agency's
open appeal above a punctual agency's; the early warning kz.appeals.deadline.at-risk.v1 goes
out once per hop (not again on the next scoring pass, again after a redirect)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from appeals_contracts import event_types
from appeals_contracts.events import DeadlineAlert
from deadlines import alerts
from deadlines.clocks import SettableClock
from deadlines.law import local_day, start_of
from deadlines.risk import scoring, store
from deadlines.risk.model import NotEnoughHistory
from tests.conftest import Stack, TokenFactory, Topics
from tests.deadlines_service.conftest import Deadlines, start_deadlines
from tests.deadlines_service.risk_history import (
    ALSO_LATE,
    LATE,
    PUNCTUAL,
    TODAY,
    open_appeal,
    seed_and_train,
)
from tests.kafka_probe import EventProbe

pytestmark = pytest.mark.infra


@pytest.fixture
async def deadlines(
    stack: Stack, database: str, key_dir: Path, token: TokenFactory, topics: Topics
) -> AsyncIterator[Deadlines]:
    """The service without its scheduled risk pass: the test trains and scores itself."""
    clock = SettableClock(TODAY)
    async with start_deadlines(
        stack, database, key_dir, token, topics, clock, risk_enabled=False, risk_threshold=0.5
    ) as service:
        yield service


async def risks(deadlines: Deadlines) -> dict[str, float]:
    rows = await deadlines.rows("SELECT appeal_id::text AS a, risk FROM clock_risks")
    return {r["a"]: r["risk"] for r in rows}


async def test_no_model_without_history_and_nothing_scored(deadlines: Deadlines) -> None:
    scorer = deadlines.service.scorers[0]
    with pytest.raises(NotEnoughHistory):
        await scorer.train()
    appeal = await open_appeal(deadlines, LATE)
    scored = await scorer.score()
    assert (scored.model_id, scored.clocks, scored.warnings) == (None, 0, 0)
    assert appeal not in await risks(deadlines)


async def test_a_chronically_late_agencys_appeal_ranks_above_a_punctual_agencys(
    deadlines: Deadlines,
) -> None:
    trained = await seed_and_train(deadlines)
    assert 0 < trained.positives < trained.rows
    late = await open_appeal(deadlines, LATE)
    punctual = await open_appeal(deadlines, PUNCTUAL)

    scored = await deadlines.service.scorers[0].score()

    assert scored.model_id == trained.model_id and scored.clocks == 2
    risk = await risks(deadlines)
    assert risk[late] > 0.5 > risk[punctual]
    assert risk[late] > risk[punctual]
    warned = await deadlines.rows("SELECT appeal_id::text AS a FROM alerts WHERE kind = 'at_risk'")
    assert [r["a"] for r in warned] == [late]


async def test_a_history_found_too_short_is_read_again_only_once_an_outcome_came(
    deadlines: Deadlines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While no model exists the scheduled pass tries every minute; it reads the whole history
    only when some hop's outcome is known, and again only when one became known since (an
    answer, a due day passed)."""
    scorer = deadlines.service.scorers[0]
    reads: list[object] = []
    real = store.hops_since

    async def hops_since(*args: Any) -> Any:
        reads.append(args)
        return await real(*args)

    monkeypatch.setattr(store, "hops_since", hops_since)
    appeal = await open_appeal(deadlines, LATE)
    with pytest.raises(NotEnoughHistory):  # no hop closed or overdue: nothing worth reading
        await scorer.train()
    assert reads == []

    await deadlines.answer(appeal, TODAY - timedelta(days=1), agency=LATE)
    await deadlines.wait_until(
        "SELECT 1 FROM clocks WHERE appeal_id = $1::uuid AND state = 'answered'", appeal
    )
    reasons = []
    for _ in range(3):  # one answer is still too little
        with pytest.raises(NotEnoughHistory) as short:
            await scorer.train(force=False)
        reasons.append(str(short.value))
    assert len(reads) == 1  # the first pass read it; the next two knew nothing had changed
    assert len(set(reasons)) == 1 and "training rows" in reasons[0]  # the first pass's reason
    await open_appeal(deadlines, PUNCTUAL, days_ago=60)  # open and past due: an outcome
    with pytest.raises(NotEnoughHistory):
        await scorer.train(force=False)
    assert len(reads) == 2
    with pytest.raises(NotEnoughHistory):  # by command: always read
        await scorer.train()
    assert len(reads) == 3


async def test_the_hops_and_the_risks_are_computed_off_the_event_loop(
    deadlines: Deadlines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training and scoring make a `Hop` of every clock row, a pure-Python pass over the whole
    history: in the event loop it held the consumers for seconds at 100,000 clocks (seen as
    a stall of the clocks' opening every minute, while the history was too short for a
    model). Each hop is made in a worker thread."""
    made_in: set[str] = set()

    def recording(real: Callable[..., Any]) -> Callable[..., Any]:
        def hop_of(row: Any) -> Any:
            made_in.add(threading.current_thread().name)
            return real(row)

        return hop_of

    monkeypatch.setattr(store, "hop_of", recording(store.hop_of))
    monkeypatch.setattr(scoring, "hop_of", recording(scoring.hop_of))
    trained = await seed_and_train(deadlines)  # training
    await open_appeal(deadlines, LATE)
    scored = await deadlines.service.scorers[0].score()  # scoring
    assert scored.model_id == trained.model_id and scored.clocks == 1
    assert made_in and threading.main_thread().name not in made_in


async def test_the_at_risk_warning_goes_out_once_per_hop(
    deadlines: Deadlines, probe: Callable[[str], EventProbe]
) -> None:
    await seed_and_train(deadlines)
    scorer = deadlines.service.scorers[0]
    async with probe(deadlines.topics.alerts) as topic:
        appeal = await open_appeal(deadlines, LATE)
        first = await scorer.score()
        event = await topic.wait_for_subject(appeal, event_types.DEADLINE_AT_RISK)
        again = await scorer.score()  # the next pass: still at risk, no second warning

        # Redirected to another chronically late agency: its hop is a new one, warned anew.
        deadlines.clock.set(TODAY + timedelta(hours=2))
        await deadlines.redirect(
            appeal, TODAY + timedelta(hours=1), from_agency=LATE, to_agency=ALSO_LATE
        )
        await deadlines.wait_for_clock(appeal, "redirected")
        await deadlines.assign(
            TODAY - timedelta(days=3),
            appeal_id=appeal,
            hop=2,
            agency=ALSO_LATE,
            assigned_at=TODAY + timedelta(hours=1),
        )
        await deadlines.wait_until(
            "SELECT 1 FROM clocks WHERE appeal_id = $1 AND hop = 2", uuid.UUID(appeal)
        )
        after_redirect = await scorer.score()
        second = await topic.wait_for(
            lambda e: (
                e.get("subject") == appeal
                and e.get("type") == event_types.DEADLINE_AT_RISK
                and e["data"]["hop"] == 2
            )
        )
        await deadlines.outbox_drained()
        seen = await topic.collect(len(topic.seen) + 1, timeout=3)  # anything more relayed

    assert (first.warnings, again.warnings, after_redirect.warnings) == (1, 0, 1)
    data = DeadlineAlert.model_validate(event["data"])
    assert (data.kind, data.severity, data.hop, data.agency) == ("at_risk", "warning", 1, LATE)
    assert data.risk is not None and data.risk >= 0.5
    assert event["id"] == alerts.alert_id(appeal, 1, "at_risk")
    assert (second["data"]["hop"], second["data"]["agency"]) == (2, ALSO_LATE)
    stored = await deadlines.rows(
        "SELECT hop FROM alerts WHERE appeal_id = $1 AND kind = 'at_risk' ORDER BY hop",
        uuid.UUID(appeal),
    )
    assert [r["hop"] for r in stored] == [1, 2]
    at_risk = [
        e
        for e in seen
        if e.get("subject") == appeal and e.get("type") == event_types.DEADLINE_AT_RISK
    ]
    assert [e["data"]["hop"] for e in at_risk] == [1, 2]


CLOCKS_OUTCOMES = """
SELECT count(*) FILTER (WHERE state <> 'open') AS closed,
       count(*) FILTER (WHERE due_day < $1 AND (state = 'open' OR closed_at > due_at)) AS overdue
FROM clocks
"""


async def outcomes_on(deadlines: Deadlines, day: date) -> tuple[tuple[int, int], tuple[int, int]]:
    """(from the aggregates, from the clocks) on `day`."""
    conn = await asyncpg.connect(deadlines.dsn, server_settings={"search_path": "deadlines"})
    try:
        from_clocks = await conn.fetchrow(CLOCKS_OUTCOMES, day)
        assert from_clocks is not None
        return await store.outcomes(conn, day), (from_clocks["closed"], from_clocks["overdue"])
    finally:
        await conn.close()


async def test_the_known_outcomes_are_counted_from_the_compliance_aggregates(
    deadlines: Deadlines,
) -> None:
    """The check a pass makes before reading the history (every minute while there is no
    model) reads the aggregates' one row a day, not every clock; it counts what the clocks
    would: hops closed, and hops that went past their due day open."""
    await seed_and_train(deadlines)  # answered hops, on time and late
    await open_appeal(deadlines, PUNCTUAL, days_ago=60)  # open, past due
    await open_appeal(deadlines, LATE, days_ago=2)  # open, not yet due
    redirected = await open_appeal(deadlines, ALSO_LATE, days_ago=40)  # past due, then closed
    await deadlines.redirect(redirected, TODAY - timedelta(days=1), from_agency=ALSO_LATE)
    await deadlines.wait_until(
        "SELECT 1 FROM clocks WHERE appeal_id = $1::uuid AND state = 'redirected'", redirected
    )
    counted, from_clocks = await outcomes_on(deadlines, local_day(TODAY))
    assert counted == from_clocks
    assert counted[0] > 0 and counted[1] > 0


async def test_a_late_answer_and_a_hop_falling_due_the_same_night_still_change_the_outcomes(
    deadlines: Deadlines,
) -> None:
    """A hop answered late leaves the overdue hops still open the next day, while a hop due
    the day before joins them: counting those, the pair would not change and a pass would not
    read the history that now has one more outcome."""
    late = await open_appeal(deadlines, LATE, days_ago=60)  # past due
    falling = await open_appeal(deadlines, PUNCTUAL, days_ago=3)
    rows = await deadlines.rows("SELECT due_day FROM clocks WHERE appeal_id = $1::uuid", falling)
    due_day: date = rows[0]["due_day"]
    await deadlines.answer(late, start_of(due_day) + timedelta(hours=12), agency=LATE)
    await deadlines.wait_until(
        "SELECT 1 FROM clocks WHERE appeal_id = $1::uuid AND state = 'answered'", late
    )
    on_due_day, _ = await outcomes_on(deadlines, due_day)
    next_day, from_clocks = await outcomes_on(deadlines, due_day + timedelta(days=1))
    assert next_day != on_due_day
    assert next_day == from_clocks
