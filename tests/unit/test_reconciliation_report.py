"""The reconciliation report's writer (`pipeline.exporters.reconciliation`): lines in batches, a TOTAL line per
currency after them, and a line whose parts are not its amount refused."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from pipeline.exporters.reconciliation import COLUMNS, PARTS, ReportDoesNotAddUp, write_reconciliation


def line(payment_id: int, amount: int, currency: str = "DKK", **parts) -> dict:
    return {**dict.fromkeys(COLUMNS, None), "payment_id": payment_id, "source": "camt053",
            "source_key": f"K{payment_id}", "value_date": "2026-11-24", "amount": amount, "currency": currency,
            **dict.fromkeys(PARTS, 0), **parts}


def test_batches_are_written_in_order_and_totalled_per_currency():
    sink = io.BytesIO()
    write_reconciliation(sink, [pd.DataFrame([line(1, 202841, allocated_principal=200000, allocated_interest=2841,
                                                   payer_name="=cmd", rule="REFERENCE", case_number="10000001")]),
                                pd.DataFrame([line(2, 5000, "SEK", parked=5000, parked_reason="NO_REFERENCE"),
                                              line(3, -10000, allocated_principal=-10000, rule="REFERENCE")])])
    assert sink.getvalue().decode("utf-8").split("\r\n") == [
        ",".join(COLUMNS),
        "1,camt053,K1,2026-11-24,2028.41,DKK,'=cmd,,REFERENCE,10000001,2000.00,28.41,0.00,0.00,0.00,0.00,",
        "2,camt053,K2,2026-11-24,50.00,SEK,,,,,0.00,0.00,0.00,0.00,0.00,50.00,NO_REFERENCE",
        "3,camt053,K3,2026-11-24,-100.00,DKK,,,REFERENCE,,-100.00,0.00,0.00,0.00,0.00,0.00,",
        "TOTAL,,,,1928.41,DKK,,,,,1900.00,28.41,0.00,0.00,0.00,0.00,",
        "TOTAL,,,,50.00,SEK,,,,,0.00,0.00,0.00,0.00,0.00,50.00,",
        ""]


def test_a_line_whose_parts_are_not_its_amount_stops_the_report():
    with pytest.raises(ReportDoesNotAddUp, match=r"payment 7 \(K7\): its parts allocated_principal=9000, .* are not "
                                                 r"its amount 10000"):
        write_reconciliation(io.BytesIO(), [pd.DataFrame([line(1, 100, parked=100),
                                                          line(7, 10000, allocated_principal=9000)])])
