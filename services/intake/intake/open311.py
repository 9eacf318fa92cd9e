"""Open311 GeoReport v2 under /open311/v2: categories as services, reports as appeals.

A request posted here becomes a submission of type `report` (сообщение) from the integration
whose token is the `api_key`; errors are the spec's `[{code, description}]` list.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from appeals_contracts.submission import AppealSubmission
from appeals_platform.auth import AuthError, Principal, Role, TokenVerifier
from appeals_platform.runtime import Runtime
from intake import db, handlers
from intake.errors import validation_problems
from intake.reference import Codes
from intake.registrar import Registrar

KAZAKH_LETTERS = re.compile("[әғқңөұүһіӘҒҚҢӨҰҮҺІ]")
MAX_LIMIT = 1000


def errors(status: int, *descriptions: str) -> JSONResponse:
    return JSONResponse(
        [{"code": status, "description": d} for d in descriptions], status_code=status
    )


def service_list(codes: Codes) -> list[dict[str, Any]]:
    ref = codes.reference
    groups = {g.code: g for g in ref.groups}
    return [
        {
            "service_code": c.code,
            "service_name": c.name_ru,
            "description": c.description_ru or c.name_ru,
            "metadata": False,
            "type": "realtime",
            "keywords": ", ".join(c.keywords_ru[:8]),
            "group": groups[c.group].name_ru if c.group in groups else c.group,
        }
        for c in ref.categories
    ]


def submission_from_form(form: dict[str, str]) -> dict[str, Any]:
    description = form.get("description", "").strip()
    name = " ".join(p for p in (form.get("first_name", ""), form.get("last_name", "")) if p)
    # Open311 has no idempotency key: identical content from one integration is one appeal.
    digest = hashlib.sha256(
        "\x1f".join(f"{k}={form[k]}" for k in sorted(form) if k != "api_key").encode()
    ).hexdigest()[:40]
    lat, lon = form.get("lat"), form.get("long")
    return {
        "external_id": f"open311-{digest}",
        "type": "report",
        "language": "kk" if KAZAKH_LETTERS.search(description) else "ru",
        "submitted_at": datetime.now(UTC).isoformat(),
        "applicant": {
            "kind": "anonymous",
            "full_name": name or None,
            "phone": form.get("phone") or None,
            "email": form.get("email") or None,
        },
        "subject": (description.splitlines()[0][:120] if description else ""),
        # media_url has no checksum or size, so it cannot be an attachment of contract v1.
        "text": description + (f"\n\nmedia: {form['media_url']}" if form.get("media_url") else ""),
        "category": form.get("service_code") or None,
        "location": {
            "address": form.get("address_string") or None,
            "lat": float(lat) if lat else None,
            "lon": float(lon) if lon else None,
        },
    }


def request_view(row: Any) -> dict[str, Any]:
    submission = row["submission"]
    location = submission.get("location") or {}
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if row["answered_at"] else "open",
        "status_notes": row["status"],
        "service_name": row["category"],
        "service_code": row["category"],
        "description": submission.get("text"),
        "agency_responsible": row["agency"],
        "service_notice": row["registration_number"],
        "requested_datetime": handlers.local(row["registered_at"]),
        "updated_datetime": handlers.local(row["updated_at"]),
        "expected_datetime": handlers.local(row["due_at"]),
        "address": location.get("address"),
        "lat": location.get("lat"),
        "long": location.get("lon"),
        "media_url": None,
    }


def parse_moment(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def router(runtime: Runtime, registrar: Registrar, codes: Codes) -> APIRouter:
    api = APIRouter(prefix="/open311/v2", tags=["open311"])
    known = {c.code for c in codes.reference.categories}

    def authenticate(request: Request, api_key: str | None) -> Principal | JSONResponse:
        verifier: TokenVerifier = request.app.state.verifier
        if not api_key:
            return errors(401, "api_key is required: an integration token")
        try:
            principal = verifier.verify(api_key)
        except AuthError as exc:
            return errors(401, str(exc))
        if principal.role is not Role.INTEGRATION:
            return errors(403, "api_key must be an integration token")
        return principal

    @api.get("/services.json")
    async def services() -> list[dict[str, Any]]:
        return service_list(codes)

    @api.get("/services/{service_code}.json")
    async def service_definition(service_code: str) -> JSONResponse:
        if service_code not in known:
            return errors(404, f"unknown service_code {service_code[:64]}")
        return JSONResponse({"service_code": service_code, "attributes": []})

    @api.post("/requests.json")
    async def post_request(request: Request) -> JSONResponse:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        principal = authenticate(request, form.get("api_key"))
        if isinstance(principal, JSONResponse):
            return principal
        missing = []
        if not form.get("service_code"):
            missing.append("service_code is required")
        if not (form.get("lat") and form.get("long")) and not form.get("address_string"):
            missing.append("a location is required: lat and long, or address_string")
        if not form.get("description", "").strip():
            missing.append("description is required")
        if missing:
            return errors(400, *missing)
        if form["service_code"] not in known:
            return errors(400, f"unknown service_code {form['service_code'][:64]}")
        try:
            submission = AppealSubmission.model_validate(submission_from_form(form))
        except (ValidationError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                return errors(
                    400, *(f"{p['field']}: {p['message']}" for p in validation_problems(exc))
                )
            return errors(400, "lat and long must be numbers")
        assert principal.source is not None
        registration = await registrar.register(
            handlers.Application(submission, principal.source, "open311", datetime.now(UTC))
        )
        return JSONResponse(
            [
                {
                    "service_request_id": str(registration.appeal_id),
                    "service_notice": f"registered as {registration.registration_number}",
                    "account_id": None,
                }
            ],
            status_code=201 if registration.outcome == "created" else 200,
        )

    @api.get("/requests.json")
    async def get_requests(request: Request) -> JSONResponse:
        q = request.query_params
        try:
            start, end = parse_moment(q.get("start_date")), parse_moment(q.get("end_date"))
            ids = (
                [uuid.UUID(i) for i in q["service_request_id"].split(",")]
                if q.get("service_request_id")
                else None
            )
        except ValueError:
            return errors(400, "dates must be ISO-8601 (w3c) and ids must be request ids")
        status = q.get("status")
        if status not in (None, "open", "closed"):
            return errors(400, "status must be open or closed")
        categories = q["service_code"].split(",") if q.get("service_code") else None
        if start is None and end is None and ids is None:
            # The spec's default window: the last 90 days, at most 1000 requests.
            end = datetime.now(UTC)
            start = end - timedelta(days=90)
        async with runtime.pool.acquire() as conn:
            rows = await db.list_requests(
                conn,
                categories=categories,
                start=start,
                end=end,
                status=status,
                ids=ids,
                limit=MAX_LIMIT,
            )
        return JSONResponse([request_view(r) for r in rows])

    @api.get("/requests/{request_id}.json")
    async def get_request(request_id: str) -> JSONResponse:
        try:
            appeal_id = uuid.UUID(request_id)
        except ValueError:
            return errors(404, "no such service request")
        async with runtime.pool.acquire() as conn:
            rows = await db.list_requests(
                conn, categories=None, start=None, end=None, status=None, ids=[appeal_id], limit=1
            )
        if not rows:
            return errors(404, "no such service request")
        return JSONResponse([request_view(rows[0])])

    return api
