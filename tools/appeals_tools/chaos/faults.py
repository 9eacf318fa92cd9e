"""The faults: each one is done to a real process of the instance, found by its pid file.

Each function records when the fault began (`injected_at`), when the suite ended it
(`restored_at`: the restart command issued, SIGCONT sent) and when the part answered again
(`back_at`), and notes what it saw on the way (was a transaction open at the kill, did the
relay leadership move).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field

import asyncpg
import httpx

from appeals_platform.auth import Role
from appeals_tools.chaos import processes
from appeals_tools.chaos.instance import Instance, say
from appeals_tools.stack.postgres import (
    as_server_user,
    pg_bin,
    pg_data_dir,
    pg_log_file,
    postmaster_pid,
)


@dataclass
class Fault:
    injected_at: float = 0.0
    restored_at: float = 0.0
    back_at: float = 0.0
    notes: list[str] = field(default_factory=list)
    # Named facts a case asserts besides lost and duplicated (e.g. the relay moved in time).
    checks: dict[str, bool] = field(default_factory=dict)
    # A fault that measures its own recovery (poison: until every record had its outcome)
    # sets `measured`; `recover_s` stays None if it never recovered.
    measured: bool = False
    recover_s: float | None = None

    def note(self, text: str) -> None:
        say(text)
        self.notes.append(text)


def freezer(instance: Instance) -> processes.Freezer:
    return processes.Freezer(instance.state / "frozen.pids")


def service_pids(instance: Instance, name: str) -> list[int]:
    pid = instance.pid(name)
    if pid is None:
        raise RuntimeError(f"{name} is not running (no live pid in its pid file)")
    return [pid, *processes.descendants(pid)]


# Open transactions of one service: what "mid-batch" means here. The relay's own claim of
# outbox rows is left out: the batch meant is a consumer's (or, in intake, a request's).
IN_TRANSACTION_SQL = r"""
SELECT extract(epoch FROM clock_timestamp() - xact_start) * 1000 AS age_ms,
       left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS query
FROM pg_stat_activity
WHERE application_name = $1 AND xact_start IS NOT NULL AND state <> 'idle'
  AND query NOT ILIKE '%FROM outbox%' AND pid <> pg_backend_pid()
ORDER BY xact_start LIMIT 1
"""


async def wait_for_transaction(dsn: str, service: str, timeout: float = 15) -> str:
    """Poll until the service holds an open transaction; a description of it (or why not)."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = await conn.fetchrow(IN_TRANSACTION_SQL, service)
            if row is not None:
                return f"a transaction open for {row['age_ms']:.0f} ms ({row['query']!r})"
            await asyncio.sleep(0.005)
    finally:
        await conn.close()
    return f"no open transaction seen within {timeout:.0f}s"


async def kill_service(instance: Instance, name: str, fault: Fault) -> None:
    """kill -9 of the service's processes while one of its transactions is open; restart."""
    pids = service_pids(instance, name)
    seen = await wait_for_transaction(instance.admin_dsn, name)
    os.killpg(pids[0], signal.SIGKILL)  # started in a session of its own: pgid == pid
    fault.injected_at = time.monotonic()
    processes.wait_gone(pids)
    fault.note(f"kill -9 of {name} (pids {', '.join(map(str, pids))}) with {seen}")
    fault.restored_at = time.monotonic()
    await instance.restart(name)
    fault.back_at = time.monotonic()
    fault.note(f"{name} restarted, ready {fault.back_at - fault.restored_at:.1f}s later")


async def kill_broker(
    instance: Instance,
    fault: Fault,
    down_for: float,
    node: str = "kafka",
    *,
    readiness: bool = False,
) -> None:
    """kill -9 of a broker, restarted after `down_for`; with `readiness`, intake must say
    200 "degraded" on /ready meanwhile (it keeps taking appeals over HTTP)."""
    pid = instance.pid(node)
    if pid is None:
        raise RuntimeError(f"{node} is not running")
    os.killpg(pid, signal.SIGKILL)
    fault.injected_at = time.monotonic()
    processes.wait_gone([pid])
    fault.note(f"kill -9 of the broker {node} (pid {pid}); down for {down_for:.0f}s")
    if readiness:
        await degraded_while_down(instance, fault, fault.injected_at + down_for)
    await asyncio.sleep(max(0.0, fault.injected_at + down_for - time.monotonic()))
    fault.restored_at = time.monotonic()
    await instance.up()
    fault.back_at = time.monotonic()
    fault.note(f"broker back {fault.back_at - fault.restored_at:.1f}s after the restart command")


async def degraded_while_down(instance: Instance, fault: Fault, until: float) -> None:
    """Intake's /ready while the broker is down: 200, "degraded", Kafka named."""
    seen = "no answer naming Kafka as away"
    ok = False
    async with httpx.AsyncClient(timeout=3) as client:
        while time.monotonic() < until:
            try:
                answer = await client.get(instance.url("intake") + "/ready")
                body = answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                seen = f"{type(exc).__name__}"
                break
            if body.get("checks", {}).get("kafka", "ok") != "ok":
                seen = f"{answer.status_code} {body.get('status')}"
                ok = answer.status_code == 200 and body.get("status") == "degraded"
                break
            await asyncio.sleep(0.2)
    fault.checks["intake stayed in service (ready: degraded) without the broker"] = ok
    fault.note(f"intake /ready while the broker was down: {seen}")


async def freeze_broker(instance: Instance, fault: Fault, seconds: float) -> None:
    pid = instance.pid("kafka")
    if pid is None:
        raise RuntimeError("kafka is not running")
    frozen = freezer(instance)
    frozen.freeze([pid])
    fault.injected_at = time.monotonic()
    fault.note(f"SIGSTOP of the broker (pid {pid}) for {seconds:.0f}s")
    try:
        await asyncio.sleep(seconds)
    finally:
        frozen.resume([pid])
    fault.restored_at = fault.back_at = time.monotonic()
    fault.note("SIGCONT of the broker")


def postmaster(instance: Instance) -> int:
    pid = postmaster_pid(instance.layout)
    if pid is None:
        raise RuntimeError("the fault suite's PostgreSQL is not running")
    return pid


async def restart_postgres(instance: Instance, fault: Fault) -> None:
    """pg_ctl restart -m fast: every connection is cut, the server is back seconds later."""
    data = pg_data_dir(instance.layout)
    command = as_server_user(
        [
            str(pg_bin() / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(pg_log_file(instance.layout)),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "restart",
        ]
    )
    fault.injected_at = fault.restored_at = time.monotonic()
    fault.note(f"pg_ctl restart -m fast (postmaster pid {postmaster(instance)})")
    await asyncio.to_thread(
        subprocess.run, command, check=True, stdout=subprocess.DEVNULL, timeout=90
    )
    fault.back_at = time.monotonic()
    fault.note(f"PostgreSQL back after {fault.back_at - fault.injected_at:.1f}s")


async def freeze_postgres(instance: Instance, fault: Fault, seconds: float) -> None:
    """SIGSTOP of the postmaster and every backend: connections stay open, nothing answers.
    Meanwhile every service must answer a request that needs PostgreSQL with 503 in time."""
    master = postmaster(instance)
    pids = [master, *processes.descendants(master)]
    frozen = freezer(instance)
    frozen.freeze(pids)
    fault.injected_at = time.monotonic()
    fault.note(f"SIGSTOP of PostgreSQL ({len(pids)} processes) for {seconds:.0f}s")
    try:
        await refusals_while_away(instance, fault)
        await asyncio.sleep(max(0.0, fault.injected_at + seconds - time.monotonic()))
    finally:
        frozen.resume(pids)
    fault.restored_at = fault.back_at = time.monotonic()
    fault.note("SIGCONT of PostgreSQL")


# A request per service that needs PostgreSQL; asked as the server stops answering (the
# request waits on it until the service's watchdog gives up) and again once it has.
REFUSAL_PROBES = (
    ("intake", "/v1/appeals/{id}", Role.INTEGRATION),
    ("routing", "/v1/triage", Role.MONITORING),
    ("deadlines", "/v1/alerts", Role.MONITORING),
)
REFUSAL_LIMIT = 1.0
REFUSALS_AT = (0.0, 3.0)


async def refusals_while_away(instance: Instance, fault: Fault) -> None:
    """Each service answers 503 problem+json with Retry-After within REFUSAL_LIMIT seconds."""

    async def ask(client: httpx.AsyncClient, service: str, path: str, role: Role) -> bool:
        url = instance.url(service) + path.format(id=uuid.uuid4())
        headers = {"Authorization": f"Bearer {instance.token(role)}"}
        began = time.monotonic()
        try:
            answer = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            answers.append(f"{service} {type(exc).__name__} after {time.monotonic() - began:.2f}s")
            return False
        took = time.monotonic() - began
        kind = answer.headers.get("content-type", "")
        answers.append(f"{service} {answer.status_code} {kind} in {took:.2f}s")
        return (
            answer.status_code == 503
            and kind == "application/problem+json"
            and answer.headers.get("retry-after", "").isdigit()
            and took <= REFUSAL_LIMIT
        )

    answers: list[str] = []
    verdicts: list[bool] = []
    async with httpx.AsyncClient(timeout=10) as client:
        for at in REFUSALS_AT:
            await asyncio.sleep(max(0.0, fault.injected_at + at - time.monotonic()))
            verdicts += await asyncio.gather(*(ask(client, *probe) for probe in REFUSAL_PROBES))
    check = f"every service answered 503 problem+json within {REFUSAL_LIMIT:.0f} s"
    fault.checks[check] = all(verdicts)
    fault.note("while frozen: " + "; ".join(answers))


# Who publishes a schema's outbox: the holder of its lease row (`<pid>` in the holder's
# name, appeals_platform.lease), or, before leases, the session holding the advisory lock on
# hashtext('outbox:<schema>'), found through its connection.
LEASE_SQL = """
SELECT holder FROM outbox_lease WHERE name = 'outbox' AND expires_at > now()
"""
HAS_LEASE_SQL = "SELECT to_regclass('outbox_lease') IS NOT NULL"
RELAY_LOCK_SQL = """
SELECT a.pid, a.client_port
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.objid::bigint = (hashtext('outbox:' || $1)::bigint & 4294967295)
"""


async def relay_leader(instance: Instance, schema: str) -> int | None:
    """The process of the service that leads its outbox relay (None if nobody leads)."""
    candidates = service_pids(instance, schema)
    conn = await asyncpg.connect(instance.admin_dsn, server_settings={"search_path": schema})
    try:
        if await asyncio.wait_for(conn.fetchval(HAS_LEASE_SQL), 5):
            holder = await asyncio.wait_for(conn.fetchval(LEASE_SQL), 5)
            # service@host:pid:tail
            pid = int(holder.rsplit(":", 2)[1]) if holder else None
            return pid if pid in candidates else None
        row = await asyncio.wait_for(conn.fetchrow(RELAY_LOCK_SQL, schema), 5)
    finally:
        await conn.close()
    if row is None or row["client_port"] is None:
        return None
    return processes.connection_owner(row["client_port"], instance.ports.postgres, candidates)


async def freeze_relay_leader(
    instance: Instance, fault: Fault, service: str, seconds: float, limit: float
) -> None:
    """SIGSTOP of the worker leading the service's relay; did another take over in time?"""
    leader = await relay_leader(instance, service)
    if leader is None:
        raise RuntimeError(f"no process of {service} leads its outbox relay")
    count = len(service_pids(instance, service))
    frozen = freezer(instance)
    frozen.freeze([leader])
    fault.injected_at = time.monotonic()
    fault.note(
        f"SIGSTOP of {service}'s relay leader (pid {leader}; {service} runs {count} processes) "
        f"for {seconds:.0f}s"
    )
    moved: float | None = None
    try:
        while time.monotonic() < fault.injected_at + seconds:
            await asyncio.sleep(1)
            if moved is None:
                with contextlib.suppress(Exception):
                    now = await relay_leader(instance, service)
                    if now is not None and now != leader:
                        moved = time.monotonic() - fault.injected_at
                        fault.note(f"relay leadership moved to pid {now} after {moved:.1f}s")
    finally:
        frozen.resume([leader])
    fault.restored_at = fault.back_at = time.monotonic()
    if moved is None:
        fault.note(f"relay leadership did not move during the {seconds:.0f}s freeze")
    fault.checks[f"another relay took over within {limit:.0f}s"] = (
        moved is not None and moved <= limit
    )
