"""The invoice CSV of formats.md §1.1: bytes in, typed batches out, streamed.

A file is read in batches by Arrow's streaming CSV reader, all columns as text,
and every column is converted by `rows.RowConverter` according to the
creditor's layout (`config.CsvLayout`, declared as data: encoding, decimal
separator, date format, header renames). A row that cannot be read gets its
outcome code there (MISSING_FIELD, BAD_DATE, BAD_AMOUNT, BAD_CURRENCY,
BAD_COUNTRY); judging a readable row against the law and the date is left to
`pipeline.rules.admission`.

A row with the wrong number of fields makes Arrow stop; from that row on the file
is read with Python's csv module, which knows each record's position, so the bad
row gets its own MISSING_FIELD line and the rest of the file is still read.

``line`` is the record's position in the file: the header is line 1, the first
data row line 2; blank lines are not counted.
"""
from __future__ import annotations

import codecs
import csv
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.config import CANONICAL_COLUMNS, CsvLayout
from pipeline.parsers import FileRejected, check_size, header_names
from pipeline.parsers.rows import ALWAYS_REQUIRED, RowConverter

# the bytes of one batch: the parse of an 8 MiB block peaked at some 160 MB, which the allocator keeps; at
# 4 MiB, parsed in the calling thread (no read-ahead of blocks), the reader of a large file holds about 430 MiB
BLOCK_BYTES = 4 * 1024 * 1024
FALLBACK_BATCH_ROWS = 50_000
SNIFF_BYTES = 64 * 1024
REQUIRED_COLUMNS = ALWAYS_REQUIRED + ("due_date",)
MALFORMED_ROW = re.compile(r"Expected \d+ columns, got \d+")


@dataclass(frozen=True)
class _Header:
    delimiter: str
    encoding: str
    names: list[str]            # canonical name per position, "" for columns we do not use


def read_invoice_csv(path: Path, layout: CsvLayout, default_currency: str,
                     max_bytes: int) -> Iterator[pd.DataFrame]:
    """Yield typed batches of the file's rows; raise FileRejected for a file-level problem.

    Each batch has the canonical columns converted (dates as ``datetime64[s]``, money
    as int64 minor units), plus ``line``, ``outcome`` and ``message`` (outcome is
    None where the row could be read).
    """
    check_size(path, max_bytes)
    header = _read_header(path, layout)
    converter = RowConverter(layout, default_currency, width=len(header.names))
    rows = 0
    for line, texts in _text_batches(path, header):
        rows += len(texts)
        yield converter.convert(texts, line)
    if rows == 0:
        raise FileRejected("EMPTY_FILE", "the file has a header but no data rows")


def _read_header(path: Path, layout: CsvLayout) -> _Header:
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if b"\x00" in head:
        raise FileRejected("NOT_CSV", "the file is binary, not a CSV text file")
    # a UTF-8 byte order mark is unambiguous: such a file is UTF-8 even where the creditor's layout says cp1252
    file_encoding = "utf-8" if head.startswith(codecs.BOM_UTF8) else layout.encoding
    encoding = "utf-8-sig" if file_encoding == "utf-8" else file_encoding
    first_line = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = first_line.decode(encoding)
    except UnicodeDecodeError:
        raise FileRejected("BAD_ENCODING", _encoding_message(CsvLayout(encoding=file_encoding), 1)) from None
    delimiter = ";" if text.count(";") > text.count(",") else ","
    found, names = header_names(next(csv.reader([text], delimiter=delimiter)), layout, CANONICAL_COLUMNS)
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise FileRejected("MISSING_COLUMN", f"required column {', '.join(missing)} not found; "
                                             f"columns found: {', '.join(found)}")
    return _Header(delimiter, file_encoding, [name if name in CANONICAL_COLUMNS else "" for name in names])


def _encoding_message(layout: CsvLayout, line: int) -> str:
    hint = ' (if the file is Windows-1252, set encoding = "cp1252" in [creditor.csv])' if layout.encoding == "utf-8" else ""
    return f"line {line} is not valid {layout.encoding}{hint}"


def _text_batches(path: Path, header: _Header) -> Iterator[tuple[int, pa.Table]]:
    """Yield (line of the batch's first row, table of stripped text columns)."""
    columns = [f"c{i}" for i in range(len(header.names))]
    used = [col for col, name in zip(columns, header.names) if name]
    rename = [name for name in header.names if name]
    line = 2
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES, skip_rows=1, use_threads=False,
                                           column_names=columns,
                                           encoding="utf8" if header.encoding == "utf-8" else header.encoding),
            parse_options=pacsv.ParseOptions(delimiter=header.delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in used}, include_columns=used,
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        for batch in reader:
            table = pa.Table.from_batches([batch]).rename_columns(rename)
            yield line, table
            line += len(table)
    except UnicodeDecodeError:  # from the Python codec Arrow transcodes a non-UTF-8 file with (cp1252)
        raise FileRejected("BAD_ENCODING", _encoding_message(_layout_of(header), _bad_byte_line(path, header))) from None
    except pa.ArrowInvalid as exc:
        if MALFORMED_ROW.search(str(exc)):
            yield from _fallback_batches(path, header, rename, start_line=line)
            return
        if "UTF8" not in str(exc) and "decode" not in str(exc).lower():
            raise FileRejected("NOT_CSV", f"the file cannot be read as CSV: {exc}") from None
        raise FileRejected("BAD_ENCODING", _encoding_message(_layout_of(header), _bad_byte_line(path, header))) from None


def _layout_of(header: _Header) -> CsvLayout:
    return CsvLayout(encoding=header.encoding)


def _bad_byte_line(path: Path, header: _Header) -> int:
    decoder = codecs.getincrementaldecoder(header.encoding)()
    line = 1
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk.count(b"\n", 0, exc.start)
            line += chunk.count(b"\n")
    return line


def _fallback_batches(path: Path, header: _Header, rename: list[str], start_line: int) -> Iterator[tuple[int, pa.Table]]:
    """The slow, exact reader: Python's csv module, from the first record Arrow could not take."""
    width = len(header.names)
    positions = [i for i, name in enumerate(header.names) if name]
    encoding = "utf-8-sig" if header.encoding == "utf-8" else header.encoding
    try:
        with path.open(encoding=encoding, newline="") as fh:
            records = (r for r in csv.reader(fh, delimiter=header.delimiter) if r)
            records = itertools.islice(records, start_line - 1, None)
            line = start_line
            while chunk := list(itertools.islice(records, FALLBACK_BATCH_ROWS)):
                # a record with too few or too many fields keeps what it has (the receipt names its invoice
                # number); it is marked MISSING_FIELD by the converter, so no other value of it is used
                padded = [r if len(r) == width else (r + [""] * width)[:width] for r in chunk]
                table = pa.table({name: pa.array([r[i] for r in padded], pa.string())
                                  for name, i in zip(rename, positions)})
                malformed = [len(r) for r in chunk]
                table = table.append_column("_fields", pa.array(malformed, pa.int32()))
                yield line, table
                line += len(chunk)
    except UnicodeDecodeError:
        raise FileRejected("BAD_ENCODING", _encoding_message(_layout_of(header), _bad_byte_line(path, header))) from None
    except csv.Error as exc:
        raise FileRejected("NOT_CSV", f"the file cannot be read as CSV: {exc}") from None
