"""Who is looking: sign-in sessions, the viewer's role and language, and safe redirects.

Authentication is the platform's token, pasted once into a form and checked once: it opens a
server-side session (`deadlines.commands.open_session`) and the browser gets only the
session's random id, in an HttpOnly, SameSite=Strict cookie (Secure over https) scoped to
/dashboard. The token is never stored or sent back, so the cookie is no bearer token
anywhere. A session ends at sign-out, after `DEADLINES_DASHBOARD_SESSION_HOURS`, when its
token expires, or when that token is revoked or its key retired. `monitoring` sees
everything; `agency` sees its own agency only: its alerts, its row of the compliance tables,
its hops of an appeal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from fastapi import HTTPException, Request

from appeals_dashboard import i18n
from appeals_dashboard.i18n import Lang
from appeals_dashboard.state import PREFIX, dashboard, verifier
from appeals_platform.auth import Principal, Role
from deadlines import queries

SESSION_COOKIE = "dashboard_session"
LANG_COOKIE = "dashboard_lang"
VIEWER_ROLES = (Role.MONITORING, Role.AGENCY)


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    lang: Lang

    @property
    def agency(self) -> str | None:
        """The agency this viewer is confined to; None for monitoring staff."""
        return self.principal.agency if self.principal.role is Role.AGENCY else None

    @property
    def monitoring(self) -> bool:
        return self.principal.role is Role.MONITORING


def request_lang(request: Request) -> Lang:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in i18n.LANGUAGES:
        return i18n.language(chosen)
    return i18n.from_accept_language(request.headers.get("accept-language"))


def safe_next(value: str | None) -> str:
    """Only a path inside the dashboard: never an open redirect to another site."""
    if not value:
        return f"{PREFIX}/alerts"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX) or "\\" in value:
        return f"{PREFIX}/alerts"
    return value


def here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def signed_in(request: Request) -> Principal | None:
    """The session's viewer, while its token is neither revoked nor signed by a retired key."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    async with dashboard(request).runtime.pool.acquire() as conn:
        session = await queries.find_session(conn, session_id, datetime.now(UTC))
    if session is None:
        return None
    tokens = verifier(request)
    if tokens.is_revoked(session.jti) or session.kid not in tokens.key_ids:
        return None
    return session.principal if session.principal.role in VIEWER_ROLES else None


async def viewer(request: Request) -> Viewer:
    """A FastAPI dependency: the signed-in viewer, or a redirect to the sign-in form."""
    principal = await signed_in(request)
    if principal is None:
        target = f"{PREFIX}/sign-in?" + urlencode({"next": here(request)})
        raise HTTPException(303, "sign in first", headers={"Location": target})
    return Viewer(principal, request_lang(request))


async def stream_viewer(request: Request) -> Viewer:
    """As `viewer`, but a stream answers 401: EventSource cannot follow a sign-in form."""
    principal = await signed_in(request)
    if principal is None:
        raise HTTPException(401, "sign in first")
    return Viewer(principal, request_lang(request))


def same_origin(request: Request) -> bool:
    """A form post must come from the dashboard's own pages (the cookie is SameSite=Strict
    too; this also refuses a post whose Origin is another site)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "")


def empty(value: str | None) -> str | None:
    """A form field with nothing but spaces is no value."""
    value = (value or "").strip()
    return value or None
