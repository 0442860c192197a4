"""The weekly court handoff to a partner (formats.md §3.1): ``court_handoff_<partner>_<YYYY>W<WW>.csv``, one line
per claim of each handed-over case (the case's columns repeated), and its manifest
``court_handoff_<partner>_<YYYY>W<WW>.manifest.json``, which names the CSV's SHA-256.

Both are written from the batch as recorded, so the same week renders the same bytes: the manifest's
``created_at`` is the batch's (the week's handoff day), never the clock's. Text cells are protected against
formula injection; amounts are decimal strings in the case currency.
"""
from __future__ import annotations

import json
from datetime import date
from collections.abc import Iterable
from typing import BinaryIO

from pipeline.exporters.csv_safe import write_csv
from pipeline.money import format_minor

COLUMNS = ("case_number", "payment_reference", "creditor_name", "creditor_vat_id", "creditor_address",
           "creditor_bank_account", "debtor_type", "debtor_name", "debtor_national_id", "debtor_address_line1",
           "debtor_address_line2", "debtor_postcode", "debtor_city", "debtor_country", "debtor_email",
           "debtor_phone", "invoice_number", "invoice_date", "due_date", "principal_original",
           "principal_outstanding", "interest_accrued", "interest_rate_basis", "interest_from_date", "reminder_fees",
           "collection_fees", "compensation_fee", "other_costs", "payments_received", "total_outstanding",
           "currency", "inkassovarsel_date", "inkassovarsel_deadline", "creditor_approval_date", "documents", "notes")
AMOUNTS = ("principal_original", "principal_outstanding", "interest_accrued", "reminder_fees", "collection_fees",
           "compensation_fee", "other_costs", "payments_received", "total_outstanding")
AMOUNT_SET = frozenset(AMOUNTS)
SCHEMA_VERSION = "1"


def file_stem(partner_id: str, iso_week: str) -> str:
    """``court_handoff_alektum_2026W49`` for the week ``2026-W49``."""
    return f"court_handoff_{partner_id}_{iso_week.replace('-', '')}"


def write_court_handoff(sink: BinaryIO, lines: Iterable[dict]) -> None:
    """``lines``: dicts of the columns, amounts in minor units, dates as ``date``; streamed."""
    write_csv(sink, COLUMNS, (_cells(line) for line in lines), numeric=AMOUNTS)


def _cells(line: dict) -> list[str]:
    currency = line["currency"]
    return [format_minor(line[name], currency) if name in AMOUNT_SET else _text(line[name]) for name in COLUMNS]


def _text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.isoformat() if isinstance(value, date) else str(value)


def manifest(batch_id: str, partner_id: str, iso_week: str, created_at: str, lines: Iterable[dict],
             csv_sha256: str) -> bytes:
    """The manifest of a batch: counts, the total outstanding per currency, and the CSV's SHA-256."""
    cases, count, totals = set(), 0, {}
    for line in lines:
        cases.add(line["case_number"])
        count += 1
        totals[line["currency"]] = totals.get(line["currency"], 0) + line["total_outstanding"]
    body = {"batch_id": batch_id, "partner": partner_id, "iso_week": iso_week, "created_at": created_at,
            "case_count": len(cases), "line_count": count,
            "totals": {currency: format_minor(total, currency) for currency, total in sorted(totals.items())},
            "sha256": csv_sha256, "schema_version": SCHEMA_VERSION}
    return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
