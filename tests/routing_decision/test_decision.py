from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import orjson
from pydantic import BaseModel

from appeals_reference import load_reference
from routing.decision import Decision, as_json, decide, decide_many
from tests.routing_decision.fake_classifier import FakeClassifier

CLASSIFIER = FakeClassifier(
    {
        "батаре": {"HOUSING-HEATING": 0.55, "HOUSING-MANAGEMENT": 0.35},
        "соседи": {"HOUSING-MANAGEMENT": 0.6, "SAFETY-POLICE": 0.15},
        "крыша": {"HOUSING-MANAGEMENT": 0.9},
        "яма": {"TRANSPORT-ROADS": 0.9},
        "мусор": {"URBAN-WASTE": 0.4, "ECOLOGY-ENVIRONMENT": 0.35},
        "гараж": {"BUILD-LAND": 0.3, "BUILD-CONSTRUCTION": 0.3},
        "пенсия": {"SOCIAL-BENEFITS": 0.97},
        "шумят": {"SAFETY-POLICE": 0.35, "HOUSING-MANAGEMENT": 0.2},
    }
)


def _submission(text: str, **fields: Any) -> dict[str, Any]:
    location = {"locality": fields.pop("locality", None), "address": fields.pop("address", None)}
    base: dict[str, Any] = {
        "external_id": "t-1",
        "type": "complaint",
        "language": "ru",
        "applicant": {"kind": fields.pop("kind", "individual")},
        "subject": fields.pop("subject", "Обращение"),
        "text": text,
        "category": None,
        "location": location,
        "addressee": None,
        "attachments": [],
    }
    return base | fields


def _decide(text: str, threshold: float = 0.5, **fields: Any) -> Decision:
    return decide(_submission(text, **fields), load_reference(), CLASSIFIER, threshold=threshold)


def test_category_missing_uses_the_classifier_and_the_rule() -> None:
    decision = _decide("В Темиртау на дороге яма")
    assert (decision.agency, decision.category, decision.method) == (
        "KRG-TEMIRTAU-HOUSING-TRANSPORT",
        "TRANSPORT-ROADS",
        "classifier",
    )
    assert decision.explanation.category_source == "classifier"


def test_citizen_category_consistent_with_the_text_is_kept() -> None:
    decision = _decide("В Караганде батареи холодные", category="HOUSING-MANAGEMENT")
    assert decision.category == "HOUSING-MANAGEMENT"
    assert decision.agency == "KRG-KARAGANDA-HOUSING-INSPECTION"
    assert (decision.method, decision.explanation.category_source) == ("rule", "citizen")


def test_citizen_category_the_text_contradicts_is_replaced() -> None:
    decision = _decide("В Сарани течёт крыша, управляющая компания молчит", category="HEALTH-CARE")
    assert decision.category == "HOUSING-MANAGEMENT"
    assert decision.agency == "KRG-SARAN-AKIMAT"
    assert decision.explanation.category_source == "classifier"


def test_categories_that_lead_to_the_same_body_pool_their_confidence() -> None:
    # 0.55 heating + 0.35 management, both with the Temirtau department
    decision = _decide("В Темиртау холодные батареи")
    assert decision.agency == "KRG-TEMIRTAU-HOUSING-TRANSPORT"
    assert decision.confidence > 0.9
    assert decision.explanation.category_confidence < 0.6


def test_low_confidence_goes_to_triage_with_a_best_guess() -> None:
    decision = _decide("В Балхаше гараж поставили", threshold=0.5)
    assert decision.triage is True
    assert decision.agency is not None
    assert any("triage" in note for note in decision.explanation.notes)


def test_threshold_decides_triage() -> None:
    assert _decide("Куда делся мусор", threshold=0.3).triage is False
    assert _decide("Куда делся мусор", threshold=0.6).triage is True


def test_a_crime_report_goes_to_the_police_at_once_even_if_filed_as_housing() -> None:
    decision = _decide(
        "В Сарани соседи избили пенсионера и угрожают ему",
        category="HOUSING-MANAGEMENT",
        addressee="KRG-SARAN-AKIMAT",
    )
    assert (decision.agency, decision.category, decision.method) == (
        "KRG-POLICE",
        "SAFETY-POLICE",
        "safety",
    )
    assert decision.triage is False
    assert decision.explanation.hint is not None
    assert decision.explanation.hint.honoured is False


def test_an_anonymous_crime_report_goes_to_the_police_too() -> None:
    decision = _decide("Соседи торгуют наркотиками, закладки во дворе", kind="anonymous")
    assert (decision.agency, decision.method) == ("KRG-POLICE", "safety")


def test_police_as_the_classifiers_first_choice_is_sent_at_once_not_triaged() -> None:
    decision = _decide("Каждую ночь во дворе шумят и пьют", threshold=0.5)
    assert (decision.agency, decision.method, decision.triage) == ("KRG-POLICE", "safety", False)
    assert decision.confidence < 0.5


def test_crime_words_alone_do_not_send_a_text_the_classifier_rules_out() -> None:
    decision = _decide("В Сарани течёт крыша, угроза обрушения")
    assert decision.agency == "KRG-SARAN-AKIMAT"
    assert decision.method != "safety"


def test_a_place_in_ulytau_is_redirected_out_of_the_region() -> None:
    decision = _decide("В Жезказгане на дороге яма", category="TRANSPORT-ROADS")
    assert decision.agency == "ULY-AKIMAT"
    assert decision.out_of_region is True
    assert decision.triage is False
    assert any("3 working days" in note for note in decision.explanation.notes)


def test_a_hint_that_is_the_winner_is_honoured() -> None:
    decision = _decide("В Сарани течёт крыша", addressee="KRG-SARAN-AKIMAT")
    assert (decision.agency, decision.method) == ("KRG-SARAN-AKIMAT", "hint")
    assert decision.explanation.hint is not None
    assert decision.explanation.hint.honoured


def test_a_region_body_hint_where_a_city_body_is_competent_is_refused_with_a_reason() -> None:
    decision = _decide("В Темиртау на дороге яма", addressee="KRG-TRANSPORT-ROADS")
    assert decision.agency == "KRG-TEMIRTAU-HOUSING-TRANSPORT"
    hint = decision.explanation.hint
    assert hint is not None
    assert not hint.honoured
    assert "more local KRG-TEMIRTAU-HOUSING-TRANSPORT" in hint.reason


def test_a_karaganda_body_hint_for_ulytau_is_refused() -> None:
    decision = _decide("В Сатпаеве яма", addressee="KRG-TRANSPORT-ROADS")
    assert decision.agency == "ULY-AKIMAT"
    assert decision.explanation.hint is not None
    assert "no jurisdiction over ULY-SATPAYEV" in decision.explanation.hint.reason


def test_a_plausible_hint_settles_an_uncertain_decision() -> None:
    # BUILD-LAND and BUILD-CONSTRUCTION tie in Balkhash: akimat vs region department
    decision = _decide("В Балхаше гараж поставили", addressee="KRG-BALKHASH-AKIMAT")
    assert (decision.agency, decision.category, decision.method) == (
        "KRG-BALKHASH-AKIMAT",
        "BUILD-LAND",
        "hint",
    )


def test_a_plausible_hint_does_not_override_a_confident_winner() -> None:
    decision = _decide("В Балхаше батареи холодные", addressee="KRG-BALKHASH-AKIMAT")
    assert decision.agency == "KRG-ENERGY-HOUSING"
    assert decision.explanation.hint is not None
    assert not decision.explanation.hint.honoured


def test_explanation_records_locality_alternatives_and_versions() -> None:
    decision = _decide("Холодные батареи", address="г. Караганда, Майкудук, 12 мкр")
    explanation = decision.explanation
    assert (explanation.locality, explanation.locality_how, explanation.locality_matched) == (
        "KRG-KARAGANDA-BOKEIKHAN",
        "address",
        "Майкудук",
    )
    assert [a.category for a in explanation.alternatives][:2] == [
        "HOUSING-HEATING",
        "HOUSING-MANAGEMENT",
    ]
    assert explanation.alternatives[1].agency == "KRG-KARAGANDA-HOUSING-INSPECTION"
    assert explanation.reference_version == load_reference().version
    assert explanation.classifier_version == "fake-1"


def test_decision_is_json_serialisable() -> None:
    decision = _decide("В Сарани течёт крыша", addressee="KRG-SARAN-AKIMAT")
    assert json.loads(json.dumps(as_json(decision)))["agency"] == "KRG-SARAN-AKIMAT"


def test_an_explanation_as_json_holds_every_field_as_orjson_writes_it() -> None:
    # as_json spells the explanation out field by field (the hot path); it must not drift
    # from the dataclasses: same keys, same values as orjson's own writing of them.
    decisions = [
        _decide("В Сарани течёт крыша", addressee="KRG-SARAN-AKIMAT"),
        _decide("В Сарани течёт крыша", addressee="KRG-NOWHERE"),
        _decide("Пенсия не пришла", category="PENSIONS", locality="KRG-NOWHERE"),
        _decide("Меня избили во дворе, угрожают ножом"),
    ]
    assert any(d.explanation.hint is not None for d in decisions)
    assert any(d.explanation.hint is None for d in decisions)
    for decision in decisions:
        data = as_json(decision.explanation)
        assert data == orjson.loads(orjson.dumps(decision.explanation))
        assert list(data) == [f.name for f in fields(decision.explanation)]
        assert as_json(decision)["explanation"] == data


def test_unknown_codes_from_the_citizen_are_ignored_and_noted() -> None:
    decision = _decide("Пенсия не пришла", category="PENSIONS", locality="KRG-NOWHERE")
    assert (decision.category, decision.locality) == ("SOCIAL-BENEFITS", "KRG")
    assert any("PENSIONS" in n for n in decision.explanation.notes)
    assert any("KRG-NOWHERE" in n for n in decision.explanation.notes)


def test_a_pydantic_submission_is_accepted() -> None:
    class Location(BaseModel):
        locality: str | None
        address: str | None

    class Submission(BaseModel):
        subject: str
        text: str
        category: str | None
        location: Location
        addressee: str | None

    submission = Submission(
        subject="Яма",
        text="Яма на дороге",
        category=None,
        location=Location(locality="KRG-SARAN", address=None),
        addressee=None,
    )
    decision = decide(submission, load_reference(), CLASSIFIER)
    assert decision.agency == "KRG-SARAN-AKIMAT"


def test_decide_many_matches_decide_with_one_batched_classifier_call() -> None:
    submissions = [
        _submission("В Темиртау яма"),
        _submission("Батареи холодные", locality="KRG-SARAN"),
        _submission("Драка, избили человека"),
    ]
    classifier = FakeClassifier(CLASSIFIER.rules)
    many = decide_many(submissions, load_reference(), classifier, threshold=0.5)
    assert classifier.calls == [3]
    single = [decide(s, load_reference(), classifier, threshold=0.5) for s in submissions]
    assert many == single
