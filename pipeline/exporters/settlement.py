"""The week's settlement for finance (formats.md §3.2): ``settlement_lines_<period>.csv`` and ``.parquet`` (one
line per allocation, the same columns; the Parquet amounts are decimals, never floats) and
``settlement_summary_<period>.csv`` (per creditor and currency, each money column the sum of its lines).

Lines come in as dicts of the columns with amounts in minor units; rates are decimal strings of percent.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.exporters.csv_safe import write_csv
from pipeline.money import format_minor, minor_digits

LINE_COLUMNS = ("settlement_id", "creditor_id", "case_number", "invoice_number", "payment_id", "payment_date",
                "source", "allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs",
                "creditor_share", "agency_share", "commission_rate", "commission_base", "commission", "vat_rate",
                "vat", "partner_commission", "net_to_creditor", "currency")
LINE_AMOUNTS = ("allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs", "creditor_share",
                "agency_share", "commission_base", "commission", "vat", "partner_commission", "net_to_creditor")
RATES = ("commission_rate", "vat_rate")
SUMMARY_COLUMNS = ("settlement_id", "creditor_id", "currency", "period", "collected_principal", "collected_interest",
                   "collected_fees", "creditor_share", "commission", "vat", "fees_due", "carried_in", "net_payout")
SUMMARY_AMOUNTS = SUMMARY_COLUMNS[4:]
AMOUNT_TYPE = pa.decimal128(20, 2)   # every currency we collect in has at most two minor digits
RATE_TYPE = pa.decimal128(9, 4)


def write_lines_csv(sink: BinaryIO, lines: Iterable[dict]) -> None:
    write_csv(sink, LINE_COLUMNS, (_cells(line) for line in lines), numeric=LINE_AMOUNTS + RATES + ("payment_id",))


def _cells(line: dict) -> list[str]:
    currency = line["currency"]
    return [format_minor(line[name], currency) if name in LINE_AMOUNTS else
            "" if line[name] is None else str(line[name]) for name in LINE_COLUMNS]


def write_lines_parquet(sink: BinaryIO, lines: Sequence[dict]) -> None:
    """The same lines as Parquet: amounts decimal(20,2), rates decimal(9,4), dates as dates, ids as integers."""
    columns = {}
    for name in LINE_COLUMNS:
        values = [line[name] for line in lines]
        if name in LINE_AMOUNTS:
            columns[name] = pa.array([_decimal(value, line["currency"]) for value, line in zip(values, lines)],
                                     AMOUNT_TYPE)
        elif name in RATES:
            columns[name] = pa.array([Decimal(value) for value in values], RATE_TYPE)
        elif name == "payment_id":
            columns[name] = pa.array(values, pa.int64())
        elif name == "payment_date":
            columns[name] = pa.array(values, pa.date32())
        else:
            columns[name] = pa.array(values, pa.string())
    pq.write_table(pa.table(columns), sink, compression="zstd")


def _decimal(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_digits(currency))


def write_summary(sink: BinaryIO, settlements: Iterable[dict]) -> None:
    """``settlements``: dicts of the summary's columns, amounts in minor units."""
    write_csv(sink, SUMMARY_COLUMNS, ([format_minor(s[name], s["currency"]) if name in SUMMARY_AMOUNTS else s[name]
                                       for name in SUMMARY_COLUMNS] for s in settlements), numeric=SUMMARY_AMOUNTS)
