"""The admission rules on parsed frames (no database): the edges move with the as-of date."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import CsvLayout
from pipeline.parsers.invoice_csv import read_invoice_csv
from pipeline.rules.admission import judge

DATA = Path(__file__).parents[1] / "data"
SUPPORTED = frozenset({"DK", "SE"})


def judged(path: Path, as_of: date, currency: str = "DKK") -> dict[str, str | None]:
    frame = pd.concat(read_invoice_csv(path, CsvLayout(), currency, 10**6), ignore_index=True)
    judge(frame, as_of, SUPPORTED)
    return {n: (None if pd.isna(o) else o) for n, o in zip(frame["invoice_number"], frame["outcome"])}


@pytest.mark.parametrize(("as_of", "expected"), [
    (date(2026, 11, 25), {"TB-1": None, "TB-2": None, "TB-3": None, "TB-4": "TIME_BARRED"}),
    (date(2026, 11, 26), {"TB-1": "TIME_BARRED", "TB-2": None, "TB-3": "TIME_BARRED", "TB-4": "TIME_BARRED"}),
    (date(2026, 11, 27), {"TB-1": "TIME_BARRED", "TB-2": "TIME_BARRED", "TB-3": "TIME_BARRED", "TB-4": "TIME_BARRED"}),
])
def test_danish_time_bar_edge(as_of, expected):
    assert judged(DATA / "outcome_time_barred_dk.csv", as_of) == expected


@pytest.mark.parametrize(("as_of", "expected"), [
    (date(2026, 11, 25), {"NO-1": "NOT_OVERDUE", "NO-2": "NOT_OVERDUE", "NO-3": "NOT_OVERDUE",
                          "NO-4": "BAD_DATE"}),                     # dated the day after as_of
    (date(2026, 11, 27), {"NO-1": None, "NO-2": None, "NO-3": "NOT_OVERDUE", "NO-4": None}),
])
def test_not_overdue_edge(as_of, expected):
    assert judged(DATA / "outcome_not_overdue.csv", as_of) == expected


def test_time_bar_on_a_leap_day(tmp_path):
    """As of 2028-02-29, three years back is 2025-02-28 (there is no 2025-02-29)."""
    header = ("invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,debtor_name,debtor_address_line1,"
              "debtor_postcode,debtor_city,debtor_country\n")
    rows = "".join(f"L-{due},2025-01-01,{due},2000.00,D,consumer,N,A,1165,C,DK\n" for due in ("2025-02-28", "2025-03-01"))
    (tmp_path / "leap.csv").write_text(header + rows, encoding="utf-8")
    assert judged(tmp_path / "leap.csv", date(2028, 2, 29)) == {"L-2025-02-28": "TIME_BARRED", "L-2025-03-01": None}


def test_national_ids_are_stored_compact_and_bad_ones_named():
    frame = pd.concat(read_invoice_csv(DATA / "outcome_bad_national_id.csv", CsvLayout(), "DKK", 10**6),
                      ignore_index=True)
    judge(frame, date(2026, 11, 26), SUPPORTED)
    assert dict(zip(frame["invoice_number"], frame["debtor_national_id"])) == {
        "NI-1": "320190-1234", "NI-2": "13585627", "NI-3": "13585628", "NI-4": "13585628", "NI-5": "0707614285",
        "NI-6": "13585628", "NI-7": "0707614285"}
    assert [n for n, o in zip(frame["invoice_number"], frame["outcome"]) if o == "BAD_NATIONAL_ID"] == \
           ["NI-1", "NI-2", "NI-6"]


def test_the_national_ids_in_the_test_files_are_what_they_claim():
    """Checked independently of the pipeline with python-stdnum's own validators."""
    from stdnum.dk import cpr, cvr
    from stdnum.se import orgnr, personnummer
    assert all([cpr.is_valid("070761-4285"), cvr.is_valid("13585628"), personnummer.is_valid("880320-0016"),
                orgnr.is_valid("556036-0793"), personnummer.is_valid("811228-9874")])
    assert not any([cpr.is_valid("320190-1234"), cvr.is_valid("13585627"), personnummer.is_valid("880320-0017"),
                    orgnr.is_valid("556036-0794"), cpr.is_valid("13585628")])
