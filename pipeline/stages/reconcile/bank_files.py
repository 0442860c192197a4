"""The bank's files (formats.md §2), the bank party's handler in the intake: each payment stored once.

A file is read by its content, not its name: XML is ISO 20022 (`parsers.camt`: camt.053 statements and
camt.054 notifications), a file opening with a ``01BGMAX`` record is Bankgirot's BgMax (`parsers.bgmax`);
anything else is UNSUPPORTED_FILE. A payment's natural key is (scheme, account, the bank's key): camt.053
and camt.054 share the bank's references (``iso20022``), so a notification and the statement that books
the same payment, two statements that overlap, or the same file under another name, add nothing. What a
file holds that is not a payment in (a debit, an entry not yet booked) is kept with the reason it was left.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from pipeline.intake import Context, Handled
from pipeline.ledger import repository as repo
from pipeline.ledger.schema import bank_entries_left
from pipeline.parsers import FileRejected
from pipeline.parsers.bgmax import read_bgmax
from pipeline.parsers.camt import read_camt
from pipeline.parsers.payments import PaymentFile

SCHEMES = {"camt.053": "iso20022", "camt.054": "iso20022", "bgmax": "bgmax"}
SOURCES = {"camt.053": "camt053", "camt.054": "camt054", "bgmax": "bgmax"}   # as the report names them
SNIFF_BYTES = 64


class BankFiles:
    kind = "bank_payments"

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes

    def handle(self, conn: Connection, path: Path, context: Context) -> Handled:
        read = read_bank_file(path, self.max_bytes)
        context.checkpoint("parsed")
        stored = repo.store_payments(conn, SCHEMES[read.source], read.account, SOURCES[read.source], read.payments,
                                     context.file_id, context.run_id)
        if read.ignored:
            repo.insert_rows(conn, bank_entries_left, file_id=context.file_id,
                             position=[entry.position for entry in read.ignored],
                             reason=[entry.reason for entry in read.ignored])
        return Handled(rows=len(read.payments) + len(read.ignored), taken=stored)


def read_bank_file(path: Path, max_bytes: int) -> PaymentFile:
    with path.open("rb") as fh:
        start = fh.read(SNIFF_BYTES).lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"<"):
        return read_camt(path, max_bytes)
    if start.startswith(b"01BGMAX"):
        return read_bgmax(path, max_bytes)
    if not start:
        raise FileRejected("EMPTY_FILE", "the file is empty")
    raise FileRejected("UNSUPPORTED_FILE", "not a bank file we read: ISO 20022 camt.053 or camt.054 XML, or BgMax")
