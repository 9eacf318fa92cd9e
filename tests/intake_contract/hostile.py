"""Hostile and odd-but-valid submission bodies, as data, for contract and HTTP tests.

Every HOSTILE description starts with the field path a problem must name ("applicant.iin: ...").
Each body is a copy of `valid_body()` with one thing broken, so it fails for that one reason.
Bodies are plain JSON data; a few hold unpaired surrogates, which only `as_json` (ASCII
escapes) can serialise: send them with it, not with an encoder that writes raw UTF-8.
"""

from __future__ import annotations

import copy
import json
from typing import Any

GOOD_IIN = "870512345618"  # 1987-05-12, male, check digit 8
GOOD_IIN_SECOND_WEIGHTS = "870512300404"  # its check digit needs the second weight set
GOOD_BIN = "190340001233"  # March 2019, resident legal entity
GOOD_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

_BASE: dict[str, Any] = {
    "external_id": "hostile-0001",
    "type": "complaint",
    "language": "ru",
    "submitted_at": "2026-03-02T10:15:00+05:00",
    "applicant": {
        "kind": "individual",
        "iin": GOOD_IIN,
        "bin": None,
        "full_name": "Абенова Айгерим Маратовна",
        "phone": "+7 701 555 12 34",
        "email": "aigerim@example.kz",
    },
    "subject": "Не вывозят мусор",
    "text": "Во дворе дома по ул. Ерубаева 12 мусор не вывозят вторую неделю.",
    "category": "URBAN-WASTE",
    "location": {
        "locality": "KRG-KARAGANDA",
        "address": "г. Караганда, ул. Ерубаева 12",
        "lat": 49.8047,
        "lon": 73.1094,
    },
    "addressee": None,
    "attachments": [
        {
            "name": "photo.jpg",
            "url": "https://files.example.kz/a/1.jpg",
            "sha256": GOOD_SHA256,
            "size": 245_112,
        },
    ],
}


def valid_body() -> dict[str, Any]:
    """A fresh, fully valid submission body to mutate."""
    return copy.deepcopy(_BASE)


def as_json(body: dict[str, Any]) -> bytes:
    """The body as JSON bytes; ASCII escapes keep unpaired surrogates sendable."""
    return json.dumps(body, ensure_ascii=True).encode("ascii")


def _set(path: str, value: Any) -> dict[str, Any]:
    body = valid_body()
    *parents, last = path.split(".")
    target: Any = body
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[last] = value
    return body


def _drop(path: str) -> dict[str, Any]:
    body = valid_body()
    *parents, last = path.split(".")
    target: Any = body
    for key in parents:
        target = target[key]
    del target[last]
    return body


def _attachment(**changes: Any) -> list[dict[str, Any]]:
    return [{**_BASE["attachments"][0], **changes}]


def _applicant(**fields: Any) -> dict[str, Any]:
    return _set("applicant", fields)


_SQL = "'; DROP TABLE appeals;--"

HOSTILE: list[tuple[str, dict[str, Any]]] = [
    # identity numbers
    ("applicant.iin: wrong check digit", _set("applicant.iin", "870512345619")),
    ("applicant.iin: 13th month with a valid checksum", _set("applicant.iin", "871312345603")),
    ("applicant.iin: 30 February with a valid checksum", _set("applicant.iin", "870230345605")),
    ("applicant.iin: century digit 0 with a valid checksum", _set("applicant.iin", "870512045609")),
    ("applicant.iin: century digit 7 with a valid checksum", _set("applicant.iin", "870512745603")),
    ("applicant.iin: 11 digits", _set("applicant.iin", "87051234561")),
    ("applicant.iin: 13 digits", _set("applicant.iin", "8705123456180")),
    ("applicant.iin: spaces inside", _set("applicant.iin", "870512 345618")),
    ("applicant.iin: Arabic-Indic digits", _set("applicant.iin", "٨٧٠٥١٢٣٤٥٦١٨")),
    ("applicant.iin: full-width digits", _set("applicant.iin", "８７０５１２３４５６１８")),
    ("applicant.iin: sent as a JSON number", _set("applicant.iin", 870512345618)),
    ("applicant.iin: individual without IIN", _drop("applicant.iin")),
    ("applicant.iin: individual with IIN null", _set("applicant.iin", None)),
    ("applicant.bin: individual with a BIN", _set("applicant.bin", GOOD_BIN)),
    (
        "applicant.bin: wrong check digit",
        _applicant(kind="legal_entity", bin="190340001234", organization="ТОО «Тест»"),
    ),
    (
        "applicant.bin: type digit 7 with a valid checksum",
        _applicant(kind="legal_entity", bin="190370001207", organization="ТОО «Тест»"),
    ),
    (
        "applicant.bin: month 13 with a valid checksum",
        _applicant(kind="legal_entity", bin="191340001206", organization="ТОО «Тест»"),
    ),
    ("applicant.bin: legal entity without BIN", _applicant(kind="legal_entity", full_name="ТОО")),
    (
        "applicant.organization: legal entity with no name at all",
        _applicant(kind="legal_entity", bin=GOOD_BIN),
    ),
    ("applicant.iin: anonymous with an IIN", _applicant(kind="anonymous", iin=GOOD_IIN)),
    (
        "applicant.postal_address: anonymous with a postal address",
        _applicant(kind="anonymous", postal_address="г. Караганда, ул. Ленина 1"),
    ),
    ("applicant.kind: not a kind", _set("applicant.kind", "company")),
    ("applicant.phone: letters", _set("applicant.phone", "call me maybe")),
    ("applicant.phone: 33 characters", _set("applicant.phone", "+7 " + "7" * 30)),
    ("applicant.email: not an email", _set("applicant.email", "not-an-email")),
    ("applicant.email: header injection", _set("applicant.email", "a@b.kz\nBcc: all@evil.kz")),
    (
        "applicant.email: 255 characters",
        _set("applicant.email", "a" * 64 + "@" + "b" * 187 + ".kz"),
    ),
    ("applicant.full_name: 201 characters", _set("applicant.full_name", "Ж" * 201)),
    ("applicant.full_name: newline inside", _set("applicant.full_name", "Иванов\nИван")),
    ("applicant.full_name: bell character", _set("applicant.full_name", "Иванов\x07")),
    (
        "applicant.full_name: right-to-left override",
        _set("applicant.full_name", "Ivan\u202eovonavI"),
    ),
    ("applicant.full_name: empty string", _set("applicant.full_name", "")),
    # enums
    ("type: not an appeal type", _set("type", "appeal")),
    ("type: Russian word", _set("type", "жалоба")),
    ("type: upper case", _set("type", "COMPLAINT")),
    ("type: null", _set("type", None)),
    ("language: not ru or kk", _set("language", "en")),
    # wrong JSON types
    ("subject: a number", _set("subject", 12345)),
    ("text: a list", _set("text", ["нет", "воды"])),
    ("text: an object", _set("text", {"ru": "нет воды"})),
    ("external_id: a number", _set("external_id", 42)),
    ("external_id: a boolean", _set("external_id", True)),
    ("applicant: a string", _set("applicant", "Иванов Иван")),
    ("location: a list", _set("location", [49.8, 73.1])),
    ("attachments: an object", _set("attachments", {"name": "a.jpg"})),
    ("location.lat: a numeric string", _set("location.lat", "49.8")),
    ("location.lat: a boolean", _set("location.lat", True)),
    ("attachments[0].size: a numeric string", _set("attachments", _attachment(size="245112"))),
    ("attachments[0].size: a fraction", _set("attachments", _attachment(size=1.5))),
    ("attachments[0].size: a boolean", _set("attachments", _attachment(size=True))),
    # injection through codes and ids
    ("external_id: SQL", _set("external_id", _SQL)),
    ("external_id: path traversal", _set("external_id", "../../etc/passwd")),
    ("external_id: spaces", _set("external_id", "dev 0001")),
    ("external_id: 129 characters", _set("external_id", "x" * 129)),
    ("external_id: empty", _set("external_id", "")),
    ("category: SQL", _set("category", _SQL)),
    ("category: lower case", _set("category", "urban-waste")),
    ("category: one character", _set("category", "U")),
    ("category: empty", _set("category", "")),
    ("category: Cyrillic look-alike letters", _set("category", "URBАN-WАSTE")),
    ("category: zero-width space inside", _set("category", "URBAN\u200b-WASTE")),
    ("category: leading hyphen", _set("category", "-URBAN")),
    ("category: 65 characters", _set("category", "A" * 65)),
    ("location.locality: SQL", _set("location.locality", "KRG' OR '1'='1")),
    ("addressee: script tag", _set("addressee", "<script>alert(1)</script>")),
    # attachment urls, names, hashes, sizes
    ("attachments[0].url: javascript", _set("attachments", _attachment(url="javascript:alert(1)"))),
    (
        "attachments[0].url: data URL",
        _set("attachments", _attachment(url="data:text/html,<script>alert(1)</script>")),
    ),
    ("attachments[0].url: file URL", _set("attachments", _attachment(url="file:///etc/passwd"))),
    ("attachments[0].url: ftp", _set("attachments", _attachment(url="ftp://files.example.kz/a"))),
    (
        "attachments[0].url: cloud metadata address",
        _set("attachments", _attachment(url="http://169.254.169.254/latest/meta-data/")),
    ),
    ("attachments[0].url: loopback", _set("attachments", _attachment(url="http://127.0.0.1/a"))),
    (
        "attachments[0].url: localhost",
        _set("attachments", _attachment(url="http://localhost:8080/")),
    ),
    (
        "attachments[0].url: loopback as a decimal number",
        _set("attachments", _attachment(url="http://2130706433/a")),
    ),
    (
        "attachments[0].url: private network",
        _set("attachments", _attachment(url="http://10.0.0.5/")),
    ),
    ("attachments[0].url: IPv6 loopback", _set("attachments", _attachment(url="http://[::1]/a"))),
    (
        "attachments[0].url: credentials inside",
        _set("attachments", _attachment(url="https://user:secret@files.example.kz/a")),
    ),
    ("attachments[0].url: relative", _set("attachments", _attachment(url="/files/1.jpg"))),
    ("attachments[0].url: no host", _set("attachments", _attachment(url="https:///a.jpg"))),
    ("attachments[0].url: bad port", _set("attachments", _attachment(url="https://a.kz:99999/"))),
    ("attachments[0].url: space", _set("attachments", _attachment(url="https://a.kz/my file"))),
    (
        "attachments[0].url: backslash",
        _set("attachments", _attachment(url="https://a.kz\\@evil.kz/")),
    ),
    (
        "attachments[0].url: 2049 characters",
        _set("attachments", _attachment(url="https://a.kz/" + "x" * 2036)),
    ),
    ("attachments[0].name: path", _set("attachments", _attachment(name="../../etc/passwd"))),
    ("attachments[0].name: dot-dot", _set("attachments", _attachment(name=".."))),
    (
        "attachments[0].name: right-to-left override",
        _set("attachments", _attachment(name="photo\u202egpj.exe")),
    ),
    ("attachments[0].name: empty", _set("attachments", _attachment(name=""))),
    ("attachments[0].sha256: 63 digits", _set("attachments", _attachment(sha256="a" * 63))),
    ("attachments[0].sha256: not hex", _set("attachments", _attachment(sha256="g" * 64))),
    ("attachments[0].size: negative", _set("attachments", _attachment(size=-1))),
    ("attachments[0].size: over 100 MiB", _set("attachments", _attachment(size=104_857_601))),
    ("attachments: 21 of them", _set("attachments", _attachment() * 21)),
    ("attachments: 100 000 of them", _set("attachments", [{}] * 100_000)),
    # sizes and emptiness
    ("text: 10 001 characters", _set("text", "а" * 10_001)),
    ("subject: 301 characters", _set("subject", "б" * 301)),
    ("location.address: 501 characters", _set("location.address", "в" * 501)),
    ("text: empty", _set("text", "")),
    ("subject: empty", _set("subject", "")),
    ("text: whitespace only", _set("text", "  \n\t \r\n ")),
    ("subject: no-break spaces only", _set("subject", "\u00a0\u3000\u00a0")),
    ("text: missing", _drop("text")),
    ("external_id: missing", _drop("external_id")),
    ("external_id: empty body", {}),
    # control characters and broken Unicode
    ("text: NUL byte", _set("text", "нет воды\x00")),
    ("subject: NUL byte", _set("subject", "\x00")),
    ("subject: ANSI escape", _set("subject", "\x1b[31mСРОЧНО\x1b[0m")),
    ("subject: newline", _set("subject", "Тема\nX-Injected: 1")),
    ("text: DEL", _set("text", "текст\x7f")),
    ("text: C1 control from a wrong code page", _set("text", "текст\x85ещё")),
    ("text: form feed", _set("text", "страница 1\x0cстраница 2")),
    ("text: unpaired high surrogate (half an emoji)", _set("text", "привет \ud83d")),
    ("subject: unpaired low surrogate", _set("subject", "тема \udc00")),
    ("text: noncharacter U+FFFE", _set("text", "текст \ufffe")),
    ("text: noncharacter U+10FFFF", _set("text", "текст \U0010ffff")),
    ("location.address: vertical tab", _set("location.address", "ул. Ленина\x0b1")),
    # unknown fields
    ("priority: unknown top-level field", _set("priority", "high")),
    ("__proto__: prototype pollution key", _set("__proto__", {"admin": True})),
    ("applicant.password: unknown nested field", _set("applicant.password", "x")),
    ("location.region: unknown nested field", _set("location.region", "KRG")),
    (
        "attachments[0].mime: unknown field in an attachment",
        _set("attachments", _attachment(mime="x")),
    ),
    ("applicant.8705******18: unknown field named like an IIN", _set("applicant." + GOOD_IIN, 1)),
    # time
    ("submitted_at: naive", _set("submitted_at", "2026-03-02T10:15:00")),
    ("submitted_at: date only", _set("submitted_at", "2026-03-02")),
    ("submitted_at: Unix timestamp", _set("submitted_at", 1_772_428_500)),
    ("submitted_at: words", _set("submitted_at", "yesterday")),
    ("submitted_at: year 1", _set("submitted_at", "0001-01-01T00:00:00+05:00")),
    ("submitted_at: year 9999", _set("submitted_at", "9999-12-31T23:59:59-05:00")),
    ("submitted_at: missing", _drop("submitted_at")),
    # places
    ("location.lat: null island", _set("location", {"lat": 0, "lon": 0})),
    ("location.lat: north of Kazakhstan", _set("location.lat", 60.0)),
    ("location.lon: east of Kazakhstan", _set("location.lon", 100.0)),
    ("location.lon: lat without lon", _set("location", {"lat": 49.8})),
    ("location.lon: lon without lat", _set("location", {"lon": 73.1})),
    ("location.lat: lat and lon swapped", _set("location", {"lat": 73.1094, "lon": 49.8047})),
]

_MAX_TEXT = "Ж" * 9_990 + "😀" * 10

VALID_ODD: list[tuple[str, dict[str, Any]]] = [
    (
        "Kazakh letters everywhere",
        _set(
            "applicant",
            {"kind": "individual", "iin": GOOD_IIN, "full_name": "Әбілқасымова Гүлнұр Серікқызы"},
        )
        | {
            "language": "kk",
            "subject": "Ауладағы жарық сөніп қалды",
            "text": "Құрметті әкімдік! Біздің ауладағы шамдар бір айдан бері жанбайды. Өтінеміз.",
        },
    ),
    (
        "emoji in text and subject",
        _set("text", "Яма на дороге 🚧😡 уже месяц! 👨‍👩‍👧 дети падают") | {"subject": "Яма 🚧"},
    ),
    (
        "Arabic and Hebrew with bidi marks in text",
        _set("text", "Цитата: \u2067السلام عليكم\u2069 и \u200fשלום\u200f — это приветствия."),
    ),
    (
        "SQL-looking text is just text",
        _set("text", _SQL + " SELECT * FROM users; --") | {"subject": "'; DROP TABLE appeals;--"},
    ),
    ("HTML in text is just text", _set("text", "<script>alert(1)</script><img src=x onerror=1>")),
    ("text of exactly 10 000 characters with astral emoji", _set("text", _MAX_TEXT)),
    ("subject of exactly 300 characters", _set("subject", "Ю" * 300)),
    ("external_id of exactly 128 characters", _set("external_id", "e" * 128)),
    ("full_name of exactly 200 characters", _set("applicant.full_name", "Ж" * 200)),
    ("Cyrillic external_id with separators", _set("external_id", "ЖТ-Т-2025/00123:4#1")),
    ("anonymous with nothing but the kind", _set("applicant", {"kind": "anonymous"})),
    ("anonymous with an unverified name", _applicant(kind="anonymous", full_name="Иванов")),
    ("individual without a name (optional in contract v1)", _set("applicant.full_name", None)),
    (
        "anonymous with explicit nulls and a phone",
        _set(
            "applicant",
            {
                "kind": "anonymous",
                "iin": None,
                "bin": None,
                "full_name": None,
                "phone": "8 (7212) 41-22-05",
            },
        ),
    ),
    (
        "legal entity with organization and a representative's IIN",
        _applicant(
            kind="legal_entity",
            bin=GOOD_BIN,
            iin=GOOD_IIN,
            organization="ТОО «Жарық»",
            full_name="Ким Денис",
        ),
    ),
    (
        "IIN whose check digit needs the second weights",
        _set("applicant.iin", GOOD_IIN_SECOND_WEIGHTS),
    ),
    ("location and attachments null", _set("location", None) | {"attachments": None}),
    ("location and attachments left out", _drop("location") | {"attachments": []}),
    (
        "no category, no locality, place only in the address",
        _set(
            "location",
            {"locality": None, "address": "Сарань, ул. Ленина 5", "lat": None, "lon": None},
        )
        | {"category": None},
    ),
    (
        "shape-valid codes that are not in the reference data",
        _set("category", "NO-SUCH-CATEGORY") | {"addressee": "NOBODY"},
    ),
    (
        "coordinates on the bounding-box corner, as integers",
        _set("location", {"lat": 41, "lon": 87}),
    ),
    ("coordinates exactly on the limits", _set("location", {"lat": 40.5, "lon": 46.5})),
    ("exactly 20 attachments", _set("attachments", _attachment() * 20)),
    ("upper-case sha256", _set("attachments", _attachment(sha256=GOOD_SHA256.upper()))),
    ("zero-byte attachment", _set("attachments", _attachment(size=0))),
    (
        "attachment on an internationalised domain",
        _set(
            "attachments",
            _attachment(url="https://файлы.қаз/обращение/фото 1.jpg".replace(" ", "%20")),
        ),
    ),
    ("decomposed Unicode (NFD) in text", _set("text", "Мои\u0306 дом, е\u0308лка")),
    ("surrounding whitespace in subject", _set("subject", "  Не вывозят мусор \t")),
    ("CRLF and tabs inside text", _set("text", "Строка 1\r\n\tСтрока 2\r\n")),
    ("UTC time with Z", _set("submitted_at", "2026-03-02T05:15:00Z")),
    ("time with +06:00 and fractions", _set("submitted_at", "2024-02-29T23:59:59.999+06:00")),
]
