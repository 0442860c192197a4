"""Bankgirot's BgMax file of incoming payments (formats.md §2; layout in rules.md) read into a `PaymentFile`.

A BgMax file is a 01 start record, deposit sections and a 70 end record. A section opens with a 05 record
(the payee bankgiro and the currency) and closes with a 15 deposit record (the pay date, the deposit serial,
the amount deposited and the number of payments). Between them stand payment groups: a 20 payment or 21
deduction record, its 22/23 extra reference records, then the 25 to 29 records about the payer.

How the records become payments, so that the payments of a section always add up to what was deposited:

- 20: a payment, amount positive.
- 21: a deduction, money taken back (a credit invoice set off by the payer): amount negative,
  ``reversal=True``. Bankgirot's example file subtracts it from the 15 amount and counts it in the 15
  payment count.
- 22 / 23: an extra reference of the 20/21 before it (the payer named several invoices): not money of its
  own but a breakdown of its payment's amount, so the 15 amount is the sum of 20 less 21. Its reference
  goes into the payment's ``text`` (``extra references: …``), where matching looks for references; in
  Bankgirot's example every 22 is for 0 öre.
- 25 to 29 belong to the 20/21 before them: text (25, joined), payer name (26), address (27, 28) and
  payer id (29).
- ``reference`` is positions 13–37 as written, whatever the reference code (56) says of it: matching
  judges a reference, not the parser.

Counts, as Bankgirot's example has them: a 15 counts its section's 20 and 21 records together; the 70
counts the file's 20, 21, 22 and 23 (together), and 15 records each in a field of its own.

A file whose counts or sums do not match (15 per section, 70 for the file) is rejected whole, BAD_TOTALS;
one whose records are out of order, of an unknown type or not numbers where numbers belong, BAD_FORMAT.
"""
from __future__ import annotations

import re
import string
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.money import is_currency
from pipeline.parsers import FileRejected, check_size
from pipeline.parsers.payments import Payment, PaymentFile

RECORD_LENGTH = 80
LINE_BREAK = re.compile(r"\r\n|\r|\n")
GROUP_MEMBERS = ("22", "23", "25", "26", "27", "28", "29")
TAKEN_BACK = ("21",)
LAST_FILLED = {  # the last position a record of the type fills; only spaces (15: its type letter) after it
    "01": 45, "05": 25, "15": 79, "20": 70, "21": 71, "22": 70, "23": 70, "29": 14, "70": 34}
END_COUNTS = (  # what the 70 end record counts, at which positions, of which record types
    ("payment records (20)", (3, 10), ("20",)),
    ("deduction records (21)", (11, 18), ("21",)),
    ("extra reference records (22, 23)", (19, 26), ("22", "23")),
    ("deposit records (15)", (27, 34), ("15",)),
)


@dataclass(frozen=True)
class Record:
    number: int       # 1 for the file's first record; blank lines are not records
    text: str         # exactly 80 characters

    @property
    def code(self) -> str:
        return self.text[:2]

    def field(self, first: int, last: int) -> str:
        """Positions ``first`` to ``last``, 1-based and inclusive, as the layout numbers them."""
        return self.text[first - 1:last]


@dataclass
class Section:
    opening: Record
    groups: list[list[Record]] = field(default_factory=list)   # each: a 20 or 21 record, then its members
    deposit: Record | None = None


def read_bgmax(path: Path, max_bytes: int) -> PaymentFile:
    """The payments of a BgMax file, or FileRejected for the whole file.

    ``account`` is the payee bankgiro of the 05 records, leading zeros dropped ("" for a file without
    sections). A file crediting several bankgiros is rejected (MIXED_ACCOUNTS): a payment is known by its
    account and key, and an account made of several bankgiros would change with the way Bankgirot groups
    its sections into files, letting the same payment in twice."""
    check_size(path, max_bytes)
    records = split_records(path.read_bytes().decode("iso-8859-1"))
    check_start(records)
    check_end(records)
    sections = split_sections(records[1:-1])
    account = payee_bankgiro(sections)
    return PaymentFile("bgmax", account, [payment for section in sections
                                          for payment in deposit_payments(section, account)])


def split_records(text: str) -> list[Record]:
    """The file's records, each padded to 80 characters.

    A file with line breaks (CRLF, LF or CR) holds a record a line. Some writers trim a record's trailing
    spaces, and Bankgirot's own example file has a record whose spaces were saved as tabs (stops every 8
    columns): each line gets its tabs expanded and is padded back to 80. A file without any line break is
    read by `unbroken_records`."""
    if "\n" in text or "\r" in text:
        lines = [line.expandtabs(8) for line in LINE_BREAK.split(text)]
    else:
        lines = unbroken_records(text)
    records: list[Record] = []
    for line in filter(str.strip, lines):
        line = line.rstrip()
        if len(line) > RECORD_LENGTH:
            raise FileRejected("BAD_FORMAT", f"record {len(records) + 1} has {len(line)} characters; "
                                             f"BgMax records have {RECORD_LENGTH}")
        records.append(Record(len(records) + 1, line.ljust(RECORD_LENGTH)))
    return records


def unbroken_records(text: str) -> list[str]:
    """The records of a file without line breaks: 80 characters each, tabs expanded from each record's first
    column, except a record whose trailing spaces were trimmed before the breaks were taken out.

    Such a record ends at the last position its type fills (``LAST_FILLED``); it shows by a digit, the next
    record's type, standing after that position, where the layout has only spaces (15: its type letter).
    A trimmed 25 to 28 text record has no such mark: it shifts the records after it, and the file fails
    its checks."""
    records, start = [], 0
    while start < len(text):
        widths = []                     # the record's width after each character taken
        record = ""
        for character in text[start:start + RECORD_LENGTH]:
            if len(record) == RECORD_LENGTH:
                break
            record = (record + character).expandtabs(8)
            widths.append(len(record))
        last = LAST_FILLED.get(record[:2], RECORD_LENGTH)
        if any(character in string.digits for character in record[last:]):
            record, widths = record[:last], widths[:bisect_left(widths, last) + 1]
        records.append(record)
        start += len(widths)
    return records


def check_start(records: list[Record]) -> None:
    if not records or records[0].code != "01" or records[0].field(3, 22).strip() != "BGMAX":
        first = records[0].text[:22].rstrip() if records else ""
        raise FileRejected("BAD_FORMAT", f"the file does not start with a BgMax start record '01BGMAX' "
                                         f"(it starts {first!r})")


def check_end(records: list[Record]) -> None:
    """A last record other than 70 means a file cut short; each count of the 70 must match the file."""
    end = records[-1]
    if end.code != "70":
        raise FileRejected("BAD_FORMAT", f"the file does not end with a 70 end record (its last record, "
                                         f"{end.number}, is of type {end.code!r}): it may be cut short, "
                                         f"or its records out of step")
    for what, (first, last), codes in END_COUNTS:
        stated = number(end, first, last, "BAD_FORMAT", f"the count of {what}")
        found = sum(record.code in codes for record in records)
        if stated != found:
            raise FileRejected("BAD_TOTALS", f"the 70 end record counts {stated} {what}; the file holds {found}")


def split_sections(records: list[Record]) -> list[Section]:
    """The deposit sections (05 … 15) of the records between start and end, each payment record with the
    records that belong to it."""
    sections: list[Section] = []
    section: Section | None = None
    for record in records:
        if record.code not in ("05", "15", "20", "21", *GROUP_MEMBERS):
            raise FileRejected("BAD_FORMAT", f"record {record.number}: {record.code!r} is not a record type "
                                             f"BgMax has between its 01 start and 70 end records")
        if record.code == "05":
            if section is not None:
                raise unclosed(section)
            section = Section(record)
        elif section is None:
            raise FileRejected("BAD_FORMAT", f"record {record.number}: a {record.code} record outside a "
                                             f"deposit section (05 … 15)")
        elif record.code in ("20", "21"):
            section.groups.append([record])
        elif record.code in GROUP_MEMBERS:
            if not section.groups:
                raise FileRejected("BAD_FORMAT", f"record {record.number}: a {record.code} record with no "
                                                 f"payment record (20, 21) before it in its section")
            section.groups[-1].append(record)
        else:
            section.deposit = record
            sections.append(section)
            section = None
    if section is not None:
        raise unclosed(section)
    return sections


def unclosed(section: Section) -> FileRejected:
    return FileRejected("BAD_FORMAT", f"the deposit section opened by record {section.opening.number} has "
                                      f"no 15 deposit record")


def payee_bankgiro(sections: list[Section]) -> str:
    bankgiros = list(dict.fromkeys(
        str(number(section.opening, 3, 12, "BAD_FORMAT", f"the payee bankgiro of record {section.opening.number}"))
        for section in sections))
    if len(bankgiros) > 1:
        raise FileRejected("MIXED_ACCOUNTS", f"the file credits bankgiros {', '.join(bankgiros)}; "
                                             f"a BgMax file is read for one bankgiro")
    return bankgiros[0] if bankgiros else ""


def deposit_payments(section: Section, account: str) -> list[Payment]:
    """The payment lines of a section, dated by its 15 deposit record and checked against it.

    Key: ``<payee bankgiro>:<pay date>:<deposit serial>:<BGC serial>``, the BGC serial (58–69) being
    Bankgirot's number of the payment. Bankgirot's own example repeats a BGC serial within a deposit, so a
    repeat gets ``#2``, ``#3`` … in file order. So the same file always gives the same keys, and no two
    payments share one."""
    deposit = section.deposit
    pay_date = date_of(deposit, 38, 45)
    serial = deposit.field(46, 50)
    currency = section_currency(section)
    seen: Counter[str] = Counter()
    payments = []
    for group in section.groups:
        head, payer = group[0], payer_details(group)
        key = f"{account}:{deposit.field(38, 45)}:{serial}:{head.field(58, 69)}"
        seen[key] += 1
        if seen[key] > 1:
            key = f"{key}#{seen[key]}"
        payments.append(Payment(
            key=key, amount_minor=signed_amount(head), currency=currency, value_date=pay_date,
            booking_date=pay_date, reference=head.field(13, 37).strip(), reversal=head.code in TAKEN_BACK,
            position=f"deposit {serial} record {head.number}", **payer))
    check_deposit(section, payments)
    return payments


def check_deposit(section: Section, payments: list[Payment]) -> None:
    deposit = section.deposit
    where = f"deposit {deposit.field(46, 50)} (record {deposit.number})"
    stated_count = number(deposit, 72, 79, "BAD_FORMAT", f"the payment count of {where}")
    if stated_count != len(section.groups):
        raise FileRejected("BAD_TOTALS", f"{where} holds {len(section.groups)} payment and deduction records "
                                         f"(20, 21); its 15 record says {stated_count}")
    stated_amount = number(deposit, 51, 68, "BAD_AMOUNT", f"the amount of {where}")
    total = sum(payment.amount_minor for payment in payments)
    if stated_amount != total:
        raise FileRejected("BAD_TOTALS", f"the payments of {where} add up to {total} öre (20 less 21); its 15 "
                                         f"record says {stated_amount} öre")


def signed_amount(record: Record) -> int:
    amount = number(record, 38, 55, "BAD_AMOUNT", f"the amount of record {record.number}")
    return -amount if record.code in TAKEN_BACK else amount


def payer_details(group: list[Record]) -> dict[str, str]:
    """What the 22, 23 and 25 to 29 records of a group say of its payment."""
    def fields(code: str, *spans: tuple[int, int]) -> list[str]:
        return [record.field(*span) for record in group if record.code == code for span in spans]

    town = joined(fields("27", (38, 46)) + fields("28", (3, 37)), " ")                # postcode and city
    extra_references = joined(fields("22", (13, 37)) + fields("23", (13, 37)), " ")
    text = joined(fields("25", (3, 52)) + ([f"extra references: {extra_references}"] if extra_references else []), " ")
    return {"text": text,
            "payer_name": joined(fields("26", (3, 37), (38, 72)), " "),
            "payer_address": joined([*fields("27", (3, 37)), town, *fields("28", (38, 72), (73, 74))], ", "),
            "payer_id": joined(fields("29", (3, 14)), " ")}


def joined(parts: list[str], separator: str) -> str:
    return separator.join(part.strip() for part in parts if part.strip())


def section_currency(section: Section) -> str:
    """The 05 opening (23–25) and the 15 deposit record (69–71) must name the same ISO 4217 currency;
    either may be blank."""
    opening, deposit = section.opening.field(23, 25).strip(), section.deposit.field(69, 71).strip()
    if opening and deposit and opening != deposit:
        raise FileRejected("BAD_CURRENCY", f"the 05 opening record {section.opening.number} says {opening!r}, "
                                           f"its 15 deposit record {section.deposit.number} says {deposit!r}")
    currency = opening or deposit
    if not is_currency(currency):
        raise FileRejected("BAD_CURRENCY", f"the deposit section opened by record {section.opening.number}: "
                                           f"{currency!r} is not an ISO 4217 currency")
    return currency


def number(record: Record, first: int, last: int, code: str, what: str) -> int:
    digits = record.field(first, last)
    if not (digits.isascii() and digits.isdigit()):
        raise FileRejected(code, f"{what}: {digits!r} (positions {first}–{last}) is not a number")
    return int(digits)


def date_of(record: Record, first: int, last: int) -> date:
    text = record.field(first, last)
    try:
        if not (text.isascii() and text.isdigit()):
            raise ValueError
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise FileRejected("BAD_DATE", f"record {record.number}: {text!r} (positions {first}–{last}) is not "
                                       f"a date (YYYYMMDD)") from None
