from __future__ import annotations

import pytest

from appeals_reference import (
    NoCompetentAgencyError,
    ReferenceData,
    competent_agencies,
    competent_agency,
    load_reference,
)


@pytest.mark.parametrize(
    ("category", "locality", "agency"),
    [
        # the README table, one row each for the places that differ
        ("HOUSING-HEATING", "KRG-KARAGANDA-KAZYBEK-BI", "KRG-KARAGANDA-COMMUNAL-TRANSPORT"),
        ("HOUSING-HEATING", "KRG-TEMIRTAU", "KRG-TEMIRTAU-HOUSING-TRANSPORT"),
        ("HOUSING-ELECTRICITY", "KRG-SARAN", "KRG-ENERGY-HOUSING"),
        ("HOUSING-MANAGEMENT", "KRG-KARAGANDA", "KRG-KARAGANDA-HOUSING-INSPECTION"),
        ("HOUSING-MANAGEMENT", "KRG-GULSHAT", "KRG-BALKHASH-AKIMAT"),
        ("HOUSING-PROVISION", "KRG-TEMIRTAU", "KRG-TEMIRTAU-AKIMAT"),
        ("TRANSPORT-ROADS", "KRG-TOPAR", "KRG-D-ABAY-AKIMAT"),
        ("TRANSPORT-PUBLIC", "KRG-SHAKHTINSK", "KRG-TRANSPORT-ROADS"),
        ("URBAN-WASTE", "KRG", "KRG-NATURAL-RESOURCES"),
        ("BUILD-ARCHITECTURE", "KRG-TEMIRTAU", "KRG-TEMIRTAU-CONSTRUCTION-ARCHITECTURE"),
        ("BUILD-LAND", "KRG-KIEVKA", "KRG-D-NURA-AKIMAT"),
        ("OTHER", "KRG-PRIOZERSK", "KRG-PRIOZERSK-AKIMAT"),
        ("SAFETY-POLICE", "KRG-KARAGANDA-BOKEIKHAN", "KRG-POLICE"),
        ("HEALTH-CARE", "KRG-AKTOGAY", "KRG-HEALTH"),
    ],
)
def test_the_most_local_competent_body_wins(category: str, locality: str, agency: str) -> None:
    assert competent_agency(load_reference(), category, locality).code == agency


@pytest.mark.parametrize("locality", [None, "NOT-A-PLACE"])
def test_unknown_or_missing_locality_is_routed_as_the_region(locality: str | None) -> None:
    ref = load_reference()
    assert competent_agency(ref, "TRANSPORT-ROADS", locality).code == "KRG-TRANSPORT-ROADS"


def test_every_ulytau_locality_goes_to_ulytau_akimat_for_every_category() -> None:
    ref = load_reference()
    winners = {
        competent_agency(ref, cat.code, loc.code).code
        for loc in ref.localities
        if loc.outside_jurisdiction
        for cat in ref.categories
    }
    assert winners == {"ULY-AKIMAT"}


def test_candidates_carry_their_specificity_most_specific_first() -> None:
    candidates = competent_agencies(load_reference(), "TRANSPORT-ROADS", "KRG-KARAGANDA-BOKEIKHAN")
    assert [(c.agency.code, c.specificity, c.via) for c in candidates] == [
        ("KRG-KARAGANDA-COMMUNAL-TRANSPORT", 1, "KRG-KARAGANDA"),
        ("KRG-TRANSPORT-ROADS", 0, "KRG"),
    ]


def test_unknown_category_raises_key_error() -> None:
    with pytest.raises(KeyError):
        competent_agency(load_reference(), "NO-SUCH", "KRG")


def test_a_tie_between_equally_local_bodies_is_an_error_not_a_guess() -> None:
    document = load_reference().to_document()
    for agency in document["agencies"]:
        if agency["code"] == "KRG-SARAN-AKIMAT":
            agency["competences"].append("HOUSING-GAS")
        if agency["code"] == "KRG-SHAKHTINSK-AKIMAT":
            agency["jurisdiction"].append("KRG-SARAN")
            agency["competences"].append("HOUSING-GAS")
    ref = ReferenceData.model_validate(document)
    with pytest.raises(NoCompetentAgencyError, match="tie"):
        competent_agency(ref, "HOUSING-GAS", "KRG-AKTAS")


def test_a_gap_in_the_region_is_an_error() -> None:
    document = load_reference().to_document()
    for agency in document["agencies"]:
        if agency["code"] == "KRG-HEALTH":
            agency["competences"].remove("HEALTH-CARE")
    ref = ReferenceData.model_validate(document)
    with pytest.raises(NoCompetentAgencyError, match="no body"):
        competent_agency(ref, "HEALTH-CARE", "KRG-SARAN")


def test_out_of_region_body_takes_a_category_it_forgot_to_list() -> None:
    document = load_reference().to_document()
    for agency in document["agencies"]:
        if agency["code"] == "ULY-AKIMAT":
            agency["competences"].remove("OTHER")
    ref = ReferenceData.model_validate(document)
    assert competent_agency(ref, "OTHER", "ULY-ATASU").code == "ULY-AKIMAT"
