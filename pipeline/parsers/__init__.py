"""Parsers turn bytes into typed rows. They never touch the ledger and never judge by date.

The file-level checks every parser makes the same way live here: the size limits before a byte is read,
and the header of a CSV mapped through the creditor's layout."""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Collection
from pathlib import Path

from pipeline.config import CsvLayout

SCAN_CHUNK = 1 << 20
FORBIDDEN = tuple(marker.encode(encoding) for marker in ("<!DOCTYPE", "<!ENTITY")
                  for encoding in ("ascii", "utf-16-le", "utf-16-be"))
OVERLAP = max(len(marker) for marker in FORBIDDEN) - 1


class FileRejected(Exception):
    """The whole file is rejected; ``code`` goes into its one receipt line."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self):   # as it was made: a reader process sends it to the writer (stages.ingest.reading)
        return type(self), (self.code, self.message)


def check_size(path: Path, max_bytes: int) -> None:
    """EMPTY_FILE or FILE_TOO_LARGE, decided by the file's size alone."""
    size = path.stat().st_size
    if size == 0:
        raise FileRejected("EMPTY_FILE", "the file is empty")
    if size > max_bytes:
        raise FileRejected("FILE_TOO_LARGE", f"the file has {size} bytes; the limit is {max_bytes}")


def header_names(record: list[str], layout: CsvLayout, columns: Collection[str]) -> tuple[list[str], list[str]]:
    """(the header as found, stripped and lower case; its names after the creditor's renames).

    NO_HEADER when no name is one of ``columns``, BAD_HEADER when one of them appears twice."""
    found = [name.strip().lower() for name in record]
    names = [layout.columns.get(name, name) for name in found]
    known = [name for name in names if name in columns]
    if not known:
        raise FileRejected("NO_HEADER", f"the first line has no known column names (found: {', '.join(found)[:200]})")
    twice = sorted({name for name in known if known.count(name) > 1})
    if twice:
        raise FileRejected("BAD_HEADER", f"column {', '.join(twice)} appears more than once")
    return found, names


def read_csv_text(path: Path, encoding: str, max_bytes: int) -> str:
    """A small CSV file (instructions, remittances) read whole: UTF-8 with or without BOM, else ``encoding``
    when there is no BOM. NOT_CSV for binary, BAD_ENCODING naming the line, EMPTY_FILE."""
    check_size(path, max_bytes)
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise FileRejected("NOT_CSV", "the file is binary, not a CSV text file")
    encoding = "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) or encoding == "utf-8" else encoding
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FileRejected("BAD_ENCODING", f"line {line} is not valid {encoding.removesuffix('-sig')}") from None
    if not text.strip():
        raise FileRejected("EMPTY_FILE", "the file is empty")
    return text


def csv_records(text: str) -> list[list[str]]:
    """The records of a small CSV text, blank ones left out; ``;`` or ``,`` as its first line has more of.
    NOT_CSV when it cannot be read as CSV."""
    first = next(line for line in text.splitlines() if line.strip())
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        return [record for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
                if any(cell.strip() for cell in record)]
    except csv.Error as exc:
        raise FileRejected("NOT_CSV", f"the file cannot be read as CSV: {exc}") from None


def refuse_declarations(path: Path) -> None:
    """BAD_XML for a file with a DOCTYPE or ENTITY declaration anywhere, read in chunks that overlap."""
    tail = b""
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(SCAN_CHUNK), b""):
            window = tail + chunk
            if any(marker in window for marker in FORBIDDEN):
                raise FileRejected("BAD_XML", "the file declares a DTD or entities, which are not accepted")
            tail = window[-OVERLAP:]
