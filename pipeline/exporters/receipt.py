"""The receipt of formats.md §1.4: one line per data row (or one line for a rejected file), then a
summary line. Written from what the ledger holds, so a re-run writes the same bytes."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import BinaryIO

import pandas as pd
import pyarrow as pa

from pipeline.exporters.columns import text_column
from pipeline.exporters.csv_safe import write_csv, write_csv_header, write_csv_lines

COLUMNS = ("line", "invoice_number", "outcome", "message", "case_number", "payment_reference")
TAKEN = ("ACCEPTED", "BELOW_MINIMUM", "APPLIED")
SUMMARY = "SUMMARY"


def receipt_name(file_name: str, received_at: datetime) -> str:
    return f"receipt_{file_name}_{received_at:%Y%m%dT%H%M%SZ}.csv"


def write_receipt(sink: BinaryIO, batches: Iterable[pd.DataFrame], instructions: bool = False) -> None:
    """``batches``: frames of the columns (line, invoice_number, outcome, message, case_number,
    payment_reference), the lines in order, written as they come; the summary line counts them."""
    outcomes: Counter = Counter()
    write_csv_header(sink, COLUMNS)
    for lines in batches:
        outcomes.update(lines["outcome"].value_counts().to_dict())
        write_csv_lines(sink, {name: text_column(lines[name]) for name in COLUMNS},
                        numeric=("line",))
    write_csv_lines(sink, {name: pa.array([value], pa.string()) for name, value in
                           zip(COLUMNS, ("", "", SUMMARY, summary_message(outcomes, instructions), "", ""))},
                    numeric=("line",))


def write_rejection(sink: BinaryIO, code: str, message: str) -> None:
    """The receipt of a file rejected whole: its one line, no summary."""
    write_csv(sink, COLUMNS, [("", "", code, message, "", "")], numeric=("line",))


def summary_message(outcomes: Counter, instructions: bool = False) -> str:
    total = sum(outcomes.values())
    taken = sum(outcomes[code] for code in TAKEN)
    detail = ", ".join(f"{code} {count}" for code, count in sorted(outcomes.items()))
    done, not_done = ("applied", "not applied") if instructions else ("taken for collection", "not taken")
    return f"{total} rows: {taken} {done}, {total - taken} {not_done} ({detail})"
