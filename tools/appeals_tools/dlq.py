"""`appeals-dlq list|show|replay TOPIC`: read a topic's dead letters, and replay them after a fix.

A dead letter (`kz.appeals.dead-letter.v1` on `<topic>.dlq`) keeps the original record whole:
key, value, headers (bytes that were not UTF-8 included), and where it was read. `replay` writes
those records back to the original topic, unchanged, for its consumers to try again; events
they had already applied are dropped by their inboxes, submissions by intake's idempotent
registration. A value over the dead-letter limit was kept truncated and cannot be replayed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from appeals_contracts.envelope import CloudEvent
from appeals_contracts.events import DeadLetter
from appeals_contracts.topics import dead_letter_topic
from appeals_platform.kafka import client_options
from appeals_tools.stack.kafka import admin_access
from appeals_tools.stack.layout import Layout, project_root


@dataclass(frozen=True)
class Letter:
    """One record of `<topic>.dlq`: where it sits there, and what it says."""

    offset: int
    event_id: str
    letter: DeadLetter

    def original(self) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
        """The dead record's key, value and headers, as they were produced."""
        letter = self.letter
        key = base64.b64decode(letter.key_base64) if letter.key_base64 is not None else None
        value = base64.b64decode(letter.value_base64) if letter.value_base64 is not None else None
        headers = [
            (
                h.key,
                base64.b64decode(h.value_base64)
                if h.value_base64 is not None
                else (h.value or "").encode(),
            )
            for h in letter.headers
        ]
        return key, value, headers


def kafka_options(bootstrap: str | None) -> dict[str, Any]:
    """As `admin` of this checkout's stack: reading any dead-letter topic and writing a record
    back to its original topic is an operator's act, beyond every service's ACLs."""
    return client_options(admin_access(Layout(project_root()), bootstrap))


async def read_letters(topic: str, options: dict[str, Any]) -> list[Letter]:
    """Every dead letter of `topic`, oldest first (from the start to the current end)."""
    # With no group and no committed offsets, "earliest" is where reading starts (an explicit
    # seek_to_beginning raced the reset to "latest" that assign() starts).
    consumer = AIOKafkaConsumer(
        **options, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        name = dead_letter_topic(topic)
        partitions = await consumer._client.fetch_all_metadata()
        numbers = partitions.partitions_for_topic(name)
        if not numbers:
            raise SystemExit(f"appeals-dlq: no topic {name}")
        assigned = [TopicPartition(name, n) for n in sorted(numbers)]
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        letters: list[Letter] = []

        async def behind() -> bool:
            for tp, end in ends.items():
                if await consumer.position(tp) < end:
                    return True
            return False

        while await behind():
            batch = await consumer.getmany(*assigned, timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    if record.offset >= ends[TopicPartition(record.topic, record.partition)]:
                        continue
                    try:
                        event = CloudEvent[DeadLetter].model_validate_json(record.value or b"")
                    except ValidationError as exc:
                        print(
                            f"offset {record.offset}: not a dead letter ({exc.error_count()} "
                            "errors); skipped",
                            file=sys.stderr,
                        )
                        continue
                    letters.append(Letter(record.offset, event.id, event.data))
        return sorted(letters, key=lambda letter: letter.offset)
    finally:
        await consumer.stop()


def summary(letter: Letter) -> str:
    d = letter.letter
    truncated = " TRUNCATED" if d.value_truncated else ""
    return (
        f"{letter.offset:>8}  {d.consumer or '-':<22} {d.topic}:{d.partition}@{d.offset}  "
        f"attempts {d.attempts}  {d.value_bytes} bytes{truncated}  {d.error[:120]}"
    )


async def replay(
    topic: str, letters: Sequence[Letter], options: dict[str, Any]
) -> tuple[int, list[Letter]]:
    """Write the letters' records back to `topic`; (replayed, refused because truncated).

    A record several consumers gave up on has a letter from each: it is written back once.
    """
    refused = [letter for letter in letters if letter.letter.value_truncated]
    once = {(lt.letter.topic, lt.letter.partition, lt.letter.offset): lt for lt in letters}
    letters = list(once.values())
    producer = AIOKafkaProducer(**options, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = 0
        for letter in letters:
            if letter.letter.value_truncated:
                continue
            key, value, headers = letter.original()
            await producer.send_and_wait(topic, value, key=key, headers=headers)
            sent += 1
        return sent, refused
    finally:
        await producer.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appeals-dlq", description=__doc__)
    parser.add_argument("--bootstrap", default=None, help="host:port (default: the local stack)")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="one line per dead letter of TOPIC")
    listing.add_argument("topic", help="the original topic, e.g. intake.appeal-submissions")
    show = commands.add_parser("show", help="one dead letter in full")
    show.add_argument("topic")
    show.add_argument("offset", type=int, help="its offset on <topic>.dlq (from `list`)")
    again = commands.add_parser("replay", help="write dead records back to TOPIC")
    again.add_argument("topic")
    chosen = again.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--offset", type=int, action="append", help="a dlq offset (repeatable)")
    chosen.add_argument("--all", action="store_true", help="every dead letter of TOPIC")
    again.add_argument("--consumer", default=None, help="only letters of this consumer")
    args = parser.parse_args(argv)
    options = kafka_options(args.bootstrap)
    letters = asyncio.run(read_letters(args.topic, options))
    if args.command == "list":
        print(f"{len(letters)} dead letter(s) on {dead_letter_topic(args.topic)}")
        for letter in letters:
            print(summary(letter))
        return 0
    if args.command == "show":
        found = [letter for letter in letters if letter.offset == args.offset]
        if not found:
            print(f"appeals-dlq: no dead letter at offset {args.offset}", file=sys.stderr)
            return 2
        letter = found[0]
        _, value, _ = letter.original()
        body: dict[str, Any] = {"id": letter.event_id, **letter.letter.model_dump(mode="json")}
        body["value"] = (value or b"").decode(errors="replace")
        body.pop("value_base64", None)
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return 0
    picked = [
        letter
        for letter in letters
        if (args.all or letter.offset in args.offset)
        and (args.consumer is None or letter.letter.consumer == args.consumer)
    ]
    sent, refused = asyncio.run(replay(args.topic, picked, options))
    print(f"replayed {sent} record(s) to {args.topic}")
    for letter in refused:
        print(f"  not replayed (value truncated): {summary(letter)}", file=sys.stderr)
    return 0 if not refused else 1


if __name__ == "__main__":
    sys.exit(main())
