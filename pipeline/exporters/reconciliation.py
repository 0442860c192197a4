"""The daily reconciliation report for finance (formats.md §3.3), ``reconciliation_<date>.csv``: one line per
payment judged that day, then a ``TOTAL`` line per currency.

Each line adds up: ``amount = allocated_principal + allocated_interest + allocated_fees + allocated_costs +
refund_due + parked``. A line that does not (money allocated twice, or lost) stops the report: it is never
written wrong."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from pipeline.exporters.csv_safe import write_csv
from pipeline.money import format_minor

COLUMNS = ("payment_id", "source", "source_key", "value_date", "amount", "currency", "payer_name", "reference",
           "rule", "case_number", "allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs",
           "refund_due", "parked", "parked_reason")
PARTS = ("allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs", "refund_due", "parked")
FEES = ("reminder_fees", "collection_fees", "compensation")


class ReportDoesNotAddUp(RuntimeError):
    """A payment whose parts are not its amount: the books do not balance, and the run stops."""


def report_parts(amount: int, settled: dict[str, int], refund_due: int, parked: bool) -> dict[str, int]:
    """A payment's parts from what its postings settled (component -> minor units, as paid: positive)."""
    return dict(allocated_principal=settled.get("principal", 0), allocated_interest=settled.get("interest", 0),
                allocated_fees=sum(settled.get(name, 0) for name in FEES), allocated_costs=settled.get("costs", 0),
                refund_due=refund_due, parked=amount if parked else 0)


def write_reconciliation(sink: BinaryIO, payments: Iterable[dict]) -> None:
    """``payments``: dicts of the columns, amounts in minor units (``amount`` and the ``PARTS``), streamed."""
    write_csv(sink, COLUMNS, ([line[name] for name in COLUMNS] for line in _lines(payments)),
              numeric=("amount", *PARTS))


def _lines(payments: Iterable[dict]) -> Iterator[dict]:
    totals: dict[str, dict[str, int]] = {}
    for payment in payments:
        if sum(payment[name] for name in PARTS) != payment["amount"]:
            raise ReportDoesNotAddUp(f"payment {payment['payment_id']} ({payment['source_key']}): its parts "
                                     f"{', '.join(f'{n}={payment[n]}' for n in PARTS)} are not its amount "
                                     f"{payment['amount']}")
        total = totals.setdefault(payment["currency"], dict.fromkeys(("amount", *PARTS), 0))
        for name in total:
            total[name] += payment[name]
        yield _money(payment, payment["currency"])
    for currency, total in sorted(totals.items()):
        yield _money(dict(dict.fromkeys(COLUMNS, ""), payment_id="TOTAL", currency=currency, **total), currency)


def _money(line: dict, currency: str) -> dict:
    return {**line, **{name: format_minor(line[name], currency) for name in ("amount", *PARTS)}}
