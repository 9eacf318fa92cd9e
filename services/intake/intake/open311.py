"""Open311 GeoReport v2 under /open311/v2: categories as services, reports as appeals.

Every resource answers in JSON (`.json`) and in XML (`.xml`, the spec's default format);
errors are the spec's `[{code, description}]` list, or `<errors><error>` in XML.

A request posted here becomes a submission of type `report` (сообщение) from the integration
whose token is the `api_key`; the form field `public=true` is the applicant's choice to
publish it. Reads without a key list only published appeals, redacted
(`appeals_contracts.redaction`); with a key (`api_key` or `Authorization: Bearer`) a reader
also sees, in full, the appeals the v1 API would show it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from xml.etree import ElementTree

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from appeals_contracts.redaction import coarse, redact_text, street_level
from appeals_contracts.submission import CODE_PATTERN, AppealSubmission
from appeals_platform.auth import AuthError, Principal, Role, TokenVerifier, bearer_token
from appeals_platform.problems import validation_problems
from appeals_platform.runtime import Runtime
from intake import db, handlers
from intake.access import can_see
from intake.reference import Codes
from intake.registrar import Registrar

KAZAKH_LETTERS = re.compile("[әғқңөұүһіӘҒҚҢӨҰҮҺІ]")
MAX_LIMIT = 1000
Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")
XML_TYPE = "text/xml; charset=utf-8"
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


# ---------------------------------------------------------------- documents (JSON shapes)


class Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[dict[str, Any]]


class ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Created(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None


class Error(BaseModel):
    code: int
    description: str


# The element names of each document in XML, as GeoReport v2 spells them: (root, item).
XML_NAMES = {
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}


def xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def xml_element(name: str, value: Any) -> ElementTree.Element:
    element = ElementTree.Element(name)
    if isinstance(value, Mapping):
        for key, inner in value.items():
            element.append(xml_element(key, inner))
    elif isinstance(value, list):
        # A list inside an item (a definition's attributes): <attributes><attribute>...
        for inner in value:
            element.append(xml_element(name.removesuffix("s"), inner))
    else:
        element.text = xml_text(value)
    return element


def xml_document(root: str, item: str | None, body: Any) -> bytes:
    if item is None:
        document = xml_element(root, body)
    else:
        document = ElementTree.Element(root)
        for entry in body:
            document.append(xml_element(item, entry))
    return bytes(ElementTree.tostring(document, encoding="utf-8", xml_declaration=True))


def answer(fmt: Format, kind: str, body: Any, status: int = 200) -> Response:
    """A list document (`kind` in XML_NAMES) or, for `service_definition`, one object."""
    if fmt == "json":
        return JSONResponse(body, status_code=status)
    root, item = XML_NAMES.get(kind, (kind, None))
    return Response(xml_document(root, item, body), status_code=status, media_type=XML_TYPE)


def errors(fmt: Format, status: int, *descriptions: str) -> Response:
    return answer(fmt, "errors", [{"code": status, "description": d} for d in descriptions], status)


def documented(fmt: Format, model: Any, description: str) -> dict[str, Any]:
    """An OpenAPI response: the JSON schema of `model`, or a GeoReport XML document."""
    if fmt == "json":
        return {"model": model, "description": description}
    return {
        "description": description + " (GeoReport v2 XML)",
        "content": {"text/xml": {"schema": {"type": "string"}}},
    }


def error_responses(fmt: Format, statuses: Mapping[int, str]) -> dict[int | str, Any]:
    return {status: documented(fmt, list[Error], text) for status, text in statuses.items()}


# ---------------------------------------------------------------- views


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
        "public": form.get("public", "").strip().lower() in TRUE,
    }


def request_view(row: Any, names: Mapping[str, str], *, full: bool) -> dict[str, Any]:
    """A service request; `full` for a reader entitled to the appeal, else the public view:
    the text redacted and the place cut to the street (appeals_contracts.redaction)."""
    submission = row["submission"]
    location = submission.get("location") or {}
    text, address = submission.get("text"), location.get("address")
    lat, lon = location.get("lat"), location.get("lon")
    if not full:
        applicant = submission.get("applicant") or {}
        known = [applicant["full_name"]] if applicant.get("full_name") else []
        text = redact_text(text or "", known)
        address, lat, lon = street_level(address), coarse(lat), coarse(lon)
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if row["answered_at"] else "open",
        "status_notes": row["status"],
        "service_name": names.get(row["category"]) if row["category"] else None,
        "service_code": row["category"],
        "description": text,
        "agency_responsible": row["agency"],
        "service_notice": row["registration_number"],
        "requested_datetime": handlers.local(row["registered_at"]),
        "updated_datetime": handlers.local(row["updated_at"]),
        "expected_datetime": handlers.local(row["due_at"]),
        "address": address,
        "lat": lat,
        "long": lon,
        "media_url": None,
    }


def parse_moment(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# The filters of GET requests as documented (the handler checks them itself and answers
# GeoReport's 400 error list, which is what Open311 clients read).
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CODE = CODE_PATTERN.strip("^$")


def _filter(description: str, **schema: Any) -> Any:
    """A query parameter whose absence is the empty string (GeoReport clients send both)."""
    return Query("", description=description, json_schema_extra=schema)


def _moment() -> Any:
    return _filter("w3c date-time", anyOf=[{"format": "date-time"}, {"maxLength": 0}])


SERVICE_CODES_RE = re.compile(f"({_CODE})(,{_CODE})*")


def visibility(principal: Principal | None) -> db.Visibility:
    """What a reader lists beside the public appeals: the same appeals `can_see` allows."""
    if principal is None:
        return db.Visibility()
    if principal.role in (Role.OPERATOR, Role.MONITORING):
        return db.Visibility(everything=True)
    if principal.role is Role.INTEGRATION:
        return db.Visibility(source=principal.source)
    return db.Visibility(agency=principal.agency)


# ---------------------------------------------------------------- routes

Endpoint = Callable[..., Awaitable[Response]]
READ_ERRORS = {401: "The api_key or bearer token is not valid."}


def router(runtime: Runtime, registrar: Registrar, codes: Codes) -> APIRouter:
    api = APIRouter(prefix="/open311/v2", tags=["open311"])
    known = {c.code for c in codes.reference.categories}
    category_names = {c.code: c.name_ru for c in codes.reference.categories}

    def reader(request: Request) -> Principal | str | None:
        """The reader's principal, None for an anonymous read, or why the key is refused."""
        key = request.query_params.get("api_key") or bearer_token(request)
        if not key:
            return None
        verifier: TokenVerifier = request.app.state.verifier
        try:
            return verifier.verify(key)
        except AuthError as exc:
            return str(exc)

    def writer(request: Request, api_key: str | None) -> Principal | Response:
        """The posting integration, or the error document that refuses the post."""
        verifier: TokenVerifier = request.app.state.verifier
        key = api_key or bearer_token(request)
        fmt: Format = "xml" if request.url.path.endswith(".xml") else "json"
        if not key:
            return errors(fmt, 401, "api_key is required: an integration token")
        try:
            principal = verifier.verify(key)
        except AuthError as exc:
            return errors(fmt, 401, str(exc))
        if principal.role is not Role.INTEGRATION:
            return errors(fmt, 403, "api_key must be an integration token")
        return principal

    def services_endpoint(fmt: Format) -> Endpoint:
        async def services() -> Response:
            """Every category of the reference data, as a GeoReport service."""
            return answer(fmt, "services", service_list(codes))

        return services

    def definition_endpoint(fmt: Format) -> Endpoint:
        async def service_definition(service_code: str) -> Response:
            """A service's definition: no extra attributes are asked for."""
            if service_code not in known:
                return errors(fmt, 404, f"unknown service_code {service_code[:64]}")
            return answer(
                fmt, "service_definition", {"service_code": service_code, "attributes": []}
            )

        return service_definition

    def post_endpoint(fmt: Format) -> Endpoint:
        async def post_request(request: Request) -> Response:
            """Register a report (form fields of GeoReport v2; `public=true` to publish it)."""
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
            principal = writer(request, form.get("api_key"))
            if isinstance(principal, Response):
                return principal
            missing = []
            if not form.get("service_code"):
                missing.append("service_code is required")
            if not (form.get("lat") and form.get("long")) and not form.get("address_string"):
                missing.append("a location is required: lat and long, or address_string")
            if not form.get("description", "").strip():
                missing.append("description is required")
            if form.get("public", "").strip().lower() not in (*TRUE, *FALSE):
                missing.append("public must be true or false")
            if missing:
                return errors(fmt, 400, *missing)
            if form["service_code"] not in known:
                return errors(fmt, 400, f"unknown service_code {form['service_code'][:64]}")
            try:
                submission = AppealSubmission.model_validate(submission_from_form(form))
            except (ValidationError, ValueError) as exc:
                if isinstance(exc, ValidationError):
                    return errors(
                        fmt,
                        400,
                        *(f"{p['field']}: {p['message']}" for p in validation_problems(exc)),
                    )
                return errors(fmt, 400, "lat and long must be numbers")
            assert principal.source is not None
            registration = await registrar.register(
                handlers.Application(submission, principal.source, "open311", datetime.now(UTC))
            )
            created = {
                "service_request_id": str(registration.appeal_id),
                "service_notice": f"registered as {registration.registration_number}",
                "account_id": None,
            }
            return answer(
                fmt,
                "requests",
                [created],
                status=201 if registration.outcome == "created" else 200,
            )

        return post_request

    def list_endpoint(fmt: Format) -> Endpoint:
        async def get_requests(
            request: Request,
            service_request_id: str = _filter(
                "request ids, comma-separated", pattern=f"^({_UUID}(,{_UUID})*)?$"
            ),
            service_code: str = _filter(
                "service codes, comma-separated", pattern=f"^({_CODE}(,{_CODE})*)?$"
            ),
            start_date: str = _moment(),
            end_date: str = _moment(),
            status: str = _filter("open or closed", enum=["open", "closed", ""]),
            api_key: str | None = None,
            jurisdiction_id: str | None = None,
        ) -> Response:
            """Service requests: without a key only published appeals, redacted; with one,
            also the reader's own in full. At most 1000, by default of the last 90 days.

            Filters as GeoReport v2 says: ids (comma-separated, override the rest),
            service_code (comma-separated), start_date/end_date (w3c), status (open|closed).
            The key may come as `api_key` or as `Authorization: Bearer`, which keeps it out
            of URLs; jurisdiction_id is accepted and ignored (one jurisdiction)."""
            principal = reader(request)
            if isinstance(principal, str):
                return errors(fmt, 401, principal)
            try:
                start, end = parse_moment(start_date), parse_moment(end_date)
                ids = (
                    [uuid.UUID(i) for i in service_request_id.split(",")]
                    if service_request_id
                    else None
                )
            except ValueError:
                return errors(fmt, 400, "dates must be ISO-8601 (w3c) and ids must be request ids")
            if status not in ("", "open", "closed"):
                return errors(fmt, 400, "status must be open or closed")
            if service_code and not SERVICE_CODES_RE.fullmatch(service_code):
                return errors(fmt, 400, "service_code must be codes separated by commas")
            categories = service_code.split(",") if service_code else None
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
                    status=status or None,
                    ids=ids,
                    limit=MAX_LIMIT,
                    visible=visibility(principal),
                )
            return answer(fmt, "requests", views(rows, principal))

        return get_requests

    def one_endpoint(fmt: Format) -> Endpoint:
        async def get_request(
            request: Request,
            request_id: str,
            api_key: str | None = None,
            jurisdiction_id: str | None = None,
        ) -> Response:
            """One service request, under the same rules as the list."""
            principal = reader(request)
            if isinstance(principal, str):
                return errors(fmt, 401, principal)
            try:
                appeal_id = uuid.UUID(request_id)
            except ValueError:
                return errors(fmt, 404, "no such service request")
            async with runtime.pool.acquire() as conn:
                rows = await db.list_requests(
                    conn,
                    categories=None,
                    start=None,
                    end=None,
                    status=None,
                    ids=[appeal_id],
                    limit=1,
                    visible=visibility(principal),
                )
            if not rows:
                # The same answer for "absent" and "not published": ids are not an oracle.
                return errors(fmt, 404, "no such service request")
            return answer(fmt, "requests", views(rows, principal))

        return get_request

    def views(rows: Sequence[Any], principal: Principal | None) -> list[dict[str, Any]]:
        return [request_view(r, category_names, full=can_see(principal, r)) for r in rows]

    for fmt in FORMATS:
        api.add_api_route(
            f"/services.{fmt}",
            services_endpoint(fmt),
            methods=["GET"],
            response_class=Response,
            responses={200: documented(fmt, list[Service], "The services.")},
        )
        api.add_api_route(
            f"/services/{{service_code}}.{fmt}",
            definition_endpoint(fmt),
            methods=["GET"],
            response_class=Response,
            responses={
                200: documented(fmt, ServiceDefinition, "The service's definition."),
                **error_responses(fmt, {404: "No such service."}),
            },
        )
        api.add_api_route(
            f"/requests.{fmt}",
            post_endpoint(fmt),
            methods=["POST"],
            status_code=201,
            response_class=Response,
            responses={
                201: documented(fmt, list[Created], "Registered."),
                200: documented(fmt, list[Created], "The same content was registered before."),
                **error_responses(
                    fmt,
                    {
                        400: "A required field is missing or not valid.",
                        401: "No api_key, or it is not valid.",
                        403: "The api_key is not an integration's.",
                    },
                ),
            },
        )
        api.add_api_route(
            f"/requests.{fmt}",
            list_endpoint(fmt),
            methods=["GET"],
            response_class=Response,
            responses={
                200: documented(fmt, list[ServiceRequest], "The service requests."),
                **error_responses(fmt, {400: "A filter is not valid.", **READ_ERRORS}),
            },
        )
        api.add_api_route(
            f"/requests/{{request_id}}.{fmt}",
            one_endpoint(fmt),
            methods=["GET"],
            response_class=Response,
            responses={
                200: documented(fmt, list[ServiceRequest], "The service request."),
                **error_responses(fmt, {404: "No such request, or not one you may read."}),
                **error_responses(fmt, READ_ERRORS),
            },
        )
    return api
