"""What-if: a proposed reference document replayed over the stored appeals of a period, by
routing's `POST /v1/what-if`, shown as a page (or its moved appeals as CSV).

Monitoring staff only (an agency gets a 403 page). Routing decides, with the operator token
pasted into the form: the dashboard's session holds no token (access.py), and a what-if is
an operator's act, so the page forwards that token to routing for this one request, as the
operator's own, and keeps it nowhere: the answer page never shows it again. Routing's
refusals (401, 403, 422 with the problems of the document) and routing being away are a
message on the form, never a 500. Nothing is stored or published: routing reads in a READ
ONLY transaction and the dashboard writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from appeals_dashboard import respond, views
from appeals_dashboard.access import Viewer, empty, same_origin, viewer
from appeals_dashboard.i18n import Lang, text
from appeals_dashboard.state import Dashboard, dashboard

# A reference document is some hundreds of kilobytes; a file far past that is a mistake.
MAX_REFERENCE = 8 * 1024 * 1024
EXAMPLES = 3

router = APIRouter()


@dataclass(frozen=True)
class Proposal:
    """What the form holds (never the token)."""

    since: str = ""
    until: str = ""
    reference: str = ""


class Unusable(Exception):
    """The form or routing's answer, as a message for the page, with the page's status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _page(
    request: Request,
    who: Viewer,
    dash: Dashboard,
    proposal: Proposal,
    *,
    report: dict[str, Any] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    content = views.what_if_content(
        who.lang, dash.names, proposal=proposal, report=report, problem=problem
    )
    return respond.page(request, who, "what-if", text(who.lang, "whatif.title"), content, status)


@router.get("/what-if", response_class=HTMLResponse)
async def what_if_form(
    request: Request, who: Viewer = Depends(viewer), dash: Dashboard = Depends(dashboard)
) -> HTMLResponse:
    if not who.monitoring:
        return respond.error(request, who, 403, "error.forbidden")
    return _page(request, who, dash, Proposal())


@router.post("/what-if", response_model=None)
async def what_if(
    request: Request, who: Viewer = Depends(viewer), dash: Dashboard = Depends(dashboard)
) -> Response:
    if not who.monitoring or not same_origin(request):
        return respond.error(request, who, 403, "error.forbidden")
    form = await request.form(max_files=1, max_part_size=MAX_REFERENCE)
    proposal = Proposal()
    try:
        proposal = await _proposal(form, who.lang)
        body = _body(proposal, who.lang)
        token = empty(_field(form, "token"))
        if token is None:
            raise Unusable(422, text(who.lang, "whatif.no_token"))
        csv = _field(form, "format") == "csv"
        answer = await _ask_routing(dash, token, body, csv, who.lang)
    except Unusable as unusable:
        return _page(request, who, dash, proposal, problem=unusable.message, status=unusable.status)
    if csv:
        disposition = answer.headers.get(
            "content-disposition", f'attachment; filename="what-if-{proposal.since}.csv"'
        )
        headers = {**respond.HEADERS, "Content-Disposition": disposition}
        return Response(answer.content, media_type="text/csv; charset=utf-8", headers=headers)
    return _page(request, who, dash, proposal, report=answer.json())


def _field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _proposal(form: Mapping[str, Any], lang: Lang) -> Proposal:
    """The form's dates and document: an uploaded file wins over the pasted text."""
    reference = _field(form, "reference")
    upload: Any = form.get("reference_file")  # an uploaded file (starlette's), or absent
    if upload is not None and not isinstance(upload, str):
        raw = await upload.read(MAX_REFERENCE + 1)
        if len(raw) > MAX_REFERENCE:
            raise Unusable(413, text(lang, "whatif.too_large"))
        if raw.strip():
            try:
                reference = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise Unusable(422, text(lang, "whatif.not_json")) from None
    return Proposal(_field(form, "since").strip(), _field(form, "until").strip(), reference)


def _body(proposal: Proposal, lang: Lang) -> dict[str, Any]:
    """Routing's request: the dates checked here too, so a typo is named on the page."""
    try:
        since = date.fromisoformat(proposal.since)
        until = date.fromisoformat(proposal.until) if proposal.until else None
    except ValueError:
        raise Unusable(422, text(lang, "whatif.bad_dates")) from None
    if until is not None and until < since:
        raise Unusable(422, text(lang, "whatif.bad_dates"))
    if not proposal.reference.strip():
        raise Unusable(422, text(lang, "whatif.no_reference"))
    try:
        reference = json.loads(proposal.reference)
    except ValueError:
        raise Unusable(422, text(lang, "whatif.not_json")) from None
    if not isinstance(reference, dict):
        raise Unusable(422, text(lang, "whatif.not_json"))
    body: dict[str, Any] = {"since": since.isoformat(), "reference": reference}
    if until is not None:
        body["until"] = until.isoformat()
    return body | {"examples": EXAMPLES}


async def _ask_routing(
    dash: Dashboard, token: str, body: dict[str, Any], csv: bool, lang: Lang
) -> httpx.Response:
    """Routing's answer (200), or why there is none as a message."""
    settings = dash.settings
    try:
        async with httpx.AsyncClient(
            base_url=settings.routing_url, timeout=settings.routing_timeout
        ) as client:
            answer = await client.post(
                "/v1/what-if",
                params={"format": "csv" if csv else "json"},
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
    except httpx.HTTPError:
        raise Unusable(502, text(lang, "whatif.routing_away")) from None
    if answer.status_code == 200:
        return answer
    if answer.status_code >= 500 or answer.status_code == 429:
        raise Unusable(502, text(lang, "whatif.routing_away"))
    raise Unusable(answer.status_code, _refusal(answer, lang))


def _refusal(answer: httpx.Response, lang: Lang) -> str:
    """Routing's problem document in one message: its title, detail and fields at fault."""
    if answer.status_code in (401, 403):
        return text(lang, "whatif.token_refused")
    try:
        problem = answer.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    parts = [str(problem.get("title") or answer.reason_phrase)]
    if problem.get("detail"):
        parts.append(str(problem["detail"]))
    for field in problem.get("problems") or []:
        if isinstance(field, dict):
            parts.append(f"{field.get('field')}: {field.get('message')}")
    return text(lang, "whatif.refused", reason="; ".join(parts))
