"""Runs of answers are applied set-wise (handlers.record_answers); the result must be the one
the answers give one by one. Real PostgreSQL through the deadlines service's pool."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from appeals_contracts.events import AnswerGiven, AppealAssigned, AppealRedirected
from appeals_platform.records import Record
from deadlines import db
from deadlines.inputs import ANSWERED, ASSIGNED, REDIRECTED, Input, apply_run, runs
from tests.deadlines_service.conftest import Deadlines, local

A, B = "KRG-ENERGY-HOUSING", "KRG-KARAGANDA-AKIMAT"
RECEIVED = local(2022, 5, 26, 9)  # due 2022-06-16 (15 working days)
ON_TIME, LATE = local(2022, 6, 3, 12), local(2022, 7, 20, 12)
APPEALS = 30


class Stream:
    """The events of one set of appeals, in the order the consumer reads them."""

    def __init__(self, appeals: Sequence[str]) -> None:
        self.appeals = appeals
        self.items: list[Input] = []

    def add(self, kind: str, event_id: str, time: datetime, payload: BaseModel) -> None:
        record = Record("t", 0, len(self.items), None, b"", ())
        self.items.append(Input(kind, event_id, time, payload, {}, record))

    def assign(self, i: int, hop: int, agency: str, assigned_at: datetime = RECEIVED) -> None:
        appeal = self.appeals[i]
        payload = AppealAssigned(
            appeal_id=appeal,
            registration_number=f"KRG-TEST-{appeal[:8]}",
            hop=hop,
            agency=agency,
            category="HOUSING-HEATING",
            locality="KRG-KARAGANDA",
            method="rule",
            assigned_at=assigned_at + timedelta(seconds=2),
            received_at=RECEIVED,
            appeal_type="statement",
        )
        self.add(ASSIGNED, f"{appeal}/assigned/{hop}", assigned_at, payload)

    def redirect(self, i: int, at: datetime, to_agency: str = B) -> None:
        appeal = self.appeals[i]
        payload = AppealRedirected(
            appeal_id=appeal,
            registration_number=f"KRG-TEST-{appeal[:8]}",
            hop=1,
            from_agency=A,
            to_agency=to_agency,
            reason="not_competent",
            redirected_at=at,
        )
        self.add(REDIRECTED, f"{appeal}/redirected/1", at, payload)

    def answer(self, i: int, at: datetime, agency: str = A, n: int = 0) -> None:
        appeal = self.appeals[i]
        payload = AnswerGiven(
            appeal_id=appeal,
            registration_number=f"KRG-TEST-{appeal[:8]}",
            agency=agency,
            outcome="explained",
            text="Разъяснено.",
            signed_at=at,
            answered_at=at,
        )
        self.add(ANSWERED, f"{appeal}/answered/{n}", at, payload)


def scenario(appeals: Sequence[str]) -> list[Input]:
    """Ten kinds of appeal, three of each; answers come in long stretches, as in a rebuild."""
    s = Stream(appeals)
    kinds = [i % 10 for i in range(APPEALS)]
    for i, kind in enumerate(kinds):
        if kind != 7:  # 7: answered before its assignment
            s.assign(i, 1, A)
    for i, kind in enumerate(kinds):
        if kind == 4:  # redirected on time, then assigned to B
            s.redirect(i, local(2022, 5, 30, 10))
            s.assign(i, 2, B, local(2022, 5, 30, 10))
        elif kind == 5:  # a second hop to the same agency, both open
            s.assign(i, 2, A, local(2022, 6, 10, 10))
        elif kind == 6:  # a second hop to another agency, both open
            s.assign(i, 2, B, local(2022, 6, 1, 10))
        elif kind == 9:  # redirected late, then assigned to B
            s.redirect(i, local(2022, 6, 10, 10))
            s.assign(i, 2, B, local(2022, 6, 10, 10))
    # The first stretch of answers.
    for i, kind in enumerate(kinds):
        if kind in (0, 8):
            s.answer(i, ON_TIME)
        elif kind == 1:
            s.answer(i, LATE)
        elif kind == 2:  # two answers from the agency: the second closes nothing
            s.answer(i, ON_TIME)
            s.answer(i, LATE, n=1)
        elif kind == 3:  # an agency with no clock, then the agency
            s.answer(i, ON_TIME, agency=B)
            s.answer(i, LATE, n=1)
        elif kind == 4:
            s.answer(i, ON_TIME, agency=B)
        elif kind == 5:  # the later hop first (received by then), then the earlier one
            if i < 10:
                s.answer(i, local(2022, 6, 20, 10))
                s.answer(i, local(2022, 6, 5, 10), n=1)
            else:  # or the earlier first: the second answer goes to the later hop
                s.answer(i, local(2022, 6, 5, 10))
                s.answer(i, local(2022, 6, 20, 10), n=1)
        elif kind == 6:
            s.answer(i, LATE, agency=B)
            s.answer(i, ON_TIME, n=1)
        elif kind == 7:  # before its assignment: kept, it closes the clock when it opens
            s.answer(i, ON_TIME)
        elif kind == 9:  # hop 2 answered before B received it: its only open clock
            s.answer(i, local(2022, 6, 8, 10), agency=B)
    for i, kind in enumerate(kinds):
        if kind == 7:
            s.assign(i, 1, A)
    # The second stretch: a repeated event id (another answered_at), late answers.
    for i, kind in enumerate(kinds):
        if kind == 8:
            s.answer(i, LATE)  # same event id as its first answer
        elif kind == 0:
            s.answer(i, LATE, n=1)
    return s.items


async def state_of(deadlines: Deadlines, appeals: Sequence[str]) -> dict[str, Any]:
    """Clocks, answers and alerts of these appeals, named by the appeal's place in the list."""
    index = {uuid.UUID(a): n for n, a in enumerate(appeals)}
    clocks = await deadlines.rows(
        "SELECT appeal_id, to_jsonb(c) - 'appeal_id' - 'registration_number' AS row"
        " FROM clocks c WHERE appeal_id = ANY($1::uuid[])",
        appeals,
    )
    answers = await deadlines.rows(
        "SELECT appeal_id, split_part(event_id, '/', 3) AS n, agency, answered_at FROM answers"
        " WHERE appeal_id = ANY($1::uuid[])",
        appeals,
    )
    raised = await deadlines.rows(
        "SELECT appeal_id, hop, kind, severity, agency FROM alerts"
        " WHERE appeal_id = ANY($1::uuid[])",
        appeals,
    )
    return {
        "clocks": sorted(
            ((index[r["appeal_id"]], json.loads(r["row"])) for r in clocks),
            key=lambda c: (c[0], c[1]["hop"]),
        ),
        "answers": sorted(
            (index[r["appeal_id"]], r["n"], r["agency"], r["answered_at"]) for r in answers
        ),
        "alerts": sorted(
            (index[r["appeal_id"]], r["hop"], r["kind"], r["severity"], r["agency"]) for r in raised
        ),
    }


async def test_runs_of_answers_close_the_same_clocks_as_the_answers_one_by_one(
    deadlines: Deadlines,
) -> None:
    """The same events for two sets of appeals: one applied one event at a time, the other in
    the consumer's runs (a stretch of answers in one go). Clocks, answers and alerts must be
    the same: the set-wise path decides in the run's order, on the clocks as the earlier
    answers of the run left them."""
    one_by_one = [str(uuid.uuid4()) for _ in range(APPEALS)]
    grouped = [str(uuid.uuid4()) for _ in range(APPEALS)]
    service = deadlines.service
    single, together = scenario(one_by_one), scenario(grouped)
    runs_of = [[i.kind for i in run] for run in runs(together)]
    assert max(len(kinds) for kinds in runs_of if kinds[0] == ANSWERED) > 30
    async with service.runtime.pool.acquire() as conn:
        async with conn.transaction(), db.compliance_deferred(conn):
            for item in single:
                await apply_run(conn, [item], service.ctx)
        async with conn.transaction(), db.compliance_deferred(conn):
            for run in runs(together):
                await apply_run(conn, run, service.ctx)

    expected = await state_of(deadlines, one_by_one)
    assert await state_of(deadlines, grouped) == expected
    # The scenario reaches what it means to: answered clocks of both outcomes, a clock
    # closed by an answer stored before it, clocks left open, a kept repeat.
    closed = {(n, row["hop"]): row for n, row in expected["clocks"]}
    assert {row["outcome"] for row in closed.values()} == {"on_time", "late", None}
    assert closed[7, 1]["state"] == "answered"
    assert (closed[2, 1]["outcome"], closed[8, 1]["outcome"]) == ("on_time", "on_time")
    assert {closed[n, hop]["state"] for n in (5, 15) for hop in (1, 2)} == {"answered"}
    assert (closed[6, 1]["outcome"], closed[6, 2]["outcome"]) == ("on_time", "late")
    assert (closed[3, 1]["outcome"], closed[9, 2]["outcome"]) == ("late", "on_time")

    # The one-by-one path is record_answers with one answer: the rule itself, checked by hand.
    # An answer goes to its agency's latest open hop received by then, else its latest open
    # hop.
    def closed_at(n: int, hop: int) -> datetime:
        return datetime.fromisoformat(closed[n, hop]["closed_at"])

    six_5, six_20 = local(2022, 6, 5, 10), local(2022, 6, 20, 10)
    assert [closed_at(5, 1), closed_at(5, 2)] == [six_5, six_20]  # 6-20 came first
    assert [closed_at(15, 1), closed_at(15, 2)] == [six_5, six_20]  # 6-5 came first
    assert closed_at(9, 2) == local(2022, 6, 8, 10)  # before B received it: its only clock
    assert closed_at(2, 1) == ON_TIME
    assert len(expected["answers"]) == sum(1 for i in single if i.kind == ANSWERED) - 3
