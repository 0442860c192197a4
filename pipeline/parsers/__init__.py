"""Parsers turn bytes into typed rows. They never touch the ledger and never judge by date.

The file-level checks every parser makes the same way live here: the size limits before a byte is read,
and the header of a CSV mapped through the creditor's layout."""
from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from pipeline.config import CsvLayout


class FileRejected(Exception):
    """The whole file is rejected; ``code`` goes into its one receipt line."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


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
