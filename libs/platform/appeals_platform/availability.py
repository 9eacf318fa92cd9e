"""Which failures mean "PostgreSQL is not there right now" rather than "this input is bad".

The difference decides what happens next: an unavailable database is waited for (a consumer
seeks back and polls again, HTTP answers 503), while an error caused by the input counts as
a failed attempt and may end in a dead letter or a 4xx.
"""

from __future__ import annotations

import asyncpg

# Connection lost or refused, server shutting down or starting, too many connections, and
# transaction conflicts that a retry resolves. A statement cancelled by `statement_timeout`
# is not here: the server answered, and a statement that is always too slow must not be
# retried forever.
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.TransactionRollbackError,
)


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says PostgreSQL could not be reached or asked for a retry."""
    return isinstance(exc, _UNAVAILABLE)
