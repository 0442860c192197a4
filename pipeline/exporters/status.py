"""A creditor's daily status file, ``status_<date>.csv`` in its outbox: one line per case that changed that
day (a letter sent, a fee charged, ready for court, time bar near, time-barred, closed), so that the creditor
knows without asking. Written from the day's case events, which never change."""
from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from pipeline.exporters.csv_safe import write_csv

COLUMNS = ("case_number", "changes", "detail")
CHANGES = {"letter_sent": "LETTER_SENT", "fee_charged": "FEE_CHARGED", "ready_for_court": "READY_FOR_COURT",
           "time_bar_near": "TIME_BAR_NEAR", "time_barred": "TIME_BARRED", "paid": "PAID",
           "case_time_barred": "TIME_BARRED"}


def status_name(day) -> str:
    return f"status_{day.isoformat()}.csv"


def write_status(sink: BinaryIO, events: Iterable) -> None:
    """``events``: (case_number, kind, detail) of the day's changes, in the order they were written."""
    cases: dict[str, tuple[list[str], list[str]]] = {}
    for case_number, kind, detail in events:
        changes, details = cases.setdefault(case_number, ([], []))
        if CHANGES[kind] not in changes:
            changes.append(CHANGES[kind])
        details.append(detail)
    write_csv(sink, COLUMNS, ((number, "|".join(changes), "; ".join(details))
                              for number, (changes, details) in sorted(cases.items())))
