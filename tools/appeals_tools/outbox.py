"""`appeals-outbox status|parked list|parked retry [ID|--all]`: the services' outboxes.

`status` shows each service schema's outbox: rows waiting, the oldest one's age, rows parked,
and which process leads its relay (the lease holder). `parked list` shows the rows the broker
refused for good, with the refusal; `parked retry ID` puts the row with event id ID back, with
every parked row of the same topic and key (they were parked behind it to keep their order),
and `--all` every parked row. Rows go back to their own place (`seq`), ahead of anything newer
for their key, and the relay is told at once. Retry after the cause is fixed (the topic
created, its `max.message.bytes` raised): a row refused again is parked again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence

import asyncpg

from appeals_platform import lease
from appeals_tools.stack.postgres import database_url

SCHEMAS = ("intake", "routing", "deadlines")

STATUS_SQL = """
SELECT (SELECT count(*) FROM outbox) AS depth,
       (SELECT extract(epoch FROM now() - created_at) FROM outbox ORDER BY seq LIMIT 1) AS age,
       (SELECT count(*) FROM outbox_parked) AS parked
"""
LIST_SQL = """
SELECT seq, id::text AS id, aggregatetype, aggregateid, type, parked_at,
       octet_length(payload) AS bytes, error
FROM outbox_parked ORDER BY seq
"""
# The chosen rows and every parked row of their topic and key, back into the outbox with
# their own seq (ahead of newer rows of the key); one statement, so one transaction.
RETRY_SQL = """
WITH chosen AS (
    SELECT DISTINCT aggregatetype, aggregateid FROM outbox_parked
    WHERE $2 OR id = ANY($1::uuid[])
),
back AS (
    DELETE FROM outbox_parked p USING chosen c
    WHERE p.aggregatetype = c.aggregatetype AND p.aggregateid = c.aggregateid
    RETURNING p.seq, p.id, p.aggregatetype, p.aggregateid, p.type, p.payload, p.created_at
)
INSERT INTO outbox (seq, id, aggregatetype, aggregateid, type, payload, created_at)
SELECT seq, id, aggregatetype, aggregateid, type, payload, created_at FROM back
ON CONFLICT DO NOTHING
RETURNING seq
"""


async def connect(dsn: str, schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, server_settings={"search_path": schema})


async def has_outbox(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass('outbox_parked') IS NOT NULL"))


async def status(dsn: str, schemas: Sequence[str]) -> list[str]:
    lines = [f"{'schema':<10} {'waiting':>8} {'oldest':>9} {'parked':>7}  relay leader"]
    for schema in schemas:
        conn = await connect(dsn, schema)
        try:
            if not await has_outbox(conn):
                lines.append(f"{schema:<10} (no outbox tables: service not migrated yet)")
                continue
            row = await conn.fetchrow(STATUS_SQL)
            leader = await lease.holder(conn, "outbox")
        finally:
            await conn.close()
        age = f"{row['age']:.1f}s" if row["age"] is not None else "-"
        lines.append(
            f"{schema:<10} {row['depth']:>8} {age:>9} {row['parked']:>7}  {leader or 'none'}"
        )
    return lines


async def parked_rows(dsn: str, schemas: Sequence[str]) -> list[str]:
    lines: list[str] = []
    for schema in schemas:
        conn = await connect(dsn, schema)
        try:
            rows = await conn.fetch(LIST_SQL) if await has_outbox(conn) else []
        finally:
            await conn.close()
        lines.append(f"{schema}: {len(rows)} parked row(s)")
        for r in rows:
            lines.append(
                f"  {r['id']}  seq {r['seq']}  {r['aggregatetype']}  key {r['aggregateid']}  "
                f"{r['type']}  {r['bytes']} bytes  parked {r['parked_at']:%Y-%m-%d %H:%M:%S}  "
                f"{r['error']}"
            )
    return lines


async def retry(dsn: str, schemas: Sequence[str], ids: Sequence[str], every: bool) -> int:
    """Put parked rows back in their outboxes; how many went back."""
    back = 0
    for schema in schemas:
        conn = await connect(dsn, schema)
        try:
            if not await has_outbox(conn):
                continue
            seqs = await conn.fetch(RETRY_SQL, list(ids), every)
            if seqs:
                await conn.execute("SELECT pg_notify($1, '')", f"outbox_{schema}")
                print(f"{schema}: {len(seqs)} row(s) back in the outbox")
            back += len(seqs)
        finally:
            await conn.close()
    return back


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appeals-outbox", description=__doc__)
    parser.add_argument("--dsn", default=None, help="PostgreSQL DSN (default: the local stack)")
    parser.add_argument(
        "--schema", action="append", choices=SCHEMAS, help="one service (repeatable; default all)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="waiting rows, oldest age, parked rows, relay leader")
    parked = commands.add_parser("parked", help="rows the broker refused for good")
    actions = parked.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="one line per parked row")
    again = actions.add_parser("retry", help="put parked rows back in the outbox")
    chosen = again.add_mutually_exclusive_group(required=True)
    chosen.add_argument("id", nargs="?", help="a parked row's event id (from `parked list`)")
    chosen.add_argument("--all", action="store_true", help="every parked row")
    args = parser.parse_args(argv)
    dsn = args.dsn or database_url()
    schemas = args.schema or list(SCHEMAS)
    if args.command == "status":
        print("\n".join(asyncio.run(status(dsn, schemas))))
        return 0
    if args.action == "list":
        print("\n".join(asyncio.run(parked_rows(dsn, schemas))))
        return 0
    ids: list[str] = []
    if not args.all:
        try:
            ids = [str(uuid.UUID(args.id))]
        except ValueError:
            parser.error(f"not an event id: {args.id!r}")
    back = asyncio.run(retry(dsn, schemas, ids, args.all))
    if back == 0:
        print("appeals-outbox: no such parked row", file=sys.stderr)
        return 2 if ids else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
