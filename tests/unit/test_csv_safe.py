"""CSV as we write it (`pipeline.exporters.csv_safe`): the row writer and the column writer give the same bytes."""
from __future__ import annotations

import csv
import io
from unittest import mock

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from pipeline.exporters import csv_safe
from pipeline.exporters.csv_safe import protect, write_csv, write_csv_columns
from pipeline.exporters.columns import amount_texts
from pipeline.money import format_minor

CELLS = st.one_of(st.none(), st.text(alphabet=st.sampled_from(list('a,"\r\n=+-@\t øÆ1. ')), max_size=8))


@given(st.lists(st.tuples(CELLS, CELLS), max_size=12))
def test_the_column_writer_writes_the_row_writers_bytes(rows):
    """Quoting (a comma, a quote, a line break), doubled quotes, formula protection of text cells only, nulls."""
    by_rows, by_columns = io.BytesIO(), io.BytesIO()
    write_csv(by_rows, ("text", "amount"), rows, numeric=("amount",))
    write_csv_columns(by_columns, {"text": pa.array([text for text, _ in rows], pa.string()),
                                   "amount": pa.array([amount for _, amount in rows], pa.string())},
                      numeric=("amount",))
    assert by_columns.getvalue() == by_rows.getvalue()


def cell_by_cell(rows: list[tuple], numeric_column: int) -> bytes:
    """Every cell made text in Python before the csv module sees it: protected unless numeric, None empty."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("text", "amount", "number"))
    writer.writerows(["" if value is None else str(value) if i == numeric_column else protect(str(value))
                      for i, value in enumerate(row)] for row in rows)
    return out.getvalue().encode("utf-8")


@given(st.lists(st.tuples(CELLS, CELLS, st.one_of(CELLS, st.integers(-20, 20))), max_size=30),
       st.integers(1, 4))
def test_rows_are_written_as_when_every_cell_is_made_text_in_python(rows, part_rows):
    """Parts with nothing to protect go to the csv module as they are; the others (a cell starting like a formula,
    a text cell holding a number) are made text cell by cell: the bytes are the same either way."""
    written = io.BytesIO()
    with mock.patch.object(csv_safe, "PART_ROWS", part_rows):
        write_csv(written, ("text", "amount", "number"), rows, numeric=("amount",))
    assert written.getvalue() == cell_by_cell(rows, numeric_column=1)


@given(st.lists(st.tuples(st.integers(-10**12, 10**12), st.sampled_from(["DKK", "SEK", "JPY", "KWD"])),
                max_size=20))
def test_amounts_in_columns_are_written_as_format_minor_writes_them(amounts):
    texts = amount_texts(np.array([minor for minor, _ in amounts], dtype=np.int64),
                         np.array([currency for _, currency in amounts], dtype=object))
    assert texts.to_pylist() == [format_minor(minor, currency) for minor, currency in amounts]
