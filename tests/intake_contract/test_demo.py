"""The demo generator yields valid, varied, reproducible submissions."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files

import yaml

from appeals_contracts.submission import AppealSubmission, ApplicantKind, Language
from appeals_tools.demo import demo_bodies, demo_submissions


def _reference(name: str, key: str) -> list[dict[str, str]]:
    path = files("appeals_reference").joinpath("data", name)
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))[key])


def test_every_demo_submission_survives_validation_unchanged() -> None:
    for sub in demo_submissions(3000, seed=11):
        assert AppealSubmission.model_validate(sub.model_dump()) == sub
        assert AppealSubmission.model_validate_json(sub.model_dump_json()) == sub


def test_demo_spreads_over_30_localities_and_every_category_group() -> None:
    subs = list(demo_submissions(3000, seed=5))
    localities = {s.location.locality for s in subs} - {None}
    known_localities = {loc["code"] for loc in _reference("localities.yaml", "localities")}
    assert len(localities) >= 30
    assert localities <= known_localities

    groups = {g["code"] for g in _reference("categories.yaml", "groups")}
    codes = {c["code"] for c in _reference("categories.yaml", "categories")}
    chosen = {s.category for s in subs if s.category is not None}
    assert chosen <= codes
    assert {c.split("-")[0] for c in chosen} == groups


def test_demo_mixes_languages_applicants_and_missing_fields() -> None:
    subs = list(demo_submissions(3000, seed=9))
    kinds = Counter(s.applicant.kind for s in subs)
    assert set(kinds) == set(ApplicantKind)
    assert {s.language for s in subs} == set(Language)
    assert any(s.category is None for s in subs)
    assert any(s.location.locality is None and s.location.address for s in subs)
    assert any(s.location.lat is not None for s in subs)
    assert any(s.attachments for s in subs)
    assert any(s.public for s in subs) and not all(s.public for s in subs)
    kazakh = next(s for s in subs if s.language is Language.KK)
    assert set("әғқңөұүі") & set(kazakh.text)


def test_the_same_seed_gives_the_same_submissions_and_another_seed_others() -> None:
    first = [s.content_fingerprint() for s in demo_submissions(200, seed=42)]
    again = [s.content_fingerprint() for s in demo_submissions(200, seed=42)]
    other = [s.content_fingerprint() for s in demo_submissions(200, seed=43)]
    assert first == again
    assert not set(first) & set(other)


def test_external_ids_are_unique_and_carry_the_seed() -> None:
    ids = [s.external_id for s in demo_submissions(500, seed=3)]
    assert len(set(ids)) == 500
    assert ids[0] == "demo-3-0000000"


def test_demo_bodies_are_json_that_validates() -> None:
    for body in demo_bodies(200, seed=1):
        AppealSubmission.model_validate_json(json.dumps(body))
