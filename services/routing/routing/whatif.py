"""What-if: the stored appeals of a period decided again with a proposed reference version
(and model), beside the version in force; which would move, from which agency to which.

What is replayed: routing keeps every appeal's AppealReceived payload (`appeals.received`,
the submission with its subject, text, locality, address, category and addressee hint), so
each appeal is decided again from exactly what routing read when it arrived, with the public
decision functions (`decision.decide_many`), twice: with the active reference and the
service's model ("before"), and with the proposed ones ("after"). Comparing with the same
replay under the version in force, not with the stored assignments, shows what the change
itself does: a stored assignment may be an operator's, a redirect's, or an older version's.

Nothing is written: the appeals are read in one READ ONLY transaction, the decisions stay in
memory, no outbox row, no event, no reference version.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from appeals_law.calendar import ALMATY
from appeals_reference import ReferenceData
from routing.decision import CategoryRanker, Decision, decide_many
from routing.handlers import ReceivedAppeal

TRIAGE = "(triage)"
CHUNK = 500


def destination(decision: Decision) -> str:
    """Where the appeal would go: its agency, or the operators' triage queue."""
    return TRIAGE if decision.triage or decision.agency is None else decision.agency


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appeal_id: str
    registration_number: str
    registered_at: datetime
    from_agency: str
    to_agency: str
    locality_before: str
    locality_after: str
    category_before: str
    category_after: str


class Move(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_agency: str = Field(description=f"agency code, or {TRIAGE}")
    to_agency: str = Field(description=f"agency code, or {TRIAGE}")
    appeals: int
    examples: list[Example]


class Load(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: str
    name_ru: str
    before: int
    after: int
    change: int


class Report(BaseModel):
    """What the proposed version would change over the period's appeals."""

    model_config = ConfigDict(extra="forbid")

    since: date
    until: date
    appeals: int = Field(description="stored appeals registered in the period, replayed")
    moved: int = Field(description="appeals whose agency (or triage) would change")
    reference_before: str
    reference_after: str
    classifier_before: str
    classifier_after: str
    moves: list[Move] = Field(description="one line per (from, to), most appeals first")
    load: list[Load] = Field(description="agencies whose number of appeals would change")
    moved_appeals: list[Example] = Field(
        default_factory=list, description="every moved appeal (CSV export)"
    )


@dataclass
class _Tally:
    appeals: int = 0
    before: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    moved: dict[tuple[str, str], list[Example]] = field(default_factory=dict)


STORED = """
SELECT appeal_id, registration_number, registered_at, received
FROM appeals
WHERE registered_at >= $1 AND registered_at < $2
ORDER BY registered_at, appeal_id
"""


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ALMATY)


async def replay(
    conn: asyncpg.Connection,
    since: date,
    until: date,
    current: tuple[ReferenceData, CategoryRanker],
    proposed: tuple[ReferenceData, CategoryRanker],
    *,
    threshold: float,
    examples: int = 3,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Replay the appeals registered from `since` to `until` (local days, inclusive)."""
    tally = _Tally()
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        cursor = conn.cursor(STORED, _start(since), _start(until + timedelta(days=1)))
        chunk: list[asyncpg.Record] = []
        async for row in cursor:
            chunk.append(row)
            if len(chunk) == CHUNK:
                _decide(chunk, current, proposed, threshold, tally)
                chunk = []
                if progress is not None:
                    progress(tally.appeals)
                await asyncio.sleep(0)  # let a serving process answer between chunks
        _decide(chunk, current, proposed, threshold, tally)
    if progress is not None:
        progress(tally.appeals)
    ref_before, ref_after = current[0], proposed[0]
    moves = [
        Move(from_agency=a, to_agency=b, appeals=len(moved), examples=moved[:examples])
        for (a, b), moved in tally.moved.items()
    ]
    moves.sort(key=lambda m: (-m.appeals, m.from_agency, m.to_agency))
    load = [
        Load(
            agency=code,
            name_ru=_name(ref_after, code) or _name(ref_before, code) or code,
            before=tally.before[code],
            after=tally.after[code],
            change=tally.after[code] - tally.before[code],
        )
        for code in sorted(set(tally.before) | set(tally.after))
        if tally.before[code] != tally.after[code]
    ]
    load.sort(key=lambda x: (-abs(x.change), x.agency))
    return Report(
        since=since,
        until=until,
        appeals=tally.appeals,
        moved=sum(m.appeals for m in moves),
        reference_before=ref_before.version,
        reference_after=ref_after.version,
        classifier_before=current[1].version,
        classifier_after=proposed[1].version,
        moves=moves,
        load=load,
        moved_appeals=[e for moved in tally.moved.values() for e in moved],
    )


def _name(ref: ReferenceData, code: str) -> str | None:
    return ref.agency(code).name_ru if ref.has_agency(code) else None


def _decide(
    rows: list[asyncpg.Record],
    current: tuple[ReferenceData, CategoryRanker],
    proposed: tuple[ReferenceData, CategoryRanker],
    threshold: float,
    tally: _Tally,
) -> None:
    if not rows:
        return
    submissions = [ReceivedAppeal.model_validate(r["received"]).submission for r in rows]
    before = decide_many(submissions, current[0], current[1], threshold=threshold)
    after = decide_many(submissions, proposed[0], proposed[1], threshold=threshold)
    for row, b, a in zip(rows, before, after, strict=True):
        tally.appeals += 1
        source, target = destination(b), destination(a)
        tally.before[source] += 1
        tally.after[target] += 1
        if source != target:
            tally.moved.setdefault((source, target), []).append(
                Example(
                    appeal_id=str(row["appeal_id"]),
                    registration_number=row["registration_number"],
                    registered_at=row["registered_at"].astimezone(ALMATY),
                    from_agency=source,
                    to_agency=target,
                    locality_before=b.locality,
                    locality_after=a.locality,
                    category_before=b.category,
                    category_after=a.category,
                )
            )


# ------------------------------------------------------------------ output


def as_text(report: Report) -> str:
    lines = [
        f"what-if {report.since} .. {report.until}: {report.appeals} appeals replayed, "
        f"{report.moved} would move",
        f"reference {report.reference_before} -> {report.reference_after}, "
        f"classifier {report.classifier_before} -> {report.classifier_after}",
    ]
    if report.moves:
        lines += ["", "moves (from -> to: appeals; examples)"]
        for m in report.moves:
            shown = ", ".join(e.registration_number for e in m.examples)
            lines.append(f"  {m.from_agency} -> {m.to_agency}: {m.appeals}; {shown}")
    if report.load:
        lines += ["", f"load per agency ({'before':>6} {'after':>6} {'change':>7})"]
        for x in report.load:
            lines.append(f"  {x.agency:<40} {x.before:>6} {x.after:>6} {x.change:>+7}")
    return "\n".join(lines)


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def moves_csv(report: Report) -> str:
    """One line per (from, to): the number of appeals and the examples' numbers."""
    return _csv(
        ["from_agency", "to_agency", "appeals", "examples"],
        [
            [
                m.from_agency,
                m.to_agency,
                m.appeals,
                " ".join(e.registration_number for e in m.examples),
            ]
            for m in report.moves
        ],
    )


def load_csv(report: Report) -> str:
    return _csv(
        ["agency", "name_ru", "before", "after", "change"],
        [[x.agency, x.name_ru, x.before, x.after, x.change] for x in report.load],
    )


COLUMNS = list(Example.model_fields)


def appeals_csv(report: Report) -> str:
    """Every moved appeal, with where it goes now and would go."""
    return _csv(
        COLUMNS,
        [[getattr(e, c) for c in COLUMNS] for e in report.moved_appeals],
    )
