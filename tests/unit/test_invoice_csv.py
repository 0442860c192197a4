"""The invoice CSV parser on its own (no database): typed values, every layout variant, row outcomes the
parser gives, file-level rejections, and batch boundaries (Arrow batches and the csv-module fallback)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import pipeline.parsers.invoice_csv as invoice_csv
from pipeline.config import CsvLayout
from pipeline.parsers.invoice_csv import FileRejected, read_invoice_csv

DATA = Path(__file__).parents[1] / "data"
CANONICAL = CsvLayout()
DANSK = CsvLayout(encoding="cp1252", decimal=",", date_format="DD.MM.YYYY",
                  columns={"fakturanr": "invoice_number", "kundenr": "debtor_id", "beløb": "amount"})
REQ = ("invoice_number;invoice_date;due_date;amount;debtor_id;debtor_type;debtor_name;debtor_address_line1;"
       "debtor_postcode;debtor_city;debtor_country")
NOT_A_DATE = "{} {!r} is not a date in the format {}"


def batches(name: str, layout: CsvLayout = CANONICAL, currency: str = "DKK", max_bytes: int = 10**6,
            folder: Path = DATA) -> list[pd.DataFrame]:
    return list(read_invoice_csv(folder / name, layout, currency, max_bytes))


def read(name: str, layout: CsvLayout = CANONICAL, **kwargs) -> pd.DataFrame:
    return pd.concat(batches(name, layout, **kwargs), ignore_index=True)


def rejection(name: str, layout: CsvLayout = CANONICAL, max_bytes: int = 10**6) -> tuple[str, str]:
    with pytest.raises(FileRejected) as caught:
        read(name, layout, max_bytes=max_bytes)
    return caught.value.code, caught.value.message


def column(frame: pd.DataFrame, name: str) -> list:
    return [None if pd.isna(v) else v for v in frame[name].tolist()]


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """outcome/message as plain objects with None (an all-None batch and a batch with codes infer other dtypes)."""
    frame = frame.copy()
    for name in ("outcome", "message"):
        frame[name] = pd.Series(column(frame, name), index=frame.index, dtype=object)
    return frame


def day(text: str) -> np.datetime64:
    return np.datetime64(text, "s")


# --- typed values -----------------------------------------------------------------------------------------

def test_a_canonical_file_gives_typed_columns():
    frame = read("outcome_accepted.csv")
    assert frame["line"].tolist() == [2, 3, 4]
    assert frame["amount_minor"].dtype == np.int64
    assert frame["amount_minor"].tolist() == [250000, 199995, 1200000]
    assert frame["invoice_date"].dtype == np.dtype("datetime64[s]")
    assert frame["invoice_date"].tolist() == [datetime(2026, 3, 1), datetime(2026, 4, 1), datetime(2026, 4, 1)]
    assert frame["due_date"].tolist() == [datetime(2026, 3, 31), datetime(2026, 4, 30), datetime(2026, 4, 30)]
    assert frame["last_reminder_date"].isna().all()
    assert frame["currency"].tolist() == ["DKK", "DKK", "DKK"]               # the empty one: the creditor's
    assert frame["document_type"].tolist() == ["invoice"] * 3
    assert frame["debtor_type"].tolist() == ["consumer", "consumer", "business"]   # "private", "company"
    assert frame["disputed"].tolist() == [False, False, False]
    assert frame["reminders_sent"].isna().all() and frame["reminder_fees_minor"].tolist() == [0, 0, 0]
    assert frame["debtor_phone"].tolist() == ["+4520123456", "+4520123456", ""]
    assert frame["debtor_email"].tolist() == ["jens@example.dk", "jens@example.dk", ""]
    assert frame["notes"].tolist() == ["", "", "debtor_email 'not-an-email' ignored: not an e-mail address; "]
    assert frame["description"].tolist() == ["Service March", "Service April", "Consulting, April"]
    assert frame["debtor_city"].tolist() == ["København K", "København K", "Aarhus C"]
    assert column(frame, "outcome") == [None, None, None]


def test_amounts_to_exact_minor_units_and_their_outcomes():
    frame = read("outcome_bad_amount.csv")
    got = {n: (o, m) for n, o, m in zip(frame["invoice_number"], column(frame, "outcome"), column(frame, "message"))}
    assert got == {
        "BA-1": ("BAD_AMOUNT", "amount '-100.00' must be greater than zero"),
        "BA-2": ("BAD_AMOUNT", "amount '0.00' must be greater than zero"),
        "BA-3": ("BAD_AMOUNT", "amount '1000000000000.01' is absurdly large"),
        "BA-4": (None, None),
        "BA-5": ("BAD_AMOUNT", "amount '12.345' has more decimals than its currency allows"),
        "BA-6": ("BAD_AMOUNT", "amount '12,50' is not an amount with decimal separator '.'"),
        "BA-7": (None, None),
        "BA-8": ("BAD_AMOUNT", "reminder_fees '-10.00' must not be negative"),
        "BA-9": ("BAD_AMOUNT", "reminders_sent '4' must be a whole number from 0 to 3"),
        "BA-10": ("BAD_AMOUNT", "amount '--5' is not an amount with decimal separator '.'"),
        "BA-11": ("BAD_AMOUNT", "amount 'abc' is not an amount with decimal separator '.'"),
    }
    amounts = dict(zip(frame["invoice_number"], frame["amount_minor"]))
    assert (amounts["BA-4"], amounts["BA-7"], amounts["BA-8"], amounts["BA-9"]) == (99999999999999, 123450, 200000,
                                                                                     200000)
    assert dict(zip(frame["invoice_number"], frame["reminders_sent"]))["BA-8"] == 1


def test_minor_units_follow_the_currency():
    frame = read("outcome_bad_currency.csv")
    assert list(zip(frame["invoice_number"], frame["currency"], frame["amount_minor"], column(frame, "outcome"))) == [
        ("CUR-1", "XYZ", 200000, "BAD_CURRENCY"),
        ("CUR-2", "KR", 200000, "BAD_CURRENCY"),
        ("CUR-3", "EUR", 30000, None),
        ("CUR-4", "DKK", 200000, None),
        ("CUR-5", "JPY", 0, "BAD_AMOUNT"),             # 2500.5 yen
        ("CUR-6", "JPY", 250000, None),
    ]


# --- variants ---------------------------------------------------------------------------------------------

def test_windows_1252_semicolon_decimal_comma_renamed_columns():
    frame = read("variant_cp1252_semicolon_decimal_comma.csv", DANSK)
    assert frame["line"].tolist() == list(range(2, 10))
    assert frame["invoice_number"].tolist() == [f"DV-{i}" for i in range(1, 9)]
    assert frame["debtor_id"].tolist() == ["K-1", "K-1"] + ["K-2"] * 6
    assert frame["amount_minor"].tolist() == [123450, 123450, 1234567890, 95050, 0, 200000, 200000, 0]
    assert column(frame, "outcome") == [None, None, None, None, "BAD_AMOUNT", "BAD_DATE", "BAD_DATE", "BAD_AMOUNT"]
    assert frame["invoice_date"].tolist()[:2] == [datetime(2026, 5, 1), datetime(2026, 5, 1)]   # "1.5.2026"
    assert frame["debtor_name"].tolist()[:3] == ["Søren Ærø", "Søren Ærø", "Ærø Æbler ApS"]
    assert frame["debtor_city"].tolist()[2] == "Ærøskøbing"


def test_a_utf8_file_with_bom_is_utf8_whatever_the_layout_says():
    frame = read("variant_utf8_bom_for_cp1252_creditor.csv", DANSK)
    assert (frame["invoice_number"].tolist(), frame["debtor_name"].tolist(), frame["amount_minor"].tolist()) == \
           (["DU-1"], ["Søren Ærø"], [123450])


def test_windows_1252_layout_needs_its_renames():
    code, message = rejection("variant_cp1252_semicolon_decimal_comma.csv", CsvLayout(encoding="cp1252"))
    assert code == "MISSING_COLUMN"
    assert message.startswith("required column invoice_number, amount, debtor_id not found; columns found: "
                              "fakturanr, invoice_date, due_date, beløb, kundenr, ")


def test_utf8_bom_and_crlf():
    frame = read("variant_utf8_bom_crlf.csv")
    assert frame["invoice_number"].tolist() == ["BOM-1", "BOM-2"]                 # no BOM in the first name
    assert frame["debtor_country"].tolist() == ["DK", "DK"]                       # no "\r" in the last column
    assert frame["debtor_name"].tolist() == ["Søren Ærø", "Søren Ærø"]
    assert frame["amount_minor"].tolist() == [234567, 345678]


def test_lf_and_crlf_give_the_same_frame():
    pd.testing.assert_frame_equal(read("variant_lf.csv"), read("variant_crlf.csv"))
    assert read("variant_crlf.csv")["description"].tolist() == ["first", "second"]


def test_the_delimiter_is_detected_from_the_header():
    frame = read("variant_semicolon_lf.csv")
    assert frame["debtor_name"].tolist() == ["Hansen, Jens", "Hansen, Jens"]
    assert frame["debtor_address_line1"].tolist() == ["Vej 1, 2. th.", "Vej 1, 2. th."]
    assert frame["amount_minor"].tolist() == [234567, 123456789]


def test_header_names_are_matched_case_insensitively_with_blanks_around():
    frame = read("variant_case_insensitive_headers.csv")
    assert (frame["invoice_number"].tolist(), frame["amount_minor"].tolist(), frame["debtor_country"].tolist(),
            column(frame, "outcome")) == (["CI-1"], [200000], ["DK"], [None])


def test_unknown_columns_are_ignored():
    frame = read("variant_extra_columns.csv")
    assert "internal_ref" not in frame.columns and "kostenstelle" not in frame.columns
    assert frame["invoice_number"].tolist() == ["EX-1", "EX-2"]
    assert frame["amount_minor"].tolist() == [200000, 300000]
    assert column(frame, "outcome") == [None, None]


def test_quoted_fields_keep_newlines_delimiters_and_quotes_and_lines_count_records():
    frame = read("variant_quoted_fields.csv")
    assert frame["line"].tolist() == [2, 3, 4]
    assert frame["invoice_number"].tolist() == ["QF-1", "QF-2", "QF-3"]
    assert frame["description"].tolist() == ["Line one\nline two, with a comma; and a semicolon", 'He said "pay now"', ""]
    assert frame["debtor_address_line1"].tolist() == ["Nørregade 1\n2. sal"] * 3
    assert frame["debtor_name"].tolist() == ["Hansen, Jens"] * 3
    assert frame["amount_minor"].tolist() == [200000, 250000, 300000]


def test_a_row_with_the_wrong_number_of_fields_is_marked_and_the_rest_is_read():
    frame = read("variant_short_row_in_middle.csv")   # has an unknown extra column, which the fallback must allow
    assert frame["line"].tolist() == [2, 3, 4, 5, 6, 7]
    assert frame["invoice_number"].tolist() == ["SR-1", "SR-2", "SR-3", "SR-4", "SR-5", "SR-6"]
    assert column(frame, "outcome") == [None, None, "MISSING_FIELD", "MISSING_FIELD", None, None]
    assert column(frame, "message")[2:4] == ["the row has 3 fields, the header 12", "the row has 13 fields, the header 12"]
    assert frame["amount_minor"].tolist()[4:] == [230000, 240000]


def test_credit_note_columns():
    frame = read("credit_notes.csv")
    notes = frame[frame["document_type"] == "credit_note"]
    assert notes["invoice_number"].tolist() == ["CN-1", "CN-2", "CN-3", "CN-4", "CN-5", "CN-6", "CN-7"]  # "Credit_Note"
    assert notes["credited_invoice_number"].tolist() == ["INV-CN-1"] * 3 + ["NOPE-1", "INV-CN-2", "INV-CN-2", "INV-CN-3"]
    assert notes["due_date"].isna().all()                       # not required for credit notes
    assert column(notes, "outcome") == [None, None, None, None, None, "BAD_AMOUNT", None]


def test_long_description_is_cut_and_noted(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(REQ + ";description\n" + "L-1;2026-05-01;2026-05-31;10;D;consumer;N;A;1;C;DK;" + "x" * 501 + "\n",
                    encoding="utf-8")
    frame = read("long.csv", folder=tmp_path)
    assert frame["description"].tolist() == ["x" * 500]
    assert frame["notes"].tolist() == ["description cut to 500 characters; "]
    assert column(frame, "outcome") == [None]


# --- dates in each accepted format ------------------------------------------------------------------------

DATE_CASES = {
    "outcome_bad_date.csv": (CANONICAL, {
        "BD-1": (None, ("BAD_DATE", NOT_A_DATE.format("invoice_date", "2026-02-31", "YYYY-MM-DD"))),
        "BD-2": ("2026-05-01", ("BAD_DATE", NOT_A_DATE.format("due_date", "2026-13-01", "YYYY-MM-DD"))),
        "BD-3": (None, ("BAD_DATE", NOT_A_DATE.format("invoice_date", "01.05.2026", "YYYY-MM-DD"))),
        "BD-4": ("2026-11-27", (None, None)),                  # in the future: judged by the admission rules
        "BD-5": ("2026-05-10", (None, None)),
        "BD-6": ("2026-05-01", (None, None)),
        "BD-7": (None, ("BAD_DATE", NOT_A_DATE.format("invoice_date", "0000-01-01", "YYYY-MM-DD"))),
        "BD-8": ("2026-05-01", ("BAD_DATE", NOT_A_DATE.format("last_reminder_date", "2026-02-30", "YYYY-MM-DD"))),
        "BD-9": ("2024-02-29", (None, None)),
    }),
    "variant_cp1252_semicolon_decimal_comma.csv": (DANSK, {
        "DV-2": ("2026-05-01", (None, None)),
        "DV-6": (None, ("BAD_DATE", NOT_A_DATE.format("invoice_date", "31.02.2026", "DD.MM.YYYY"))),
        "DV-7": ("2026-05-01", ("BAD_DATE", NOT_A_DATE.format("due_date", "2026-05-31", "DD.MM.YYYY"))),
    }),
    "variant_date_dd_mm_yyyy.csv": (CsvLayout(date_format="DD-MM-YYYY"), {
        "DM-1": ("2026-05-01", (None, None)),
        "DM-2": ("2026-05-01", (None, None)),
        "DM-3": (None, ("BAD_DATE", NOT_A_DATE.format("invoice_date", "31-04-2026", "DD-MM-YYYY"))),
        "DM-4": (None, ("BAD_DATE", NOT_A_DATE.format("invoice_date", "2026-05-01", "DD-MM-YYYY"))),
    }),
    "variant_date_dd_slash_mm_yyyy.csv": (CsvLayout(date_format="DD/MM/YYYY", decimal=","), {
        "DS-1": ("2026-05-01", (None, None)),
        "DS-2": ("2024-02-29", (None, None)),
        "DS-3": (None, ("BAD_DATE", NOT_A_DATE.format("invoice_date", "29/02/2025", "DD/MM/YYYY"))),
        "DS-4": ("2026-05-01", ("BAD_DATE", NOT_A_DATE.format("due_date", "05/31/2026", "DD/MM/YYYY"))),
    }),
}


@pytest.mark.parametrize("name", list(DATE_CASES))
def test_dates_in_every_format_and_impossible_dates(name):
    layout, expected = DATE_CASES[name]
    frame = read(name, layout).set_index("invoice_number")
    for number, (invoice_date, outcome) in expected.items():
        row = frame.loc[number]
        got = None if pd.isna(row["invoice_date"]) else str(row["invoice_date"])[:10]
        assert (got, (None if pd.isna(row["outcome"]) else row["outcome"],
                      None if pd.isna(row["message"]) else row["message"])) == (invoice_date, outcome), number


def test_dates_without_zero_padding():
    frame = read("variant_date_dd_mm_yyyy.csv", CsvLayout(date_format="DD-MM-YYYY")).set_index("invoice_number")
    assert frame.loc["DM-2", "due_date"] == day("2026-06-30")          # "30-6-2026"


# --- file-level rejections --------------------------------------------------------------------------------

UTF8_HINT = ' (if the file is Windows-1252, set encoding = "cp1252" in [creditor.csv])'


FILE_LEVEL = [
    ("file_empty.csv", CANONICAL, "EMPTY_FILE", "the file is empty"),
    ("file_header_only.csv", CANONICAL, "EMPTY_FILE", "the file has a header but no data rows"),
    ("file_header_and_blank_lines.csv", CANONICAL, "EMPTY_FILE", "the file has a header but no data rows"),
    ("file_binary.csv", CANONICAL, "NOT_CSV", "the file is binary, not a CSV text file"),
    ("file_invalid_utf8.csv", CANONICAL, "BAD_ENCODING", "line 4 is not valid utf-8" + UTF8_HINT),
    ("file_invalid_utf8_late.csv", CANONICAL, "BAD_ENCODING", "line 32 is not valid utf-8" + UTF8_HINT),
    ("file_invalid_utf8_after_short_row.csv", CANONICAL, "BAD_ENCODING", "line 5 is not valid utf-8" + UTF8_HINT),
    ("file_invalid_cp1252.csv", DANSK, "BAD_ENCODING", "line 3 is not valid cp1252"),
    ("file_no_header.csv", CANONICAL, "NO_HEADER",
     "the first line has no known column names (found: nh-1, 2026-05-01, 2026-05-31, 2000.00, nh-d, consumer, "
     "jens hansen, nørregade 1, 1165, københavn k, dk)"),
    ("file_duplicate_column.csv", CANONICAL, "BAD_HEADER", "column amount appears more than once"),
    ("file_missing_column.csv", CANONICAL, "MISSING_COLUMN",
     "required column amount, due_date not found; columns found: invoice_number, invoice_date, debtor_id, "
     "debtor_type, debtor_name, debtor_address_line1, debtor_postcode, debtor_city, debtor_country, total"),
]


@pytest.mark.parametrize(("name", "layout", "code", "message"), FILE_LEVEL, ids=[case[0] for case in FILE_LEVEL])
def test_file_level_rejections(name, layout, code, message):
    assert rejection(name, layout) == (code, message)


def test_a_cp1252_file_sent_as_utf8_names_the_first_bad_line():
    code, message = rejection("variant_cp1252_semicolon_decimal_comma.csv",
                              CsvLayout(decimal=",", date_format="DD.MM.YYYY", columns=DANSK.columns))
    assert (code, message) == ("BAD_ENCODING", "line 1 is not valid utf-8" + UTF8_HINT)   # "BELØB" in the header


def test_size_limit():
    size = (DATA / "file_too_large.csv").stat().st_size
    assert rejection("file_too_large.csv", max_bytes=size - 1) == (
        "FILE_TOO_LARGE", f"the file has {size} bytes; the limit is {size - 1}")
    assert read("file_too_large.csv", max_bytes=size)["invoice_number"].tolist() == ["TL-1", "TL-2", "TL-3"]


# --- batch boundaries -------------------------------------------------------------------------------------

def many_rows_expected() -> tuple[list[int], list[str]]:
    numbers, n = [], 0
    for line in range(2, 42):
        special = {12: "MR-03", 22: "MR-BAD", 30: "MR-25", 41: "MR-CN"}.get(line)
        if special is None:
            n += 1
        numbers.append(special or f"MR-{n:02d}")
    return list(range(2, 42)), numbers


@pytest.mark.parametrize(("block_bytes", "fallback_rows"), [(300, 1), (700, 3), (1500, 7), (8 * 1024 * 1024, 50_000)])
def test_batches_of_any_size_give_the_same_rows_with_the_same_line_numbers(monkeypatch, block_bytes, fallback_rows):
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(invoice_csv, "FALLBACK_BATCH_ROWS", fallback_rows)
    parts = batches("variant_many_rows.csv")
    if block_bytes < 2000:
        assert len(parts) >= 5                            # several Arrow batches, then several fallback batches
    for before, after in zip(parts, parts[1:]):
        assert after["line"].iloc[0] == before["line"].iloc[-1] + 1
    frame = pd.concat(parts, ignore_index=True)
    lines, numbers = many_rows_expected()
    assert frame["line"].tolist() == lines
    assert frame["invoice_number"].tolist() == numbers
    outcomes = dict(zip(frame["line"], column(frame, "outcome")))
    assert {line: o for line, o in outcomes.items() if o} == {22: "MISSING_FIELD"}
    amounts = dict(zip(frame["invoice_number"], frame["amount_minor"]))
    assert (amounts["MR-01"], amounts["MR-19"], amounts["MR-20"], amounts["MR-36"], amounts["MR-CN"]) == \
           (200100, 201900, 202000, 203600, 10000)
    assert frame[frame["invoice_number"] == "MR-CN"]["document_type"].tolist() == ["credit_note"]


def test_arrow_and_fallback_readers_give_identical_frames(monkeypatch):
    """Small blocks: rows before the short row come from Arrow; one block: the whole file from the fallback."""
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", 700)
    mixed = pd.concat(batches("variant_many_rows.csv"), ignore_index=True)
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", 8 * 1024 * 1024)
    fallback_only = pd.concat(batches("variant_many_rows.csv"), ignore_index=True)
    pd.testing.assert_frame_equal(normalised(mixed), normalised(fallback_only))


def test_bad_bytes_after_earlier_batches_reject_the_file_with_the_right_line(monkeypatch):
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", 512)
    seen = []
    with pytest.raises(FileRejected) as caught:
        for frame in read_invoice_csv(DATA / "file_invalid_utf8_late.csv", CANONICAL, "DKK", 10**6):
            seen.extend(frame["line"].tolist())
    assert (caught.value.code, caught.value.message) == ("BAD_ENCODING", "line 32 is not valid utf-8" + UTF8_HINT)
    assert seen == list(range(2, 2 + len(seen))) and len(seen) >= 5   # the caller must roll these back


# --- property: thousands separators never change the amount -----------------------------------------------

def formatted(minor: int, decimal: str, thousands: str, fraction: str) -> str:
    whole, cents = divmod(minor, 100)
    digits = str(whole)
    if thousands:
        groups = []
        while len(digits) > 3:
            groups.insert(0, digits[-3:])
            digits = digits[:-3]
        digits = thousands.join([digits] + groups)
    if fraction == "two":
        return f"{digits}{decimal}{cents:02d}"
    if fraction == "trimmed" and cents:
        return f"{digits}{decimal}{cents:02d}".rstrip("0")
    return digits if cents == 0 else f"{digits}{decimal}{cents:02d}"


@st.composite
def amount_rows(draw):
    decimal = draw(st.sampled_from([".", ","]))
    separators = ["", " ", "\xa0"] + (["."] if decimal == "," else [","])
    rows = draw(st.lists(st.tuples(st.integers(1, 10**14 - 1), st.sampled_from(separators),
                                   st.sampled_from(["two", "trimmed", "none"])), min_size=1, max_size=8))
    return decimal, rows


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount_rows())
def test_thousands_separators_and_decimal_styles_parse_to_the_same_minor_units(tmp_path, case):
    decimal, rows = case
    body = [f"A{i};2026-05-01;2026-05-31;{formatted(minor, decimal, sep, fraction)};D;consumer;N;A;1;C;DK"
            for i, (minor, sep, fraction) in enumerate(rows)]
    (tmp_path / "amounts.csv").write_text(REQ + "\n" + "\n".join(body) + "\n", encoding="utf-8")
    frame = read("amounts.csv", CsvLayout(decimal=decimal), folder=tmp_path)
    assert column(frame, "outcome") == [None] * len(rows), frame["message"].tolist()
    assert frame["amount_minor"].tolist() == [minor for minor, _, _ in rows]
