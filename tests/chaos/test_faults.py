"""The fault suite's short version: real processes killed under a steady load, in a stack
instance of the suite's own; not one accepted appeal lost or handled twice.

The suite runs once for the module (`python -m appeals_tools.chaos run --short`, a few
minutes), in a process of its own with its own state folder and ports; each test reads its
case's row. `make chaos` runs every case with 10,000 appeals each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from appeals_tools.chaos import poison
from appeals_tools.stack.layout import Layout, read_pid
from tests.conftest import Stack

pytestmark = pytest.mark.infra

CASES = (
    "kill-intake",
    "kill-routing",
    "kill-deadlines",
    "broker-killed",
    "postgres-restarted",
    "poison",
)
SUITE_TIMEOUT = 900


@pytest.fixture(scope="module")
def rows(stack: Stack, project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """{case: row} of one short run; the test stack's broker pid before and after it."""
    folder = tmp_path_factory.mktemp("chaos")
    report, log = folder / "rows.json", folder / "suite.log"
    broker = read_pid(Layout(project_root).pid_file("kafka"))
    with log.open("w") as out:
        result = subprocess.run(
            [sys.executable, "-m", "appeals_tools.chaos", "run", "--short", "--cases",
             ",".join(CASES), "--json", str(report)],
            cwd=project_root, stdout=out, stderr=subprocess.STDOUT, timeout=SUITE_TIMEOUT,
            check=False,
        )  # fmt: skip
    tail = "\n".join(log.read_text().splitlines()[-80:])
    assert report.exists(), f"the suite wrote no rows (exit {result.returncode}):\n{tail}"
    found = {row["case"]: row for row in json.loads(report.read_text())}
    return {"rows": found, "log": tail, "broker_before": broker}


def verdict(rows: Any, case: str) -> dict[str, Any]:
    row: dict[str, Any] = rows["rows"][case]
    assert row["ran"] and not row["reason"], f"{case}: {row['reason']}\n{rows['log']}"
    assert row["accepted"] > 0
    return row


def assert_nothing_lost_or_doubled(rows: Any, case: str) -> None:
    row = verdict(rows, case)
    detail = "\n".join(row["notes"])
    assert (row["lost"], row["duplicated"]) == (0, 0), f"{case}:\n{detail}"
    assert all(row["checks"].values()), row["checks"]
    assert row["recover_s"] is not None, f"{case}: not recovered\n{detail}"


def test_kill_9_of_intake_mid_batch_loses_and_doubles_no_appeal(rows: Any) -> None:
    assert_nothing_lost_or_doubled(rows, "kill-intake")


def test_kill_9_of_routing_mid_batch_loses_and_doubles_no_appeal(rows: Any) -> None:
    assert_nothing_lost_or_doubled(rows, "kill-routing")


def test_kill_9_of_deadlines_mid_batch_loses_and_doubles_no_appeal(rows: Any) -> None:
    assert_nothing_lost_or_doubled(rows, "kill-deadlines")


def test_a_broker_killed_and_restarted_loses_and_doubles_no_appeal(rows: Any) -> None:
    assert_nothing_lost_or_doubled(rows, "broker-killed")


def test_a_postgresql_restart_loses_and_doubles_no_appeal(rows: Any) -> None:
    assert_nothing_lost_or_doubled(rows, "postgres-restarted")


def test_each_kill_happened_while_the_service_had_a_transaction_open(rows: Any) -> None:
    for case in ("kill-intake", "kill-routing", "kill-deadlines"):
        kill = next(n for n in verdict(rows, case)["notes"] if n.startswith("kill -9"))
        assert "with a transaction open" in kill, kill


async def test_the_suites_stack_never_touched_the_test_stack(
    rows: Any, stack: Stack, project_root: Path
) -> None:
    assert read_pid(Layout(project_root).pid_file("kafka")) == rows["broker_before"]
    admin = AIOKafkaAdminClient(**stack.options())
    await admin.start()
    try:
        assert await admin.list_topics()
    finally:
        await admin.close()


def outcomes(rows: Any, kinds: set[str]) -> list[tuple[str, str, str, str]]:
    """(topic, kind, service, outcome) of every poison-case record of these kinds."""
    return [
        (record["topic"], record["kind"], service, record[service])
        for record in verdict(rows, "poison")["details"]["poison"]
        if record["kind"] in kinds
        for service in ("intake", "routing", "deadlines")
        if service in record
    ]


def test_poison_records_around_the_load_lose_and_double_no_appeal(rows: Any) -> None:
    details = verdict(rows, "poison")["details"]
    assert (details["appeals_lost"], details["appeals_duplicated"]) == (0, 0)


def test_every_neighbour_of_a_poison_record_is_stored_by_every_consumer(rows: Any) -> None:
    found = outcomes(rows, {poison.GOOD, poison.HEADER})
    consumers = sum(len(c.services) for c in poison.CONSUMED)
    assert len(found) == (len(poison.KINDS) + 2) * consumers  # the good ones and the header one
    assert [f for f in found if f[3] != poison.STORED] == []


def test_poison_records_end_as_dead_letters_or_rejections_never_lost(rows: Any) -> None:
    found = outcomes(rows, {poison.CONTENT_TYPE, poison.LARGE, poison.NUL, poison.WRONG_TYPE})
    assert found
    assert [f for f in found if f[3] not in poison.EXPECTED[f[1]]] == []


def test_a_record_of_an_unknown_event_type_is_dead_lettered(rows: Any) -> None:
    found = outcomes(rows, {poison.UNKNOWN})
    assert [f for f in found if f[3] != poison.DEAD_LETTERED] == []
