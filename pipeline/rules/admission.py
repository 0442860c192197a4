"""Whether a readable claim may be taken for collection on ``as_of`` (formats.md §1.1, rules.md).

Each check marks the rows it rejects with one outcome code; the first problem of
a row wins. Credit notes are not judged for overdue, time bar, fees or minimum:
they only reduce the invoice they name.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
from stdnum.dk import cpr, cvr
from stdnum.exceptions import ValidationError
from stdnum.se import orgnr, personnummer

from pipeline.money import format_minor, to_minor
from pipeline.rules import in_force, load_table, without_rule

BY_DEBTOR = {"country": "debtor_country", "debtor_type": "debtor_type"}
NATIONAL_ID_CHECKS = {"cpr": cpr, "cvr": cvr, "personnummer": personnummer, "orgnr": orgnr}


def judge(frame: pd.DataFrame, as_of: date, supported_countries: frozenset[str],
          drop_invalid_national_ids: bool = False) -> None:
    """Set ``outcome``/``message`` of rejected rows, ``below_minimum`` and compact national ids, in place.

    ``drop_invalid_national_ids``: an id that fails validation is dropped with a note instead of rejecting
    the row (UBL: the customer's CompanyID is whatever the creditor's system holds, and the id is needed
    only for the court stage; a CSV's ``debtor_national_id`` column is a promise, and is judged)."""
    today = np.datetime64(as_of, "s")
    invoice = (frame["document_type"] == "invoice").to_numpy()
    _mark(frame, ~frame["debtor_country"].isin(supported_countries), "UNSUPPORTED_COUNTRY",
          lambda r: f"debtor_country {r.debtor_country} is not a country we collect in "
                    f"(supported: {', '.join(sorted(supported_countries))})")
    _national_ids(frame, drop_invalid_national_ids)
    _mark(frame, frame["invoice_date"] > today, "BAD_DATE",
          lambda r: f"invoice_date {_iso(r.invoice_date)} is in the future (as of {as_of})")
    _mark(frame, frame["due_date"] < frame["invoice_date"], "BAD_DATE",
          lambda r: f"due_date {_iso(r.due_date)} is before invoice_date {_iso(r.invoice_date)}")
    _mark(frame, frame["last_reminder_date"] > today, "BAD_DATE",
          lambda r: f"last_reminder_date {_iso(r.last_reminder_date)} is in the future (as of {as_of})")
    _mark(frame, frame["disputed"].astype(bool), "DISPUTED", "the claim is disputed and cannot be collected")
    _mark(frame, invoice & (frame["due_date"] >= today).to_numpy(), "NOT_OVERDUE",
          lambda r: f"due_date {_iso(r.due_date)} is not yet past (as of {as_of})")
    _time_bar(frame, invoice, as_of)
    _reminder_fees(frame, invoice)
    _below_minimum(frame, invoice)


def _mark(frame: pd.DataFrame, mask, code: str, message) -> None:
    mask = np.asarray(mask, dtype=bool) & frame["outcome"].isna().to_numpy()
    if not mask.any():
        return
    frame.loc[mask, "outcome"] = code
    if callable(message):
        frame.loc[mask, "message"] = [message(row) for row in frame.loc[mask].itertuples()]
    else:
        frame.loc[mask, "message"] = message


def _iso(value) -> str:
    return str(value)[:10]


def _national_ids(frame: pd.DataFrame, drop_invalid: bool) -> None:
    """Validate each distinct (country, debtor type, id) once with python-stdnum; store the compact form."""
    kinds = load_table("national_ids").set_index(["country", "debtor_type"])["kinds"].to_dict()
    given = (frame["debtor_national_id"] != "") & frame["outcome"].isna()
    verdicts = {}
    for key in set(zip(frame.loc[given, "debtor_country"], frame.loc[given, "debtor_type"],
                       frame.loc[given, "debtor_national_id"])):
        verdicts[key] = _check_national_id(kinds.get(key[:2]), key[2])
    if not verdicts:
        return
    keys = list(zip(frame["debtor_country"], frame["debtor_type"], frame["debtor_national_id"]))
    compact = np.array([verdicts.get(k, (k[2], None))[0] for k in keys], dtype=object)
    problem = np.array([verdicts.get(k, (None, None))[1] for k in keys], dtype=object)
    frame["debtor_national_id"] = compact
    bad = pd.notna(problem) & frame["outcome"].isna().to_numpy()
    if not bad.any():
        return
    if drop_invalid:
        frame.loc[bad, "notes"] += [f"{reason} and was not stored; " for reason in problem[bad]]
        frame.loc[bad, "debtor_national_id"] = ""
    else:
        frame.loc[bad, "message"] = problem[bad]
        frame.loc[bad, "outcome"] = "BAD_NATIONAL_ID"


def _check_national_id(kinds: str | None, value: str) -> tuple[str, str | None]:
    """(compact id, None) when valid for one of ``kinds``, else (value, reason)."""
    if kinds is None:
        return value, None  # a country without a known scheme: kept as given
    reasons = []
    for kind in kinds.split():
        module = NATIONAL_ID_CHECKS[kind]
        try:
            return module.validate(value), None
        except ValidationError as exc:
            reasons.append(f"{kind}: {exc}")
    return value, f"debtor_national_id is not a valid {' or '.join(kinds.split())} ({'; '.join(reasons)})"


def _time_bar(frame: pd.DataFrame, invoice: np.ndarray, as_of: date) -> None:
    """The time bar at intake, as `pipeline.rules.time_bar` computes it: from the due date (DK) or the invoice
    date (SE), renewed by the creditor's last reminder where the rule counts letters."""
    candidates = _judged_by(frame, invoice, "time_bar", "invoice_date")
    if not candidates.any():
        return
    rows = frame.loc[candidates]
    rules = in_force(load_table("time_bar"), "time_bar", rows, BY_DEBTOR, "invoice_date")
    from_due = (rules["runs_from"] == "due_date").to_numpy()
    start = np.where(from_due, rows["due_date"].to_numpy(dtype="datetime64[s]"),
                     rows["invoice_date"].to_numpy(dtype="datetime64[s]"))
    reminded = rows["last_reminder_date"].to_numpy(dtype="datetime64[s]")
    counts_letters = rules["renewed_by"].str.split().apply(lambda kinds: "letter" in kinds).to_numpy(dtype=bool)
    renewed = counts_letters & ~np.isnat(reminded) & (reminded > start)
    start = np.where(renewed, reminded, start)
    years = pd.to_numeric(rules["years"]).to_numpy()
    barred_on = np.empty(len(rows), dtype="datetime64[s]")
    for span in np.unique(years):  # 29 February + n years is 28 February, as `time_bar.add_years` has it
        barred_on[years == span] = (pd.DatetimeIndex(start[years == span]) + pd.DateOffset(years=int(span))
                                    ).to_numpy(dtype="datetime64[s]")
    barred = np.zeros(len(frame), dtype=bool)
    barred[candidates] = barred_on <= np.datetime64(as_of, "s")
    since = np.full(len(frame), "", dtype=object)
    since[candidates] = np.where(renewed, "the creditor's reminder of", np.where(from_due, "its due date",
                                                                                 "its invoice date"))
    frame["time_bar_start"] = since
    frame.loc[candidates, "time_bar_years"] = rules["years"].to_numpy()
    frame.loc[candidates, "time_bar_from"] = pd.Series(start, index=rows.index)
    _mark(frame, barred, "TIME_BARRED",
          lambda r: f"the claim is time-barred as of {as_of}: {r.time_bar_years} years from {r.time_bar_start} "
                    f"{_iso(r.time_bar_from)}")


def _judged_by(frame: pd.DataFrame, mask: np.ndarray, table: str, on: str) -> np.ndarray:
    """The rows of ``mask`` still open that ``table`` can judge. The others are answered here: no version of
    the table for the debtor's country and type (a country configured as supported that we hold no rules
    for) is UNSUPPORTED_COUNTRY; a date before the first version we hold is BAD_DATE."""
    open_rows = np.asarray(mask, dtype=bool) & frame["outcome"].isna().to_numpy()
    if not open_rows.any():
        return open_rows
    rows = frame.loc[open_rows]
    unknown, earliest = without_rule(load_table(table), rows, BY_DEBTOR, on)
    for rejected, code, message in (
            (unknown, "UNSUPPORTED_COUNTRY", lambda r: f"we hold no {table} rule for {r.debtor_country} "
                                                       f"{r.debtor_type} debtors"),
            (earliest.notna(), "BAD_DATE", lambda r: f"{on} {_iso(getattr(r, on))} is before the first {table} rule "
                                                     f"we hold for {r.debtor_country} {r.debtor_type} debtors")):
        flagged = np.zeros(len(frame), dtype=bool)
        flagged[open_rows] = rejected.to_numpy()
        _mark(frame, flagged, code, message)
    return open_rows & frame["outcome"].isna().to_numpy()


def _reminder_fees(frame: pd.DataFrame, invoice: np.ndarray) -> None:
    """Fees the creditor charged must stay within the law's limit (only a claim that carries fees is judged)."""
    charged = invoice & (frame["reminder_fees_minor"].to_numpy() > 0)
    candidates = _judged_by(frame, charged, "reminder_fee_limits", "invoice_date")
    if not candidates.any():
        return
    rows = frame.loc[candidates]
    rules = in_force(load_table("reminder_fee_limits"), "reminder_fee_limits", rows, BY_DEBTOR, "invoice_date")
    known = (rules["currency"] == rows["currency"]).to_numpy()
    if not known.any():
        return
    per_fee = np.zeros(len(rows), dtype=np.int64)
    pairs = list(zip(rules.loc[known, "max_fee_per_reminder"], rows.loc[known, "currency"]))
    minor = {pair: to_minor(Decimal(pair[0]), pair[1]) for pair in set(pairs)}
    per_fee[known] = [minor[pair] for pair in pairs]
    most = pd.to_numeric(rules["max_reminders"]).to_numpy(dtype=np.int64)
    sent = rows["reminders_sent"].fillna(pd.Series(most, index=rows.index)).to_numpy(dtype=np.int64)
    # a per-reminder fee is allowed once for each reminder sent; a flat one (SE förseningsersättning) regardless
    per_reminder = (rules["per_reminder"] != "false").to_numpy()
    limit = per_fee * np.where(per_reminder, np.minimum(sent, most), most)
    over = np.zeros(len(frame), dtype=bool)
    over[candidates] = known & (rows["reminder_fees_minor"].to_numpy() > limit)
    frame.loc[over, "fee_limit_minor"] = limit[over[candidates]]
    _mark(frame, over, "FEE_ABOVE_LEGAL_MAX",
          lambda r: f"reminder_fees {format_minor(r.reminder_fees_minor, r.currency)} {r.currency} exceed the "
                    f"legal maximum {format_minor(int(r.fee_limit_minor), r.currency)} {r.currency}")


def _below_minimum(frame: pd.DataFrame, invoice: np.ndarray) -> None:
    minimum = load_table("minimum_claims").set_index("currency")["minimum"]
    floor = frame["currency"].map({c: to_minor(Decimal(v), c) for c, v in minimum.items()})
    frame["below_minimum"] = invoice & (frame["amount_minor"] < floor.fillna(0)).to_numpy()

