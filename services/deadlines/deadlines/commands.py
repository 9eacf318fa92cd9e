"""What other packages may change in the deadlines service: typed commands, each beside its
SQL or on top of the service's own handlers.

With `deadlines.queries` this is the dashboard's whole view of the service: it acknowledges
alerts exactly as `POST /v1/alerts/{id}/acknowledge` does (the row and the AlertAcknowledged
event in one transaction), and keeps its sign-ins in the service's schema.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from appeals_platform import outbox
from appeals_platform.auth import VerifiedToken
from deadlines import handlers
from deadlines.context import Context
from deadlines.queries import AlertRecord, alert, session_digest

# ------------------------------------------------------------------ acknowledgements


@dataclass(frozen=True)
class Acknowledgement:
    """The outcome of acknowledging: whether this call did it, and the alert as it is now
    (None when there is no such alert)."""

    done: bool
    alert: AlertRecord | None


async def acknowledge_alert(
    conn: asyncpg.Connection,
    alert_id: uuid.UUID,
    by: str,
    comment: str | None,
    now: datetime,
    ctx: Context,
) -> Acknowledgement:
    """Mark the alert seen and queue AlertAcknowledged on the alerts topic, in one
    transaction; `done` is False when it was acknowledged already. The caller wakes the
    outbox relay (`runtime.relay.wake()`) when `done`."""
    async with conn.transaction():
        done = await handlers.acknowledge(conn, alert_id, by, comment, now, ctx)
        if done is not None:
            await outbox.add(conn, [done[1]])
        return Acknowledgement(done is not None, await alert(conn, alert_id))


# ------------------------------------------------------------------ dashboard sessions

OPEN_SESSION = """
INSERT INTO dashboard_sessions (id_hash, subject, role, agency, token_jti, token_kid,
                                created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""

# Sessions past their end are dropped whenever someone signs in: the table stays small.
DROP_EXPIRED = "DELETE FROM dashboard_sessions WHERE expires_at <= $1"


async def open_session(
    conn: asyncpg.Connection, token: VerifiedToken, now: datetime, lifetime: timedelta
) -> tuple[str, datetime]:
    """A new session for a verified token: (the cookie's random id, when the session ends).

    The table keeps only the id's SHA-256 and the token's jti, kid and expiry: never the
    token itself.
    """
    session_id = secrets.token_urlsafe(32)
    expires_at = min(now + lifetime, datetime.fromtimestamp(token.expires, UTC))
    principal = token.principal
    async with conn.transaction():
        await conn.execute(DROP_EXPIRED, now)
        await conn.execute(
            OPEN_SESSION,
            session_digest(session_id),
            principal.subject,
            principal.role.value,
            principal.agency,
            token.jti,
            token.kid,
            now,
            expires_at,
        )
    return session_id, expires_at


CLOSE_SESSION = "DELETE FROM dashboard_sessions WHERE id_hash = $1"


async def close_session(conn: asyncpg.Connection, session_id: str) -> None:
    await conn.execute(CLOSE_SESSION, session_digest(session_id))
