"""The court-stage partner's remittance CSV of formats.md §2: bytes in, typed lines out. No database.

Columns (header required, in any order, matched case-insensitively): ``partner_case_ref``, ``case_number``,
``payment_date`` (YYYY-MM-DD), ``collected_amount``, ``principal_part``, ``interest_part``, ``fees_part``,
``partner_commission``, ``net_remitted`` (amounts with a ``.`` decimal, never negative) and ``currency``.
UTF-8, with or without BOM; ``,`` or ``;``. A remittance is monthly and small: read whole.

Each line must add up: ``collected_amount`` = the three parts, and ``net_remitted`` = ``collected_amount`` −
``partner_commission``. A line that does not is rejected with the reason (``BAD_AMOUNT``, naming both
sides); the file's other lines stand. ``line`` counts records: header = 1, blank lines not counted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from pipeline.config import CsvLayout
from pipeline.money import format_minor, is_currency, to_minor
from pipeline.parsers import FileRejected, csv_records, header_names, read_csv_text
from pipeline.parsers.instructions import parse_amount, parse_date
from pipeline.parsers.rows import MAX_TEXT

AMOUNTS = ("collected_amount", "principal_part", "interest_part", "fees_part", "partner_commission",
           "net_remitted")
COLUMNS = ("partner_case_ref", "case_number", "payment_date", *AMOUNTS, "currency")
LAYOUT = CsvLayout()


@dataclass(frozen=True)
class RemittanceLine:
    """A line that adds up; amounts in the currency's minor units."""

    line: int
    partner_case_ref: str
    case_number: str
    payment_date: date
    currency: str
    collected_minor: int
    principal_minor: int
    interest_minor: int
    fees_minor: int
    commission_minor: int
    net_minor: int


@dataclass(frozen=True)
class RejectedLine:
    line: int
    case_number: str
    code: str           # MISSING_FIELD, BAD_DATE, BAD_AMOUNT, BAD_CURRENCY
    message: str


@dataclass
class Remittance:
    lines: list[RemittanceLine]
    rejected: list[RejectedLine]


class LineProblem(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def read_remittance(path: Path, max_bytes: int) -> Remittance:
    """Every line of the file, taken or rejected; raise FileRejected for a file-level problem."""
    text = read_csv_text(path, "utf-8", max_bytes)
    records = csv_records(text)
    names = _header(records[0])
    if len(records) == 1:
        raise FileRejected("EMPTY_FILE", "the file has a header but no data lines")
    remittance = Remittance([], [])
    for line, record in enumerate(records[1:], start=2):
        values = {name: value.strip() for name, value in zip(names, record) if name in COLUMNS}
        try:
            if len(record) != len(names):
                raise LineProblem("MISSING_FIELD", f"the line has {len(record)} fields, the header {len(names)}")
            remittance.lines.append(_line(line, values))
        except LineProblem as problem:
            remittance.rejected.append(RejectedLine(line, values.get("case_number", ""), problem.code, str(problem)))
    return remittance


def _header(record: list[str]) -> list[str]:
    found, names = header_names(record, LAYOUT, COLUMNS)
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise FileRejected("MISSING_COLUMN", f"required columns {', '.join(missing)} are missing; columns found: "
                                             f"{', '.join(found)}")
    return names


def _line(line: int, values: dict[str, str]) -> RemittanceLine:
    for column in COLUMNS:
        if not values[column]:
            raise LineProblem("MISSING_FIELD", f"missing {column}")
        if len(values[column]) > MAX_TEXT:
            raise LineProblem("MISSING_FIELD", f"{column} is longer than {MAX_TEXT} characters")
    currency = values["currency"].upper()
    if not is_currency(currency):
        raise LineProblem("BAD_CURRENCY", f"currency {values['currency']!r} is not an ISO 4217 code")
    payment_date = parse_date(values["payment_date"], LAYOUT.date_format)
    if payment_date is None:
        raise LineProblem("BAD_DATE", f"payment_date {values['payment_date']!r} is not a date (YYYY-MM-DD)")
    collected, principal, interest, fees, commission, net = (_minor(values, name, currency) for name in AMOUNTS)
    if principal + interest + fees != collected:
        raise LineProblem("BAD_AMOUNT", f"collected_amount {_show(collected, currency)} is not principal_part + "
                                        f"interest_part + fees_part = {_show(principal + interest + fees, currency)}")
    if collected - commission != net:
        raise LineProblem("BAD_AMOUNT", f"net_remitted {_show(net, currency)} is not collected_amount - "
                                        f"partner_commission = {_show(collected - commission, currency)}")
    return RemittanceLine(line, values["partner_case_ref"], values["case_number"], payment_date, currency,
                          collected, principal, interest, fees, commission, net)


def _minor(values: dict[str, str], name: str, currency: str) -> int:
    amount = parse_amount(values[name], ".")
    if amount is None or amount < 0:
        raise LineProblem("BAD_AMOUNT", f"{name} {values[name]!r} is not an amount (0 or more, '.' decimal)")
    try:
        return to_minor(Decimal(amount), currency)
    except ValueError:
        raise LineProblem("BAD_AMOUNT", f"{name} {values[name]!r} has more decimals than {currency} has") from None


def _show(minor: int, currency: str) -> str:
    return f"{format_minor(minor, currency)} {currency}"
