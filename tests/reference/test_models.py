from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from appeals_reference import (
    ReferenceData,
    load_reference,
    parse_reference_document,
)


def _document() -> dict[str, Any]:
    return load_reference().to_document()


def test_packaged_data_has_the_documented_sizes() -> None:
    ref = load_reference()
    assert (len(ref.localities), len(ref.groups), len(ref.categories), len(ref.agencies)) == (
        46,
        14,
        37,
        49,
    )


def test_load_reference_is_cached() -> None:
    assert load_reference() is load_reference()


def test_document_round_trips_to_an_equal_value_with_the_same_version() -> None:
    ref = load_reference()
    again = ReferenceData.model_validate(ref.to_document())
    assert again == ref
    assert again.version == ref.version


def test_json_round_trips_to_an_equal_value() -> None:
    ref = load_reference()
    assert ReferenceData.model_validate_json(ref.model_dump_json()) == ref


def test_version_is_a_short_content_hash_that_changes_with_any_edit() -> None:
    ref = load_reference()
    document = _document()
    document["agencies"][0]["name_ru"] += " (изменено)"
    edited = ReferenceData.model_validate(document)
    assert len(ref.version) == 12
    assert edited.version != ref.version


def test_a_stale_version_in_an_edited_document_is_replaced_by_the_content_hash() -> None:
    document = _document()
    document["version"] = "stale"
    assert ReferenceData.model_validate(document).version == load_reference().version


def test_parse_reference_document_reads_json_and_yaml_text() -> None:
    ref = load_reference()
    text = json.dumps(ref.to_document(), ensure_ascii=False)
    assert parse_reference_document(text) == ref


def test_unknown_parent_locality_is_rejected_with_its_code() -> None:
    document = _document()
    document["localities"][-1]["parent"] = "NOWHERE"
    with pytest.raises(ValidationError, match="unknown parent NOWHERE"):
        ReferenceData.model_validate(document)


def test_agency_competence_for_unknown_category_is_rejected() -> None:
    document = _document()
    document["agencies"][0]["competences"].append("NO-SUCH-CATEGORY")
    with pytest.raises(ValidationError, match="unknown competence category NO-SUCH-CATEGORY"):
        ReferenceData.model_validate(document)


def test_duplicate_agency_code_is_rejected() -> None:
    document = _document()
    document["agencies"].append(document["agencies"][0])
    with pytest.raises(ValidationError, match="duplicate agency code KRG-AKIMAT"):
        ReferenceData.model_validate(document)


def test_misspelt_field_is_rejected_rather_than_ignored() -> None:
    document = _document()
    document["agencies"][0]["competence"] = document["agencies"][0].pop("competences")
    with pytest.raises(ValidationError):
        ReferenceData.model_validate(document)


def test_ancestors_run_from_a_town_up_to_its_region() -> None:
    chain = [loc.code for loc in load_reference().ancestors("KRG-GULSHAT")]
    assert chain == ["KRG-GULSHAT", "KRG-BALKHASH", "KRG"]


def test_lookups_find_codes_and_raise_key_error_for_unknown_ones() -> None:
    ref = load_reference()
    assert ref.locality("KRG-SARAN").name_ru == "Сарань"
    assert ref.category("HOUSING-GAS").group == "HOUSING"
    assert ref.agency("KRG-POLICE").level == "territorial_body"
    with pytest.raises(KeyError, match="NOPE"):
        ref.agency("NOPE")


def test_agency_topic_is_the_agency_appeals_topic() -> None:
    assert load_reference().agency_topic("KRG-D-SHET-AKIMAT") == "agency.krg-d-shet-akimat.appeals"


def test_home_region_is_karaganda_region() -> None:
    assert load_reference().home_region.code == "KRG"
