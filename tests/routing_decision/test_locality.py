from __future__ import annotations

import pytest

from appeals_reference import load_reference
from routing.locality import find_mentions, key, resolve_locality


def _from_text(text: str) -> str:
    return resolve_locality(load_reference(), None, None, text).code


@pytest.mark.parametrize(
    ("spellings"),
    [
        ["Қарағанды", "Караганды", "Karagandy", "Qaragandy"],
        ["Балқаш", "Балкаш", "Balqash"],
        ["Теміртау", "Темиртау", "Temirtau"],
        ["Приозёрск", "ПРИОЗЕРСК", "Priozersk"],
    ],
)
def test_kazakh_letters_case_yo_and_latin_spellings_share_one_key(spellings: list[str]) -> None:
    assert len({key(s) for s in spellings}) == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Во дворе в Караганде третий день темно", "KRG-KARAGANDA"),
        ("В Темиртау на остановке нет расписания", "KRG-TEMIRTAU"),
        ("Летом в Балхаше пыльно", "KRG-BALKHASH"),
        ("Жители Сарани жалуются", "KRG-SARAN"),
        ("Обращаюсь по поводу дороги в Шахтинске", "KRG-SHAKHTINSK"),
        ("В Осакаровке закрыли аптеку", "KRG-OSAKAROVKA"),
        ("Приозёрском акимате не отвечают", "KRG-PRIOZERSK"),
        ("Теміртауда аялдама жоқ", "KRG-TEMIRTAU"),
        ("Қарағандыдағы саябақта", "KRG-KARAGANDA"),
        ("Балқашта жарық жоқ", "KRG-BALKHASH"),
        ("Sarani net sveta", "KRG-SARAN"),
        ("v Karagande na ostanovke", "KRG-KARAGANDA"),
        ("Shakhtinsk, pos. Shakhan", "KRG-SHAKHAN"),
        ("В Абайском районе дорогу не чинят", "KRG-D-ABAY"),
        ("Бухар-Жырауском районе", "KRG-D-BUKHAR-ZHYRAU"),
        ("Нұра ауданында", "KRG-D-NURA"),
        ("в Октябрьском районе", "KRG-KARAGANDA-BOKEIKHAN"),
        ("р-н им. Казыбек би", "KRG-KARAGANDA-KAZYBEK-BI"),
        ("в Токаревке", "KRG-GABIDENA-MUSTAFINA"),
        ("Егиндыбулак ауылы", "KRG-EGINDYBULAK"),
        ("Жезказганда", "ULY-ZHEZKAZGAN"),
    ],
)
def test_place_names_are_found_in_their_inflected_and_transliterated_forms(
    text: str, code: str
) -> None:
    assert _from_text(text) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("г. Абай, нет воды", "KRG-ABAY"),
        ("Абай қ., су жоқ", "KRG-ABAY"),
        ("в пос. Актас", "KRG-AKTAS"),
        ("Ақтас кенті", "KRG-AKTAS"),
        ("с. Актогай", "KRG-AKTOGAY"),
        ("поселок Молодежный", "KRG-MOLODEZHNY"),
        ("Ұлытау ауылы", "ULY-ULYTAU"),
        ("Шахтинск, Долинка, ул. Школьная", "KRG-DOLINKA"),
    ],
)
def test_names_that_need_a_qualifier_match_with_one_or_with_their_city(
    text: str, code: str
) -> None:
    assert _from_text(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "Долинка",  # requires_qualifier, no qualifier, no city
        "Пишу про Абай и его стихи",
        "на улице Актас яма",
        "живу на ул. Абая, яма",
        "пр. Бухар-Жырау весь в ямах",
        "ул. Сатпаева, дом 5",
        "Сәтбаев көшесі бойында",
        "в кафе «Ұлытау» шумно",
        "ТОО «Темиртау Су» не отвечает",
        "саранча на полях",  # not Сарань
        "Темиртауская улица",  # an adjective, not the city
    ],
)
def test_street_names_quotes_and_lookalikes_name_no_place(text: str) -> None:
    assert _from_text(text) == "KRG"


def test_a_destination_does_not_name_the_place_when_another_place_is_named() -> None:
    assert _from_text("В Приозёрске нет врача, больных везут в Балхаш") == "KRG-PRIOZERSK"
    assert _from_text("Балқашқа апарады, Приозерскіде дәрігер жоқ") == "KRG-PRIOZERSK"


def test_a_qualified_name_after_v_is_the_place_but_after_iz_is_an_origin() -> None:
    assert _from_text("Мы живём в г. Балхаш, а ездим из г. Приозерск") == "KRG-BALKHASH"


def test_a_name_in_a_case_form_before_streets_is_the_place_not_a_street() -> None:
    # «in Priozersk, in the streets»: only a bare name before көше names a street.
    assert _from_text("Приозерскіде көшелерде иттер көп") == "KRG-PRIOZERSK"


def test_a_kazakh_ablative_on_the_stem_is_an_origin() -> None:
    mentions = find_mentions(load_reference(), "Қарағандыдан келдік, Теміртауда тұрамыз")
    assert [(m.code, m.peripheral) for m in mentions] == [
        ("KRG-KARAGANDA", True),
        ("KRG-TEMIRTAU", False),
    ]
    assert _from_text("Қарағандыдан келдік, Теміртауда тұрамыз") == "KRG-TEMIRTAU"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("В г.Шахтинскк не горят фонари", "KRG-SHAKHTINSK"),  # a letter doubled
        ("г. Темиртуа, ул. Мира", "KRG-TEMIRTAU"),  # two letters swapped
        ("пос. Осакровка", "KRG-OSAKAROVKA"),  # a letter dropped
    ],
)
def test_a_name_with_one_wrong_letter_is_found_after_a_qualifier(text: str, code: str) -> None:
    assert _from_text(text) == code


def test_a_word_one_letter_from_a_name_is_no_place_without_a_qualifier() -> None:
    assert _from_text("Шахтинскк не горят фонари") == "KRG"


def test_an_origin_is_used_when_it_is_the_only_place_named() -> None:
    assert _from_text("Пишу из Караганды") == "KRG-KARAGANDA"


def test_mentions_record_the_words_that_named_the_place() -> None:
    mentions = find_mentions(load_reference(), "Живу в Майкудуке уже 10 лет")
    assert [(m.code, m.matched) for m in mentions] == [("KRG-KARAGANDA-BOKEIKHAN", "Майкудуке")]


def test_given_code_is_used_when_nothing_contradicts_it() -> None:
    match = resolve_locality(load_reference(), "KRG-SARAN", None, "Нет света в Сарани")
    assert (match.code, match.how) == ("KRG-SARAN", "given")


def test_a_region_chosen_gives_way_to_a_place_named_in_the_text() -> None:
    ref = load_reference()
    text = "Онкологов в области Улытау практически нет, всех направляют в Караганду"
    assert resolve_locality(ref, "KRG", None, text).code == "ULY"
    assert resolve_locality(ref, "KRG", None, "В Темиртау нет света").code == "KRG-TEMIRTAU"
    assert resolve_locality(ref, "KRG", None, "Нет света во дворе").code == "KRG"


def test_given_city_is_refined_by_a_city_district_named_in_the_address() -> None:
    match = resolve_locality(
        load_reference(), "KRG-KARAGANDA", "г. Караганда, мкр. Юго-Восток, д. 5", "Холодно"
    )
    assert (match.code, match.how, match.matched) == (
        "KRG-KARAGANDA-KAZYBEK-BI",
        "address",
        "Юго-Восток",
    )


def test_given_region_is_refined_by_a_city_named_in_the_text() -> None:
    match = resolve_locality(load_reference(), "KRG", None, "В Шахтинске нет автобусов")
    assert (match.code, match.how) == ("KRG-SHAKHTINSK", "text")


def test_address_naming_another_place_overrides_the_chosen_code() -> None:
    match = resolve_locality(load_reference(), "KRG-KARAGANDA", "г. Темиртау, ул. Мира 3", "Яма")
    assert (match.code, match.how) == ("KRG-TEMIRTAU", "address")
    assert match.note is not None
    assert "KRG-KARAGANDA" in match.note


def test_text_about_another_city_overrides_a_chosen_code_it_never_mentions() -> None:
    match = resolve_locality(load_reference(), "KRG-KARAGANDA", None, "В Топаре разбита дорога")
    assert (match.code, match.how) == ("KRG-TOPAR", "text")


def test_text_naming_the_chosen_city_as_often_as_another_place_keeps_it() -> None:
    match = resolve_locality(
        load_reference(), "KRG-KARAGANDA", None, "В Караганде и в Топаре одинаково нет газа"
    )
    assert match.code == "KRG-KARAGANDA"


def test_text_naming_another_place_more_often_than_the_chosen_city_overrides_it() -> None:
    match = resolve_locality(
        load_reference(),
        "KRG-KARAGANDA",
        None,
        "Живу в Караганде, пишу за маму: в пос. Топар нет газа, в Топаре все ждут газ",
    )
    assert (match.code, match.how) == ("KRG-TOPAR", "text")


def test_an_address_consistent_with_the_chosen_code_is_not_outvoted_by_the_text() -> None:
    match = resolve_locality(
        load_reference(), "KRG-SARAN", "г. Сарань, ул. Мира 1", "Был в Топаре, в Топаре хорошо"
    )
    assert match.code == "KRG-SARAN"


@pytest.mark.parametrize(
    "text",
    ["Лес рубят под Каркаралинском", "Қарқаралы маңында орман кесілуде", "в 7 км от Топара"],
)
def test_somewhere_near_a_town_is_in_its_district(text: str) -> None:
    assert _from_text(text) in {"KRG-D-KARKARALY", "KRG-D-ABAY"}


def test_unknown_code_is_ignored_and_noted() -> None:
    match = resolve_locality(load_reference(), "KRG-ATLANTIS", None, "В Балхаше")
    assert match.code == "KRG-BALKHASH"
    assert match.note is not None
    assert "KRG-ATLANTIS" in match.note


def test_nothing_named_defaults_to_the_region() -> None:
    match = resolve_locality(load_reference(), None, None, "Прошу разобраться")
    assert (match.code, match.how, match.matched) == ("KRG", "default", None)


def test_two_districts_of_one_city_resolve_to_the_city() -> None:
    assert _from_text("Автобусы плохо ходят и в Майкудуке, и на Юго-Востоке") == "KRG-KARAGANDA"


def test_a_route_between_two_places_does_not_outweigh_the_place_named_plainly() -> None:
    assert _from_text("Автобус от Майкудука до Юго-Востока, в Майкудуке стоим час") == (
        "KRG-KARAGANDA-BOKEIKHAN"
    )
