"""Dashboard sessions, kept server-side in deadlines' own schema.

The browser's cookie holds only a random id (256 bits); the table holds its SHA-256, so
reading the table gives nobody a cookie. The bearer token a person signs in with is checked
once and never stored or sent back: a session records who signed in and the token's `jti`,
`kid` and expiry, so revoking that token, retiring its key or its expiry ends the session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from appeals_platform.auth import Principal, Role, VerifiedToken


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


@dataclass(frozen=True)
class Session:
    principal: Principal
    jti: str
    kid: str
    expires_at: datetime


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
    """A new session for a verified token: (the cookie's id, when the session ends)."""
    session_id = secrets.token_urlsafe(32)
    expires_at = min(now + lifetime, datetime.fromtimestamp(token.expires, UTC))
    principal = token.principal
    async with conn.transaction():
        await conn.execute(DROP_EXPIRED, now)
        await conn.execute(
            OPEN_SESSION,
            _digest(session_id),
            principal.subject,
            principal.role.value,
            principal.agency,
            token.jti,
            token.kid,
            now,
            expires_at,
        )
    return session_id, expires_at


FIND_SESSION = """
SELECT subject, role, agency, token_jti, token_kid, expires_at
FROM dashboard_sessions WHERE id_hash = $1 AND expires_at > $2
"""


async def find_session(conn: asyncpg.Connection, session_id: str, now: datetime) -> Session | None:
    row = await conn.fetchrow(FIND_SESSION, _digest(session_id), now)
    if row is None:
        return None
    principal = Principal(subject=row["subject"], role=Role(row["role"]), agency=row["agency"])
    return Session(principal, row["token_jti"], row["token_kid"], row["expires_at"])


CLOSE_SESSION = "DELETE FROM dashboard_sessions WHERE id_hash = $1"


async def close_session(conn: asyncpg.Connection, session_id: str) -> None:
    await conn.execute(CLOSE_SESSION, _digest(session_id))
