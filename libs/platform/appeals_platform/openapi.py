"""The OpenAPI document of a service: every refusal an operation can answer with, documented
from one declaration with the problem+json schema.

Statuses that follow from how an operation is declared are added here, not copied per route:
401, 403 and 503 for an operation that needs a bearer token (its roles are in its `security`),
422 for one with parameters or a body, 400, 413 and 415 for one with a body. A route adds only
what its handler decides: `responses=refusals(404, 409)`.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from appeals_platform.problems import MEDIA_TYPE, Problem

REF_TEMPLATE = "#/components/schemas/{model}"
PROBLEM_REF = {"$ref": REF_TEMPLATE.format(model="Problem")}
# Carries a body model's schemas from `json_request` to the document's components.
_COMPONENTS_KEY = "x-appeals-components"

GUARDED = (401, 403, 503)
WITH_INPUT = (422,)
WITH_BODY = (400, 413, 415)


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: the refusals its handler raises beyond the declared ones."""
    return {status: {"description": HTTPStatus(status).phrase} for status in statuses}


def json_request(model: type[BaseModel], description: str | None = None) -> dict[str, Any]:
    """`openapi_extra=` of a route that reads its JSON body itself: the body it accepts."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    components = {model.__name__: schema, **schema.pop("$defs", {})}
    body: dict[str, Any] = {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}
        },
    }
    if description:
        body["description"] = description
    return {"requestBody": body, _COMPONENTS_KEY: components}


def _is_placeholder(response: dict[str, Any]) -> bool:
    """No content, or FastAPI's own: an empty schema or its validation-error schema."""
    content = response.get("content")
    if not content:
        return True
    schemas = [media.get("schema", {}) for media in content.values()]
    return all(
        not schema or schema.get("$ref", "").endswith("/HTTPValidationError") for schema in schemas
    )


# api.UrlGuard refuses a NUL anywhere in a URL: said on every text parameter without a
# pattern of its own (those patterns exclude it already).
NO_NUL = "^[^\\u0000]*$"


def _no_nul(schema: dict[str, Any]) -> None:
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string" and not {"pattern", "enum", "format"} & set(branch):
            branch["pattern"] = NO_NUL


def _document(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", ()):
        _no_nul(parameter.get("schema", {}))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses: list[int] = []
    if operation.get("security"):
        statuses += GUARDED
    if operation.get("parameters") or operation.get("requestBody"):
        statuses += WITH_INPUT
    if operation.get("requestBody"):
        statuses += WITH_BODY
    for status in statuses:
        responses.setdefault(str(status), {"description": HTTPStatus(status).phrase})
    success: dict[str, Any] = next(
        (
            r["content"]
            for code, r in responses.items()
            if code.startswith("2") and r.get("content")
        ),
        {"application/json": {"schema": {}}},
    )
    for code, response in responses.items():
        if code.startswith("2") and not response.get("content"):
            response["content"] = success
        elif code[0] in "45" and _is_placeholder(response):
            response["content"] = {MEDIA_TYPE: {"schema": PROBLEM_REF}}
    operation["responses"] = dict(sorted(responses.items()))


def install_openapi(app: FastAPI) -> None:
    """Replace the app's document builder with one that documents every refusal."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
        for item in document.get("paths", {}).values():
            for operation in item.values():
                schemas.update(operation.pop(_COMPONENTS_KEY, {}))
                _document(operation)
        problem = Problem.model_json_schema(ref_template=REF_TEMPLATE)
        schemas.update({"Problem": problem, **problem.pop("$defs", {})})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        document["components"]["schemas"] = dict(sorted(schemas.items()))
        app.openapi_schema = document
        return document

    openapi: Callable[[], dict[str, Any]] = build
    app.openapi = openapi  # type: ignore[method-assign]
