"""The instruction CSV of formats.md §1.3: bytes in, typed rows out. No database, no state rules.

Columns (header required, matched case-insensitively, the creditor's column renames applied):
``instruction``, ``invoice_number`` and/or ``case_number`` (at least one of the two columns), ``amount``,
``date``, ``note``. UTF-8 with or without BOM (Windows-1252 when the creditor's layout says so and there
is no BOM); ``;`` or ``,`` detected from the header. Instruction files are small: read whole, row by row.

Per row: ``instruction`` must be one of `case_states.INSTRUCTIONS` (UNKNOWN_INSTRUCTION); an invoice or case
number is required (MISSING_FIELD); ``amount`` is required for PAID_DIRECTLY and read with the creditor's
decimal separator, > 0 (BAD_AMOUNT), and ignored for the other instructions; ``date`` is the day the
instruction took effect, in the creditor's date format, not after the business date (BAD_DATE); empty means
the business date (``as_of``). ``line`` counts records: header = 1, blank lines not counted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from pipeline.case_states import INSTRUCTIONS, PAID_DIRECTLY
from pipeline.config import CsvLayout
from pipeline.parsers import FileRejected, csv_records, header_names, read_csv_text
from pipeline.parsers.rows import AMOUNT_PATTERNS, DATE_PATTERNS, MAX_MAJOR_DIGITS, MAX_TEXT

COLUMNS = ("instruction", "invoice_number", "case_number", "amount", "date", "note")
MAX_NOTE = 500


@dataclass(frozen=True)
class InstructionRow:
    line: int
    instruction: str
    invoice_number: str
    case_number: str
    amount: Decimal | None
    on_date: date | None
    note: str
    outcome: str | None = None      # None: readable; else MISSING_FIELD, BAD_AMOUNT, BAD_DATE, UNKNOWN_INSTRUCTION
    message: str = ""

    @property
    def reference(self) -> str:
        """What the receipt names the row by: the invoice number, else the case number."""
        return self.invoice_number or self.case_number


def read_instructions(path: Path, layout: CsvLayout, as_of: date, max_bytes: int) -> list[InstructionRow]:
    """Every data row of the file, in order; raise FileRejected for a file-level problem."""
    text = read_csv_text(path, layout.encoding, max_bytes)
    records = csv_records(text)
    if not records:
        raise FileRejected("EMPTY_FILE", "the file is empty")
    names = _header(records[0], layout)
    if len(records) == 1:
        raise FileRejected("EMPTY_FILE", "the file has a header but no data rows")
    return [_row(line, record, names, layout, as_of) for line, record in enumerate(records[1:], start=2)]


def _header(record: list[str], layout: CsvLayout) -> list[str]:
    found, names = header_names(record, layout, COLUMNS)
    if "instruction" not in names or not {"invoice_number", "case_number"} & set(names):
        raise FileRejected("MISSING_COLUMN", "required columns instruction and invoice_number or case_number; "
                                             f"columns found: {', '.join(found)}")
    return names


def _row(line: int, record: list[str], names: list[str], layout: CsvLayout, as_of: date) -> InstructionRow:
    values = {name: value.strip() for name, value in zip(names, record) if name in COLUMNS}
    get = values.get
    row = InstructionRow(line, get("instruction", "").upper(), get("invoice_number", ""), get("case_number", ""),
                         None, None, get("note", "")[:MAX_NOTE])
    problem = _shape_problem(row, len(record), len(names))
    if problem is None:
        row, problem = _typed(row, get("amount", ""), get("date", ""), layout, as_of)
    if problem is None:
        return row
    return InstructionRow(**{**row.__dict__, "outcome": problem[0], "message": problem[1]})


def _shape_problem(row: InstructionRow, fields: int, width: int) -> tuple[str, str] | None:
    if fields != width:
        return "MISSING_FIELD", f"the row has {fields} fields, the header {width}"
    if not row.instruction:
        return "MISSING_FIELD", "missing instruction"
    if row.instruction not in INSTRUCTIONS:
        return "UNKNOWN_INSTRUCTION", f"instruction {row.instruction!r} is not one of {', '.join(INSTRUCTIONS)}"
    if not row.reference:
        return "MISSING_FIELD", "missing invoice_number or case_number"
    if max(len(row.invoice_number), len(row.case_number)) > MAX_TEXT:
        return "MISSING_FIELD", f"invoice_number or case_number is longer than {MAX_TEXT} characters"
    return None


def _typed(row: InstructionRow, amount_text: str, date_text: str, layout: CsvLayout,
           as_of: date) -> tuple[InstructionRow, tuple[str, str] | None]:
    on_date = as_of
    if date_text:
        on_date = parse_date(date_text, layout.date_format)
        if on_date is None:
            return row, ("BAD_DATE", f"date {date_text!r} is not a date in the format {layout.date_format}")
        if on_date > as_of:
            return row, ("BAD_DATE", f"date {date_text!r} is in the future")
    amount = None
    if row.instruction == PAID_DIRECTLY:
        if not amount_text:
            return row, ("MISSING_FIELD", "missing amount (required for PAID_DIRECTLY)")
        amount = parse_amount(amount_text, layout.decimal)
        if amount is None:
            return row, ("BAD_AMOUNT", f"amount {amount_text!r} is not an amount with decimal separator "
                                       f"{layout.decimal!r}")
        if amount <= 0:
            return row, ("BAD_AMOUNT", f"amount {amount_text!r} must be greater than zero")
    return InstructionRow(**{**row.__dict__, "amount": amount, "on_date": on_date}), None


def parse_date(text: str, date_format: str) -> date | None:
    match = re.match(DATE_PATTERNS[date_format], text)
    if match is None:
        return None
    try:
        return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return None


def parse_amount(text: str, decimal_separator: str) -> Decimal | None:
    """An exact amount (sign allowed, thousands separators as in the invoice CSV), or None."""
    pattern, thousands = AMOUNT_PATTERNS[decimal_separator]
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    if not re.match(pattern, digits):
        return None
    plain = re.sub(thousands, "", digits).replace(decimal_separator, ".")
    if len(plain.split(".")[0].lstrip("0")) > MAX_MAJOR_DIGITS:
        return None
    return Decimal(sign + plain)
