"""Validation failures become problems an integration developer can act on."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from appeals_contracts.submission import AnswerSubmission, AppealSubmission, check_codes
from appeals_platform.problems import (
    MAX_PROBLEMS,
    FieldProblem,
    field_path,
    problem_body,
    validation_problems,
)
from tests.intake_contract.hostile import GOOD_IIN, valid_body


def _problems(body: dict[str, Any], model: Any = AppealSubmission) -> list[FieldProblem]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return validation_problems(caught.value)


def test_unknown_field_is_named_with_the_contract_version() -> None:
    assert _problems(valid_body() | {"foo": 1}) == [
        {"field": "foo", "message": "unknown field 'foo' is not part of the submission contract v1"}
    ]


def test_unknown_field_of_an_answer_names_the_answer_contract() -> None:
    body = {"outcome": "explained", "text": "т", "signed_at": "2026-03-01T10:00:00+05:00", "x": 1}
    assert _problems(body, AnswerSubmission)[0]["message"] == (
        "unknown field 'x' is not part of the answer contract v1"
    )


def test_unknown_field_with_a_long_or_unprintable_name_is_echoed_safely() -> None:
    problems = _problems(valid_body() | {"a\x00" + "b" * 500: 1})
    assert problems[0]["field"].startswith("a\\u0000bbb")
    assert len(problems[0]["field"]) < 80


def test_enum_problem_lists_the_allowed_values() -> None:
    assert _problems(valid_body() | {"type": "appeal"})[0]["message"] == (
        "must be one of statement, complaint, proposal, feedback, report, request"
    )


def test_naive_time_problem_shows_an_example_with_an_offset() -> None:
    problem = _problems(valid_body() | {"submitted_at": "2026-03-01T10:00:00"})[0]
    assert problem == {
        "field": "submitted_at",
        "message": "must include a UTC offset, e.g. 2026-03-01T10:00:00+05:00",
    }


def test_bad_iin_problem_says_what_is_wrong_without_the_number() -> None:
    body = valid_body()
    body["applicant"]["iin"] = GOOD_IIN[:11] + "9"
    assert _problems(body) == [{"field": "applicant.iin", "message": "the IIN fails its checksum"}]


def test_code_pattern_problem_explains_the_shape_of_a_code() -> None:
    message = _problems(valid_body() | {"category": "'; DROP TABLE appeals;--"})[0]["message"]
    assert "upper-case Latin letters and digits joined by hyphens" in message
    assert "DROP" not in message


def test_whitespace_only_text_is_reported_as_empty() -> None:
    assert _problems(valid_body() | {"text": " \n "})[0]["message"] == (
        "must not be empty or only whitespace"
    )


def test_invalid_json_is_a_problem_with_the_body() -> None:
    with pytest.raises(ValidationError) as caught:
        AppealSubmission.model_validate_json(b'{"external_id": ')
    [problem] = validation_problems(caught.value)
    assert problem["field"] == "body"
    assert problem["message"].startswith("is not valid JSON")


def test_a_flood_of_problems_is_cut_off_with_a_note() -> None:
    flood = valid_body() | {f"junk{n}": n for n in range(500)}
    problems = _problems(flood)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == {
        "field": "body",
        "message": f"has more problems; the first {MAX_PROBLEMS} are listed",
    }


def test_field_path_puts_list_indexes_in_brackets() -> None:
    assert field_path(("attachments", 3, "url")) == "attachments[3].url"
    assert field_path(()) == "body"


def test_problem_body_is_an_rfc_9457_document_with_the_problems() -> None:
    problems = [FieldProblem(field="text", message="must not be empty or only whitespace")]
    assert problem_body(422, "The submission is invalid", problems) == {
        "type": "about:blank",
        "title": "The submission is invalid",
        "status": 422,
        "detail": "1 field failed validation; see problems.",
        "problems": problems,
    }


def test_check_codes_results_go_into_a_problem_body_unchanged() -> None:
    sub = AppealSubmission.model_validate(valid_body() | {"category": "NO-SUCH"})
    problems = check_codes(sub, set(), {"KRG-KARAGANDA"}, set())
    body = problem_body(422, "Unknown codes", problems, detail="See the reference data.")
    assert body["problems"] == [
        {"field": "category", "message": "NO-SUCH is not a category code of the reference data"}
    ]
    assert body["detail"] == "See the reference data."
