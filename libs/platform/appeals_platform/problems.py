"""Refusals: what a handler raises when it will not do what was asked, and the problem document
(RFC 9457) every service answers with.

Handlers know nothing of HTTP: they raise `Refused` with a status, a title, and for invalid
input the field problems; `appeals_platform.api` turns it (and FastAPI's own errors) into
`application/problem+json`, in one place for every service.

Messages never carry what was sent: no IIN, name or text comes back, so a problem body can be
logged and shown anywhere. Field paths are dotted with list indexes in brackets
(`attachments[3].url`); a problem with the body as a whole has the field `body`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, ValidationError
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

# check_codes already returns this shape, so its results go into a refusal unchanged.
FieldProblem = FieldError

MEDIA_TYPE = "application/problem+json"
BODY_FIELD = "body"
MAX_PROBLEMS = 50


class Refused(Exception):
    """A request the service will not carry out, and why.

    `status` is the HTTP status it maps to (the only HTTP notion a handler needs), `title` a
    short summary that does not change between occurrences, `detail` this occurrence,
    `problems` the fields at fault, `headers` what the answer must carry (WWW-Authenticate,
    Link, Retry-After).
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        problems: Sequence[FieldProblem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(title if detail is None else f"{title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.problems = list(problems)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return problem_body(self.status, self.title, self.problems, detail=self.detail)


class NotYet(Refused):
    """A refusal a moment may cure: what the request needs has not reached this service yet.

    Each service follows the others through Kafka, so an agency that acts the moment it reads
    its assignment can be ahead of the service it acts through: intake learns the assignment,
    and deadlines opens its clock, a few ms or up to a gathering fetch's wait later
    (`consumer_gather_ms`). HTTP answers with Retry-After; an agency's Kafka command is tried
    again for a few seconds before it is refused (`appeals_platform.actions`).
    """

    def __init__(
        self, status: int, title: str, detail: str | None = None, *, retry_after: int = 1
    ) -> None:
        super().__init__(status, title, detail, headers={"Retry-After": str(retry_after)})


class ProblemField(BaseModel):
    """One field at fault."""

    field: str = Field(description="the path of the field, e.g. `attachments[3].url`; `body`")
    message: str = Field(description="what is wrong with it; never echoes the value")


class Problem(BaseModel):
    """An RFC 9457 problem document: every error of every service has this shape."""

    type: str = Field("about:blank", description="always about:blank: the status says it")
    title: str = Field(description="a short summary of the kind of problem")
    status: int = Field(description="the HTTP status code")
    detail: str | None = Field(None, description="this occurrence, when there is more to say")
    problems: list[ProblemField] = Field(
        default_factory=list, description="the fields at fault, for invalid input"
    )


def problem_body(
    status: int,
    title: str,
    problems: Iterable[FieldProblem] = (),
    *,
    detail: str | None = None,
) -> dict[str, Any]:
    """The problem document (shaped as `Problem`) of a refusal."""
    listed = [FieldProblem(field=p["field"], message=p["message"]) for p in problems]
    if detail is None and listed:
        count = len(listed)
        detail = f"{count} field{'s' if count != 1 else ''} failed validation; see problems."
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body["problems"] = listed
    return body


# ------------------------------------------------------------------ validation errors

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
    "literal_error": _enum_message,
    "string_type": _fixed("must be a string"),
    "string_too_short": _too_short,
    "string_too_long": lambda e: f"must be at most {_ctx(e, 'max_length')} characters long",
    "string_pattern_mismatch": _pattern,
    "timezone_aware": _fixed(f"must include a UTC offset, e.g. {_EXAMPLE_TIME}"),
    "datetime_parsing": _datetime,
    "datetime_from_date_parsing": _datetime,
    "datetime_type": _datetime,
    "date_parsing": _fixed("must be an ISO-8601 date, e.g. 2026-03-01"),
    "date_from_datetime_parsing": _fixed("must be an ISO-8601 date, e.g. 2026-03-01"),
    "date_type": _fixed("must be an ISO-8601 date, e.g. 2026-03-01"),
    "uuid_parsing": _fixed("must be a UUID, e.g. 0b6f1e2c-3d4a-4b5c-8d9e-0f1a2b3c4d5e"),
    "uuid_type": _fixed("must be a UUID, e.g. 0b6f1e2c-3d4a-4b5c-8d9e-0f1a2b3c4d5e"),
    "bool_parsing": _fixed("must be true or false"),
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


def field_path(loc: Sequence[int | str]) -> str:
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
        if contract in _CONTRACT_NAMES.values():
            return (
                f"unknown field '{name}' is not part of the {contract} contract v{CONTRACT_VERSION}"
            )
        return f"unknown field '{name}'"
    describe = _MESSAGES.get(error["type"])
    # The contract's own errors are written for integrators; pydantic's never echo the input.
    message = describe(error) if describe is not None else error["msg"]
    return mask_identifiers_in_text(message)


def error_problems(
    errors: Iterable[ErrorDetails], contract: str = "request", limit: int = MAX_PROBLEMS
) -> list[FieldProblem]:
    """One problem per failed field; past `limit` a last note says there are more."""
    problems: list[FieldProblem] = []
    seen: set[tuple[str, str]] = set()
    for error in errors:
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


def validation_problems(exc: ValidationError, limit: int = MAX_PROBLEMS) -> list[FieldProblem]:
    """The field problems of a pydantic validation error (the input never echoed)."""
    contract = _CONTRACT_NAMES.get(exc.title, exc.title)
    return error_problems(exc.errors(include_url=False, include_input=False), contract, limit)
