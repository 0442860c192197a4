"""An invoice file's rows as judged batches: parsed (the parser of its kind), judged by the rules of admission
(`pipeline.rules.admission`) and each valid row's content hashed: everything about a row that needs no ledger.

A large file is read ahead by a process of its own. The writer's time goes to the database (SQLite's
inserts, PostgreSQL's COPY), the reader's to Python alone, so on two cores the next batch is read while
this one is written; the batches are the same frames in the same order either way. A file of at most
`READ_AHEAD_BYTES` is read in the writer's process: a process of its own costs about a second to start.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import pickle
import subprocess
import sys
import traceback
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import pipeline
from pipeline.config import Creditor
from pipeline.parsers.invoice_csv import read_invoice_csv
from pipeline.parsers.ubl import read_ubl_invoices
from pipeline.rules.admission import judge

READ_AHEAD_BYTES = 16 * 1024 * 1024
READER = f"from {__name__} import read_ahead; read_ahead()"   # the reader process's program
HASHED_FIELDS = ("document_type", "credited_invoice_number", "invoice_date", "due_date", "amount_minor", "currency",
                 "debtor_id", "debtor_type", "debtor_name", "debtor_national_id", "debtor_address_line1",
                 "debtor_address_line2", "debtor_postcode", "debtor_city", "debtor_country", "debtor_email",
                 "debtor_phone", "reminders_sent", "last_reminder_date", "reminder_fees_minor", "description")


@dataclass(frozen=True)
class Reading:
    """What makes a file's judged batches, without the ledger: plain data, so a reader process can take it."""

    kind: str                   # invoice_csv or invoice_xml
    path: Path
    creditor: Creditor
    as_of: date
    supported_countries: frozenset[str]
    max_file_bytes: int
    max_xml_document_bytes: int

    def batches(self, skip: int = 0) -> Iterator[pd.DataFrame]:
        """The file's batches, judged and hashed, in this process; the first ``skip`` ones parsed only (the
        file's order of batches needs them read), not judged or given."""
        for frame in itertools.islice(self._parsed(), skip, None):
            judge(frame, self.as_of, self.supported_countries, drop_invalid_national_ids=self.kind == "invoice_xml")
            valid = frame["outcome"].isna().to_numpy()
            frame["content_sha"] = None
            frame.loc[valid, "content_sha"] = content_hashes(frame.loc[valid])
            yield frame

    def _parsed(self) -> Iterator[pd.DataFrame]:
        """The typed batches of the parser of the file's kind; every kind yields the same columns."""
        creditor = self.creditor
        if self.kind == "invoice_xml":
            return read_ubl_invoices(self.path, creditor.legal_id, creditor.currency, self.max_file_bytes,
                                     layout=creditor.xml, max_document_bytes=self.max_xml_document_bytes)
        return read_invoice_csv(self.path, creditor.csv, creditor.currency, self.max_file_bytes)


def judged_batches(reading: Reading) -> Iterator[pd.DataFrame]:
    """The file's judged batches: read ahead by a process of its own when the file is larger than
    `READ_AHEAD_BYTES`, but for the first, which this process judges while the reader starts (a second of
    imports) and reads its way to the second. A problem the reader meets is raised here as it was raised there
    (FileRejected)."""
    if reading.path.stat().st_size <= READ_AHEAD_BYTES:
        yield from reading.batches()
        return
    package_root = str(Path(pipeline.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    # the reader runs the package this process runs: first on its path, and no folder of the working directory
    # before it (-P), where another checkout's pipeline/ would otherwise be imported instead
    reader = subprocess.Popen([sys.executable, "-P", "-c", READER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env=env)
    try:
        pickle.dump((reading, 1), reader.stdin)
        reader.stdin.close()
        first = reading.batches()
        yield from itertools.islice(first, 1)
        first.close()
        yield from _received(reader)
    finally:
        reader.kill()
        reader.stdout.close()
        reader.wait()


def _received(reader: subprocess.Popen) -> Iterator[pd.DataFrame]:
    while True:
        try:
            kind, value = pickle.load(reader.stdout)
        except EOFError:
            raise RuntimeError("the reader process ended before the end of the file "
                               f"(exit status {reader.wait()})") from None
        if kind == "batch":
            yield value
        elif kind == "failed":
            raise value
        else:
            return


def content_hashes(rows: pd.DataFrame) -> list[str]:
    """SHA-256 of the row's normalised content: equal hashes mean the same claim sent again."""
    text = rows[list(HASHED_FIELDS)].astype("string").fillna("")
    joined = pc.binary_join_element_wise(*(pa.array(text[name], pa.string()) for name in HASHED_FIELDS), "\x1f")
    return [hashlib.sha256(value.encode()).hexdigest() for value in joined.to_pylist()]


def read_ahead() -> None:
    """The reader process: a Reading and the batches to skip on stdin, the other batches out on stdout, then
    ``end`` (or what stopped it, as ``failed``). Anything else written to stdout goes to stderr: a stray print
    must not corrupt the batches."""
    sink = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    reading, skip = pickle.load(sys.stdin.buffer)
    try:
        for frame in reading.batches(skip):
            pickle.dump(("batch", frame), sink, protocol=pickle.HIGHEST_PROTOCOL)
            sink.flush()
    except Exception as exc:  # every problem goes to the writer, which decides; none is lost here
        pickle.dump(("failed", _sendable(exc)), sink)
    else:
        pickle.dump(("end", None), sink)
    sink.flush()


def _sendable(exc: Exception) -> Exception:
    """The exception itself where it survives pickling, else a RuntimeError with its traceback."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError("".join(traceback.format_exception(exc)))

