"""An agency's case system, reduced to its Kafka conversation with the appeals platform.

It reads the appeals assigned to the agency, confirms their receipt, answers them and asks to
redirect one, and reads what became of every command. Only confluent-kafka (librdkafka) and
the standard library: the same conversation works from Java, .NET or Go. See README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer


def read_properties(path: str) -> dict[str, str]:
    """librdkafka properties, as `appeals-kafka credentials agency <CODE> --format properties`
    prints them (key=value lines)."""
    with open(path, encoding="utf-8") as file:
        lines = [line.strip() for line in file]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def command(event_type: str, appeal_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """A command is a CloudEvent about one appeal; its id is how its result is found."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/example-agency-client",
        "type": f"kz.appeals.agency.{event_type}.v1",
        "subject": appeal_id,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


class Agency:
    def __init__(self, config: dict[str, str], code: str, prefix: str = "") -> None:
        topic = f"{prefix}agency.{code.lower()}"
        self.appeals, self.actions, self.results = (
            f"{topic}.appeals",
            f"{topic}.actions",
            f"{topic}.results",
        )
        client = {k: v for k, v in config.items() if k not in ("group.id", "auto.offset.reset")}
        group = config["group.id"]  # the agency may use groups named agency.<code>.*
        self.producer = Producer({**client, "enable.idempotence": True})
        self.inbox = Consumer({**client, "group.id": group, "auto.offset.reset": "earliest"})
        self.outcomes = Consumer(
            {**client, "group.id": f"{group}-results", "auto.offset.reset": "earliest"}
        )
        self.inbox.subscribe([self.appeals])
        self.outcomes.subscribe([self.results])

    def assignments(self, wanted: int, timeout: float) -> list[dict[str, Any]]:
        """Up to `wanted` assignments (kz.appeals.appeal.assigned.v1, the appeal inside)."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < wanted and time.monotonic() < deadline:
            message = self.inbox.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            event = json.loads(message.value())
            found.append(event["data"])
            print(f"assigned: {event['data']['registration_number']} ({event['subject']})")
        self.inbox.commit(asynchronous=False)  # taken: the next run starts after these
        return found

    def send(self, commands: list[dict[str, Any]], timeout: float) -> dict[str, dict[str, Any]]:
        """Write the commands (key: the appeal id), then wait for the result of each."""
        for event in commands:
            value = json.dumps(event, ensure_ascii=False).encode()
            self.producer.produce(self.actions, value, key=event["subject"].encode())
        if self.producer.flush(timeout) > 0:
            raise SystemExit("commands not delivered")
        waiting = {event["id"] for event in commands}
        results: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            message = self.outcomes.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            event = json.loads(message.value())
            if event.get("type") != "kz.appeals.agency.action-result.v1":
                continue  # not a result (the topic is the platform's to write, not ours)
            result = event["data"]
            if result["action_id"] in waiting:
                waiting.discard(result["action_id"])
                results[result["action_id"]] = result
                print(describe(result))
        if waiting:
            raise SystemExit(f"no result for {len(waiting)} commands within {timeout:.0f} s")
        return results

    def close(self) -> None:
        self.inbox.close()
        self.outcomes.close()


def describe(result: dict[str, Any]) -> str:
    kind = result["action_type"].split(".")[-2] if result["action_type"] else "record"
    if result["outcome"] == "accepted":
        return f"  {kind} {result['appeal_id']}: accepted"
    problems = "; ".join(f"{p['field']} {p['message']}" for p in result["problems"])
    return (
        f"  {kind} {result['appeal_id']}: refused ({result['status']} {result['title']}) {problems}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("code", help="the agency code, e.g. KRG-POLICE")
    parser.add_argument("--config", required=True, help="the librdkafka properties file")
    parser.add_argument("--appeals", type=int, default=3, help="how many assignments to take")
    parser.add_argument(
        "--redirect-to", help="agency code for the redirect (default: routing decides)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait each step")
    parser.add_argument("--topic-prefix", default="", help=argparse.SUPPRESS)  # test runs
    args = parser.parse_args()

    agency = Agency(read_properties(args.config), args.code, args.topic_prefix)
    try:
        appeals = agency.assignments(args.appeals, args.timeout)
        if not appeals:
            print("no assignments")
            return 0
        # 1. Confirm receipt of each, and wait: a redirect must not overtake its confirmation.
        # Each command names the hop it acts on: a service that has not followed a redirect
        # to this agency yet then asks to retry (the platform does) instead of refusing.
        agency.send(
            [command("receipt-confirmed", a["appeal_id"], {"hop": a["hop"]}) for a in appeals],
            args.timeout,
        )
        # 2. Answer all but the last; ask to redirect the last one.
        *answered, redirected = appeals
        signed_at = datetime.now(UTC).isoformat()
        actions = [
            command(
                "answer",
                a["appeal_id"],
                {
                    "outcome": "explained",
                    "text": "Разъяснено. Түсіндірілді.",
                    "signed_at": signed_at,
                    "hop": a["hop"],
                },
            )
            for a in answered
        ]
        actions.append(
            command(
                "redirect-requested",
                redirected["appeal_id"],
                {"target": args.redirect_to, "reason": "not_competent", "comment": "not ours"},
            )
        )
        results = agency.send(actions, args.timeout)
        refused = [r for r in results.values() if r["outcome"] == "refused"]
        print(
            json.dumps(
                {
                    "appeals": len(appeals),
                    "commands": len(appeals) + len(actions),
                    "refused": len(refused),
                }
            )
        )
        return 1 if refused else 0
    finally:
        agency.close()


if __name__ == "__main__":
    sys.exit(main())
