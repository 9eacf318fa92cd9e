"""Submission contract v1: the dev set, normalisation, fingerprints, differences, answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from appeals_contracts.submission import (
    AnswerOutcome,
    AnswerSubmission,
    AppealSubmission,
    AppealType,
    ApplicantKind,
    Subject,
    TerminationGround,
    Text,
    check_codes,
)
from tests.intake_contract.hostile import GOOD_IIN, GOOD_SHA256, valid_body

DEV_SET = Path(__file__).resolve().parents[2] / "examples" / "appeals-dev.jsonl"


def _dev_lines() -> list[str]:
    return DEV_SET.read_text("utf-8").splitlines()


def _sub(body: dict[str, Any]) -> AppealSubmission:
    return AppealSubmission.model_validate(body)


def test_all_80_dev_set_appeals_validate_from_python_and_from_json() -> None:
    lines = _dev_lines()
    assert len(lines) == 80
    for line in lines:
        from_json = AppealSubmission.model_validate_json(line)
        assert AppealSubmission.model_validate(json.loads(line)) == from_json


def test_dev_set_appeal_keeps_its_values_and_types() -> None:
    first = AppealSubmission.model_validate_json(_dev_lines()[0])
    assert first.type is AppealType.COMPLAINT
    assert first.applicant.kind is ApplicantKind.INDIVIDUAL
    assert first.applicant.iin == "790322499544"
    assert first.submitted_at.utcoffset() is not None
    assert first.category == "HOUSING-HEATING"
    assert first.attachments == ()


def test_strings_are_stripped_and_normalised_to_nfc() -> None:
    body = valid_body() | {"subject": "  Мои\u0306 двор \t", "text": "\n е\u0308лка \r\n"}
    sub = _sub(body)
    assert sub.subject == "Мой двор"
    assert sub.text == "ёлка"


def test_sha256_is_stored_lower_case() -> None:
    body = valid_body()
    body["attachments"][0]["sha256"] = GOOD_SHA256.upper()
    assert _sub(body).attachments[0].sha256 == GOOD_SHA256


def test_null_location_and_attachments_mean_empty_ones() -> None:
    sub = _sub(valid_body() | {"location": None, "attachments": None})
    assert sub.location.locality is None
    assert sub.location.lat is None
    assert sub.attachments == ()


def test_submission_is_frozen() -> None:
    sub = _sub(valid_body())
    with pytest.raises(ValidationError):
        sub.text = "changed"  # type: ignore[misc]


def test_validation_error_text_never_prints_the_iin_it_rejected() -> None:
    body = valid_body()
    body["applicant"]["iin"] = GOOD_IIN[:11] + "9"
    with pytest.raises(ValidationError) as caught:
        _sub(body)
    assert body["applicant"]["iin"] not in str(caught.value)
    assert body["applicant"]["iin"] not in repr(caught.value)


def test_fingerprint_is_the_same_for_the_same_content_sent_differently() -> None:
    body = valid_body()
    sent_again = json.loads(json.dumps(body))
    sent_again["applicant"] = dict(reversed(list(sent_again["applicant"].items())))
    sent_again["applicant"]["postal_address"] = None  # explicit null instead of absent
    sent_again["subject"] = f"  {body['subject']}  "
    sent_again["submitted_at"] = "2026-03-02T05:15:00Z"  # the same instant in UTC
    assert _sub(body).content_fingerprint() == _sub(sent_again).content_fingerprint()


def test_fingerprint_changes_when_the_text_changes() -> None:
    body = valid_body()
    changed = valid_body() | {"text": body["text"] + " Срочно."}
    assert _sub(body).content_fingerprint() != _sub(changed).content_fingerprint()
    assert len(_sub(body).content_fingerprint()) == 64


def test_differences_name_every_changed_field_by_its_path() -> None:
    body = valid_body()
    other = valid_body()
    other["text"] = "Другой текст"
    other["applicant"]["phone"] = "+7 702 000 00 00"
    other["attachments"][0]["url"] = "https://files.example.kz/a/2.jpg"
    assert _sub(body).differences(_sub(other)) == [
        "applicant.phone",
        "attachments[0].url",
        "text",
    ]


def test_differences_name_added_attachments_and_ignore_offset_only_changes() -> None:
    body = valid_body()
    other = valid_body()
    other["attachments"].append(dict(other["attachments"][0]))
    other["submitted_at"] = "2026-03-02T05:15:00+00:00"
    assert _sub(body).differences(_sub(other)) == ["attachments[1]"]
    assert _sub(body).differences(_sub(valid_body())) == []


def test_check_codes_reports_codes_missing_from_the_reference_data() -> None:
    sub = _sub(
        valid_body()
        | {"category": "NO-SUCH", "addressee": "870512345618"}
        | {"location": {"locality": "KRG-KARAGANDA"}}
    )
    problems = check_codes(sub, {"URBAN-WASTE"}, {"KRG-KARAGANDA"}, {"KRG-AKIMAT"})
    assert [p["field"] for p in problems] == ["category", "addressee"]
    assert problems[0]["message"] == "NO-SUCH is not a category code of the reference data"
    assert "870512345618" not in problems[1]["message"]


def test_check_codes_accepts_known_codes_and_absent_ones() -> None:
    sub = _sub(valid_body() | {"addressee": "KRG-AKIMAT"})
    assert check_codes(sub, {"URBAN-WASTE"}, {"KRG-KARAGANDA"}, {"KRG-AKIMAT"}) == []
    bare = _sub(valid_body() | {"category": None, "location": None})
    assert check_codes(bare, set(), set(), set()) == []


def _answer(**changes: Any) -> dict[str, Any]:
    return {
        "outcome": "explained",
        "text": "Разъяснено: вывоз мусора восстановлен по графику.",
        "signed_at": "2026-03-10T16:00:00+05:00",
    } | changes


def _answer_error_fields(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        AnswerSubmission.model_validate(body)
    return [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


def test_answer_with_a_termination_ground_validates() -> None:
    answer = AnswerSubmission.model_validate(
        _answer(outcome="terminated", ground="repeat_without_new_arguments")
    )
    assert answer.outcome is AnswerOutcome.TERMINATED
    assert answer.ground is TerminationGround.REPEAT_WITHOUT_NEW_ARGUMENTS
    assert AnswerSubmission.model_validate(_answer()).ground is None


def test_terminated_answer_without_a_ground_is_rejected_on_ground() -> None:
    assert _answer_error_fields(_answer(outcome="terminated")) == ["ground"]


def test_ground_on_an_answer_that_is_not_terminated_is_rejected() -> None:
    assert _answer_error_fields(_answer(outcome="satisfied", ground="withdrawn")) == ["ground"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"signed_at": "2026-03-10T16:00:00"}, "signed_at"),
        ({"text": "   "}, "text"),
        ({"outcome": "rejected"}, "outcome"),
        ({"ground": "bored", "outcome": "terminated"}, "ground"),
        ({"signed_by": "someone"}, "signed_by"),
    ],
)
def test_bad_answers_are_rejected_on_the_field_at_fault(
    changes: dict[str, Any], field: str
) -> None:
    assert field in _answer_error_fields(_answer(**changes))


def test_public_defaults_to_false_and_leaves_older_content_and_fingerprints_alone() -> None:
    line = _dev_lines()[0]
    private = AppealSubmission.model_validate_json(line)
    assert private.public is False
    assert "public" not in private.model_dump(mode="json")
    # The fingerprint of content registered before the field existed does not move
    # (computed with the contract as it was before `public`).
    assert private.content_fingerprint() == (
        "4bc5e3de3893e9f9fc07b7e07572e8158de9b4a1548ff2c6e2a8e5f9a05c11a2"
    )
    published = AppealSubmission.model_validate({**json.loads(line), "public": True})
    assert published.public is True and published.model_dump(mode="json")["public"] is True
    assert published.content_fingerprint() != private.content_fingerprint()
    assert published.differences(private) == ["public"]
    assert AppealSubmission.model_validate({**json.loads(line), "public": None}).public is False


@pytest.mark.parametrize("value", ["true", 1, "yes", []])
def test_public_must_be_a_json_boolean(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        AppealSubmission.model_validate({**json.loads(_dev_lines()[0]), "public": value})
    assert [e["loc"] for e in caught.value.errors()] == [("public",)]


@settings(max_examples=500, database=None)
@given(
    st.text(max_size=10)
    | st.text(alphabet=st.sampled_from(" \t\n\r\x00\x0b\x1c\x85\u2028\u202ea\u00a0"), max_size=6)
)
def test_the_documented_pattern_of_free_text_admits_exactly_what_the_contract_does(
    value: str,
) -> None:
    for field_type in (Subject, Text):
        adapter = TypeAdapter(field_type)
        pattern = re.compile(adapter.json_schema()["pattern"])
        try:
            adapter.validate_python(value)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == bool(pattern.match(value)), (field_type, value)
