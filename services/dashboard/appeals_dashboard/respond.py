"""Whole pages as responses, with the dashboard's security headers.

The Content-Security-Policy allows scripts and styles from the dashboard's own files only
(no inline script or style anywhere: the templates have no <script> or <style> element and
no style or on* attribute, and a test holds them to it), images from itself and data: URLs,
no framing and form posts to itself.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from appeals_dashboard import views
from appeals_dashboard.access import Viewer, here, request_lang
from appeals_dashboard.i18n import text
from appeals_dashboard.state import dashboard

CSP = (
    "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def page(
    request: Request,
    who: Viewer | None,
    page_name: str,
    title: str,
    content: Markup,
    status: int = 200,
) -> HTMLResponse:
    """The layout around `content`, in the viewer's language (or the browser's)."""
    lang = who.lang if who else request_lang(request)
    document = views.page(
        lang=lang,
        page_name=page_name,
        title=title,
        content=content,
        here=here(request),
        principal=who.principal if who else None,
        names=dashboard(request).names,
        demo=dashboard(request).settings.demo_history,
    )
    return HTMLResponse(document, status_code=status, headers=HEADERS)


def error(request: Request, who: Viewer, status: int, key: str) -> HTMLResponse:
    """A page saying what went wrong (`key` is its message), with that status."""
    content = views.error_content(who.lang, key)
    return page(request, who, "error", text(who.lang, key), content, status)
