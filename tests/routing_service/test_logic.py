"""Routing's own logic without Kafka or PostgreSQL: events, re-decisions, implied categories."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from appeals_reference import load_reference
from routing import handlers, reference_versions
from routing.classifier import CategoryClassifier, LabelledText, load_training_examples
from routing.redecision import decide_excluding
from routing.retraining import held_out, retrain
from tests.routing_decision.fake_classifier import FakeClassifier
from tests.routing_service.conftest import received, received_event_bytes, submission

CLASSIFIER = FakeClassifier(
    {
        "батаре": {"HOUSING-HEATING": 0.6, "HOUSING-MANAGEMENT": 0.3},
        "подъезд": {"HOUSING-MANAGEMENT": 0.7, "HOUSING-HEATING": 0.2},
        "неясно": {"OTHER": 0.2, "HOUSING-HEATING": 0.2, "URBAN-WASTE": 0.2},
    }
)


def sub(text: str, **fields: Any) -> dict[str, Any]:
    return {
        "subject": "Обращение",
        "text": text,
        "category": fields.get("category"),
        "location": {"locality": fields.get("locality", "KRG-KARAGANDA")},
        "addressee": None,
    }


def test_deciding_again_excludes_the_agency_that_redirected() -> None:
    ref = load_reference()
    first = decide_excluding(
        sub("батареи холодные"), ref, CLASSIFIER, exclude="NONE", threshold=0.5
    )
    again = decide_excluding(
        sub("батареи холодные"), ref, CLASSIFIER, exclude=first.agency or "", threshold=0.3
    )
    assert first.agency == "KRG-KARAGANDA-COMMUNAL-TRANSPORT"
    assert again.agency == "KRG-KARAGANDA-HOUSING-INSPECTION"
    assert again.category == "HOUSING-MANAGEMENT" and again.method == "classifier"
    assert any("without KRG-KARAGANDA-COMMUNAL-TRANSPORT" in n for n in again.explanation.notes)
    assert again.confidence > 0.3  # renormalised without the excluded agency's share


def test_deciding_again_goes_to_triage_when_what_is_left_is_unclear() -> None:
    again = decide_excluding(
        sub("батареи холодные"),
        load_reference(),
        CLASSIFIER,
        exclude="KRG-KARAGANDA-COMMUNAL-TRANSPORT",
        threshold=0.9,
    )
    assert again.triage is True and again.agency == "KRG-KARAGANDA-HOUSING-INSPECTION"


def test_ulytau_akimat_excluding_itself_leaves_no_candidate() -> None:
    again = decide_excluding(
        sub("батареи холодные", locality="ULY-SATPAYEV"),
        load_reference(),
        CLASSIFIER,
        exclude="ULY-AKIMAT",
        threshold=0.5,
    )
    assert again.triage is True and again.agency is None and again.method == "manual"


def test_a_named_agency_implies_the_category_it_handles_at_that_place() -> None:
    ref = load_reference()
    text = "в подъезде холодно, батареи"
    assert (
        handlers.implied_category(
            ref, CLASSIFIER, text, "KRG-KARAGANDA-HOUSING-INSPECTION", "KRG-KARAGANDA"
        )
        == "HOUSING-MANAGEMENT"
    )
    # The communal department handles several categories there; the text picks heating.
    assert (
        handlers.implied_category(
            ref, CLASSIFIER, text, "KRG-KARAGANDA-COMMUNAL-TRANSPORT", "KRG-KARAGANDA"
        )
        == "HOUSING-HEATING"
    )
    assert handlers.implied_category(ref, CLASSIFIER, text, "NO-SUCH", "KRG") is None


def test_reference_document_without_a_region_body_for_a_category_is_rejected() -> None:
    document = load_reference().to_document()
    document["agencies"] = [a for a in document["agencies"] if a["code"] != "KRG-LANGUAGES"]
    with pytest.raises(reference_versions.ReferenceRejected) as rejected:
        reference_versions.validated(document)
    assert any("SOCIETY-LANGUAGE" in p["message"] for p in rejected.value.problems)
    with pytest.raises(reference_versions.ReferenceRejected):
        reference_versions.validated([1, 2, 3])
    assert reference_versions.validated(load_reference().to_document()).version == (
        load_reference().version
    )


def test_hold_out_split_is_stable_and_keeps_a_text_on_one_side() -> None:
    texts = [LabelledText(f"обращение номер {n}", "OTHER") for n in range(500)]
    first = [held_out(t) for t in texts]
    again = [held_out(LabelledText(t.text, "HOUSING-HEATING")) for t in texts]
    assert first == again
    assert 60 < sum(first) < 140  # about one in five


def test_retrain_saves_a_loadable_model_and_reports_both_accuracies(tmp_path: Path) -> None:
    corpus = [e for e in load_training_examples() if e.category in {"HOUSING-HEATING", "OTHER"}]
    extra = [LabelledText(f"шлагбаум во дворе номер {n}", "OTHER") for n in range(20)]
    result = retrain(corpus, extra, tmp_path / "model.joblib")
    model = CategoryClassifier.load(tmp_path / "model.joblib")
    assert model.version == result.version
    assert result.examples == 20 and result.hold_out_examples == sum(map(held_out, extra))
    assert 0.0 <= result.accuracy_before <= 1.0 and 0.0 <= result.accuracy_after <= 1.0
    assert any("accuracy before" in line for line in result.lines())


class Record:
    """Enough of aiokafka's ConsumerRecord for `handlers.parse`."""

    def __init__(self, offset: int, value: bytes) -> None:
        self.topic, self.partition, self.offset = "t", 0, offset
        self.key, self.value, self.headers = b"k", value, ()


def test_unparseable_records_are_refused_as_values_and_good_ones_are_kept() -> None:
    good = received(submission())
    for bad in (b"{}", b"not json"):
        # The consumer dead-letters a ValueError (bad JSON, a validation error) at once.
        with pytest.raises(ValueError, match=r"expected|validation error"):
            handlers.parse(Record(0, bad))
    incoming = handlers.parse(Record(2, received_event_bytes(good)))
    assert incoming is not None and str(incoming.appeal.appeal_id) == good.appeal_id
    # The payload travels on as it came, to be stored and put on the agency's topic.
    assert incoming.data == good.model_dump(mode="json")


def test_an_appeal_whose_decision_fails_comes_back_as_an_error_and_the_rest_are_decided() -> None:
    class Brittle(FakeClassifier):
        def rank(self, text: str) -> Any:
            if "взорвись" in text:
                raise RuntimeError("model broke")
            return super().rank(text)

        def rank_many(self, texts: Any) -> Any:
            return [self.rank(t) for t in texts]

    good, bad = received(submission()), received(submission(text="взорвись"))
    incoming = [handlers.parse(Record(0, received_event_bytes(a))) for a in (good, bad)]
    assert None not in incoming
    results = handlers.decide_all(
        [i for i in incoming if i is not None], load_reference(), Brittle({}), 0.5
    )
    assert not isinstance(results[0], Exception) and results[0].agency is not None
    assert isinstance(results[1], RuntimeError)
    row = handlers.failed_triage(
        results[1], uuid.UUID(bad.appeal_id), load_reference(), bad.registered_at, bad.registered_at
    )
    assert row.reason == "decision_failed" and row.hop == 1
