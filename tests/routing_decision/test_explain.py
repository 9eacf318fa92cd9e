from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from routing.explain import explain_lines, main
from tests.routing_decision.fake_classifier import FakeClassifier

CLASSIFIER = FakeClassifier({"яма": {"TRANSPORT-ROADS": 0.9}})


def _line(external_id: str, text: str, locality: str | None = None) -> str:
    return json.dumps(
        {
            "external_id": external_id,
            "type": "complaint",
            "language": "ru",
            "submitted_at": "2025-03-03T10:00:00+05:00",
            "applicant": {"kind": "anonymous", "iin": None, "bin": None},
            "subject": "Дорога",
            "text": text,
            "category": None,
            "location": {"locality": locality, "address": None, "lat": None, "lon": None},
            "addressee": None,
            "attachments": [],
        },
        ensure_ascii=False,
    )


def test_each_submission_prints_one_result_in_input_order() -> None:
    lines = [_line("a", "Яма в Темиртау"), _line("b", "Яма", "KRG-SARAN")]
    results = list(explain_lines(iter(lines), CLASSIFIER, 0.5))
    assert [(r["external_id"], r["agency"]) for r in results] == [
        ("a", "KRG-TEMIRTAU-HOUSING-TRANSPORT"),
        ("b", "KRG-SARAN-AKIMAT"),
    ]
    assert set(results[0]) == {
        "external_id",
        "agency",
        "category",
        "locality",
        "method",
        "confidence",
        "triage",
        "explanation",
    }


def test_a_malformed_line_prints_an_error_and_the_run_goes_on() -> None:
    lines = [
        _line("a", "Яма в Темиртау"),
        "{not json",
        json.dumps({"external_id": "c", "location": "Сарань", "text": "x"}),
        "",
        json.dumps({"external_id": "d"}),
        _line("e", "Яма в Сарани"),
    ]
    results = list(explain_lines(iter(lines), CLASSIFIER, 0.5))
    assert [r.get("external_id") for r in results] == ["a", None, "c", "d", "e"]
    assert [r["line"] for r in results if "error" in r] == [2, 3, 5]
    assert results[-1]["agency"] == "KRG-SARAN-AKIMAT"


def test_main_reads_a_file_and_prints_json_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_module = types.ModuleType("routing.classifier")
    fake_module.default_classifier = lambda cache_dir=None: CLASSIFIER  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "routing.classifier", fake_module)
    source = tmp_path / "appeals.jsonl"
    source.write_text(_line("a", "Яма в Темиртау") + "\n" + "[]\n", encoding="utf-8")

    assert main([str(source), "--threshold", "0.95"]) == 0

    printed = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert printed[0]["external_id"] == "a"
    assert printed[0]["triage"] is True  # 0.9 + pooled remainder is below 0.95
    assert "error" in printed[1]
