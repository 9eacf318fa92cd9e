"""The fault cases and how one runs: load, fault, recovery, the counts.

A case starts from a healthy instance, starts its own steady load (appeals with external ids
of its own), injects its fault once a third of the appeals are accepted, lets the load finish,
waits (bounded) until every accepted appeal is complete, and counts:

- accepted: appeals intake answered 200/201 for;
- lost: accepted appeals that are not complete when the wait ends (plus poison records and
  their neighbours that were neither stored nor dead-lettered, in the poison case);
- duplicated: appeals registered, decided, shown or clocked more than once, and alerts raised
  twice;
- dead-lettered: records that arrived on any `<topic>.dlq` or as submission rejections
  during the case;
- recover s: from the end of the fault (restart issued, SIGCONT) until every appeal accepted
  before that moment was complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from appeals_contracts import topics as topic_names
from appeals_tools.chaos import effects, faults, poison, topics, troubles
from appeals_tools.chaos.instance import LOAD_SOURCE, Instance, say
from appeals_tools.chaos.load import Load
from appeals_tools.chaos.report import Row
from appeals_tools.chaos.tracker import Tracker
from appeals_tools.stack.services import SERVICES

# The fault comes once this share of the case's appeals is accepted.
FAULT_AT = 1 / 3
OUTAGE_DRAIN_LIMIT = 60.0
# Seconds without a change after which the poison records' outcomes are taken as final.
POISON_STEADY, POISON_STUCK = 10.0, 45.0
RELAY_TAKEOVER_LIMIT = 30.0


@dataclass(frozen=True)
class Settings:
    appeals: int
    rate: float
    concurrency: int
    freeze: float
    broker_down: float
    settle: float
    outage: float
    short: bool


@dataclass
class Context:
    instance: Instance
    settings: Settings
    load: Load
    tracker: Tracker
    fault: faults.Fault
    row: Row
    # Appeals the case itself changed on purpose (the poison events' subject): not counted.
    excluded: set[str] = field(default_factory=set)


Inject = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    slug: str
    title: str
    inject: Inject
    short: bool = False
    # The case's own count of appeals (the outage case: a steady rate for its whole length).
    appeals: Callable[[Settings], int] | None = None
    # Seconds of load before the fault (default: until a third of the appeals are accepted).
    lead_in: float | None = None
    # Why the case cannot run here (None: it can).
    unavailable: Callable[[Instance], Awaitable[str | None]] | None = None
    # Run before the case's load: a stack of another shape.
    prepare: Callable[[Instance], Awaitable[None]] | None = None


async def progress(ctx: Context, title: str) -> None:
    while True:
        await asyncio.sleep(5)
        waiting = ctx.tracker.waiting()
        lacking = ", ".join(f"{gap} {n:,}" for gap, n in ctx.tracker.gaps.most_common())
        say(
            f"{title}: {ctx.load.progress()}; {waiting:,} accepted but not complete"
            + (f" (of the oldest: {lacking})" if waiting and lacking else "")
        )


async def run_case(instance: Instance, case: Case, settings: Settings, seed: int) -> Row:
    row = Row(case.slug, case.title)
    if case.unavailable is not None and (why := await case.unavailable(instance)):
        row.ran, row.reason = False, why
        say(f"{case.title}: not run ({why})")
        return row
    say(f"=== {case.title}")
    logs = {name: instance.layout.log_file(name) for name in SERVICES}
    logged_before = troubles.ends(logs)
    if case.prepare is not None:
        await case.prepare(instance)
    if not await instance.healthy():
        await instance.up()
    options = instance.kafka_options()
    refused_topics = await topics.rejected_topics(options)
    refused_from = await topics.end_offsets(options, refused_topics)
    count = case.appeals(settings) if case.appeals else settings.appeals
    load = Load(
        instance.url("intake"),
        instance.token(),
        count=count,
        rate=settings.rate,
        concurrency=settings.concurrency,
        seed=seed,
    )
    tracker = Tracker(instance.admin_dsn, load)
    ctx = Context(instance, settings, load, tracker, faults.Fault(), row)
    background = [
        asyncio.create_task(tracker.run(), name="tracker"),
        asyncio.create_task(progress(ctx, case.title), name="progress"),
    ]
    load_task = asyncio.create_task(load.run(), name="load")
    # The longest a load may take: its schedule, the fault's own length, and time to retry.
    budget = count / settings.rate + settings.outage + 3 * settings.freeze + 180
    try:
        before = int(settings.rate * case.lead_in) if case.lead_in else int(count * FAULT_AT)
        await until(lambda: len(load.accepted) >= before or load_task.done(), 120 + before)
        await case.inject(ctx)
        try:
            await asyncio.wait_for(asyncio.shield(load_task), budget)
        except TimeoutError:
            row.reason = f"the load did not finish within {budget:.0f}s"
            load.stop()
            await load_task
        if not await tracker.until_complete(settings.settle):
            left = tracker.waiting()
            say(f"{case.title}: {left:,} appeals not complete after {settings.settle:.0f}s")
        await tracker.poll()
        await count_effects(instance, ctx)
    except Exception as exc:  # a case that breaks is a failed row, and the next case runs
        row.reason = row.reason or f"{type(exc).__name__}: {exc}"
        say(f"{case.title}: stopped by {row.reason}")
        load.stop()
    finally:
        for task in background:
            task.cancel()
        if not load_task.done():
            load.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(load_task, 60)
        await tracker.close()
    row.accepted += len(load.accepted)
    row.notes += ctx.fault.notes
    if row.lost:
        row.notes += troubles.troubles(logs, logged_before)
    row.checks.update(ctx.fault.checks)
    if load.failures:
        row.notes.append(
            "the load saw " + ", ".join(f"{k} x{v}" for k, v in load.failures.most_common())
        )
    refused = [a for a in load.appeals if a.refused]
    if refused:
        row.notes.append(f"{len(refused)} appeals refused, e.g. {refused[0].refused}")
        row.checks["every appeal of the load was accepted"] = False
    if ctx.fault.restored_at:
        row.recover_s = tracker.recovery(ctx.fault.restored_at)
        if ctx.fault.measured:
            own = ctx.fault.recover_s
            row.recover_s = (
                None if own is None or row.recover_s is None else max(row.recover_s, own)
            )
    with contextlib.suppress(Exception):
        ends = await topics.end_offsets(options, refused_topics)
        row.dead_lettered = sum(end - refused_from.get(tp, 0) for tp, end in ends.items())
    say(
        f"{case.title}: {row.accepted:,} accepted, {row.lost} lost, {row.duplicated} duplicated, "
        f"{row.dead_lettered} dead-lettered, recovered in "
        + (f"{row.recover_s:.1f}s" if row.recover_s is not None else "-")
    )
    return row


async def until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout:.0f}s")
        await asyncio.sleep(0.1)


async def count_effects(instance: Instance, ctx: Context) -> None:
    """Lost and duplicated among the accepted appeals; appeals registered without an answer."""
    load, row = ctx.load, ctx.row
    lost_before, duplicated_before = row.lost, row.duplicated
    conn = await asyncpg.connect(instance.admin_dsn)
    try:
        accepted = [a for a in load.accepted if a.appeal_id and a.appeal_id not in ctx.excluded]
        seen = await effects.effects(conn, [a.appeal_id for a in accepted if a.appeal_id])
        gaps: dict[str, int] = {}
        for appeal in accepted:
            found = seen[str(appeal.appeal_id)]
            if not found.complete:
                row.lost += 1
                for gap in found.missing():
                    gaps[gap] = gaps.get(gap, 0) + 1
            if found.duplicated or (found.number and found.number != appeal.registration_number):
                row.duplicated += 1
        if gaps:
            row.notes.append("incomplete: " + ", ".join(f"{k} x{v}" for k, v in gaps.items()))
        # A request that committed but whose answer never came back: not accepted, yet it
        # must be processed like any other.
        unanswered = [a.external_id for a in load.appeals if a.accepted_at is None]
        ghosts = await effects.registered(conn, LOAD_SOURCE, unanswered)
        if ghosts:
            ghost_effects = await effects.effects(conn, list(ghosts.values()))
            stuck = sum(1 for e in ghost_effects.values() if not e.complete)
            row.notes.append(
                f"{len(ghosts)} appeals registered though the client got no answer; "
                f"{stuck} of them incomplete"
            )
            row.lost += stuck
        raised, repeated = await effects.alerts(
            conn, [a.appeal_id for a in accepted if a.appeal_id]
        )
        row.duplicated += repeated
        row.details["alerts"] = raised
        # The load's own share of the row (the poison case adds its records' counts).
        row.details["appeals_lost"] = row.lost - lost_before
        row.details["appeals_duplicated"] = row.duplicated - duplicated_before
    finally:
        await conn.close()


# ------------------------------------------------------------------ the faults


def kill(service: str) -> Inject:
    async def inject(ctx: Context) -> None:
        await faults.kill_service(ctx.instance, service, ctx.fault)

    return inject


async def broker_killed(ctx: Context) -> None:
    await faults.kill_broker(ctx.instance, ctx.fault, ctx.settings.broker_down, readiness=True)


async def broker_frozen(ctx: Context) -> None:
    await faults.freeze_broker(ctx.instance, ctx.fault, ctx.settings.freeze)


async def postgres_restarted(ctx: Context) -> None:
    await faults.restart_postgres(ctx.instance, ctx.fault)


async def postgres_frozen(ctx: Context) -> None:
    await faults.freeze_postgres(ctx.instance, ctx.fault, ctx.settings.freeze)


async def relay_frozen(ctx: Context) -> None:
    await faults.freeze_relay_leader(
        ctx.instance,
        ctx.fault,
        "intake",
        ctx.settings.freeze + 15,
        RELAY_TAKEOVER_LIMIT,
    )


async def broker_outage(ctx: Context) -> None:
    """The broker down for minutes while intake keeps accepting; then the backlog drains."""
    await faults.kill_broker(ctx.instance, ctx.fault, ctx.settings.outage, readiness=True)
    back = ctx.fault.back_at
    await ctx.tracker.until_complete(ctx.settings.settle)
    drained = ctx.tracker.recovery(back)
    backlog = sum(
        1 for a in ctx.load.accepted if a.accepted_at is not None and a.accepted_at <= back
    )
    ctx.fault.note(
        f"backlog of {backlog:,} appeals accepted during the outage: "
        + (
            f"drained {drained:.1f}s after the broker was back"
            if drained is not None
            else "not drained"
        )
    )
    ctx.fault.checks[
        f"the backlog drained within {OUTAGE_DRAIN_LIMIT:.0f}s of the broker's return"
    ] = drained is not None and drained <= OUTAGE_DRAIN_LIMIT


OUTAGE_LEAD_IN = 30.0


def outage_appeals(settings: Settings) -> int:
    # A steady load for the whole outage, half a minute before it and a minute after.
    return int(settings.rate * (OUTAGE_LEAD_IN + settings.outage + 60))


async def brokers_unsupported(instance: Instance) -> str | None:
    from appeals_tools.stack import kafka as stack_kafka

    if not hasattr(stack_kafka, "nodes"):
        return "`appeals-stack up --brokers 3` is not on this branch yet (issue 18 item 7)"
    return None


async def three_brokers(instance: Instance) -> None:
    """The instance again, with three brokers (the mode cannot change while Kafka runs)."""
    if instance.brokers != 3:
        await instance.down()
        instance.brokers = 3
        await instance.up()


async def partition_leader_killed(ctx: Context) -> None:
    """kill -9 of the broker leading most partitions of intake.appeal-received; restart."""
    async with topics.admin(ctx.instance.kafka_options()) as client:
        described = await client.describe_topics([topic_names.APPEAL_RECEIVED])
    leaders = [p["leader"] for p in described[0]["partitions"]]
    node = max(set(leaders), key=leaders.count)
    ctx.fault.note(f"broker {node} leads {leaders.count(node)} of {len(leaders)} partitions")
    await faults.kill_broker(
        ctx.instance, ctx.fault, ctx.settings.broker_down, node=f"kafka-{node}"
    )


# ------------------------------------------------------------------ poison


async def poisoned(ctx: Context) -> None:
    """Poison records between good ones on every consumed topic, while the load runs."""
    instance, fault, row = ctx.instance, ctx.fault, ctx.row
    options = instance.kafka_options()
    target = await poison_target(instance)
    ctx.excluded.add(target.appeal_id)
    fault.note(f"the events around the poison are about appeal {target.appeal_id} (not counted)")
    records = poison.planned(target, seed=int(time.time()) % 100_000)
    await topics.allow_large_records(options, [c.topic for c in poison.CONSUMED], poison.MAX_RECORD)
    refused_topics = await topics.rejected_topics(options)
    refused_from = await topics.end_offsets(options, refused_topics)
    fault.injected_at = time.monotonic()
    for consumed in poison.CONSUMED:
        await poison.produce(options, [r for r in records if r.topic == consumed.topic])
    fault.restored_at = fault.back_at = time.monotonic()
    fault.measured = True
    fault.note(
        f"{len(records)} records written to {len(poison.CONSUMED)} topics: each of "
        f"{', '.join(poison.KINDS)} between good records"
    )
    # Until every record has an outcome its kind allows, or nothing changed for a while (a
    # record consumed without a trace stays so; one still pending may be retried, so longer).
    deadline = time.monotonic() + ctx.settings.settle
    before, changed = "", time.monotonic()
    while time.monotonic() < deadline:
        await judge(instance, records, refused_topics, refused_from)
        now = time.monotonic()
        if poison.settled(records):
            fault.recover_s = now - fault.restored_at
            break
        state = repr([r.outcomes for r in records])
        if state != before:
            before, changed = state, now
        pending = any(poison.PENDING in r.outcomes.values() for r in records)
        if now - changed > (POISON_STUCK if pending else POISON_STEADY):
            break
        await asyncio.sleep(2)
    tally = poison.counts(records)
    row.details["poison"] = [
        {
            "topic": r.topic,
            "partition": r.partition,
            "offset": r.offset,
            "kind": r.kind,
            **r.outcomes,
        }
        for r in records
    ]
    row.accepted += tally["good"]
    row.lost += tally["lost"]
    row.checks[
        "every poison record ended where its kind belongs (dead letter, rejection or stored)"
    ] = tally["misfiled"] == 0 and tally["lost"] == 0
    row.details["poison_matrix"] = poison.matrix(records)
    fault.note(
        f"poison: {tally['stored']} stored, {tally['dead_lettered']} dead-lettered, "
        f"{tally['lost']} lost, {tally['misfiled']} misfiled (record x consuming service)"
    )


async def judge(
    instance: Instance,
    records: list[poison.Sent],
    refused_topics: list[str],
    refused_from: topics.Offsets,
) -> None:
    options = instance.kafka_options()
    ends = await topics.end_offsets(options, refused_topics)
    refused = poison.refusals(await topics.read(options, refused_from, ends))
    committed = await topics.committed(options)
    conn = await asyncpg.connect(instance.admin_dsn)
    try:
        kept = await poison.stored(conn, records)
    finally:
        await conn.close()
    poison.judge(records, refused, kept, committed)


TARGET_SQL = """
SELECT a.id::text AS appeal_id, a.registration_number, a.type,
       coalesce(s.agency, 'KRG-ENERGY-HOUSING') AS agency
FROM intake.appeals a LEFT JOIN routing.assignments s ON s.appeal_id = a.id AND s.hop = 1
WHERE a.source = $1 ORDER BY a.registered_at LIMIT 1
"""


async def poison_target(instance: Instance) -> poison.Target:
    """An appeal of the load that intake holds: the events written around poison are about it
    (intake's timeline skips events about appeals it does not hold)."""
    conn = await asyncpg.connect(instance.admin_dsn)
    try:
        row = await conn.fetchrow(TARGET_SQL, LOAD_SOURCE)
    finally:
        await conn.close()
    assert row is not None, "no appeal registered yet"
    return poison.Target(row["appeal_id"], row["registration_number"], row["type"], row["agency"])


CASES = (
    Case("kill-intake", "kill -9 intake", kill("intake"), short=True),
    Case("kill-routing", "kill -9 routing", kill("routing"), short=True),
    Case("kill-deadlines", "kill -9 deadlines", kill("deadlines"), short=True),
    Case("broker-killed", "broker killed and restarted", broker_killed, short=True),
    Case("broker-frozen", "broker frozen (SIGSTOP)", broker_frozen),
    Case("postgres-restarted", "PostgreSQL restarted", postgres_restarted, short=True),
    Case("postgres-frozen", "PostgreSQL frozen (SIGSTOP)", postgres_frozen),
    Case("relay-frozen", "outbox relay leader frozen", relay_frozen),
    Case(
        "broker-outage",
        "broker down 5 min, backlog drain",
        broker_outage,
        appeals=outage_appeals,
        lead_in=OUTAGE_LEAD_IN,
    ),
    Case("poison", "poison records on every consumed topic", poisoned, short=True),
    Case(
        "leader-killed",
        "partition leader killed (3 brokers)",
        partition_leader_killed,
        unavailable=brokers_unsupported,
        prepare=three_brokers,
    ),
)
