"""Signing in and out, the language switch, and the dashboard's own root."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from appeals_dashboard import i18n, respond, views
from appeals_dashboard.access import (
    LANG_COOKIE,
    SESSION_COOKIE,
    VIEWER_ROLES,
    request_lang,
    safe_next,
    same_origin,
)
from appeals_dashboard.i18n import text
from appeals_dashboard.state import PREFIX, Dashboard, dashboard, verifier
from appeals_platform.auth import AuthError, VerifiedToken
from deadlines import commands

log = logging.getLogger(__name__)
router = APIRouter()


async def home() -> RedirectResponse:
    """/dashboard itself (mounted by `mount.py`: a prefix-less router has no empty path)."""
    return RedirectResponse(f"{PREFIX}/alerts", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:
    lang = request_lang(request)
    content = views.signin_content(lang, safe_next(next), None)
    return respond.page(request, None, "sign-in", text(lang, "signin.title"), content)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, dash: Dashboard = Depends(dashboard)) -> Response:
    """Checks the pasted token once and opens a server-side session: the cookie is only the
    session's random id."""
    lang = request_lang(request)
    form = await request.form()
    token = str(form.get("token") or "").strip()
    next_url = safe_next(str(form.get("next") or ""))
    problem: str | None = None
    status = 401
    verified: VerifiedToken | None = None
    try:
        verified = verifier(request).verify_claims(token)
    except AuthError as exc:
        problem = f"{text(lang, 'signin.refused')}: {exc}"
    else:
        if verified.principal.role not in VIEWER_ROLES:
            problem, status = text(lang, "signin.role"), 403
    if verified is None or problem is not None or not same_origin(request):
        content = views.signin_content(lang, next_url, problem or text(lang, "signin.refused"))
        return respond.page(request, None, "sign-in", text(lang, "signin.title"), content, status)
    now = datetime.now(UTC)
    lifetime = timedelta(hours=dash.settings.dashboard_session_hours)
    async with dash.runtime.pool.acquire() as conn:
        session_id, ends = await commands.open_session(conn, verified, now, lifetime)
    log.info("dashboard session opened", extra={"count": 1})
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=max(1, int((ends - now).total_seconds())),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request, dash: Dashboard = Depends(dashboard)) -> RedirectResponse:
    """Ends the session on the server too: the old cookie opens nothing afterwards."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        async with dash.runtime.pool.acquire() as conn:
            await commands.close_session(conn, session_id)
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/language/{code}")
async def choose_language(code: str, next: str | None = None) -> RedirectResponse:
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        i18n.language(code),
        max_age=365 * 24 * 3600,
        samesite="lax",
        path=PREFIX,
    )
    return response
