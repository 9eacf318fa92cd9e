"""The services' JSON documents get no planner statistics: nothing filters on them, and
analysing them was half of autoanalyze's CPU on their tables (intake 0004, routing 0004,
deadlines 0014)."""

from __future__ import annotations

import asyncpg
import orjson
import pytest

from tests.conftest import SERVICE_SCHEMAS

pytestmark = pytest.mark.infra

DOCUMENTS_SQL = """
SELECT c.relnamespace::regnamespace::text AS schema, c.relname AS table, a.attname AS column,
       a.attstattarget AS target
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND a.atttypid = 'jsonb'::regtype
  AND c.relnamespace::regnamespace::text = ANY($1::text[])
"""


async def test_every_jsonb_column_of_the_services_has_no_statistics_target(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(DOCUMENTS_SQL, list(SERVICE_SCHEMAS))
    finally:
        await conn.close()
    documents = {f"{r['schema']}.{r['table']}.{r['column']}": r["target"] for r in rows}
    # The three that grow with every appeal: what autoanalyze sampled 30,000 of.
    assert {
        "intake.appeals.submission",
        "intake.timeline.data",
        "deadlines.clocks.routing",
    } <= set(documents)
    assert {name: target for name, target in documents.items() if target != 0} == {}


async def test_analyze_keeps_the_filtered_columns_and_skips_the_document(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.executemany(
            "INSERT INTO intake.timeline (appeal_id, event_id, kind, type, at, data)"
            " VALUES (gen_random_uuid(), $1, 'event', 'AppealReceived', now(), $2::jsonb)",
            [(f"e-{n}", orjson.dumps({"n": n}).decode()) for n in range(200)],
        )
        await conn.execute("ANALYZE intake.timeline")
        stats = await conn.fetch(
            "SELECT attname FROM pg_stats WHERE schemaname = 'intake' AND tablename = 'timeline'"
        )
        analysed = {r["attname"] for r in stats}
    finally:
        await conn.close()
    assert {"appeal_id", "event_id", "kind", "type", "at"} <= analysed
    assert "data" not in analysed
