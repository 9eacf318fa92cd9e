"""Registrations written in groups: one statement per group, each key stored once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from appeals_contracts import event_types, topics
from appeals_contracts.submission import AppealSubmission
from appeals_law.calendar import WorkingCalendar
from appeals_law.rules import load_rules
from appeals_platform import outbox
from appeals_platform.pool import connect
from intake import handlers
from intake import registrar as registrar_module
from intake.app import create_app
from intake.config import Settings
from tests.conftest import Stack, TokenFactory
from tests.intake.conftest import Intake, dev_submissions, fresh
from tests.kafka_probe import EventProbe
from tests.services import running, settings_for


def group_metric(text: str) -> tuple[float, float]:
    count = re.search(r"^intake_registration_group_size_count (\S+)$", text, re.M)
    total = re.search(r"^intake_registration_group_size_sum (\S+)$", text, re.M)
    assert count and total, "the group-size histogram is exported"
    return float(count.group(1)), float(total.group(1))


async def test_concurrent_posts_share_statements(intake: Intake) -> None:
    before = group_metric((await intake.client.get("/metrics")).text)
    bodies = [fresh(b) for b in dev_submissions()[:60]]
    responses = await asyncio.gather(*(intake.post(body) for body in bodies))
    assert [r.status_code for r in responses] == [201] * 60
    numbers = {r.json()["registration_number"] for r in responses}
    assert len(numbers) == 60
    after = group_metric((await intake.client.get("/metrics")).text)
    groups, registered = after[0] - before[0], after[1] - before[1]
    assert registered == 60
    assert groups < 60, "concurrent requests were written one statement each"
    assert await intake.count() == 60
    assert await intake.count("timeline") == 60  # one "received" entry each, same statement


async def test_a_key_twice_in_one_group_is_stored_once(intake: Intake) -> None:
    body = fresh(dev_submissions()[0])
    first = AppealSubmission.model_validate(body)
    same = AppealSubmission.model_validate(body)
    changed = AppealSubmission.model_validate({**body, "subject": "другая тема"})
    other = AppealSubmission.model_validate(fresh(dev_submissions()[1]))
    now = datetime.now(UTC)
    group = [handlers.Application(s, "egov-portal", "http", now) for s in (first, same, changed)]
    group.append(handlers.Application(other, "egov-portal", "http", now))
    conn = await connect(intake.dsn, "intake")
    try:
        registrations = await handlers.register_many(
            conn,
            group,
            numbers=handlers.RegistrationNumbers("KRG"),
            law=handlers.Law(load_rules(), WorkingCalendar()),
        )
        stored = await conn.fetchval(
            "SELECT count(*) FROM appeals WHERE external_id = $1", body["external_id"]
        )
        # One AppealReceived, and one status update for the submitting integration.
        announced = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE aggregateid = $1 AND type = $2",
            str(registrations[0].appeal_id),
            event_types.APPEAL_RECEIVED,
        )
        told = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE aggregateid = $1 AND type = $2",
            str(registrations[0].appeal_id),
            event_types.APPEAL_STATUS_CHANGED,
        )
        # The events of the two skipped (under appeal ids of their own) are not written.
        about_it = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE strpos(payload, $1) > 0", body["external_id"]
        )
    finally:
        await conn.close()
    assert [r.outcome for r in registrations] == ["created", "existing", "conflict", "created"]
    assert registrations[1].appeal_id == registrations[0].appeal_id
    assert registrations[2].differences == ["subject"]
    assert (stored, announced, told, about_it) == (1, 1, 1, 2)


async def test_a_group_is_written_by_one_statement(intake: Intake) -> None:
    # Each round trip waits for a core on a busy machine, under every answer of the group:
    # the appeals, their timeline entries and their events go in one statement, which
    # commits them together without a transaction of its own.
    now = datetime.now(UTC)

    def group() -> list[handlers.Application]:
        return [
            handlers.Application(
                AppealSubmission.model_validate(fresh(b)), "egov-portal", "http", now
            )
            for b in dev_submissions()[:5]
        ]

    numbers = handlers.RegistrationNumbers("KRG")
    law = handlers.Law(load_rules(), WorkingCalendar())
    conn = await connect(intake.dsn, "intake")
    statements: list[str] = []

    def logged(record: Any) -> None:
        statements.append(record.query)

    try:
        # A first group draws the block of numbers and lets asyncpg learn the statement's
        # types (its own queries), as a running service has long done: not counted.
        await handlers.register_many(conn, group(), numbers=numbers, law=law)
        # In a transaction of the test's, so the relay cannot take the rows before they are read.
        async with conn.transaction():
            conn.add_query_logger(logged)
            registrations = await handlers.register_many(conn, group(), numbers=numbers, law=law)
            conn.remove_query_logger(logged)
            ids = [str(r.appeal_id) for r in registrations]
            events = await conn.fetch(
                "SELECT aggregateid, type FROM outbox WHERE aggregateid = ANY($1::text[])", ids
            )
    finally:
        await conn.close()
    assert [r.outcome for r in registrations] == ["created"] * 5
    assert len(statements) == 1, statements
    kinds = (event_types.APPEAL_RECEIVED, event_types.APPEAL_STATUS_CHANGED)
    assert sorted((e["aggregateid"], e["type"]) for e in events) == sorted(
        (i, t) for i in ids for t in kinds
    )


async def test_appeal_received_goes_to_the_configured_topic(
    stack: Stack,
    database: str,
    key_dir: Path,
    token: TokenFactory,
    topic: Callable[..., Awaitable[str]],
    probe: Callable[[str], EventProbe],
) -> None:
    own = await topic("test.received", writer="svc-intake")
    app = create_app(settings_for(Settings, database, stack, key_dir, received_topic=own))
    async with running(app) as client, probe(own) as received:
        intake = Intake(client, database, token)
        response = await intake.post(fresh(dev_submissions()[2]))
        assert response.status_code == 201, response.text
        event = await received.wait_for_subject(response.json()["appeal_id"])
    assert event["type"] == event_types.APPEAL_RECEIVED


async def test_a_row_postgresql_refuses_fails_alone_not_its_group(
    stack: Stack,
    database: str,
    key_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = registrar_module.register_many
    refused_in_groups_of: list[int] = []

    async def refusing(conn: Any, applications: Any, **kwargs: Any) -> Any:
        # Stands in for a row PostgreSQL refuses (a value no contract check caught).
        if any(a.submission.subject == "refused" for a in applications):
            refused_in_groups_of.append(len(applications))
            raise asyncpg.exceptions.DataError("invalid input")
        return await real(conn, applications, **kwargs)

    monkeypatch.setattr(registrar_module, "register_many", refusing)
    app = create_app(settings_for(Settings, database, stack, key_dir))
    async with running(app):
        registrar = registrar_of(app)
        bodies = [fresh(b) for b in dev_submissions()[:12]]
        bodies[7]["subject"] = "refused"
        now = datetime.now(UTC)
        results = await asyncio.gather(
            *(
                registrar.register(
                    handlers.Application(
                        AppealSubmission.model_validate(b), "egov-portal", "http", now
                    )
                )
                for b in bodies
            ),
            return_exceptions=True,
        )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], asyncpg.exceptions.DataError)
    assert isinstance(results[7], asyncpg.exceptions.DataError)
    created = [r for r in results if isinstance(r, handlers.Registration)]
    assert [r.outcome for r in created] == ["created"] * 11
    # It was refused inside a group first, then once on its own.
    assert max(refused_in_groups_of) > 1 and refused_in_groups_of[-1] == 1


async def test_a_request_that_goes_away_still_registers_and_its_retry_gets_the_appeal(
    stack: Stack, database: str, key_dir: Path
) -> None:
    app = create_app(settings_for(Settings, database, stack, key_dir))
    async with running(app):
        registrar = registrar_of(app)
        submission = AppealSubmission.model_validate(fresh(dev_submissions()[4]))
        application = handlers.Application(submission, "egov-portal", "http", datetime.now(UTC))
        gone = asyncio.create_task(registrar.register(application))
        await asyncio.sleep(0)  # queued and being written
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        # Nobody waits for it any more, and still it is written, once.
        stored = 0
        for _ in range(200):
            stored = await appeals_with_key(database, submission.external_id)
            if stored:
                break
            await asyncio.sleep(0.05)
        retry = await registrar.register(application)
    assert stored == 1
    assert retry.outcome == "existing"
    assert await appeals_with_key(database, submission.external_id) == 1


def registrar_of(app: Any) -> registrar_module.Registrar:
    """A registrar of its own on the running app's pool and relay."""
    return registrar_module.Registrar(
        app.state.runtime,
        handlers.RegistrationNumbers("KRG"),
        handlers.Law(load_rules(), WorkingCalendar()),
        topic=topics.APPEAL_RECEIVED,
    )


async def appeals_with_key(dsn: str, external_id: str) -> int:
    conn = await connect(dsn, "intake")
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM appeals WHERE external_id = $1", external_id)
        )
    finally:
        await conn.close()


async def test_an_appeal_is_never_stored_without_its_appeal_received_event(
    stack: Stack, database: str, key_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault suite's kill -9 and PostgreSQL restart found appeals registered whose event
    never reached the outbox; their retries answered "existing" and nothing routed them. The
    appeal and its events are one statement now: when PostgreSQL refuses the events, it
    stores no appeal either."""
    app = create_app(settings_for(Settings, database, stack, key_dir))
    async with running(app):
        registrar = registrar_of(app)
        submission = AppealSubmission.model_validate(fresh(dev_submissions()[5]))
        application = handlers.Application(submission, "egov-portal", "http", datetime.now(UTC))
        real = handlers.updates.registered

        def unreadable(appeal: Any, cause: str) -> outbox.Event | None:
            # Not UTF-8: PostgreSQL refuses this event in the middle of the statement.
            event = real(appeal, cause)
            return None if event is None else event._replace(payload=b"\xff" + event.payload)

        with monkeypatch.context() as patched:
            patched.setattr(handlers.updates, "registered", unreadable)
            with pytest.raises(asyncpg.exceptions.CharacterNotInRepertoireError):
                await registrar.register(application)
        assert await appeals_with_key(database, submission.external_id) == 0
        retry = await registrar.register(application)
    assert retry.outcome == "created"
