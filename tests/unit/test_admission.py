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


HEADER = ("invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,debtor_name,debtor_address_line1,"
          "debtor_postcode,debtor_city,debtor_country,reminder_fees,reminders_sent\n")


def judged_rows(tmp_path, rows: str, as_of: date, supported=SUPPORTED) -> dict[str, tuple]:
    (tmp_path / "rows.csv").write_text(HEADER + rows, encoding="utf-8")
    frame = pd.concat(read_invoice_csv(tmp_path / "rows.csv", CsvLayout(), "DKK", 10**6), ignore_index=True)
    judge(frame, as_of, supported)
    return {n: (None if pd.isna(o) else o, m) for n, o, m in zip(frame["invoice_number"], frame["outcome"],
                                                                frame["message"])}


def test_a_claim_older_than_every_rule_we_hold_is_answered_not_judged_by_a_later_rule(tmp_path):
    """No rule is carried backward: a Danish claim due in 1905 predates the 1908 law, the oldest time bar we
    hold; a Danish claim of 2005 is judged by that law (5 years, forældelse 1908 § 1), not by the 2008 one."""
    rows = ("OLD,1905-01-01,1905-02-01,2000.00,D1,consumer,N,A,1165,C,DK,,\n"
            "Y2005,2005-01-01,2005-02-01,2000.00,D2,consumer,N,A,1165,C,DK,,\n")
    found = judged_rows(tmp_path, rows, date(2009, 1, 1))
    assert found["OLD"] == ("BAD_DATE", "invoice_date 1905-01-01 is before the first time_bar rule we hold for DK "
                                        "consumer debtors")
    assert found["Y2005"][0] is None                                      # 3 years would have barred it
    assert judged_rows(tmp_path, rows, date(2010, 2, 1))["Y2005"][0] == "TIME_BARRED"


def test_fees_before_the_first_fee_rule_are_answered_and_a_claim_without_fees_needs_none(tmp_path):
    """The reminder-fee limit we hold for Denmark starts 2013-03-01 (renteloven § 9 b as in rules.md)."""
    rows = ("FEES,2012-12-01,2013-01-01,2000.00,D1,consumer,N,A,1165,C,DK,100.00,1\n"
            "NOFEES,2012-12-01,2013-01-01,2000.00,D2,consumer,N,A,1165,C,DK,,\n")
    found = judged_rows(tmp_path, rows, date(2013, 6, 1))
    assert found == {"FEES": ("BAD_DATE", "invoice_date 2012-12-01 is before the first reminder_fee_limits rule we "
                                          "hold for DK consumer debtors"), "NOFEES": (None, None)}


def test_a_supported_country_we_hold_no_rules_for_is_not_judged_by_guesswork(tmp_path):
    found = judged_rows(tmp_path, "NO-1,2026-05-01,2026-06-01,2000.00,D1,consumer,N,A,0150,Oslo,NO,,\n",
                        date(2026, 11, 26), supported=frozenset({"DK", "SE", "NO"}))
    assert found == {"NO-1": ("UNSUPPORTED_COUNTRY", "we hold no time_bar rule for NO consumer debtors")}


def test_a_strict_lookup_names_the_table_the_keys_and_the_date():
    from pipeline.rules import NoRuleInForce, in_force, load_table

    rows = pd.DataFrame({"debtor_country": ["DK", "NO"], "debtor_type": ["consumer", "consumer"],
                         "due_date": pd.to_datetime(["2026-01-01", "2026-01-01"])})
    with pytest.raises(NoRuleInForce) as missing:
        in_force(load_table("time_bar"), "time_bar", rows, {"country": "debtor_country",
                                                            "debtor_type": "debtor_type"}, "due_date")
    assert str(missing.value) == "time_bar: no row for country=NO, debtor_type=consumer in force on 2026-01-01"
