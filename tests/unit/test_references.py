"""Payment references (rules.md "Payment references", formats.md §2): FIK +71, OCR with length digit, RF.
Check digits are verified independently with python-stdnum."""
from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from stdnum import iso11649, luhn

from pipeline.references import (InvalidReference, case_number_from_reference, case_numbers_from_references,
                                 fik_payment_id, ocr_reference, reference_for, references_for, rf_reference)

# case numbers as the ledger makes them (10,000,000 + id), up to 12 digits: a 13-digit one would make a 15-digit
# OCR reference, which cannot be told from a FIK payment id (reported as a known limit)
CASE_NUMBERS = st.integers(10_000_000, 10**12 - 1).map(str)
DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=23)   # any case number an OCR reference can hold


@pytest.mark.parametrize(("fik", "case_number"), [("026840149965328", "2684014996532"),
                                                  ("000000003097920", "309792"),
                                                  ("123456789012347", "12345678901234")])
def test_the_valid_fik_examples_of_rules_md(fik, case_number):
    assert luhn.is_valid(fik)
    assert case_number_from_reference(fik) == case_number
    assert fik_payment_id(case_number) == fik                     # we would issue the same payment id


def test_known_references_of_one_case():
    assert fik_payment_id("10000001") == "000000100000017"
    assert ocr_reference("10000001") == "1000000107"             # 10 digits: length digit 0, then Luhn 7
    assert rf_reference("10000001") == "RF5910000001"
    assert [reference_for(country, "10000001") for country in ("DK", "SE", "NO", "DE")] == \
           ["000000100000017", "1000000107", "RF5910000001", "RF5910000001"]


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["DK", "SE", "NO", "DE"]),
                          st.text(alphabet="0123456789", min_size=1, max_size=20)), max_size=30))
def test_the_references_of_a_batch_are_those_of_each_case_by_stdnum(pairs):
    """Leading zeros, every length up to the FIK bound and past it (a Swedish OCR of 20 digits), RF elsewhere."""
    pairs = [(country, number) for country, number in pairs if country != "DK" or len(number) < 15]
    countries, numbers = [c for c, _ in pairs], [n for _, n in pairs]
    assert references_for(countries, numbers) == [reference_for(c, n) for c, n in pairs]


def test_a_case_number_too_long_for_a_fik_payment_id_fails_in_a_batch_as_alone():
    with pytest.raises(ValueError, match="does not fit a FIK payment id"):
        references_for(["SE", "DK"], ["10000001", "1" * 15])


@pytest.mark.parametrize("written", ["+71<000000100000017", "+71<000000100000017+", " 0000 0010 0000 017 ",
                                     "1000000107", "RF5910000001", "RF59 1000 0001", "rf5910000001"])
def test_references_as_debtors_write_them(written):
    assert case_number_from_reference(written) == "10000001"


@hsettings(max_examples=200, deadline=None)
@given(CASE_NUMBERS)
def test_generated_references_validate_and_round_trip(case_number):
    fik = fik_payment_id(case_number)
    assert len(fik) == 15 and fik.isdigit() and luhn.is_valid(fik)
    assert case_number_from_reference(fik) == case_number
    assert case_number_from_reference(f"+71<{fik}+") == case_number

    ocr = ocr_reference(case_number)
    assert ocr.isdigit() and luhn.is_valid(ocr) and len(ocr) == len(case_number) + 2
    assert int(ocr[-2]) == len(ocr) % 10                          # the length digit
    assert case_number_from_reference(ocr) == case_number

    rf = rf_reference(case_number)
    assert iso11649.is_valid(rf) and rf.startswith("RF") and rf[4:] == case_number
    assert case_number_from_reference(iso11649.format(rf)) == case_number   # printed in groups of four


@hsettings(max_examples=200, deadline=None)
@given(CASE_NUMBERS, st.data())
def test_any_single_wrong_digit_is_caught(case_number, data):
    for reference in (fik_payment_id(case_number), ocr_reference(case_number), rf_reference(case_number)):
        position = data.draw(st.integers(4 if reference.startswith("RF") else 0, len(reference) - 1))
        wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != reference[position]]))
        mutated = reference[:position] + wrong + reference[position + 1:]
        with pytest.raises(InvalidReference):
            case_number_from_reference(mutated)


@pytest.mark.parametrize(("reference", "message"), [
    ("000000100000018", "'000000100000018' has a wrong check digit"),           # FIK, last digit off by one
    ("1000000108", "'1000000108' has a wrong check digit"),                     # OCR
    ("1000000131", "'1000000131' has a wrong OCR length digit"),                # Luhn right, length digit 3 not 0
    ("RF5810000001", "'RF5810000001' is not a valid RF creditor reference"),
    ("RF18", "'RF18' is not a valid RF creditor reference"),
    ("12a45", "'12a45' is not a FIK payment id, OCR or RF reference"),
    ("", "'' is not a FIK payment id, OCR or RF reference"),
    ("0", "'0' is not a FIK payment id, OCR or RF reference"),                  # Luhn-valid, but too short
    ("26", "'26' is not a FIK payment id, OCR or RF reference"),                # would hold an empty case number
    ("000000000000000", "'000000000000000' holds no case number"),
    ("1" * 25 + "0", "'" + "1" * 25 + "0' is not a FIK payment id, OCR or RF reference"),   # over 25 digits
])
def test_invalid_references_are_refused_with_a_reason(reference, message):
    with pytest.raises(InvalidReference) as caught:
        case_number_from_reference(reference)
    assert str(caught.value) == message
    assert case_numbers_from_references([reference]) == [None]


def _one_at_a_time(reference: str) -> str | None:
    try:
        return case_number_from_reference(reference)
    except InvalidReference:
        return None


def _as_written(reference: str, mutation: tuple[int, str], spaced: bool, line: bool) -> str:
    """A reference as a payer might write it: maybe one character replaced, in groups of four, as a FIK line."""
    position, character = mutation
    written = reference[:position % len(reference)] + character + reference[position % len(reference) + 1:] \
        if character else reference
    if spaced:
        written = " ".join(written[i:i + 4] for i in range(0, len(written), 4)).lower()
    return f"+71<{written}+" if line else written


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.builds(_as_written,
              st.one_of(st.builds(reference_for, st.just("DK"), DIGITS.filter(lambda number: len(number) <= 14)),
                        st.builds(reference_for, st.sampled_from(["SE", "NO"]), DIGITS)),
              st.tuples(st.integers(0, 30), st.sampled_from(["", "", "0", "7", "9", "x", "٣", "R"])),
              st.booleans(), st.booleans()),
    st.text(alphabet="0123456789 +<RFrf٣", max_size=27)), max_size=40))
def test_a_runs_references_read_at_once_name_the_cases_each_names_alone(references):
    """Valid references of every kind (leading zeros, every length, the longest OCR), the same with one character
    wrong (a digit, a letter, a non-ASCII digit), spaced, lower case, as FIK lines, and any text of their
    characters."""
    assert case_numbers_from_references(references) == [_one_at_a_time(reference) for reference in references]


def test_case_numbers_that_do_not_fit():
    with pytest.raises(ValueError, match="does not fit a FIK payment id"):
        fik_payment_id("1" * 15)
    with pytest.raises(ValueError, match="does not fit an OCR reference"):
        ocr_reference("1" * 24)
    assert len(ocr_reference("1" * 23)) == 25 and ocr_reference("1" * 23)[-2] == "5"   # the longest OCR

