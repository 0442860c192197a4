"""Matching payments to cases (`pipeline.stages.reconcile.matching`): each rule, and each reason to park."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from pipeline.references import fik_payment_id, ocr_reference, rf_reference
from pipeline.stages.reconcile.matching import match, reference_case_number

CASES = pd.DataFrame([
    (1, "10000001", "OPEN", "DKK", "Jens Hansen"),
    (2, "10000002", "OPEN", "SEK", "Eva Berg"),
    (3, "10000003", "PAID", "DKK", "Ole Olsen"),
    (4, "10000004", "HANDED_OVER", "DKK", "Per Lund"),
    (5, "10000005", "OPEN", "DKK", "Anna Holm"),
    (6, "10000006", "OPEN", "DKK", "Anne Holm"),
    (7, "10000007", "OPEN", "DKK", "Karen Nielsen"),
], columns=["case_id", "case_number", "status", "currency", "debtor_name"])
TOTALS = pd.DataFrame([(1, "DKK", 125050, "Jens Hansen"), (2, "SEK", 30000, "Eva Berg"),
                       (5, "DKK", 50000, "Anna Holm"), (6, "DKK", 50000, "Anne Holm"),
                       (7, "DKK", 77700, "Karen Nielsen")],
                      columns=["case_id", "currency", "total_minor", "debtor_name"])
DAY = date(2026, 11, 24)


def judge(*rows):
    payments = pd.DataFrame([dict(id=n, amount_minor=amount, currency=currency, value_date=DAY, reference=reference,
                                  remittance_text=text, payer_name=payer)
                             for n, (amount, currency, reference, text, payer) in enumerate(rows, start=1)])
    judged = match(payments, lambda numbers: CASES[CASES["case_number"].isin(numbers)], lambda day: TOTALS)
    return [(row.case_id, row.rule, row.parked_reason) for row in judged.itertuples()]


@pytest.mark.parametrize("reference", [
    fik_payment_id("10000001"), f"+71<{fik_payment_id('10000001')}+85382016<", f"71/{fik_payment_id('10000001')}",
    "RF59 1000 0001", rf_reference("10000001")])
def test_every_form_of_a_reference_names_its_case(reference):
    assert reference_case_number(reference) == "10000001"


def test_a_wrong_check_digit_names_no_case():
    assert (reference_case_number("000000100000018"), reference_case_number(ocr_reference("10000002"))) == (
        None, "10000002")


def test_each_rule_in_its_order():
    assert judge(
        (1000, "DKK", fik_payment_id("10000001"), "", ""),                          # the structured reference
        (1000, "SEK", "", f"OCR {ocr_reference('10000002')} tack", "Eva"),          # a reference in the text
        (1000, "DKK", "", "betaling sag 10000001", ""),                             # a case number in the text
        (77700, "DKK", "", "", "KAREN NIELSEN"),                                    # the amount and the name
        (1000, "DKK", "000000999999994", "sag 10000001", ""),                       # unknown reference, then text
    ) == [(1, "REFERENCE", None), (2, "TEXT_REFERENCE", None), (1, "TEXT_REFERENCE", None),
          (7, "AMOUNT_AND_NAME", None), (1, "TEXT_REFERENCE", None)]


def test_each_reason_to_park():
    assert judge(
        (1000, "DKK", "", "thanks", "Someone"),                                     # nothing to go by
        (1000, "DKK", "000000100000018", "", ""),                                   # a wrong check digit
        (1000, "DKK", fik_payment_id("99999999"), "", ""),                          # no such case
        (1000, "DKK", "", "sag 10000001 og 10000005", ""),                          # two cases in the text
        (50000, "DKK", "", "", "Anna Holm"),                                        # two Holms owe 500.00
        (1000, "DKK", ocr_reference("10000002"), "", ""),                           # a SEK case paid in DKK
        (1000, "DKK", fik_payment_id("10000003"), "", ""),                          # a closed case
        (1000, "DKK", fik_payment_id("10000004"), "", ""),                          # handed over to court
        (77700, "DKK", "", "", "Someone Else"),                                     # the amount, not the name
    ) == [(None, None, "NO_REFERENCE"), (None, None, "UNKNOWN_REFERENCE"), (None, None, "UNKNOWN_REFERENCE"),
          (None, None, "AMBIGUOUS"), (None, None, "AMBIGUOUS"), (2, None, "CURRENCY_MISMATCH"),
          (3, None, "CASE_CLOSED"), (4, None, "CASE_HANDED_OVER"), (None, None, "NO_REFERENCE")]
