"""The week's settlement for finance (formats.md §3.2): ``settlement_lines_<period>.csv`` and ``.parquet`` (one
line per allocation, the same columns; the Parquet amounts are decimals, never floats) and
``settlement_summary_<period>.csv`` (per creditor and currency, each money column the sum of its lines).

The lines come in as a frame of their columns, amounts in minor units, and go out in columns (Arrow): a
week of a million lines is a handful of vectorised passes. A fee line (``source`` fee) carries the fee in
``agency_share``; its net is minus the fee and its VAT.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.exporters.columns import amount_texts, exact_decimals, text_column
from pipeline.exporters.csv_safe import write_csv, write_csv_columns
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
PARQUET_SCALE = 2                       # every currency we collect in has at most two minor digits
AMOUNT_TYPE = pa.decimal128(20, PARQUET_SCALE)
RATE_TYPE = pa.decimal128(9, 4)


def write_lines_csv(sink: BinaryIO, lines: pd.DataFrame) -> None:
    currency = lines["currency"].to_numpy()
    columns = {}
    for name in LINE_COLUMNS:
        if name in LINE_AMOUNTS:
            columns[name] = amount_texts(lines[name].to_numpy(dtype=np.int64), currency)
        elif name == "payment_date":
            columns[name] = pa.array(lines[name].dt.strftime("%Y-%m-%d"), pa.string())
        else:
            columns[name] = text_column(lines[name])
    write_csv_columns(sink, columns, numeric=LINE_AMOUNTS + RATES + ("payment_id",))


def write_lines_parquet(sink: BinaryIO, lines: pd.DataFrame) -> None:
    """The same lines as Parquet: amounts decimal(20,2), rates decimal(9,4), dates as dates, ids as integers."""
    shift = np.array([PARQUET_SCALE - minor_digits(code) for code in lines["currency"]], dtype=np.int64)
    if (shift < 0).any():
        raise ValueError(f"a currency with more than {PARQUET_SCALE} minor digits has no place in the Parquet lines")
    columns = {}
    for name in LINE_COLUMNS:
        if name in LINE_AMOUNTS:
            columns[name] = exact_decimals(lines[name].to_numpy(dtype=np.int64) * 10 ** shift, PARQUET_SCALE)
        elif name in RATES:
            columns[name] = pc.cast(pa.array(lines[name], pa.string()), RATE_TYPE)
        elif name == "payment_id":
            columns[name] = pa.array(lines[name].astype("Int64"), pa.int64())
        elif name == "payment_date":
            columns[name] = pa.array(lines[name].dt.date, pa.date32())
        else:
            columns[name] = pa.array(lines[name].astype("string"), pa.string())
    pq.write_table(pa.table(columns), sink, compression="zstd")


def write_summary(sink: BinaryIO, settlements: Iterable[dict]) -> None:
    """``settlements``: dicts of the summary's columns, amounts in minor units."""
    write_csv(sink, SUMMARY_COLUMNS, ([format_minor(s[name], s["currency"]) if name in SUMMARY_AMOUNTS else s[name]
                                       for name in SUMMARY_COLUMNS] for s in settlements), numeric=SUMMARY_AMOUNTS)
