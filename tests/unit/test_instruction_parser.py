"""The instruction CSV parser (pipeline/parsers/instructions.py): no database."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pipeline.config import CsvLayout
from pipeline.stages.ingest.instructions import fee_minor
from pipeline.parsers import FileRejected
from pipeline.parsers.instructions import parse_amount, parse_date, read_instructions

AS_OF = date(2026, 11, 26)


def read(tmp_path, content: bytes, layout: CsvLayout = CsvLayout()):
    path = tmp_path / "instructions.csv"
    path.write_bytes(content)
    return read_instructions(path, layout, AS_OF, 10_000)


def test_rows_are_typed_and_an_empty_date_is_the_business_date(tmp_path):
    rows = read(tmp_path, b"INSTRUCTION, Case_Number ,amount,date,note\r\n\r\npaid_directly,10000001,\"1,234.50\",,x\n")
    assert len(rows) == 1
    row = rows[0]
    assert (row.line, row.instruction, row.case_number, row.amount, row.on_date, row.note, row.outcome) == (
        2, "PAID_DIRECTLY", "10000001", Decimal("1234.50"), AS_OF, "x", None)
    assert row.reference == "10000001"


@pytest.mark.parametrize("content, code", [
    (b"", "EMPTY_FILE"),
    (b"instruction,invoice_number\n", "EMPTY_FILE"),
    (b"foo,bar\n1,2\n", "NO_HEADER"),
    (b"instruction,note\nWITHDRAW,x\n", "MISSING_COLUMN"),
    (b"instruction,invoice_number,Invoice_Number\nWITHDRAW,1,1\n", "BAD_HEADER"),
    (b"instruction,invoice_number\nWITHDRAW,\xff\n", "BAD_ENCODING"),
    (b"\x00\x01binary", "NOT_CSV"),
])
def test_file_level_problems_reject_the_file(tmp_path, content, code):
    with pytest.raises(FileRejected) as rejected:
        read(tmp_path, content)
    assert rejected.value.code == code


def test_the_creditors_decimal_and_date_settings():
    assert parse_amount("1.234,50", ",") == Decimal("1234.50")
    assert parse_amount("1,50", ".") is None
    assert parse_amount("1234.5", ".") == Decimal("1234.5")
    assert parse_date("31.12.2025", "DD.MM.YYYY") == date(2025, 12, 31)
    assert parse_date("31.02.2025", "DD.MM.YYYY") is None
    assert parse_date("2025-12-31", "DD.MM.YYYY") is None


def test_fee_plan_amounts_are_exact_minor_units():
    assert fee_minor(Decimal("250.00"), "DKK") == 25000
    assert fee_minor(Decimal("750"), "SEK") == 75000
    assert fee_minor(Decimal("250.50"), "JPY") == 251
