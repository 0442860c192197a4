"""The receipt of formats.md §1.4: one line per data row (or one line for a rejected file),
then a summary line. Built only from the ledger, so a re-run writes the same bytes."""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from pipeline.exporters.csv_safe import write_csv

COLUMNS = ("line", "invoice_number", "outcome", "message", "case_number", "payment_reference")
TAKEN = ("ACCEPTED", "BELOW_MINIMUM", "APPLIED")
SUMMARY = "SUMMARY"


def receipt_name(file_name: str, received_at: datetime) -> str:
    return f"receipt_{file_name}_{received_at:%Y%m%dT%H%M%SZ}.csv"


def render_receipt(lines: list, file_rejected: bool, instructions: bool = False) -> bytes:
    """``lines``: (line, invoice_number, outcome, message, case_number, payment_reference) in order."""
    rows = [tuple(line) for line in lines]
    if not file_rejected:
        rows.append(("", "", SUMMARY, summary_message(Counter(row[2] for row in rows), instructions), "", ""))
    return write_csv(COLUMNS, rows, numeric=("line",))


def summary_message(outcomes: Counter, instructions: bool = False) -> str:
    total = sum(outcomes.values())
    taken = sum(outcomes[code] for code in TAKEN)
    detail = ", ".join(f"{code} {count}" for code, count in sorted(outcomes.items()))
    done, not_done = ("applied", "not applied") if instructions else ("taken for collection", "not taken")
    return f"{total} rows: {taken} {done}, {total - taken} {not_done} ({detail})"
