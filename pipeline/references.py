"""Payment references for our cases, derived from the case number.

- Danish FIK (kortart +71): a 15-digit payment id whose last digit is a Luhn
  (mod 10, weights 1-2 from the right) check digit; the case number is left-padded
  with zeros to 14 digits.  Source: rules.md, "Payment references"; Nets'
  FI-kort specification.
- Swedish OCR with length digit (Bankgirot "OCR-kontroll, checksiffra och
  längdsiffra"): the case number, then the total length mod 10, then a Luhn
  check digit over all that.  At most 25 digits.
- ISO 11649 creditor reference (RF) for every other country: ``RF``, two mod 97
  check digits, then the case number.

All check digits come from python-stdnum, but for the FIK and OCR references of a
batch of new cases, whose Luhn digits are computed for the whole batch at once
(:func:`references_for`, held equal to python-stdnum's by a property test).  The
case number is recovered from any of them with :func:`case_number_from_reference`, and from a run's
references at once with :func:`case_numbers_from_references`.

>>> fik_payment_id("10000001")
'000000100000017'
>>> ocr_reference("10000001")
'1000000107'
>>> rf_reference("10000001")
'RF5910000001'
>>> [case_number_from_reference(r) for r in ("+71<000000100000017", "1000000107", "RF59 1000 0001")]
['10000001', '10000001', '10000001']
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from stdnum import iso11649, luhn
from stdnum.iso7064 import mod_97_10

FIK_LENGTH = 15
OCR_MAX_LENGTH = 25
ASCII_DIGITS = re.compile(r"^[0-9]+$")
_DOUBLED_DIGIT_SUM = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9])   # Luhn: the digit sum of twice each digit


class InvalidReference(ValueError):
    """A payment reference whose format or check digit is wrong."""


def fik_payment_id(case_number: str) -> str:
    body = case_number.rjust(FIK_LENGTH - 1, "0")
    if len(body) != FIK_LENGTH - 1 or not body.isdigit():
        raise ValueError(f"case number {case_number!r} does not fit a FIK payment id")
    return body + luhn.calc_check_digit(body)


def ocr_reference(case_number: str) -> str:
    if not case_number.isdigit() or len(case_number) + 2 > OCR_MAX_LENGTH:
        raise ValueError(f"case number {case_number!r} does not fit an OCR reference")
    with_length = case_number + str((len(case_number) + 2) % 10)
    return with_length + luhn.calc_check_digit(with_length)


def rf_reference(case_number: str) -> str:
    return "RF" + mod_97_10.calc_check_digits(case_number + "RF") + case_number


def reference_for(country: str, case_number: str) -> str:
    """The reference a debtor in ``country`` pays with: FIK for DK, OCR for SE, RF otherwise."""
    if country == "DK":
        return fik_payment_id(case_number)
    if country == "SE":
        return ocr_reference(case_number)
    return rf_reference(case_number)


def references_for(countries: Sequence[str], case_numbers: Sequence[str]) -> list[str]:
    """`reference_for` of each (country, case number): the FIK and OCR references of case numbers of up to 14
    digits in whole-array arithmetic (300,000 new cases one at a time through stdnum took over a second),
    any other one by `reference_for`."""
    texts, countries = np.array(case_numbers, dtype=str), np.array(countries, dtype=object)
    lengths = np.char.str_len(texts)
    fits = np.char.isdigit(texts) & (lengths < FIK_LENGTH)
    numbers = np.where(fits, texts, "0").astype(np.int64)
    made = np.empty(len(texts), dtype=object)
    fik, ocr = fits & (countries == "DK"), fits & (countries == "SE")
    if fik.any():
        made[fik] = np.char.add(np.char.zfill(texts[fik], FIK_LENGTH - 1),
                                _luhn_check_digits(numbers[fik]).astype(str))
    if ocr.any():
        length_digits = (lengths[ocr] + 2) % 10
        made[ocr] = np.char.add(np.char.add(texts[ocr], length_digits.astype(str)),
                                _luhn_check_digits(numbers[ocr] * 10 + length_digits).astype(str))
    others = ~(fik | ocr)
    made[others] = [reference_for(country, number) for country, number in
                    zip(countries[others], np.array(case_numbers, dtype=object)[others])]
    return made.tolist()


def _luhn_check_digits(numbers: np.ndarray) -> np.ndarray:
    """`luhn.calc_check_digit` of the decimal digits of each non-negative integer: the digit that will stand
    right of the last one makes the last one doubled, and every second one left of it."""
    total, rest, doubled = np.zeros_like(numbers), numbers.copy(), True
    while rest.any():
        digits = rest % 10
        total += _DOUBLED_DIGIT_SUM[digits] if doubled else digits
        rest //= 10
        doubled = not doubled
    return (10 - total % 10) % 10


def case_number_from_reference(reference: str) -> str:
    """The case number inside a FIK (optionally ``+71<…``), OCR or RF reference; check digits verified."""
    ref = _compact(reference)
    if ref.startswith("RF"):
        if not iso11649.is_valid(ref):
            raise InvalidReference(f"{reference!r} is not a valid RF creditor reference")
        return ref[4:]
    if not ref.isdigit() or not 3 <= len(ref) <= OCR_MAX_LENGTH:
        raise InvalidReference(f"{reference!r} is not a FIK payment id, OCR or RF reference")
    if not luhn.is_valid(ref):
        raise InvalidReference(f"{reference!r} has a wrong check digit")
    if len(ref) == FIK_LENGTH:
        case_number = ref[:-1].lstrip("0")
    elif int(ref[-2]) != len(ref) % 10:
        raise InvalidReference(f"{reference!r} has a wrong OCR length digit")
    else:
        case_number = ref[:-2]
    if not case_number.strip("0"):
        raise InvalidReference(f"{reference!r} holds no case number")
    return case_number


def case_numbers_from_references(references: Sequence[str]) -> list[str | None]:
    """`case_number_from_reference` of each reference, None where it names no case. A FIK or OCR reference is
    checked by making it again from the case number it would hold (`references_for`: whole-array arithmetic,
    where a million references one at a time through stdnum took seconds); an RF one, or one that is neither,
    by `case_number_from_reference`."""
    compact = [_compact(reference) for reference in references]
    numbers: list[str | None] = [None] * len(compact)
    checked, countries, candidates = [], [], []
    for i, ref in enumerate(compact):
        if 3 <= len(ref) <= OCR_MAX_LENGTH and ASCII_DIGITS.match(ref):
            candidate = ref[:-1].lstrip("0") if len(ref) == FIK_LENGTH else ref[:-2]
            if candidate.strip("0"):
                checked.append(i)
                countries.append("DK" if len(ref) == FIK_LENGTH else "SE")
                candidates.append(candidate)
        elif ref.startswith("RF"):
            numbers[i] = _case_number_or_none(ref)
    for i, candidate, made in zip(checked, candidates, references_for(countries, candidates)):
        if made == compact[i]:
            numbers[i] = candidate
    return numbers


def _compact(reference: str) -> str:
    """A reference as `case_number_from_reference` reads it: no spaces, upper case, a FIK line's ``+71<`` off."""
    ref = "".join(reference.split()).upper()
    return ref[4:].rstrip("+") if ref.startswith("+71<") else ref


def _case_number_or_none(reference: str) -> str | None:
    try:
        return case_number_from_reference(reference)
    except InvalidReference:
        return None
