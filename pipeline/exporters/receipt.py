"""The receipt of formats.md §1.4: one line per data row (or one line for a rejected file), then a
summary line. Written from what the ledger holds, so a re-run writes the same bytes."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from operator import itemgetter
from typing import BinaryIO

from pipeline.exporters.csv_safe import write_csv

COLUMNS = ("line", "invoice_number", "outcome", "message", "case_number", "payment_reference")
TAKEN = ("ACCEPTED", "BELOW_MINIMUM", "APPLIED")
SUMMARY = "SUMMARY"


def receipt_name(file_name: str, received_at: datetime) -> str:
    return f"receipt_{file_name}_{received_at:%Y%m%dT%H%M%SZ}.csv"


def write_receipt(sink: BinaryIO, parts: Iterable[list[tuple]], instructions: bool = False) -> None:
    """``parts``: lists of (line, invoice_number, outcome, message, case_number, payment_reference) in order,
    streamed; the summary line counts them."""
    outcomes: Counter = Counter()

    def lines() -> Iterator[tuple]:
        for part in parts:
            outcomes.update(map(itemgetter(2), part))
            yield from part
        yield "", "", SUMMARY, summary_message(outcomes, instructions), "", ""

    write_csv(sink, COLUMNS, lines(), numeric=("line",))


def write_rejection(sink: BinaryIO, code: str, message: str) -> None:
    """The receipt of a file rejected whole: its one line, no summary."""
    write_csv(sink, COLUMNS, [("", "", code, message, "", "")], numeric=("line",))


def summary_message(outcomes: Counter, instructions: bool = False) -> str:
    total = sum(outcomes.values())
    taken = sum(outcomes[code] for code in TAKEN)
    detail = ", ".join(f"{code} {count}" for code, count in sorted(outcomes.items()))
    done, not_done = ("applied", "not applied") if instructions else ("taken for collection", "not taken")
    return f"{total} rows: {taken} {done}, {total - taken} {not_done} ({detail})"
