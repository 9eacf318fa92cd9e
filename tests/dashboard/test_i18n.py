"""Languages, numbers and Almaty dates of the dashboard (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from appeals_dashboard import i18n

NBSP = "\u00a0"


def test_every_message_has_russian_kazakh_and_english_text() -> None:
    for key, texts in i18n.MESSAGES.items():
        assert len(texts) == 3 and all(t.strip() for t in texts), key


def test_kazakh_messages_are_not_copies_of_the_russian_ones() -> None:
    same = [k for k, (ru, kk, _en) in i18n.MESSAGES.items() if ru == kk and ru != "Токен"]
    assert len(same) < 5, same


def test_numbers_group_digits_the_way_each_language_writes_them() -> None:
    assert i18n.integer("ru", 1234567) == f"1{NBSP}234{NBSP}567"
    assert i18n.integer("kk", 1234567) == f"1{NBSP}234{NBSP}567"
    assert i18n.integer("en", 1234567) == "1,234,567"
    assert i18n.decimal("ru", 1234.5) == f"1{NBSP}234,5"
    assert i18n.decimal("en", 1234.5) == "1,234.5"


def test_percentages_put_the_sign_as_cldr_does_and_show_a_dash_for_nothing() -> None:
    assert i18n.percent("ru", 0.853) == f"85,3{NBSP}%"
    assert i18n.percent("kk", 0.853) == "85,3%"
    assert i18n.percent("en", 0.853) == "85.3%"
    assert i18n.percent("ru", None) == "—"


def test_moments_are_shown_on_the_almaty_wall_clock_across_the_2024_change() -> None:
    # 18:30 UTC is 00:30 next day in Almaty at UTC+6 (before 1 March 2024) ...
    assert i18n.moment_text("en", datetime(2024, 2, 28, 18, 30, tzinfo=UTC)) == (
        f"29{NBSP}Feb 2024, 00:30"
    )
    # ... and 23:30 the same day at UTC+5 after it.
    assert i18n.moment_text("en", datetime(2024, 3, 5, 18, 30, tzinfo=UTC)) == (
        f"5{NBSP}Mar 2024, 23:30"
    )
    assert i18n.iso_local(datetime(2024, 3, 5, 18, 30, tzinfo=UTC)).endswith("+05:00")


def test_dates_are_written_in_each_languages_own_order_and_month_names() -> None:
    day = date(2022, 6, 15)
    assert i18n.day_text("ru", day, short=False) == f"15{NBSP}июня 2022"
    assert i18n.day_text("kk", day, short=False) == f"2022{NBSP}ж. 15{NBSP}маусым"
    assert i18n.day_text("en", day, short=False) == f"15{NBSP}June 2022"
    assert i18n.day_text("ru", day) == f"15{NBSP}июн. 2022"


def test_period_labels_read_as_words() -> None:
    assert i18n.period_text("ru", "2022Q1") == "I квартал 2022"
    assert i18n.period_text("kk", "2022Q1") == f"2022{NBSP}ж. I тоқсан"
    assert i18n.period_text("en", "2022Q1") == "Q1 2022"
    assert i18n.period_text("ru", "2021") == "2021 год"
    assert i18n.period_text("ru", "2022-03") == "март 2022"
    assert i18n.period_text("kk", "2022-03") == f"2022{NBSP}ж. наурыз"


def test_the_language_comes_from_accept_language_and_defaults_to_russian() -> None:
    assert i18n.from_accept_language("kk-KZ,kk;q=0.9,ru;q=0.8") == "kk"
    assert i18n.from_accept_language("en-US,en;q=0.9") == "en"
    assert i18n.from_accept_language("de-DE") == "ru"
    assert i18n.from_accept_language(None) == "ru"
    assert i18n.language("xx") == "ru"


def test_a_missing_message_shows_its_key_instead_of_failing_the_page() -> None:
    assert i18n.text("en", "no.such.key") == "no.such.key"
