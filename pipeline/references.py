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

All check digits come from python-stdnum.  The case number is recovered from any
of them with :func:`case_number_from_reference`.

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

from stdnum import iso11649, luhn
from stdnum.iso7064 import mod_97_10

FIK_LENGTH = 15
OCR_MAX_LENGTH = 25


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


def case_number_from_reference(reference: str) -> str:
    """The case number inside a FIK (optionally ``+71<…``), OCR or RF reference; check digits verified."""
    ref = "".join(reference.split()).upper()
    if ref.startswith("+71<"):
        ref = ref[4:].rstrip("+")
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
