"""The day's letters for the print-and-mail partner (formats.md §3.0): ``letters_<date>.csv``, one line per
letter, written from what each letter row holds (its amounts as they were on the day it was sent).

Each line adds up: ``principal + interest + reminder_fees + collection_fees + compensation - payments = total``.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from pipeline.exporters.csv_safe import write_csv
from pipeline.money import format_minor

COLUMNS = ("letter_id", "case_number", "letter_type", "language", "sent_on", "deadline", "debtor_name",
           "debtor_address_line1", "debtor_address_line2", "debtor_postcode", "debtor_city", "debtor_country",
           "debtor_email", "creditor_name", "claims", "principal", "interest", "interest_rate_pct", "reminder_fees",
           "collection_fees", "compensation", "payments", "total", "currency", "payment_reference", "pay_to_iban")
NUMERIC = ("principal", "interest", "interest_rate_pct", "reminder_fees", "collection_fees", "compensation",
           "payments", "total")
AMOUNTS = ("principal", "interest", "reminder_fees", "collection_fees", "compensation", "payments", "total")


def letter_id(case_number: str, sequence: int) -> str:
    return f"{case_number}-{sequence:03d}"


def write_letters_csv(sink: BinaryIO, letters: Iterable) -> None:
    """``letters``: rows of the ``letters`` table with their case's ``case_number``, in order."""
    write_csv(sink, COLUMNS, (_line(letter) for letter in letters), numeric=NUMERIC)


def _line(letter) -> tuple:
    money = {name: format_minor(getattr(letter, f"{name}_minor"), letter.currency) for name in AMOUNTS}
    return (letter_id(letter.case_number, letter.sequence), letter.case_number, letter.letter_type, letter.language,
            letter.sent_on.isoformat(), letter.deadline.isoformat(), letter.debtor_name, letter.debtor_address_line1,
            letter.debtor_address_line2 or "", letter.debtor_postcode, letter.debtor_city, letter.debtor_country,
            letter.debtor_email or "", letter.creditor_name, letter.claims, money["principal"], money["interest"],
            letter.interest_rate_pct, money["reminder_fees"], money["collection_fees"], money["compensation"],
            money["payments"], money["total"], letter.currency, letter.payment_reference, letter.pay_to_iban)
