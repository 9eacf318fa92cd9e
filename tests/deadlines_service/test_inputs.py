"""How the clocks consumer groups events and what its set-wise insert names: no broker needed."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from appeals_platform.records import Record
from deadlines import db
from deadlines.inputs import ANSWERED, ASSIGNED, MAX_RUN, REDIRECTED, Input, runs


class Nothing(BaseModel):
    pass


def item(kind: str, n: int) -> Input:
    record = Record("t", 0, n, None, b"", ())
    return Input(kind, f"e{n}", datetime(2026, 1, 1, tzinfo=UTC), Nothing(), {}, record)


def test_consecutive_assignments_go_together_and_every_other_event_alone_in_order() -> None:
    kinds = [ASSIGNED, ASSIGNED, ANSWERED, ASSIGNED, REDIRECTED, REDIRECTED, ASSIGNED]
    items = [item(kind, n) for n, kind in enumerate(kinds)]
    groups = [[i.event_id for i in run] for run in runs(items)]
    assert groups == [["e0", "e1"], ["e2"], ["e3"], ["e4"], ["e5"], ["e6"]]


def test_consecutive_answers_go_together_apart_from_assignments() -> None:
    kinds = [ANSWERED, ANSWERED, ASSIGNED, ASSIGNED, ANSWERED, REDIRECTED, ANSWERED, ANSWERED]
    items = [item(kind, n) for n, kind in enumerate(kinds)]
    groups = [[i.event_id for i in run] for run in runs(items)]
    assert groups == [["e0", "e1"], ["e2", "e3"], ["e4"], ["e5"], ["e6", "e7"]]


def test_a_long_stretch_of_assignments_or_answers_is_cut_into_bounded_runs() -> None:
    for kind in (ASSIGNED, ANSWERED):
        items = [item(kind, n) for n in range(MAX_RUN * 2 + 1)]
        sizes = [len(run) for run in runs(items)]
        assert sizes == [MAX_RUN, MAX_RUN, 1]


def test_the_set_wise_insert_names_the_columns_in_the_order_of_new_clock() -> None:
    listed = re.search(r"INSERT INTO clocks \((.*?)\)", db.INSERT_CLOCKS, re.S)
    assert listed is not None
    columns: list[Any] = [c.strip() for c in listed.group(1).split(",")]
    casts = re.findall(r"\$(\d+)::", db.INSERT_CLOCKS)
    assert columns == list(db.NEW_CLOCK_COLUMNS)
    assert [int(n) for n in casts] == list(range(1, len(columns) + 1))


def test_the_set_wise_close_names_the_fields_of_answer_close_in_order() -> None:
    listed = re.search(r"AS u\((.*?)\)", db.CLOSE_ANSWERED, re.S)
    assert listed is not None
    columns = [c.strip() for c in listed.group(1).split(",")]
    casts = re.findall(r"\$(\d+)::", db.CLOSE_ANSWERED)
    assert columns == [f.name for f in fields(db.AnswerClose)]
    assert [int(n) for n in casts] == list(range(1, len(columns) + 1))
