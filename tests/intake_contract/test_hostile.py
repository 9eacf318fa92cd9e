"""Every hostile body is rejected with a useful, personal-data-free problem; odd ones pass."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from appeals_contracts.submission import AppealSubmission
from appeals_platform.problems import FieldProblem, validation_problems
from tests.intake_contract.hostile import HOSTILE, VALID_ODD, as_json, valid_body

TWELVE_DIGITS = re.compile(r"[0-9]{12}")


def _problems(validate: Any) -> list[FieldProblem]:
    with pytest.raises(ValidationError) as caught:
        validate()
    return validation_problems(caught.value)


def _ids(cases: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [description for description, _ in cases]


def test_the_base_of_every_hostile_body_is_valid() -> None:
    AppealSubmission.model_validate(valid_body())


def test_hostile_descriptions_are_unique() -> None:
    assert len(set(_ids(HOSTILE))) == len(HOSTILE)


@pytest.mark.parametrize(("description", "body"), HOSTILE, ids=_ids(HOSTILE))
def test_hostile_body_is_rejected_with_a_problem_on_the_field_it_attacks(
    description: str, body: dict[str, Any]
) -> None:
    problems = _problems(lambda: AppealSubmission.model_validate(body))
    named_field = description.split(":")[0]
    assert named_field in [p["field"] for p in problems]
    for problem in problems:
        assert problem["field"]
        assert problem["message"]
        assert not TWELVE_DIGITS.search(problem["field"] + problem["message"])


@pytest.mark.parametrize(("description", "body"), HOSTILE, ids=_ids(HOSTILE))
def test_hostile_body_sent_as_json_is_rejected_without_echoing_identifiers(
    description: str, body: dict[str, Any]
) -> None:
    problems = _problems(lambda: AppealSubmission.model_validate_json(as_json(body)))
    assert problems, description
    for problem in problems:
        assert problem["field"]
        assert not TWELVE_DIGITS.search(problem["field"] + problem["message"])


@pytest.mark.parametrize(("description", "body"), VALID_ODD, ids=_ids(VALID_ODD))
def test_odd_but_valid_body_is_accepted_from_python_and_from_json(
    description: str, body: dict[str, Any]
) -> None:
    from_python = AppealSubmission.model_validate(body)
    assert AppealSubmission.model_validate_json(as_json(body)) == from_python, description
