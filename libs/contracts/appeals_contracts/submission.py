"""Submission contract v1: the appeal an integration sends, and the answer an agency gives.

Rules beyond the field table (each is what a registry that must not lose or garble an appeal,
and must not store junk it cannot act on, does):

Strings
- Must be JSON strings: numbers, booleans and bytes are not coerced.
- Stripped of leading and trailing whitespace, then normalised to Unicode NFC; the checks
  below apply to what is left, and lengths are counted on it, in code points.
- A string that is given must not be empty after stripping, in every field: "no value" is sent
  as null or by leaving the field out, so there is one way to say it.
- Rejected everywhere: C0 control characters except TAB, LF, CR; DEL; C1 controls
  (U+0080-U+009F, the trace of text decoded with the wrong code page); unpaired surrogates
  (they cannot be stored as UTF-8); Unicode noncharacters (U+FDD0-U+FDEF, U+xFFFE, U+xFFFF).
- Single-line fields (all but `text`, `location.address`, `applicant.postal_address`) also
  reject TAB, LF, CR, U+2028, U+2029 and the bidi embedding, override and isolate controls
  (U+202A-U+202E, U+2066-U+2069): in a name or file name they make it display as something
  it is not ("photo<U+202E>gpj.exe"). Multi-line fields keep them: quoted Arabic needs them.
- Length caps: external_id 128, subject 300, text 10000, full_name 200, organization 300,
  phone 32, email 254, addresses 500, attachment name 255, attachment url 2048.

Identity
- individual: `iin` required (valid checksum and birth date), no `bin`; `full_name` is optional,
  as contract v1 says (the IIN identifies the person; e-gov integrations may omit the name).
- legal_entity: `bin` required (valid checksum, month, type digit), `full_name` or
  `organization` required; `iin` allowed, for the representative who files.
- anonymous: no `iin`, `bin`, `organization` or `postal_address`: any of them makes the
  applicant identifiable, so send kind individual. An unverified `full_name` (a Open311 reporter's
  first name), `phone` and `email` are allowed: they are contact, not authorship.
- phone: digits, spaces, parentheses, hyphens, an optional leading +. email: local@domain.tld.

Codes and places
- category, location.locality, addressee: shape only here, `^[A-Z0-9]+(-[A-Z0-9]+)*$`, 2..64
  characters; membership in the reference data is `check_codes`, which takes the code sets.
- lat and lon: given together or not at all, finite, inside Kazakhstan's bounding box.

Time
- submitted_at and signed_at: ISO-8601 strings (or datetimes) with a UTC offset, years
  2000-2099; naive times and Unix timestamps are rejected.

Attachments
- At most 20. url: absolute http(s), no user name or password, no whitespace or backslash,
  host a domain name with a dot and a non-numeric top label, or a public IP address; this
  stops `javascript:`, `file:` and obvious server-side request forgery targets, but the
  fetcher must still check the resolved address. sha256: 64 hex digits, stored lower-case.
  size: integer bytes, 0..100 MiB. name: a file name, without / or \\, not "." or "..".

Publication
- public: the applicant's choice to make the appeal readable by anyone (Open311's anonymous
  reads, open data), redacted as `appeals_contracts.redaction` says; a JSON boolean, default
  false. Added to v1 without a version change: it is optional, and false is left out of the
  dumped submission, so content registered before it keeps its fingerprint.

Null: `null` is accepted for every optional field; `location: null` and `attachments: null`
mean an empty location and no attachments. Unknown fields are rejected at every level.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, TypedDict
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from appeals_contracts.identity import (
    bin_is_valid,
    iin_birth_date,
    iin_is_valid,
    mask_identifiers_in_text,
)

CONTRACT_VERSION = 1

CODE_PATTERN = r"^[A-Z0-9]+(-[A-Z0-9]+)*$"
# Letters of the Latin and Cyrillic (Kazakh included) alphabets, digits and a few separators
# that ids of source systems use; nothing that quotes, terminates or comments in SQL or shells.
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9\u0400-\u04FF][A-Za-z0-9\u0400-\u04FF._:/#-]*$"
DIGITS12_PATTERN = r"^[0-9]{12}$"
PHONE_PATTERN = r"^\+?[0-9(][0-9 ()-]*[0-9]$"
EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[\w-]+(\.[\w-]+)+$"
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"

LATITUDE_RANGE = (40.5, 55.5)
LONGITUDE_RANGE = (46.5, 87.5)
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099


def _noncharacters() -> str:
    planes = "".join(chr(p * 0x10000 + 0xFFFE) + chr(p * 0x10000 + 0xFFFF) for p in range(17))
    return re.escape(planes)


_ALWAYS_FORBIDDEN = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + _noncharacters()
)
_LINE_BREAKS_AND_BIDI = "\t\n\r\u2028\u2029\u202a-\u202e\u2066-\u2069"
# The same sets as regular expressions (JSON Schema's and Python's), for the documents.
_ALWAYS_FORBIDDEN_RE = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff"
_LINE_BREAKS_AND_BIDI_RE = r"\t\n\r\u2028\u2029\u202a-\u202e\u2066-\u2069"


def _documented(forbidden: str) -> str:
    """What a value may look like: surrounding whitespace (it is stripped), then something
    that starts and ends with a visible character and holds no forbidden one."""
    allowed, visible = f"[^{forbidden}]", f"[^{forbidden}\\s]"
    return f"^\\s*{visible}(?:{allowed}*{visible})?\\s*$"


@dataclass(frozen=True)
class _Characters:
    """Strips a string, refuses forbidden characters, normalises to NFC, and says so in the
    JSON schema (a `pattern`, unless the field has a stricter one of its own)."""

    forbidden: re.Pattern[str]
    documented: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.clean, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", self.documented)
        return json_schema

    def clean(self, value: object) -> object:
        if not isinstance(value, str):
            return value  # the strict str schema behind this reports the wrong type
        # Stripped first: a trailing newline or tab from a web form is not worth a rejection.
        value = value.strip()
        # isprintable() is false for every forbidden character (they are all Cc, Cf, Cs, Cn,
        # Zl or Zp), so the common case skips the regex.
        found = None if value.isprintable() else self.forbidden.search(value)
        if found is not None:
            raise PydanticCustomError(
                "forbidden_character",
                "must not contain the control or formatting character U+{codepoint}",
                {"codepoint": f"{ord(found.group()):04X}"},
            )
        if not unicodedata.is_normalized("NFC", value):
            value = unicodedata.normalize("NFC", value)
        return value


_single_line = _Characters(
    re.compile(f"[{_ALWAYS_FORBIDDEN}{_LINE_BREAKS_AND_BIDI}]"),
    _documented(_ALWAYS_FORBIDDEN_RE + _LINE_BREAKS_AND_BIDI_RE),
)
_multi_line = _Characters(re.compile(f"[{_ALWAYS_FORBIDDEN}]"), _documented(_ALWAYS_FORBIDDEN_RE))


def _line(max_length: int, pattern: str | None = None, min_length: int = 1) -> StringConstraints:
    return StringConstraints(
        strict=True, min_length=min_length, max_length=max_length, pattern=pattern
    )


def _check_iin(value: str) -> str:
    if iin_is_valid(value):
        return value
    if iin_birth_date(value) is None:
        raise PydanticCustomError(
            "iin_birth_date",
            "the IIN's first 7 digits do not encode a real birth date and century digit (1-6)",
        )
    raise PydanticCustomError("iin_checksum", "the IIN fails its checksum")


def _check_bin(value: str) -> str:
    if not bin_is_valid(value):
        raise PydanticCustomError(
            "bin_invalid",
            "the BIN fails its checksum, or its month (digits 3-4) or type digit (5th: 4, 5 or 6)",
        )
    return value


def _check_file_name(value: str) -> str:
    if "/" in value or "\\" in value or value in (".", ".."):
        raise PydanticCustomError(
            "file_name", "must be a plain file name, without / or \\ and not . or .."
        )
    return value


def _url_error(reason: str) -> PydanticCustomError:
    return PydanticCustomError("attachment_url", "must be {reason}", {"reason": reason})


def _check_url(value: str) -> str:
    if any(c.isspace() for c in value) or "\\" in value:
        raise _url_error("a URL without whitespace or backslashes (percent-encode them)")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - the property raises ValueError on a port outside 0..65535
    except ValueError:
        raise _url_error("an absolute http or https URL") from None
    if parts.scheme not in ("http", "https"):
        raise _url_error("an http or https URL (other schemes are refused)")
    if not host:
        raise _url_error("an absolute http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise _url_error("a URL without a user name or password in it")
    labels = host.rstrip(".").split(".")
    # A numeric top label means an IP address, perhaps in a form browsers accept and
    # ipaddress does not ("2130706433", "127.1"); a colon means IPv6.
    if ":" in host or labels[-1].isdigit():
        try:
            public = ipaddress.ip_address(host).is_global
        except ValueError:
            public = False
    else:
        # A dotless name or *.localhost resolves inside our own network.
        public = len(labels) >= 2 and labels[-1] != "localhost"
    if not public:
        raise _url_error("a URL whose host is a public domain name or IP address")
    return value


def _check_latitude(value: float) -> float:
    low, high = LATITUDE_RANGE
    if not low <= value <= high:
        raise PydanticCustomError(
            "outside_kazakhstan",
            "must lie within Kazakhstan: latitude {low} to {high}",
            {"low": low, "high": high},
        )
    return value


def _check_longitude(value: float) -> float:
    low, high = LONGITUDE_RANGE
    if not low <= value <= high:
        raise PydanticCustomError(
            "outside_kazakhstan",
            "must lie within Kazakhstan: longitude {low} to {high}",
            {"low": low, "high": high},
        )
    return value


def _refuse_timestamps(value: object) -> object:
    if isinstance(value, int | float):
        raise PydanticCustomError(
            "datetime_not_string",
            "must be an ISO-8601 string with a UTC offset, e.g. 2026-03-01T10:00:00+05:00",
        )
    return value


def _check_year(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise PydanticCustomError(
            "datetime_out_of_range",
            "must fall in the years {earliest}-{latest}",
            {"earliest": EARLIEST_YEAR, "latest": LATEST_YEAR},
        )
    return value


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: object) -> object:
    """Only YYYY-MM-DD (or a date): pydantic alone also reads 0 as 1970-01-01."""
    if isinstance(value, datetime) or not (
        isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value))
    ):
        raise PydanticCustomError("day_format", "must be an ISO-8601 date, e.g. 2026-03-01")
    return value


def _null_as(empty: object) -> BeforeValidator:
    return BeforeValidator(lambda value: empty if value is None else value)


def _attachment_list(value: object) -> object:
    if value is None:
        return ()
    # Counted before the items are validated, so 100 000 junk items cost one len().
    if isinstance(value, list | tuple) and len(value) > MAX_ATTACHMENTS:
        raise PydanticCustomError(
            "too_many_attachments",
            "must hold at most {max} attachments",
            {"max": MAX_ATTACHMENTS},
        )
    return value


ExternalId = Annotated[str, _line(128, EXTERNAL_ID_PATTERN), _single_line]
Code = Annotated[str, _line(64, CODE_PATTERN, min_length=2), _single_line]
Subject = Annotated[str, _line(300), _single_line]
Text = Annotated[str, _line(10_000), _multi_line]
# A line of free text outside the submission (a decree's reference, a short note).
Line = Annotated[str, _line(500), _single_line]
Day = Annotated[date, BeforeValidator(_iso_day)]
Iin = Annotated[str, _line(12, DIGITS12_PATTERN), AfterValidator(_check_iin), _single_line]
Bin = Annotated[str, _line(12, DIGITS12_PATTERN), AfterValidator(_check_bin), _single_line]
PersonName = Annotated[str, _line(200), _single_line]
OrganizationName = Annotated[str, _line(300), _single_line]
Phone = Annotated[str, _line(32, PHONE_PATTERN), _single_line]
Email = Annotated[str, _line(254, EMAIL_PATTERN), _single_line]
Address = Annotated[str, _line(500), _multi_line]
FileName = Annotated[str, _line(255), AfterValidator(_check_file_name), _single_line]
Url = Annotated[str, _line(2048), AfterValidator(_check_url), _single_line]
Sha256 = Annotated[str, _line(64, SHA256_PATTERN), AfterValidator(str.lower), _single_line]
Latitude = Annotated[
    float,
    Field(
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"minimum": LATITUDE_RANGE[0], "maximum": LATITUDE_RANGE[1]},
    ),
    AfterValidator(_check_latitude),
]
Longitude = Annotated[
    float,
    Field(
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"minimum": LONGITUDE_RANGE[0], "maximum": LONGITUDE_RANGE[1]},
    ),
    AfterValidator(_check_longitude),
]
Moment = Annotated[AwareDatetime, AfterValidator(_check_year), BeforeValidator(_refuse_timestamps)]


class AppealType(StrEnum):
    """АППК appeal types: заявление, жалоба, предложение, отклик, сообщение, запрос."""

    STATEMENT = "statement"
    COMPLAINT = "complaint"
    PROPOSAL = "proposal"
    FEEDBACK = "feedback"
    REPORT = "report"
    REQUEST = "request"


class Language(StrEnum):
    RU = "ru"
    KK = "kk"


class ApplicantKind(StrEnum):
    INDIVIDUAL = "individual"
    LEGAL_ENTITY = "legal_entity"
    ANONYMOUS = "anonymous"


class AnswerOutcome(StrEnum):
    """How the agency disposed of the appeal: «Разъяснено», «Удовлетворено», «Отказано», ..."""

    EXPLAINED = "explained"
    SATISFIED = "satisfied"
    REFUSED = "refused"
    TAKEN_NOTE = "taken_note"
    TERMINATED = "terminated"


class TerminationGround(StrEnum):
    """Grounds to terminate consideration (kz-law.md §1.8, as worded in eOtinish)."""

    NO_SUBSTANCE = "no_substance"
    REPEAT_WITHOUT_NEW_ARGUMENTS = "repeat_without_new_arguments"
    ANONYMOUS = "anonymous"
    WITHDRAWN = "withdrawn"
    RETURNED = "returned"
    COURT_ACT_EXISTS = "court_act_exists"
    DECISION_EXISTS = "decision_exists"
    OTHER = "other"


class FieldError(TypedDict):
    """One problem with one field: a dotted path and a message free of personal data."""

    field: str
    message: str


class _Contract(BaseModel):
    # hide_input_in_errors: str(ValidationError) would otherwise print IINs into logs.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _rule(error_type: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(error_type, message)


class Applicant(_Contract):
    kind: ApplicantKind
    iin: Iin | None = Field(default=None, validate_default=True)
    bin: Bin | None = Field(default=None, validate_default=True)
    full_name: PersonName | None = Field(default=None, validate_default=True)
    organization: OrganizationName | None = Field(default=None, validate_default=True)
    phone: Phone | None = None
    email: Email | None = None
    postal_address: Address | None = Field(default=None, validate_default=True)

    # Field validators rather than one model validator, so each broken rule is reported on
    # its own field and all of them at once. They see `kind` only when it was valid.

    @field_validator("iin")
    @classmethod
    def _iin_fits_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind is ApplicantKind.INDIVIDUAL and value is None:
            raise _rule("iin_required", "is required for an individual applicant")
        if kind is ApplicantKind.ANONYMOUS and value is not None:
            raise _rule("anonymous_identified", "must be null for an anonymous applicant")
        return value

    @field_validator("bin")
    @classmethod
    def _bin_fits_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind is ApplicantKind.LEGAL_ENTITY and value is None:
            raise _rule("bin_required", "is required for a legal_entity applicant")
        if kind is ApplicantKind.INDIVIDUAL and value is not None:
            raise _rule(
                "bin_for_individual",
                "must be null for an individual; send kind legal_entity for an organisation",
            )
        if kind is ApplicantKind.ANONYMOUS and value is not None:
            raise _rule("anonymous_identified", "must be null for an anonymous applicant")
        return value

    @field_validator("organization")
    @classmethod
    def _organization_fits_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind is ApplicantKind.ANONYMOUS and value is not None:
            raise _rule("anonymous_identified", "must be null for an anonymous applicant")
        # full_name is validated before organization; when it failed, it is reported itself.
        unnamed = "full_name" in info.data and info.data["full_name"] is None
        if kind is ApplicantKind.LEGAL_ENTITY and value is None and unnamed:
            raise _rule(
                "organization_required",
                "is required for a legal_entity applicant unless full_name names it",
            )
        return value

    @field_validator("postal_address")
    @classmethod
    def _address_fits_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") is ApplicantKind.ANONYMOUS and value is not None:
            raise _rule("anonymous_identified", "must be null for an anonymous applicant")
        return value


class Location(_Contract):
    locality: Code | None = None
    address: Address | None = None
    lat: Latitude | None = None
    lon: Longitude | None = Field(default=None, validate_default=True)

    @field_validator("lon")
    @classmethod
    def _lat_and_lon_together(cls, value: float | None, info: ValidationInfo) -> float | None:
        if "lat" not in info.data:
            return value  # lat was invalid and is reported on its own
        if (info.data["lat"] is None) != (value is None):
            raise _rule("coordinates_incomplete", "lat and lon must be given together")
        return value


class Attachment(_Contract):
    name: FileName
    url: Url
    sha256: Sha256
    size: Annotated[int, Field(strict=True, ge=0, le=MAX_ATTACHMENT_BYTES)]


class AppealSubmission(_Contract):
    """An appeal as an integration submits it (contract v1); (source, external_id) is its key."""

    external_id: ExternalId
    type: AppealType
    language: Language
    submitted_at: Moment
    applicant: Applicant
    subject: Subject
    text: Text
    category: Code | None = None
    location: Annotated[Location, _null_as({})] = Field(default_factory=Location)
    addressee: Code | None = None
    attachments: Annotated[
        tuple[Attachment, ...],
        Field(max_length=MAX_ATTACHMENTS),
        BeforeValidator(_attachment_list),
    ] = ()
    # Left out when false: older content (and its fingerprint) stays exactly as it was.
    public: Annotated[bool, Field(strict=True), _null_as(False)] = Field(
        default=False, exclude_if=lambda value: value is False
    )

    def canonical_content(self) -> dict[str, Any]:
        """The submission as JSON data with the time in UTC: equal content, equal data."""
        return canonical(self.model_dump(mode="json"), self.submitted_at)

    def content_fingerprint(self) -> str:
        """sha256 of canonical JSON: a retry matches it, a conflicting reuse of the key does not."""
        return fingerprint(self.canonical_content())

    def differences(self, other: AppealSubmission) -> list[str]:
        """Paths that differ, e.g. ["text", "applicant.phone", "attachments[0].url"]."""
        found: list[str] = []
        _diff(self.canonical_content(), other.canonical_content(), "", found)
        return found


def canonical(dumped: dict[str, Any], submitted_at: datetime) -> dict[str, Any]:
    """`dumped` (a submission's JSON data) with the time in UTC, for callers that dumped it."""
    return {**dumped, "submitted_at": submitted_at.astimezone(UTC).isoformat()}


def fingerprint(canonical_content: dict[str, Any]) -> str:
    text = json.dumps(canonical_content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _diff(a: object, b: object, path: str, found: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            _diff(a.get(key), b.get(key), f"{path}.{key}" if path else key, found)
    elif isinstance(a, list) and isinstance(b, list):
        for index in range(max(len(a), len(b))):
            missing = object()
            left = a[index] if index < len(a) else missing
            right = b[index] if index < len(b) else missing
            _diff(left, right, f"{path}[{index}]", found)
    elif a != b:
        found.append(path)


# The hop of the assignment an agency acts on (`AppealAssigned.hop` of the record it read),
# optional in each of its commands. Intake and deadlines follow routing through Kafka, so an
# agency acting the moment an appeal is redirected to it can be ahead of them: with the hop
# they tell "not yet" (retry) from "not yours" (403). It changes nothing else.
ActingHop = Annotated[
    int,
    Field(
        ge=1,
        description="the hop of the assignment acted on (AppealAssigned.hop): a service that "
        "has not followed that hop yet asks to retry instead of refusing",
    ),
]


class AnswerSubmission(_Contract):
    """The agency's answer, `POST /v1/appeals/{id}/answer`; `ground` only when terminated."""

    outcome: AnswerOutcome
    ground: TerminationGround | None = Field(default=None, validate_default=True)
    text: Text
    signed_at: Moment
    hop: ActingHop | None = None

    @field_validator("ground")
    @classmethod
    def _ground_iff_terminated(
        cls, value: TerminationGround | None, info: ValidationInfo
    ) -> TerminationGround | None:
        outcome = info.data.get("outcome")
        if outcome is AnswerOutcome.TERMINATED and value is None:
            raise _rule("ground_required", "is required when the outcome is terminated")
        if outcome is not None and outcome is not AnswerOutcome.TERMINATED and value is not None:
            raise _rule("ground_not_allowed", "must be null unless the outcome is terminated")
        return value


def check_codes(
    sub: AppealSubmission, categories: set[str], localities: set[str], agencies: set[str]
) -> list[FieldError]:
    """Codes that have the right shape but are not in the reference data."""
    checks = (
        ("category", sub.category, categories, "category"),
        ("location.locality", sub.location.locality, localities, "locality"),
        ("addressee", sub.addressee, agencies, "agency"),
    )
    return [
        FieldError(
            field=field,
            message=f"{mask_identifiers_in_text(code)} is not a {noun} code of the reference data",
        )
        for field, code, known, noun in checks
        if code is not None and code not in known
    ]
