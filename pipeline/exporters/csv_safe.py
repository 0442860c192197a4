"""CSV as we write it (formats.md): UTF-8 without BOM, `,`, RFC 4180 quoting, CRLF line ends,
and every text cell protected against spreadsheet formula injection.

>>> protect("=SUM(A1)"), protect("-12"), protect("Acme")
("'=SUM(A1)", "'-12", 'Acme')
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from itertools import islice
from operator import itemgetter
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_AT_LINE_START = re.compile("(?:^|\n)[=+\\-@\t\r]")
PART_ROWS = 2_000


def protect(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def write_csv(sink: BinaryIO, header: Sequence[str], rows: Iterable[Sequence], numeric: Iterable[str] = ()) -> None:
    """Stream rows into ``sink`` as they come, `PART_ROWS` at a time; cells of columns not named in ``numeric``
    are protected text. A part whose text cells are all strings and none starts like a formula (the usual part,
    found by one search over each column joined) goes to the csv module as it is: a million lines made cell by
    cell in Python took seconds."""
    numeric = set(numeric)
    cells = tuple(_number_cell if name in numeric else _text_cell for name in header)
    texts = [itemgetter(i) for i, name in enumerate(header) if name not in numeric]
    text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    rows = iter(rows)
    while part := list(islice(rows, PART_ROWS)):
        if _nothing_to_protect(part, texts):
            writer.writerows(part)
        else:
            writer.writerows([cell(value) for cell, value in zip(cells, row)] for row in part)
    text.flush()
    text.detach()


def _nothing_to_protect(part: list[Sequence], texts: list[itemgetter]) -> bool:
    """Whether the csv module writes these rows as `_text_cell` would have them: every text cell None or a string
    that does not start like a formula (the csv module writes None and numbers as `_number_cell` does)."""
    try:
        return not any(_FORMULA_AT_LINE_START.search("\n".join(filter(None, map(cell, part)))) for cell in texts)
    except TypeError:   # a text cell that is not a string: made text cell by cell
        return False


def _number_cell(value) -> str:
    return "" if value is None else str(value)


def _text_cell(value) -> str:
    return "" if value is None else protect(str(value))


def write_csv_columns(sink: BinaryIO, columns: dict[str, pa.Array], numeric: Iterable[str] = ()) -> None:
    """The same bytes as `write_csv` from whole columns of strings (nulls written empty), in Arrow compute:
    a million lines are a handful of vectorised passes, not a million rows of Python."""
    write_csv_header(sink, list(columns))
    write_csv_lines(sink, columns, numeric)


def write_csv_header(sink: BinaryIO, header: Sequence[str]) -> None:
    sink.write(",".join(_quoted(pa.array(list(header), pa.string())).to_pylist()).encode("utf-8") + b"\r\n")


def write_csv_lines(sink: BinaryIO, columns: dict[str, pa.Array], numeric: Iterable[str] = ()) -> None:
    """Lines under a header written before (`write_csv_header`), a batch of them at a time."""
    numeric = set(numeric)
    cells = []
    for name, column in columns.items():
        column = pc.fill_null(column.cast(pa.string()), "")
        if name not in numeric:
            column = pc.if_else(pc.match_substring_regex(column, "^[=+\\-@\\t\\r]"),
                                pc.binary_join_element_wise("'", column, ""), column)
        cells.append(_quoted(column))
    if cells and len(cells[0]):
        lines = pc.binary_join_element_wise(*cells, ",")
        sink.write("\r\n".join(lines.to_pylist()).encode("utf-8"))
        sink.write(b"\r\n")


def _quoted(column: pa.Array) -> pa.Array:
    """RFC 4180 as Python's csv module writes it: a cell with a comma, a quote or a line break is quoted and
    its quotes doubled."""
    needs = pc.match_substring_regex(column, '[,"\\r\\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, column)
