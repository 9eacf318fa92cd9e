"""What the services did with each appeal, read from their schemas over an admin connection.

An accepted appeal is complete when intake holds it, routing decided it (an assignment or a
triage item), intake's timeline shows that decision, and, if it was assigned, deadlines
holds its clock. It is duplicated when any of these happened more than once.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

# One row per appeal id; each count is an index look-up on a key starting with the appeal id.
EFFECTS_SQL = """
SELECT x.id::text AS appeal_id,
       (SELECT count(*) FROM intake.appeals a WHERE a.id = x.id) AS registered,
       (SELECT min(a.registration_number) FROM intake.appeals a WHERE a.id = x.id) AS number,
       (SELECT count(*) FROM routing.assignments s WHERE s.appeal_id = x.id) AS assigned,
       (SELECT count(*) FROM routing.triage t WHERE t.appeal_id = x.id) AS triaged,
       (SELECT count(*) FROM intake.timeline l
         WHERE l.appeal_id = x.id AND l.kind IN ('assigned', 'triaged')) AS timeline,
       (SELECT count(*) FROM deadlines.clocks c WHERE c.appeal_id = x.id) AS clocks
FROM unnest($1::uuid[]) AS x(id)
"""

# Appeals intake registered for these external ids: accepted or not (a request can commit
# and still fail on its way back to the client).
REGISTERED_SQL = """
SELECT external_id, id::text AS appeal_id
FROM intake.appeals WHERE source = $1 AND external_id = ANY($2::text[])
"""

# An alert's natural key: the same alert raised again under another id is raised twice.
ALERTS_SQL = """
SELECT count(*) AS alerts,
       count(*) - count(DISTINCT (appeal_id, hop, kind, data ->> 'working_days_left',
                                  data ->> 'reminder', data ->> 'extensions')) AS repeated
FROM deadlines.alerts WHERE appeal_id = ANY($1::uuid[])
"""


@dataclass(frozen=True)
class Effects:
    registered: int
    number: str | None
    assigned: int
    triaged: int
    timeline: int
    clocks: int

    @property
    def complete(self) -> bool:
        decided = self.assigned + self.triaged >= 1
        return bool(
            self.registered and decided and self.timeline and (self.clocks or not self.assigned)
        )

    @property
    def duplicated(self) -> bool:
        return max(self.registered, self.assigned + self.triaged, self.timeline, self.clocks) > 1

    def missing(self) -> list[str]:
        gaps = []
        if not self.registered:
            gaps.append("not registered")
        if not self.assigned + self.triaged:
            gaps.append("not routed")
        if not self.timeline:
            gaps.append("no decision in intake's timeline")
        if self.assigned and not self.clocks:
            gaps.append("no clock")
        return gaps


async def effects(conn: asyncpg.Connection, appeal_ids: list[str]) -> dict[str, Effects]:
    if not appeal_ids:
        return {}
    rows = await conn.fetch(EFFECTS_SQL, appeal_ids)
    return {
        r["appeal_id"]: Effects(
            r["registered"], r["number"], r["assigned"], r["triaged"], r["timeline"], r["clocks"]
        )
        for r in rows
    }


async def registered(
    conn: asyncpg.Connection, source: str, external_ids: list[str]
) -> dict[str, str]:
    """external id -> appeal id of what intake holds for these external ids."""
    if not external_ids:
        return {}
    rows = await conn.fetch(REGISTERED_SQL, source, external_ids)
    return {r["external_id"]: r["appeal_id"] for r in rows}


async def alerts(conn: asyncpg.Connection, appeal_ids: list[str]) -> tuple[int, int]:
    """(alerts raised about these appeals, how many of them repeat an earlier one)."""
    row = await conn.fetchrow(ALERTS_SQL, appeal_ids)
    assert row is not None
    return int(row["alerts"]), int(row["repeated"])
