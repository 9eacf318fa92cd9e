from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from appeals_reference import ReferenceData, check_invariants, fold_name, load_reference

Document = dict[str, Any]


def _agency(document: Document, code: str) -> dict[str, Any]:
    return next(a for a in document["agencies"] if a["code"] == code)


def _broken(edit: Callable[[Document], None]) -> ReferenceData:
    document = load_reference().to_document()
    edit(document)
    return ReferenceData.model_validate(document)


def test_shipped_data_passes_every_invariant() -> None:
    assert check_invariants(load_reference()) == []


def _second_region_body(d: Document) -> None:
    _agency(d, "KRG-AKIMAT")["competences"].append("HEALTH-CARE")


def _region_gap(d: Document) -> None:
    _agency(d, "KRG-YOUTH")["competences"].remove("SOCIETY-YOUTH")


def _city_akimat_takes_department_category(d: Document) -> None:
    _agency(d, "KRG-KARAGANDA-AKIMAT")["competences"].append("BUILD-LAND")


def _town_body(d: Document) -> None:
    _agency(d, "KRG-D-NURA-AKIMAT")["jurisdiction"] = ["KRG-KIEVKA"]


def _karaganda_body_covers_ulytau(d: Document) -> None:
    _agency(d, "KRG-POLICE")["jurisdiction"].append("ULY")


def _ulytau_akimat_misses_a_category(d: Document) -> None:
    _agency(d, "ULY-AKIMAT")["competences"].remove("GOV-JUSTICE")


def _shared_alias(d: Document) -> None:
    d["localities"][1]["aliases"].append("Сарань")


def _wrong_topic(d: Document) -> None:
    _agency(d, "KRG-SPORT")["topic"] = "agency.sport"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_second_region_body, "one region body per category: HEALTH-CARE"),
        (_region_gap, "one region body per category: SOCIETY-YOUTH"),
        (_city_akimat_takes_department_category, "one local body per category: BUILD-LAND"),
        (_town_body, "no deeper bodies: KRG-D-NURA-AKIMAT covers KRG-KIEVKA"),
        (_karaganda_body_covers_ulytau, "separate region ULY is covered by"),
        (_ulytau_akimat_misses_a_category, "ULY-AKIMAT must list every category"),
        (_shared_alias, "'сарань' belongs to both"),
        (_wrong_topic, "agency KRG-SPORT: topic"),
    ],
)
def test_a_broken_copy_fails_with_a_message_naming_the_problem(
    edit: Callable[[Document], None], message: str
) -> None:
    problems = check_invariants(_broken(edit))
    assert any(message in p for p in problems), problems


def test_fold_name_ignores_case_yo_and_spacing() -> None:
    assert fold_name("  Молодёжный   КЕНТІ ") == fold_name("молодежный кенті")
