"""Which asyncpg failures mean "PostgreSQL is not there right now": those are waited for by
consumers and answered 503 over HTTP, never dead-lettered or answered 500."""

from __future__ import annotations

import asyncpg
import pytest

from appeals_platform.availability import database_unavailable, http_unavailable


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        # Seen by intake's registrar while the fault suite restarted PostgreSQL: answered 500.
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
    ],
)
def test_an_outage_is_unavailable_not_a_bad_input(exc: BaseException) -> None:
    assert database_unavailable(exc)
    assert http_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence"),
        ValueError("bad input"),
    ],
)
def test_a_bad_input_is_not_an_outage(exc: BaseException) -> None:
    assert not database_unavailable(exc)
    assert not http_unavailable(exc)
