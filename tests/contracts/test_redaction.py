"""The public view of an appeal: identifiers, contacts, house numbers and names masked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appeals_contracts.redaction import MASK, coarse, public_submission, redact_text, street_level

DEV_SET = Path(__file__).resolve().parents[2] / "examples" / "appeals-dev.jsonl"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("мой ИИН 790322499544, счёт 4400430212345678", ["790322499544", "4400430212345678"]),
        ("звоните +7 (701) 234-56-78 или 87718860589", ["234-56-78", "87718860589"]),
        ("тел. 8 7212 41 22 33, дежурный 41-22-33", ["41 22 33", "41-22-33"]),
        ("пишите на petrov.ivan@mail.kz", ["petrov.ivan@mail.kz", "@"]),
        ("живу по ул. Степная 10/2, кв. 45", ["10/2", "45"]),
        ("Temirtau, ul. Abaya d. 27, kv 14", ["27", "14"]),
        ("Ленин көшесі 38, 12-пәтер", ["38", "12"]),
        ("в домах 34, 36 и 38 нет воды; дома 12–18 топит", ["34", "36", "38", "12", "18"]),
        ("сосед Петров Иван Сергеевич шумит", ["Петров", "Иван", "Сергеевич"]),
        ("приходил Иванов А.Б., потом И.И. Сидоров", ["Иванов", "Сидоров"]),
        ("директор Сейтқали Нұрланұлы молчит", ["Сейтқали", "Нұрланұлы"]),
        ("медсёстры Айгуль и Наташа, врачу Ерлану спасибо", ["Айгуль", "Наташа", "Ерлану"]),
        ("Жумабаев Ерлан и Смагулова Жанна пришли", ["Жумабаев", "Смагулова"]),
    ],
)
def test_personal_data_in_free_text_is_masked(text: str, hidden: list[str]) -> None:
    redacted = redact_text(text)
    assert MASK in redacted
    for value in hidden:
        assert value not in redacted, (value, redacted)


def test_the_applicants_own_name_is_masked_in_any_case_ending() -> None:
    text = "Ларионовой Светлане Викторовне не ответили; Ларионова ждёт."
    redacted = redact_text(text, ["Ларионова Светлана Викторовна"])
    assert "Ларионов" not in redacted and "Светлан" not in redacted


def test_what_is_not_personal_stays_readable() -> None:
    text = (
        "Света нет третий день. С 6 ноября батареи еле тёплые, в квартире +15, "
        "ремонт обошёлся в 85 тысяч. На ул. Ерубаева и в мкр. Юго-Восток, Машина не приехала. "
        "Люди ждут. 2025-11-18 писали в КСК."
    )
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("address", "street"),
    [
        (
            "г. Караганда, мкр. Юго-Восток, ул. Степная 10/2, кв. 45",
            "г. Караганда, мкр. Юго-Восток, ул. Степная",
        ),
        ("Temirtau, ul. Abaya 27, kv 14", "Temirtau, ul. Abaya"),
        ("5-шағын аудан, 17-үй, 96-пәтер", "5-шағын аудан"),
        ("г. Караганда, 12 мкр., д. 5, кв. 60", "г. Караганда, 12 мкр."),
        ("г. Шахтинск, ул. Индустриальная, участок 7", "г. Шахтинск, ул. Индустриальная"),
        ("г. Темиртау, пр. Республики, напротив д. 58", "г. Темиртау, пр. Республики"),
        ("Егіндібұлақ ауылы, Бейбітшілік көшесі 21", "Егіндібұлақ ауылы, Бейбітшілік көшесі"),
        ("Осакаровский район, п. Молодежный", "Осакаровский район, п. Молодежный"),
    ],
)
def test_an_address_is_cut_to_the_street(address: str, street: str) -> None:
    assert street_level(address) == street


def test_coordinates_are_rounded_to_about_a_hundred_metres() -> None:
    assert (coarse(49.80471234), coarse(73.10941234), coarse(None)) == (49.805, 73.109, None)


def test_no_dev_set_appeal_shows_its_applicant_or_a_house_number() -> None:
    for line in DEV_SET.read_text("utf-8").splitlines():
        submission = json.loads(line)
        shown = public_submission(submission)
        assert set(shown) == {"type", "language", "subject", "text", "category", "location"}
        dumped = json.dumps(shown, ensure_ascii=False)
        applicant = submission["applicant"]
        for value in (applicant.get("iin"), applicant.get("bin"), applicant.get("phone")):
            assert value is None or value not in dumped
        if applicant["kind"] == "individual" and applicant.get("full_name"):
            for word in applicant["full_name"].split():
                assert word not in dumped, (word, dumped)
        address = (submission.get("location") or {}).get("address") or ""
        if address:
            assert not any(
                ch.isdigit()
                for ch in (shown["location"]["address"] or "")
                .replace("12 мкр", "")
                .replace("7 мкр", "")
                .replace("5-шағын", "")
            )
