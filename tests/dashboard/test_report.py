"""Periods, comparisons, ranking, filters and CSV of the dashboard (pure)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest

from appeals_dashboard import report
from appeals_dashboard.access import safe_next
from appeals_dashboard.exports import HEADER, table_csv
from appeals_dashboard.report import Choice, Row, Table
from deadlines import compliance
from deadlines.compliance import Figures, Tally
from deadlines.queries import AlertFilter


def figures(on_time: int, late: int, overdue: int = 0, min_sample: int = 10) -> Figures:
    return Figures.of(Tally(on_time=on_time, late=late, open_overdue=overdue), min_sample)


def test_the_default_is_the_current_quarter_against_the_same_quarter_last_year() -> None:
    choice = report.choose(None, None, date(2022, 5, 26))
    assert (choice.period.label, choice.previous.label) == ("2022Q2", "2021Q2")


def test_the_seed_view_compares_the_first_quarter_with_the_whole_previous_year() -> None:
    choice = report.choose("2022Q1", "2021", date(2022, 5, 26))
    assert choice.period.first == date(2022, 1, 1) and choice.period.last == date(2022, 3, 31)
    assert choice.previous.first == date(2021, 1, 1) and choice.previous.last == date(2021, 12, 31)


def test_previous_compares_with_the_period_just_before() -> None:
    assert report.choose("2022Q1", "previous", date(2022, 5, 1)).previous.label == "2021Q4"
    assert report.choose("2022-03", "year", date(2022, 5, 1)).previous.label == "2021-03"


def test_a_period_that_is_not_a_month_quarter_or_year_is_refused() -> None:
    with pytest.raises(ValueError, match="period"):
        report.choose("last week", None, date(2022, 5, 1))


def test_recent_periods_offer_years_quarters_so_far_and_twelve_months() -> None:
    labels = [p.label for p in report.recent_periods(date(2022, 5, 26))]
    assert labels[:3] == ["2022", "2021", "2020"]
    assert "2022Q2" in labels and "2022Q3" not in labels
    assert labels[-12:][0] == "2022-05" and labels[-1] == "2021-06"


def test_agencies_are_ranked_worst_first_with_small_samples_after_the_reliable_rows() -> None:
    rows = [
        Row("GOOD", figures(95, 5), figures(0, 0)),
        Row("BAD", figures(50, 40, 10), figures(0, 0)),
        Row("TINY", figures(0, 2), figures(0, 0)),  # 0 % but only two answers
        Row("EMPTY", figures(0, 0), figures(0, 0)),
    ]
    assert [r.key for r in report.rank(rows)] == ["BAD", "GOOD", "TINY", "EMPTY"]
    assert rows[2].current.small_sample and not rows[1].current.small_sample


def test_districts_fold_villages_and_city_districts_into_their_district_or_city() -> None:
    from appeals_reference.loader import load_reference

    reference = load_reference()
    district_of = report.district_of(reference)
    assert district_of("KRG-KARAGANDA-KAZYBEK-BI") == "KRG-KARAGANDA"
    assert district_of("KRG-KARAGANDA") == "KRG-KARAGANDA"
    assert district_of("KRG") == "KRG"
    assert district_of("") == ""
    folded = report.fold(
        {"KRG-KARAGANDA-KAZYBEK-BI": Tally(late=2), "KRG-KARAGANDA": Tally(late=1)}, district_of
    )
    assert folded["KRG-KARAGANDA"].late == 3


def test_the_csv_has_one_line_per_row_in_page_order_with_both_periods() -> None:
    choice = Choice(compliance.quarter(2022, 1), compliance.year(2021), "2021")
    moment = datetime.fromisoformat("2022-04-01T00:00:00+05:00")
    rows = report.rank(
        [
            Row("KRG-HEALTH", figures(9, 1), figures(30, 3)),
            Row("KRG-AKIMAT", figures(20, 40), figures(50, 91)),
        ]
    )
    table = Table("agency", choice, moment, moment, 10, rows)
    text = table_csv(table, lambda key: f"Имя {key}")
    assert text.startswith("\ufeff") and "\r\n" in text
    lines = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert list(lines[0].keys()) == list(HEADER)
    assert [r["key"] for r in lines] == ["KRG-AKIMAT", "KRG-HEALTH"]
    akimat = lines[0]
    assert (akimat["period"], akimat["answered_late"]) == ("2022Q1", "40")
    assert (akimat["previous_period"], akimat["previous_answered_late"]) == ("2021", "91")
    assert akimat["on_time_share"] == "0.3333" and akimat["name"] == "Имя KRG-AKIMAT"
    assert lines[1]["small_sample"] == "no"


def test_a_live_alert_passes_the_same_filters_as_the_stored_ones() -> None:
    alert: dict[str, object] = {
        "agency": "KRG-HEALTH",
        "locality": "KRG-KARAGANDA-KAZYBEK-BI",
        "region": "KRG",
        "kind": "breached",
        "severity": "violation",
        "acknowledged_at": None,
    }
    assert AlertFilter().matches(alert)
    assert AlertFilter(agency="KRG-HEALTH", kind="breached", status="open").matches(alert)
    assert AlertFilter(locality="KRG").matches(alert)
    assert not AlertFilter(agency="KRG-AKIMAT").matches(alert)
    assert not AlertFilter(severity="critical").matches(alert)
    assert not AlertFilter(status="acknowledged").matches(alert)


def test_sign_in_only_ever_returns_to_a_dashboard_page() -> None:
    assert safe_next("/dashboard/compliance?period=2022") == "/dashboard/compliance?period=2022"
    for hostile in ("https://evil.example/", "//evil.example/dashboard", "/v1/alerts", None):
        assert safe_next(hostile) == "/dashboard/alerts"
