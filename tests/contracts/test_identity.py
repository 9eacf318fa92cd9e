"""IIN/BIN checksums, embedded fields and masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appeals_contracts.identity import (
    bin_is_valid,
    check_digit,
    iin_birth_date,
    iin_is_valid,
    mask_identifiers_in_text,
    mask_iin,
)

DEV_SET = Path(__file__).resolve().parents[2] / "examples" / "appeals-dev.jsonl"


def _dev_applicants() -> list[dict[str, str | None]]:
    return [json.loads(line)["applicant"] for line in DEV_SET.read_text("utf-8").splitlines()]


def _with_check_digit(first_eleven: str) -> str:
    digit = check_digit(first_eleven)
    assert digit is not None
    return first_eleven + str(digit)


def test_every_dev_set_iin_and_bin_passes_its_checks() -> None:
    applicants = _dev_applicants()
    iins = [a["iin"] for a in applicants if a["iin"]]
    bins = [a["bin"] for a in applicants if a["bin"]]
    assert len(iins) == 72
    assert len(bins) == 4
    assert all(iin_is_valid(i) for i in iins)
    assert all(bin_is_valid(b) for b in bins)


def test_changing_the_check_digit_of_any_dev_set_number_makes_it_invalid() -> None:
    for applicant in _dev_applicants():
        for number, valid in ((applicant["iin"], iin_is_valid), (applicant["bin"], bin_is_valid)):
            if number is None:
                continue
            for digit in "0123456789":
                if digit != number[11]:
                    assert not valid(number[:11] + digit), number


def test_most_single_digit_changes_elsewhere_are_caught() -> None:
    # Weight 11 on the 11th digit is 0 mod 11, so the scheme cannot catch every typo;
    # it still has to catch the great majority of them.
    caught = total = 0
    for applicant in _dev_applicants():
        iin = applicant["iin"]
        if iin is None:
            continue
        for position in range(11):
            for digit in "0123456789":
                if digit != iin[position]:
                    total += 1
                    caught += not iin_is_valid(iin[:position] + digit + iin[position + 1 :])
    assert caught / total > 0.85


def test_check_digit_falls_back_to_the_second_weights_when_the_first_give_ten() -> None:
    first_eleven = "87051230040"
    assert sum(int(d) * w for d, w in zip(first_eleven, range(1, 12), strict=True)) % 11 == 10
    assert check_digit(first_eleven) == 4
    assert iin_is_valid("870512300404")


def test_a_prefix_whose_both_remainders_are_ten_has_no_valid_number() -> None:
    assert check_digit("87051230043") is None
    assert not any(iin_is_valid("87051230043" + d) for d in "0123456789")


@pytest.mark.parametrize(
    ("first_eleven", "reason"),
    [
        ("87131234560", "month 13"),
        ("87023034560", "30 February"),
        ("87051204560", "century digit 0"),
        ("87051274560", "century digit 7"),
    ],
)
def test_iin_with_a_valid_checksum_but_impossible_birth_fields_is_invalid(
    first_eleven: str, reason: str
) -> None:
    iin = _with_check_digit(first_eleven)
    assert iin_birth_date(iin) is None, reason
    assert not iin_is_valid(iin), reason


def test_iin_birth_date_reads_the_century_digit() -> None:
    assert str(iin_birth_date(_with_check_digit("04011550001"))) == "2004-01-15"
    assert str(iin_birth_date(_with_check_digit("99123140001"))) == "1999-12-31"
    assert str(iin_birth_date(_with_check_digit("99123110001"))) == "1899-12-31"


def test_bin_needs_a_real_month_and_an_entity_type_digit() -> None:
    assert bin_is_valid(_with_check_digit("19034000123"))
    assert bin_is_valid(_with_check_digit("19036000123"))
    assert not bin_is_valid(_with_check_digit("19037000120"))
    assert not bin_is_valid(_with_check_digit("19134000120"))
    assert not bin_is_valid(_with_check_digit("19004000120"))


@pytest.mark.parametrize(
    "text", ["", "87051234561", "8705123456180", "8705 12345618", "٨٧٠٥١٢٣٤٥٦١٨", "87051234561x"]
)
def test_anything_but_twelve_ascii_digits_is_neither_iin_nor_bin(text: str) -> None:
    assert not iin_is_valid(text)
    assert not bin_is_valid(text)


def test_check_digit_refuses_input_that_is_not_eleven_digits() -> None:
    with pytest.raises(ValueError, match="11 ASCII digits"):
        check_digit("8705123456")


def test_mask_iin_keeps_the_first_four_and_last_two_digits() -> None:
    assert mask_iin("870512345612") == "8705******12"
    assert mask_iin("12345") == "*****"


def test_masking_text_hides_every_run_of_twelve_or_more_digits_and_nothing_else() -> None:
    text = "ИИН 870512345618, БИН190340001233; карта 4400430012345678; тел. 87011234567"
    assert mask_identifiers_in_text(text) == (
        "ИИН 8705******18, БИН1903******33; карта 4400**********78; тел. 87011234567"
    )
