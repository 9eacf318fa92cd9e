"""Disclosure control of the open-data feed (pure): which cells are withheld and why."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from deadlines.open_data import COUNTS, THRESHOLD, TOTAL, Cell, determined, protect, withheld


def test_a_small_count_is_withheld_and_zero_is_shown() -> None:
    values = {"a": 3, "b": 0, "t": 3}
    # 3 = a + b: a alone is small; the total is small too.
    assert withheld(values, [("t", ["a", "b"])]) == {"a", "t"}


def test_one_small_part_of_a_shown_total_pulls_in_the_smallest_other_part() -> None:
    values = {"a": 2, "b": 40, "c": 9, "t": 51}
    # Shown t, b and c would give a away: the smallest shown non-zero part joins it.
    assert withheld(values, [("t", ["a", "b", "c"])]) == {"a", "c"}


def test_two_withheld_parts_adding_up_to_less_than_the_threshold_pull_in_a_third() -> None:
    values = {"a": 1, "b": 1, "c": 30, "d": 20, "t": 52}
    # a + b = 2 with both at least 1 would say both are 1.
    assert withheld(values, [("t", ["a", "b", "c", "d"])]) == {"a", "b", "d"}


def test_a_withheld_total_needs_a_withheld_part_beside_it() -> None:
    # answered 3 (withheld) = on_time 3 (withheld) + late 0: fine as it is.
    assert withheld({"ans": 3, "on": 3, "late": 0}, [("ans", ["on", "late"])]) == {"ans", "on"}
    # A total withheld only to protect a column, whose parts are shown, is worked out from
    # them: one of them goes too.
    values = {"ans1": 3, "on1": 3, "late1": 0, "ans2": 20, "on2": 10, "late2": 10, "t": 23}
    relations = [
        ("ans1", ["on1", "late1"]),
        ("ans2", ["on2", "late2"]),
        ("t", ["ans1", "ans2"]),
    ]
    # ans2 goes to protect ans1 in the column; shown on2 and late2 would give it back.
    assert withheld(values, relations) == {"ans1", "on1", "ans2", "late2"}


def test_the_audit_catches_what_only_a_chain_of_relations_reveals() -> None:
    # Rows a and b, columns p and q, row totals ra, rb, column totals tp, tq.
    # a.p = 2 is small; every relation alone has two unknowns after the first pass, but
    # together they pin a.p: the audit withholds more until they do not.
    values = {"ap": 2, "aq": 10, "bp": 10, "bq": 10, "ra": 12, "rb": 20, "tp": 12, "tq": 20}
    relations = [
        ("ra", ["ap", "aq"]),
        ("rb", ["bp", "bq"]),
        ("tp", ["ap", "bp"]),
        ("tq", ["aq", "bq"]),
    ]
    hidden = withheld(values, relations)
    assert "ap" in hidden
    assert not determined(hidden, relations) & {"ap"}


def test_determined_finds_a_cell_pinned_by_a_chain() -> None:
    relations = [("t", ["a", "b"]), ("u", ["b", "c"])]
    # a and b unknown, t shown: neither is pinned; with c and u shown, b is, and then a.
    assert determined({"a", "b"}, relations) == {"a", "b"}
    assert determined({"a", "b", "c"}, relations) == set()


counts = st.integers(min_value=0, max_value=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(counts, counts, counts, counts, counts), min_size=1, max_size=5))
def test_no_small_count_of_a_month_can_be_worked_out(
    table: list[tuple[int, int, int, int, int]],
) -> None:
    """Any month: every count from 1 to THRESHOLD - 1 is withheld and none follows from
    the row and column relations."""
    cells = {
        f"k{i}": Cell(received=r, on_time=o, late=la, redirected=d, extended=e)
        for i, (r, o, la, d, e) in enumerate(table)
    }
    cells[TOTAL] = Cell(
        received=sum(c.received for c in cells.values()),
        on_time=sum(c.on_time for c in cells.values()),
        late=sum(c.late for c in cells.values()),
        redirected=sum(c.redirected for c in cells.values()),
        extended=sum(c.extended for c in cells.values()),
    )
    keys = [*sorted(k for k in cells if k != TOTAL), TOTAL]
    hidden = protect(keys, cells)
    values = {(k, col): getattr(cells[k], col) for k in keys for col in COUNTS}
    assert {c for c, v in values.items() if 0 < v < THRESHOLD} <= hidden
    relations = [((k, "answered"), [(k, "on_time"), (k, "late")]) for k in keys]
    relations += [((TOTAL, col), [(k, col) for k in keys if k != TOTAL]) for col in COUNTS]
    pinned = determined(hidden, relations)
    assert not [c for c in pinned if values[c] < THRESHOLD]
