"""Validation failures as field problems an integration developer can act on, and problem bodies.

Messages never carry what was sent: no IIN, name or text comes back, so a 422 body can be
logged and shown anywhere. Field paths are dotted with list indexes in brackets
(`attachments[3].url`); a problem with the body as a whole has the field `body`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from appeals_contracts.identity import mask_identifiers_in_text
from appeals_contracts.submission import (
    CODE_PATTERN,
    CONTRACT_VERSION,
    DIGITS12_PATTERN,
    EMAIL_PATTERN,
    EXTERNAL_ID_PATTERN,
    PHONE_PATTERN,
    SHA256_PATTERN,
    FieldError,
)

# check_codes already returns this shape, so its results go into problem_body unchanged.
FieldProblem = FieldError

BODY_FIELD = "body"
MAX_PROBLEMS = 50
_MAX_NAME_CHARS = 64
_EXAMPLE_TIME = "2026-03-01T10:00:00+05:00"

_PATTERN_HINTS = {
    CODE_PATTERN: "must be a code of upper-case Latin letters and digits joined by hyphens, "
    "2-64 characters, e.g. HOUSING-HEATING",
    EXTERNAL_ID_PATTERN: "must start with a letter or digit and hold only Latin or Cyrillic "
    "letters, digits and . _ : / # -",
    DIGITS12_PATTERN: "must be exactly 12 digits",
    PHONE_PATTERN: "must be a phone number: digits, spaces, parentheses and hyphens with an "
    "optional leading +, e.g. +7 701 123 45 67",
    EMAIL_PATTERN: "must be an email address, e.g. name@example.kz",
    SHA256_PATTERN: "must be 64 hexadecimal digits: the SHA-256 of the file",
}

_CONTRACT_NAMES = {"AppealSubmission": "submission", "AnswerSubmission": "answer"}


def _ctx(error: ErrorDetails, key: str) -> Any:
    return error.get("ctx", {}).get(key)


def _enum_message(error: ErrorDetails) -> str:
    choices = re.findall(r"'([^']*)'", str(_ctx(error, "expected")))
    return "must be one of " + ", ".join(choices)


def _too_short(error: ErrorDetails) -> str:
    minimum = _ctx(error, "min_length")
    if minimum == 1:
        return "must not be empty or only whitespace"
    return f"must be at least {minimum} characters long"


def _pattern(error: ErrorDetails) -> str:
    return _PATTERN_HINTS.get(str(_ctx(error, "pattern")), "has the wrong format")


def _datetime(_: ErrorDetails) -> str:
    return f"must be an ISO-8601 date-time with a UTC offset, e.g. {_EXAMPLE_TIME}"


def _fixed(message: str) -> Callable[[ErrorDetails], str]:
    return lambda _: message


_MESSAGES: dict[str, Callable[[ErrorDetails], str]] = {
    "missing": _fixed("is required"),
    "enum": _enum_message,
    "string_type": _fixed("must be a string"),
    "string_too_short": _too_short,
    "string_too_long": lambda e: f"must be at most {_ctx(e, 'max_length')} characters long",
    "string_pattern_mismatch": _pattern,
    "timezone_aware": _fixed(f"must include a UTC offset, e.g. {_EXAMPLE_TIME}"),
    "datetime_parsing": _datetime,
    "datetime_from_date_parsing": _datetime,
    "datetime_type": _datetime,
    "bool_type": _fixed("must be true or false"),
    "int_type": _fixed("must be an integer"),
    "int_parsing": _fixed("must be an integer"),
    "int_from_float": _fixed("must be an integer"),
    "float_type": _fixed("must be a number"),
    "float_parsing": _fixed("must be a number"),
    "finite_number": _fixed("must be a finite number"),
    "greater_than_equal": lambda e: f"must be at least {_ctx(e, 'ge')}",
    "less_than_equal": lambda e: f"must be at most {_ctx(e, 'le')}",
    "model_type": _fixed("must be a JSON object"),
    "model_attributes_type": _fixed("must be a JSON object"),
    "dict_type": _fixed("must be a JSON object"),
    "tuple_type": _fixed("must be a JSON array"),
    "list_type": _fixed("must be a JSON array"),
    "too_long": lambda e: f"must hold at most {_ctx(e, 'max_length')} items",
    "json_invalid": lambda e: f"is not valid JSON: {_ctx(e, 'error')}",
    "json_type": _fixed("must be a JSON document"),
}


def _safe_name(name: str) -> str:
    """A client-chosen key made fit to echo: printable, short, and never an identifier."""
    printable = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in name)
    if len(printable) > _MAX_NAME_CHARS:
        printable = printable[:_MAX_NAME_CHARS] + "…"
    return mask_identifiers_in_text(printable)


def field_path(loc: tuple[int | str, ...]) -> str:
    """("attachments", 3, "url") -> "attachments[3].url"; () -> "body"."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + _safe_name(part)
    return path or BODY_FIELD


def _message(error: ErrorDetails, contract: str) -> str:
    if error["type"] == "extra_forbidden":
        name = _safe_name(str(error["loc"][-1])) if error["loc"] else "?"
        return f"unknown field '{name}' is not part of the {contract} contract v{CONTRACT_VERSION}"
    describe = _MESSAGES.get(error["type"])
    # The contract's own errors are written for integrators; pydantic's never echo the input.
    message = describe(error) if describe is not None else error["msg"]
    return mask_identifiers_in_text(message)


def validation_problems(exc: ValidationError, limit: int = MAX_PROBLEMS) -> list[FieldProblem]:
    """One problem per failed field; past `limit` a last note says there are more."""
    contract = _CONTRACT_NAMES.get(exc.title, exc.title)
    problems: list[FieldProblem] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors(include_url=False, include_input=False):
        problem = FieldProblem(field=field_path(error["loc"]), message=_message(error, contract))
        key = (problem["field"], problem["message"])
        if key in seen:
            continue
        if len(problems) == limit:
            problems.append(
                FieldProblem(
                    field=BODY_FIELD, message=f"has more problems; the first {limit} are listed"
                )
            )
            break
        seen.add(key)
        problems.append(problem)
    return problems


def problem_body(
    status: int,
    title: str,
    problems: list[FieldProblem],
    *,
    detail: str | None = None,
    type_uri: str = "about:blank",
) -> dict[str, Any]:
    """An RFC 9457 (ex-7807) problem document with the field problems under `errors`."""
    if detail is None and problems:
        count = len(problems)
        detail = f"{count} field{'s' if count != 1 else ''} failed validation; see errors."
    body: dict[str, Any] = {"type": type_uri, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body["errors"] = list(problems)
    return body
