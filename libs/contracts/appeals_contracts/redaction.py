"""What of an appeal anyone may read: the redaction behind every public view.

An appeal is shown to the public only when its applicant chose so (submission field
`public`), and then only through `public_submission`, which keeps the subject, the text, the
locality and a street-level place, with everything that points at a person taken out:

- the applicant block (name, IIN/BIN, organisation, phone, e-mail, postal address) and the
  attachments are never shown;
- in the subject and the text, every run of 12 or more digits (IIN, BIN, card and account
  numbers), phone number, e-mail address, house, flat and building number, and every name
  found (the applicant's own name in any case ending, common first names of the region
  (data/first_names.txt), names with a patronymic or initials, "surname first-name" pairs,
  and capitalised words after "сосед", "гражданин", "директор" and the like) becomes `***`;
- the address keeps the settlement, the district and the street, never the house, flat,
  building or plot; coordinates are rounded to 3 decimals (about 110 m by 75 m here).

Free text defeats any pattern list, so this errs on the side of masking: a street named after
a person may lose its name in the text (not in the address), a date written 12-05-26 may be
masked as a phone. What it cannot find is a name in lower case, a rare first name alone or a
nickname: the applicant's choice to publish is what makes the rest acceptable. Pure functions
on JSON data, so the Open311 reads and any open-data export share one policy.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

MASK = "***"
COORDINATE_DECIMALS = 3

_UPPER = "A-ZА-ЯЁӘҒҚҢӨҰҮҺІ"
_LOWER = "a-zа-яёәғқңөұүһі"
_LETTER = _UPPER + _LOWER
# A capitalised word of a name: one capital, then at least one small letter (not "КСК").
_TITLE_WORD = f"[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}]?[{_LOWER}]+)?"

_LONG_DIGITS = re.compile(r"(?<!\d)\d{12,}(?!\d)")
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# A candidate phone: digits with the separators people type; kept only with 10-15 digits.
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s().\-]{7,}\d(?![\w])")
# Local numbers as they are written in Kazakhstan: 41-22-33, 5-12-34.
_LOCAL_PHONE = re.compile(r"(?<![\w-])\d{1,3}-\d{2}-\d{2}(?![\w-])")

# 12, 12а, 10/2, 10/2б; a letter glued to the number only ("12 в Караганде" is not 12в).
_HOUSE_LETTER = rf"(?:[а-яa-zәүіөұқғң](?![{_LETTER}]))?"
_HOUSE_NUMBER = rf"\d+{_HOUSE_LETTER}(?:\s?/\s?\d+{_HOUSE_LETTER})?"
# Several houses: 34, 36 и 38; 12–18.
_HOUSE_NUMBERS = rf"{_HOUSE_NUMBER}(?:\s*(?:,|и|and|–|-)\s*{_HOUSE_NUMBER}(?![\w/]))*"
# Words before a house, flat or building number: д. 5, дом 5, кв. 45, корп. 2, уй 3 ...
_HOUSE_WORDS = (
    r"д|дом|дома|дому|доме|домах|домов|домам|кв|квартира|квартиры|квартире|корп|корпус|стр|строение|оф|офис|"
    r"подъезд|уч|участок|үй|пәтер|уй|патер|d|dom|kv|kvartira|korpus|ofis|uy"
)
_HOUSE_BEFORE = re.compile(
    rf"(?<![{_LETTER}])(?:{_HOUSE_WORDS})\.?\s*№?\s*({_HOUSE_NUMBERS})(?![\w/])", re.IGNORECASE
)
# Kazakh order, number first: 17-үй, 96-пәтер, 12 кв.
_HOUSE_AFTER = re.compile(
    rf"(?<![\w/])({_HOUSE_NUMBER})\s*[-–]?\s*(?:үй|пәтер|уй|патер|кв\.|квартира)(?![{_LETTER}])",
    re.IGNORECASE,
)
_STREET_BEFORE = (
    r"ул|улица|улице|улицу|пр|пр-т|просп|проспект|проспекте|б-р|бульвар|пер|переулок|ш|шоссе|"
    r"тупик|ul|ulitsa|pr|prospekt|str|street"
)
_NAME_OF_STREET = rf"(?:(?:\d+[-\s])?[{_UPPER}0-9][\w'’.-]*\s+){{0,2}}[{_UPPER}][\w'’-]*"
# ул. Степная 10/2 -> the number after a street's name.
_STREET_NUMBER = re.compile(
    rf"((?<![{_LETTER}])(?i:{_STREET_BEFORE})\.?\s+{_NAME_OF_STREET},?\s+)"
    rf"({_HOUSE_NUMBER})(?![\w/])"
)
# Абай көшесі 45, Республика даңғылы 12.
_STREET_AFTER_NUMBER = re.compile(
    r"((?<![\w])(?:көшесі|көш\.|даңғылы|даңғ\.|тұйығы|street|avenue|st\.|ave\.),?\s+)"
    rf"({_HOUSE_NUMBER})(?![\w/])",
    re.IGNORECASE,
)

_PATRONYMIC = re.compile(
    rf"(?:{_TITLE_WORD}\s+){{0,2}}[{_UPPER}][{_LOWER}]+"
    r"(?:ович|евич|ьич|овн|евн|ичн)[а-я]{0,3}"
    rf"(?:\s+{_TITLE_WORD}(?=\s|[,.;:!?)]|$))?"
    rf"|(?:{_TITLE_WORD}\s+){{1,2}}(?:ұлы|улы|қызы|кызы)(?![{_LETTER}])"
    rf"|{_TITLE_WORD}(?:ұлы|улы|қызы|кызы)(?![{_LETTER}])"
)
_INITIALS = re.compile(
    rf"(?<![{_LETTER}])[{_UPPER}]\.\s?(?:[{_UPPER}]\.\s?)?{_TITLE_WORD}"
    rf"|{_TITLE_WORD}\s+[{_UPPER}]\.\s?(?:[{_UPPER}]\.)?(?![{_LETTER}])"
)
_SURNAME_ENDINGS = (
    r"(?:ов|ев|ёв|ин|ын|ова|ева|ёва|ина|ына|ский|ская|цкий|цкая|енко|ян|дзе|швили|"
    r"ova|eva|ov|ev|in|ina|sky|skaya|enko)"
)
# A surname in any case ending: Иванов, Иванова, Иванову, Ивановым, Ивановой.
_SURNAME = rf"[{_UPPER}][{_LOWER}]+{_SURNAME_ENDINGS}(?:а|у|ым|ой|ом|е|ых|ыми|ому|ого)?"
_NAME_PAIR = re.compile(
    rf"(?<![{_LETTER}.])(?:{_SURNAME}\s+{_TITLE_WORD}|{_TITLE_WORD}\s+{_SURNAME})(?![{_LETTER}])"
)
_PERSON_MARKERS = (
    r"сосед|соседка|соседи|соседа|соседку|соседом|соседкой|гражданин|гражданка|гражданина|"
    r"гражданки|гр\.|житель|жительница|жителя|директор|директора|председатель|председателя|"
    r"мастер|участковый|участкового|врач|врача|учитель|учительница|заведующий|заведующая|"
    r"начальник|начальника|инспектор|инспектора|сотрудник|сотрудница|господин|госпожа|г-н|"
    r"г-жа|фамилия|зовут|ИП|көршім|көрші|азамат|азаматша|директоры|мұғалім|дәрігер"
)
# Only the marker ignores case: the name after it must be capitalised.
_AFTER_MARKER = re.compile(
    rf"(?<![{_LETTER}])((?i:{_PERSON_MARKERS})\s+(?:[{_UPPER}]{{2,}}\s+)?)"
    rf"((?:{_TITLE_WORD})(?:\s+{_TITLE_WORD}){{0,2}})"
)
_STREET_CONTEXT = re.compile(
    rf"(?:{_STREET_BEFORE}|мкр|микрорайон|пос|п|с|г|им|имени)\.?\s*$", re.IGNORECASE
)


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return MASK if 10 <= digits <= 15 else match.group()


def _keep_prefix(match: re.Match[str]) -> str:
    return match.group(1) + MASK


def _mask_group_1(match: re.Match[str]) -> str:
    start, end = match.span(1)
    whole = match.group()
    offset = match.start()
    return whole[: start - offset] + MASK + whole[end - offset :]


def _name_stems(names: Iterable[str]) -> list[str]:
    """Stems of the applicant's own name words, to find them in any case ending."""
    stems: set[str] = set()
    for name in names:
        for word in re.findall(rf"[{_LETTER}]+", name):
            if len(word) < 3:
                continue
            stems.add(word[: max(4, len(word) - 2)] if len(word) > 5 else word)
    return sorted(stems, key=len, reverse=True)


def _mask_known_names(text: str, names: Iterable[str]) -> str:
    stems = _name_stems(names)
    if not stems:
        return text
    pattern = re.compile(
        rf"(?<![{_LETTER}])(?:{'|'.join(re.escape(s) for s in stems)})[{_LETTER}]{{0,4}}"
        rf"(?![{_LETTER}])",
        re.IGNORECASE,
    )
    # A name starts with a capital; "ким" in a sentence is another word than Ким.
    return pattern.sub(lambda m: MASK if m.group()[0].isupper() else m.group(), text)


# Kazakh case endings after a name: Айгерімге, Ерланның, Маратпен, Асельден ...
_KAZAKH_CASES = (
    "ға|ге|қа|ке|ның|нің|дың|дің|тың|тің|ны|ні|ды|ді|ты|ті|мен|пен|бен|да|де|та|те|"
    "дан|ден|тан|тен|нан|нен"
)


def _name_forms(name: str) -> str:
    """A first name in its Russian case forms (Наташа, Наташи, Наташе, Наташу, Наташей),
    or with a Kazakh case ending; only real endings, so Маша never matches "Машина"."""
    stem, last = name[:-1], name[-1]
    if last == "а":
        plural = "и" if stem[-1] in "гкхжшчщ" else "ы"
        endings = f"а|{plural}|е|у|ой|ей|ою|ею"
    elif last == "я":
        endings = "я|и|е|ю|ей|ею"
    elif last in "йь":
        endings = f"{last}|я|ю|ем|е|ём"
    else:
        stem, endings = name, "|а|у|ом|ем|е|ы|ой"
    return f"{re.escape(stem)}(?:{endings})|{re.escape(name)}(?:{_KAZAKH_CASES})"


@functools.cache
def _first_names() -> re.Pattern[str]:
    lines = resources.files("appeals_contracts").joinpath("data/first_names.txt").read_text("utf-8")
    names = sorted({n.strip() for n in lines.splitlines() if n.strip() and n[0] != "#"})
    # Case-sensitive: only a capitalised word is a name ("марина" is not, "Марина" is).
    # A surname beside it goes with it: "Жумабаев Ерлан", "Ерлан Жумабаев".
    forms = "|".join(_name_forms(name) for name in names)
    return re.compile(
        rf"(?<![{_LETTER}])(?:{_SURNAME}\s+)?(?:{forms})(?:\s+{_SURNAME})?(?![{_LETTER}])"
    )


def _mask_first_names(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        # "ул. Ленина", "мкр. Самал": a street's or district's name is not a person's.
        if _STREET_CONTEXT.search(text[max(0, match.start() - 12) : match.start()]):
            return match.group()
        return MASK

    return _first_names().sub(replace, text)


def _mask_name_pairs(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        # "ул. Ерубаева Караганды": a street's name is not a person's.
        if _STREET_CONTEXT.search(text[max(0, match.start() - 12) : match.start()]):
            return match.group()
        return MASK

    return _NAME_PAIR.sub(replace, text)


def redact_text(text: str, names: Iterable[str] = ()) -> str:
    """Free text (a subject, a description) with identifiers, contacts, house numbers and the
    names it can find masked; `names` are names known to be in it (the applicant's)."""
    text = _LONG_DIGITS.sub(MASK, text)
    text = _EMAIL.sub(MASK, text)
    text = _PHONE.sub(_phone, text)
    text = _LOCAL_PHONE.sub(MASK, text)
    text = _HOUSE_BEFORE.sub(_mask_group_1, text)
    text = _HOUSE_AFTER.sub(_mask_group_1, text)
    text = _STREET_NUMBER.sub(_keep_prefix, text)
    text = _STREET_AFTER_NUMBER.sub(_keep_prefix, text)
    text = _mask_known_names(text, names)
    text = _PATRONYMIC.sub(MASK, text)
    text = _INITIALS.sub(MASK, text)
    text = _AFTER_MARKER.sub(_keep_prefix, text)
    text = _mask_name_pairs(text)
    return _mask_first_names(text)


_HOUSE_PART = re.compile(
    rf"^(?:напротив\s+|возле\s+|около\s+|рядом\s+с\s+)?(?:{_HOUSE_WORDS})\.?\s*№?\s*\d"
    rf"|^{_HOUSE_NUMBER}\s*[-–]?\s*(?:үй|пәтер|уй|патер|кв\.?|квартира|д\.?|дом)?$",
    re.IGNORECASE,
)
_DISTRICT_WORDS = re.compile(
    r"(?:мкр|микрорайон|квартал|кв-л|аудан|ауданы|mkr|mikrorayon)\.?\s*\d*[а-я]?$", re.IGNORECASE
)
_TRAILING_NUMBER = re.compile(rf"\s+№?\s*{_HOUSE_NUMBER}$", re.IGNORECASE)


def street_level(address: str | None) -> str | None:
    """An address cut to the street: "г. Караганда, ул. Степная 10/2, кв. 45" ->
    "г. Караганда, ул. Степная". A microdistrict's number stays (it is not a house)."""
    if not address:
        return None
    kept: list[str] = []
    for raw in re.split(r"[,;\n]", address):
        part = " ".join(raw.split()).strip()
        if not part or _HOUSE_PART.search(part):
            continue
        part = _HOUSE_BEFORE.sub("", part).strip(" ,")
        if not _DISTRICT_WORDS.search(part):
            part = _TRAILING_NUMBER.sub("", part).strip(" ,")
        if part and any(ch.isalpha() for ch in part):
            kept.append(part)
    return ", ".join(kept) or None


def coarse(coordinate: float | None) -> float | None:
    """A coordinate rounded to about a hundred metres: a street, not a house."""
    return None if coordinate is None else round(coordinate, COORDINATE_DECIMALS)


def public_submission(submission: Mapping[str, Any]) -> dict[str, Any]:
    """The publishable part of a stored submission (JSON data of contract v1): subject and
    text redacted, the place cut to the street, no applicant and no attachments."""
    applicant = submission.get("applicant") or {}
    # A legal entity without `organization` is named by `full_name`: a company, not a person.
    company = applicant.get("kind") == "legal_entity" and not applicant.get("organization")
    names = [applicant["full_name"]] if applicant.get("full_name") and not company else []
    location = submission.get("location") or {}
    return {
        "type": submission.get("type"),
        "language": submission.get("language"),
        "subject": redact_text(str(submission.get("subject") or ""), names),
        "text": redact_text(str(submission.get("text") or ""), names),
        "category": submission.get("category"),
        "location": {
            "locality": location.get("locality"),
            "address": street_level(location.get("address")),
            "lat": coarse(location.get("lat")),
            "lon": coarse(location.get("lon")),
        },
    }
