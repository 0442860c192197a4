"""Matching payments to cases: an ordered list of named rules over all the payments of a run at once.

1. ``REFERENCE``: the structured reference (FIK, also as the full line ``+71<…+…<`` or ``71/…``; OCR; RF),
   check digits verified, names a case.
2. ``TEXT_REFERENCE``: the unstructured text holds a valid reference, or a case number, of exactly one case.
3. ``AMOUNT_AND_NAME``: no case named; the amount equals the balance of exactly one open case in the
   payment's currency on its value date, and the payer's name is like that case's debtor's (rapidfuzz,
   token set ratio ≥ `NAME_SIMILARITY`).

A payment no rule matches is parked with its reason: ``NO_REFERENCE`` (nothing to go by),
``UNKNOWN_REFERENCE`` (a reference that names no case, or whose check digits are wrong), ``AMBIGUOUS`` (the
text or the amount fits more than one case). A payment matched to a case that cannot take it is parked too:
``CURRENCY_MISMATCH``, ``CASE_CLOSED``, ``CASE_HANDED_OVER``.

Every rule is a join of the run's payments against the cases (pandas), never a query per payment: the
references are read once per distinct value, the cases fetched once by number, the balances once per
distinct value date.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pandas as pd
from rapidfuzz import fuzz

from pipeline import case_states
from pipeline.references import case_numbers_from_references

REFERENCE, TEXT_REFERENCE, AMOUNT_AND_NAME, MANUAL = "REFERENCE", "TEXT_REFERENCE", "AMOUNT_AND_NAME", "MANUAL"
PARTNER = "PARTNER"   # a partner's remittance line names its case (`remittances`)
NO_REFERENCE, UNKNOWN_REFERENCE, AMBIGUOUS = "NO_REFERENCE", "UNKNOWN_REFERENCE", "AMBIGUOUS"
CURRENCY_MISMATCH, CASE_CLOSED, CASE_HANDED_OVER = "CURRENCY_MISMATCH", "CASE_CLOSED", "CASE_HANDED_OVER"
NAME_SIMILARITY = 85
READ_AT_ONCE = 100_000   # references checked in one pass of whole-array arithmetic
FIK_FORMS = re.compile(r"^\+?71[<\s/]+(\d{15})(?:\+\d+<?)?$")
TEXT_TOKENS = r"(?:\+71<|71/)?(RF\d{2}[0-9A-Z]{1,21}|\d{3,25})"
COLLECTING = (case_states.OPEN, case_states.COURT_APPROVED, case_states.DISPUTED)
NO_CASE = (NO_REFERENCE, UNKNOWN_REFERENCE, AMBIGUOUS)


def reference_case_number(reference: str) -> str | None:
    """The case number a reference names, check digits verified; None when it names none. A FIK written as
    the full line ``+71<payment id+creditor number<`` or as ``71/payment id`` is understood."""
    return reference_case_numbers([reference])[0]


def reference_case_numbers(references: list[str]) -> list[str | None]:
    """`reference_case_number` of each of a run's references, `READ_AT_ONCE` at a time (a million at once held
    some 700 MB more for a moment: their forms as Python and NumPy strings)."""
    numbers: list[str | None] = []
    for start in range(0, len(references), READ_AT_ONCE):
        compact = ["".join(reference.split()).upper() for reference in references[start:start + READ_AT_ONCE]]
        numbers += case_numbers_from_references([fik.group(1) if (fik := FIK_FORMS.match(ref)) else ref
                                                 for ref in compact])
    return numbers


def match(payments: pd.DataFrame, cases_by_number: Callable[[list[str]], pd.DataFrame],
          totals_on: Callable[[date], pd.DataFrame]) -> pd.DataFrame:
    """``payments``: id, amount_minor, currency, value_date, reference, remittance_text, payer_name.
    ``cases_by_number``: the cases with those numbers (case_id, case_number, status, currency, debtor_name).
    ``totals_on``: each collecting case's balance on a day (case_id, currency, total_minor, debtor_name).

    Per payment (same index): ``case_id`` (also of a case that cannot take it), ``rule`` (when matched) or
    ``parked_reason``."""
    number = _by_reference(payments)
    cases = cases_by_number(number.dropna().unique().tolist()).set_index("case_number")
    number = number.where(number.isin(cases.index))
    rule = pd.Series(None, index=payments.index, dtype=object).mask(number.notna(), REFERENCE)
    text_number, text_ambiguous = _by_text(payments, number.isna(), cases_by_number)
    rule = rule.mask(number.isna() & text_number.notna(), TEXT_REFERENCE)
    number = number.fillna(text_number)
    cases = _with(cases, cases_by_number(text_number.dropna().unique().tolist()).set_index("case_number"))
    case_id = number.map(cases["case_id"]).astype(object)
    by_amount, amount_ambiguous = _by_amount_and_name(payments[case_id.isna() & ~text_ambiguous], totals_on)
    case_id.loc[by_amount.index] = by_amount
    rule.loc[by_amount.index] = AMOUNT_AND_NAME
    reason = _parked(payments, case_id, number.map(cases["currency"]), number.map(cases["status"]),
                     text_ambiguous | amount_ambiguous)
    case_id = case_id.where(~reason.isin(NO_CASE))
    return pd.DataFrame({"id": payments["id"], "case_id": _objects(case_id.astype("Int64")),
                         "rule": _objects(rule.where(reason.isna())), "parked_reason": _objects(reason)})


def _with(cases: pd.DataFrame, more: pd.DataFrame) -> pd.DataFrame:
    """``cases`` and those of ``more`` it has not (by case number), copied only when there are some: a run's
    cases are a frame of a million rows."""
    more = more[~more.index.isin(cases.index)]
    return pd.concat([cases, more]) if len(more) else cases


def _objects(values: pd.Series) -> pd.Series:
    """Python values, None where there is none (not NaN or NA): the rows are written as they are."""
    return pd.Series(values.to_numpy(dtype=object, na_value=None), index=values.index, dtype=object)


def _by_reference(payments: pd.DataFrame) -> pd.Series:
    references = payments["reference"].fillna("")
    written = [reference for reference in references.unique() if reference]
    numbers = dict(zip(written, reference_case_numbers(written)))
    return references.map(numbers).astype(object).where(references != "", None)


def _by_text(payments: pd.DataFrame, wanted: pd.Series, cases_by_number) -> tuple[pd.Series, pd.Series]:
    """The one case the text names (a reference, else a bare case number), and whether it names several."""
    tokens = payments.loc[wanted, "remittance_text"].fillna("").str.upper().str.findall(TEXT_TOKENS).explode()
    tokens = tokens.dropna()
    unique = tokens.unique().tolist()
    readings = dict(zip(unique, reference_case_numbers(unique)))
    candidates = pd.concat([tokens.map(readings).dropna(), tokens]).rename("case_number")
    known = set(cases_by_number(candidates.unique().tolist())["case_number"])
    named = candidates[candidates.isin(known)].groupby(level=0).unique()
    number = pd.Series(None, index=payments.index, dtype=object)
    ambiguous = pd.Series(False, index=payments.index)
    single = named[named.map(len) == 1]
    number.loc[single.index] = single.map(lambda numbers: numbers[0])
    ambiguous.loc[named[named.map(len) > 1].index] = True
    return number, ambiguous


def _by_amount_and_name(payments: pd.DataFrame, totals_on) -> tuple[pd.Series, pd.Series]:
    """The one collecting case per payment whose balance on the value date is the amount and whose debtor's
    name is like the payer's; and whether more than one fits."""
    case_ids = pd.Series(dtype=object)
    ambiguous = pd.Series(False, index=payments.index)
    for day, on_day in payments[payments["amount_minor"] > 0].groupby("value_date"):
        pairs = on_day.reset_index().merge(totals_on(day), left_on=["currency", "amount_minor"],
                                           right_on=["currency", "total_minor"])
        alike = [fuzz.token_set_ratio(payer.lower(), debtor.lower()) >= NAME_SIMILARITY
                 for payer, debtor in zip(pairs["payer_name"].fillna(""), pairs["debtor_name"])]
        pairs = pairs.loc[pd.Series(alike, index=pairs.index, dtype=bool)]
        fits = pairs.groupby("index")["case_id"].unique()
        case_ids = pd.concat([case_ids, fits[fits.map(len) == 1].map(lambda ids: ids[0])])
        ambiguous.loc[fits[fits.map(len) > 1].index] = True
    return case_ids, ambiguous


def _parked(payments: pd.DataFrame, case_id: pd.Series, currency: pd.Series, status: pd.Series,
            ambiguous: pd.Series) -> pd.Series:
    reason = pd.Series(None, index=payments.index, dtype=object)
    unmatched = case_id.isna()
    reason[unmatched] = payments["reference"].fillna("").map(lambda ref: UNKNOWN_REFERENCE if ref else NO_REFERENCE)
    reason[unmatched & ambiguous] = AMBIGUOUS
    named = status.notna()
    taking = ~payments["reversal"] if "reversal" in payments else True   # a reversal may reopen a closed case
    reason[named & ~status.isin(COLLECTING) & taking] = CASE_CLOSED
    reason[named & (status == case_states.HANDED_OVER)] = CASE_HANDED_OVER
    reason[named & (currency != payments["currency"])] = CURRENCY_MISMATCH
    return reason
