"""Payments as the bank files state them (formats.md §2), whatever format they came in.

Every bank parser (`camt` for ISO 20022 camt.053 and camt.054, `bgmax` for Bankgirot's BgMax) reads a file
into one `PaymentFile`: the payments into the account, each with the bank's own unique key, and, by
position, every entry the parser did not take as a payment and why (a debit, say), so that nothing in a
bank file is passed over silently. Parsers only parse: matching a payment to a case is reconciliation's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from pipeline.money import is_currency, to_minor
from pipeline.parsers import FileRejected


@dataclass(frozen=True)
class Payment:
    """One payment into the agency's account, or the reversal of one (``amount_minor`` negative)."""

    key: str                  # the bank's unique reference of the payment: its natural key within the source
    amount_minor: int         # in the currency's minor units; a reversal is negative
    currency: str
    value_date: date
    booking_date: date | None
    reference: str = ""       # structured reference as written (FIK, OCR, RF), "" when there is none
    text: str = ""            # unstructured remittance information, "" when there is none
    payer_name: str = ""
    payer_address: str = ""
    payer_id: str = ""        # the payer's organisation number or other id, as the bank gives it
    reversal: bool = False
    position: str = ""        # where in the file it stands, for messages: "statement S1 entry 3 detail 2"


@dataclass(frozen=True)
class Ignored:
    """An entry of a bank file that is not a payment into the account, and why it was left."""

    position: str
    reason: str


@dataclass
class PaymentFile:
    source: str                                 # "camt.053", "camt.054" or "bgmax"
    account: str                                # the account credited: IBAN (or other id), or bankgiro
    payments: list[Payment] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)


def minor_amount(text: str | None, currency: str | None, where: str) -> int:
    """A bank's decimal amount (``1234.50``) in minor units; a file with an amount or currency it cannot
    state exactly is rejected whole (BAD_AMOUNT, BAD_CURRENCY), never rounded."""
    if not currency or not is_currency(currency):
        raise FileRejected("BAD_CURRENCY", f"{where}: {currency!r} is not an ISO 4217 currency")
    try:
        amount = Decimal((text or "").strip())
        if not amount.is_finite() or amount < 0:
            raise InvalidOperation
        return to_minor(amount, currency)
    except (InvalidOperation, ValueError):
        raise FileRejected("BAD_AMOUNT", f"{where}: {text!r} is not an amount in {currency}") from None
