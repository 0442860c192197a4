"""The daily reconciliation report for finance (formats.md §3.3), ``reconciliation_<date>.csv``: one line per
payment judged that day, then a ``TOTAL`` line per currency.

Each line adds up: ``amount = allocated_principal + allocated_interest + allocated_fees + allocated_costs +
refund_due + parked``. A line that does not (money allocated twice, or lost) stops the report: it is never
written wrong."""
from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

import numpy as np
import pandas as pd

from pipeline.exporters.columns import amount_texts, text_column
from pipeline.exporters.csv_safe import write_csv_header, write_csv_lines

COLUMNS = ("payment_id", "source", "source_key", "value_date", "amount", "currency", "payer_name", "reference",
           "rule", "case_number", "allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs",
           "refund_due", "parked", "parked_reason")
PARTS = ("allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs", "refund_due", "parked")
AMOUNTS = ("amount", *PARTS)
FEES = ("reminder_fees", "collection_fees", "compensation")


class ReportDoesNotAddUp(RuntimeError):
    """A payment whose parts are not its amount: the books do not balance, and the run stops."""


def report_parts(amount: pd.Series, settled: dict[str, pd.Series], refund_due: pd.Series,
                 parked: pd.Series) -> dict[str, pd.Series]:
    """Payments' parts from what their postings settled (component -> minor units, as paid: positive)."""
    return dict(allocated_principal=settled["principal"], allocated_interest=settled["interest"],
                allocated_fees=sum(settled[name] for name in FEES), allocated_costs=settled["costs"],
                refund_due=refund_due, parked=amount.where(parked, 0))


def write_reconciliation(sink: BinaryIO, batches: Iterable[pd.DataFrame]) -> None:
    """``batches``: frames of the columns, amounts in minor units (``amount`` and the ``PARTS``), written as they
    come; then the ``TOTAL`` line of each currency."""
    write_csv_header(sink, COLUMNS)
    totals: dict[str, np.ndarray] = {}
    for lines in batches:
        _check(lines)
        for currency, sums in lines.groupby("currency")[list(AMOUNTS)].sum().iterrows():
            totals[currency] = totals.get(currency, 0) + sums.to_numpy(dtype=np.int64)
        _write(sink, lines)
    if totals:
        _write(sink, pd.DataFrame([{**dict.fromkeys(COLUMNS, ""), "payment_id": "TOTAL", "currency": currency,
                                    **dict(zip(AMOUNTS, sums))} for currency, sums in sorted(totals.items())]))


def _check(lines: pd.DataFrame) -> None:
    wrong = lines[lines[list(PARTS)].sum(axis=1) != lines["amount"]]
    if len(wrong):
        payment = wrong.iloc[0]
        raise ReportDoesNotAddUp(f"payment {payment['payment_id']} ({payment['source_key']}): its parts "
                                 f"{', '.join(f'{n}={payment[n]}' for n in PARTS)} are not its amount "
                                 f"{payment['amount']}")


def _write(sink: BinaryIO, lines: pd.DataFrame) -> None:
    currency = lines["currency"].to_numpy()
    write_csv_lines(sink, {name: amount_texts(lines[name].to_numpy(dtype=np.int64), currency) if name in AMOUNTS
                           else text_column(lines[name]) for name in COLUMNS},
                    numeric=AMOUNTS)
