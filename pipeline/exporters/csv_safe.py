"""CSV as we write it (formats.md): UTF-8 without BOM, `,`, RFC 4180 quoting, CRLF line ends,
and every text cell protected against spreadsheet formula injection.

>>> protect("=SUM(A1)"), protect("-12"), protect("Acme")
("'=SUM(A1)", "'-12", 'Acme')
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import BinaryIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def protect(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def write_csv(sink: BinaryIO, header: Sequence[str], rows: Iterable[Sequence], numeric: Iterable[str] = ()) -> None:
    """Stream rows into ``sink`` as they come; cells of columns not named in ``numeric`` are protected text."""
    numeric_positions = {header.index(name) for name in numeric}
    text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else str(value) if i in numeric_positions else protect(str(value))
                         for i, value in enumerate(row)])
    text.flush()
    text.detach()
