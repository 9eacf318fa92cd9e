"""Kazakhstan IIN and BIN: checksum, embedded-field checks and masking for logs and messages.

Both numbers are 12 digits whose 12th digit is a mod-11 check digit over the first 11:
weights 1..11; if the remainder is 10, weights 3..11,1,2; if it is 10 again, no number with
these 11 digits is issued. An IIN starts with the birth date YYMMDD and a century/sex digit
(1-2: 1800s, 3-4: 1900s, 5-6: 2000s; odd male, even female). A BIN starts with the year and
month of registration YYMM and an entity-type digit (4 resident legal entity, 5 non-resident,
6 joint individual entrepreneurship).
"""

from __future__ import annotations

import operator
import re
from datetime import date

_FIRST_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
# Digits are summed as ASCII codes (digit + 48); both weight sets add up to 66, so the 48s
# contribute 48 * 66, taken off once. Much faster than int() per digit, and IINs are checked
# on every submission.
_ASCII_OFFSET = 48 * 66
_CENTURY_BY_DIGIT = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}
_BIN_TYPE_DIGITS = frozenset("456")
# Runs of 12 or more ASCII digits not glued to other digits: IINs, BINs, and longer numbers
# (card or account numbers) that are no less personal.
_LONG_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{12,}(?![0-9])")


def _ascii_digits(s: str, length: int) -> bool:
    # isascii() first: str.isdigit() alone accepts "٣" and other non-ASCII digits.
    return len(s) == length and s.isascii() and s.isdigit()


def _check_digit(codes: bytes) -> int | None:
    remainder = (sum(map(operator.mul, codes, _FIRST_WEIGHTS)) - _ASCII_OFFSET) % 11
    if remainder == 10:
        remainder = (sum(map(operator.mul, codes, _SECOND_WEIGHTS)) - _ASCII_OFFSET) % 11
    return None if remainder == 10 else remainder


def check_digit(first_eleven: str) -> int | None:
    """The 12th digit for these 11 digits, or None when no valid number starts with them."""
    if not _ascii_digits(first_eleven, 11):
        raise ValueError("check_digit needs exactly 11 ASCII digits")
    return _check_digit(first_eleven.encode("ascii"))


def _checksum_is_valid(s: str) -> bool:
    if not _ascii_digits(s, 12):
        return False
    codes = s.encode("ascii")
    return _check_digit(codes[:11]) == codes[11] - 48


def _two_digits(s: str, at: int) -> int:
    return (ord(s[at]) - 48) * 10 + ord(s[at + 1]) - 48


def iin_birth_date(s: str) -> date | None:
    """The birth date an IIN encodes, or None when its date or century digit is impossible."""
    century = _CENTURY_BY_DIGIT.get(s[6:7])
    if century is None or not _ascii_digits(s, 12):
        return None
    try:
        return date(century + _two_digits(s, 0), _two_digits(s, 2), _two_digits(s, 4))
    except ValueError:
        return None


def iin_is_valid(s: str) -> bool:
    """True for 12 digits with a real birth date, century/sex digit 1-6 and a right check digit."""
    return _checksum_is_valid(s) and iin_birth_date(s) is not None


def bin_is_valid(s: str) -> bool:
    """True for 12 digits with month 01-12, type digit 4/5/6 and a correct check digit."""
    return _checksum_is_valid(s) and 1 <= _two_digits(s, 2) <= 12 and s[4] in _BIN_TYPE_DIGITS


def mask_iin(s: str) -> str:
    """Keep the first 4 and last 2 characters: "870512345612" -> "8705******12" (BINs too)."""
    if len(s) < 8:
        return "*" * len(s)
    return s[:4] + "*" * (len(s) - 6) + s[-2:]


def mask_identifiers_in_text(s: str) -> str:
    """Mask every run of 12 or more digits, so a log line or message never carries an IIN/BIN."""
    return _LONG_DIGIT_RUN.sub(lambda m: mask_iin(m.group()), s)
