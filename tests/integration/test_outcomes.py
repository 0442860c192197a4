"""Every row outcome of formats.md §1.1, every input variant and every file-level rejection, from the real
small files in tests/data, end to end on the ledger (SQLite and PostgreSQL).

Each test drops files into a creditor's inbox, runs one ingest pass as of AS_OF (2026-11-26) and checks the
exact receipt (line, invoice number, outcome, message; a case and payment reference only on taken rows; the
summary line), the counts, and the ledger to the øre: which documents were written, their amounts, fees,
debtors, cases and postings. A rejected file must leave one receipt line, nothing in the ledger, its bytes in
quarantine/ and nothing in the inbox.
"""
from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

import pipeline.parsers.invoice_csv as invoice_csv
from pipeline import registry_text
from pipeline.home import Home
from pipeline.ledger.db import make_engine
from pipeline.ledger.schema import cases, debtors, ingested_files, invoices, postings
from pipeline.references import case_number_from_reference
from pipeline.stats import ledger_stats
from tests.conftest import AS_OF, Pass, drop, read_receipt, receipts, run_ingest

UNSUPPORTED = ('only invoice files (.csv, UBL .xml) and instruction files (names starting with "instructions") are '
               'taken here')
DATA = Path(__file__).parents[1] / "data"
TAKEN = ("ACCEPTED", "BELOW_MINIMUM")
BELOW = "accepted, but below the recommended minimum claim for collection"
NOT_A_DATE = "{} {!r} is not a date in the format {}"


# --- helpers ----------------------------------------------------------------------------------------------

def ingest(settings, creditor: str, *names: str) -> Pass:
    """Drop the named files from tests/data (under the same names) and run one ingest pass."""
    for name in names:
        drop(settings, creditor, name, DATA / name)
    return run_ingest(settings, AS_OF, "test")


def receipt(settings, creditor: str, name: str) -> list[dict]:
    found = [p for p in receipts(settings, creditor) if p.name.startswith(f"receipt_{name}_")]
    assert len(found) == 1, found
    return read_receipt(found[0])


def outcomes(lines: list[dict]) -> list[tuple]:
    """The data lines as (line, invoice_number, outcome, message); the last line must be the summary."""
    assert lines[-1]["outcome"] == "SUMMARY" and lines[-1]["line"] == "" and lines[-1]["invoice_number"] == ""
    return [(int(l["line"]), l["invoice_number"], l["outcome"], l["message"]) for l in lines[:-1]]


def assert_cases_only_on_taken_rows(lines: list[dict], kind: str = "FIK") -> None:
    """Taken rows name their case with a payment reference that encodes it; rejected rows name none.

    (DUPLICATE/CONFLICT are checked in test_duplicate_and_conflict_name_the_existing_case.)"""
    for l in lines[:-1]:
        if l["outcome"] in ("DUPLICATE", "CONFLICT"):
            continue
        if l["outcome"] in TAKEN:
            assert l["case_number"].isdigit() and len(l["case_number"]) == 8, l
            assert case_number_from_reference(l["payment_reference"]) == l["case_number"], l
            assert len(l["payment_reference"]) == {"FIK": 15, "OCR": 10}[kind], l
        else:
            assert (l["case_number"], l["payment_reference"]) == ("", ""), l
    assert (lines[-1]["case_number"], lines[-1]["payment_reference"]) == ("", "")


def summary(lines: list[dict]) -> str:
    return lines[-1]["message"]


class Ledger:
    """Read-only views of the ledger for assertions."""

    def __init__(self, settings):
        self.engine = make_engine(settings.database_url)

    def __enter__(self):
        self.conn = self.engine.connect()
        return self

    def __exit__(self, *exc):
        self.conn.close()
        self.engine.dispose()

    def documents(self, creditor: str = None) -> dict[str, tuple]:
        """invoice number -> (document_type, amount_minor, currency, reminder_fees_minor, below_minimum)."""
        query = select(invoices.c.invoice_number, invoices.c.document_type, invoices.c.amount_minor,
                       invoices.c.currency, invoices.c.reminder_fees_minor, invoices.c.below_minimum)
        if creditor:
            query = query.where(invoices.c.creditor_id == creditor)
        return {n: (t, a, c, f, bool(b)) for n, t, a, c, f, b in self.conn.execute(query)}

    def amounts(self, creditor: str = None) -> dict[str, int]:
        return {n: doc[1] for n, doc in self.documents(creditor).items()}

    def postings(self) -> dict[str, int]:
        """Sum of postings per kind, in minor units."""
        return dict(self.conn.execute(select(postings.c.kind, func.sum(postings.c.amount_minor))
                                      .group_by(postings.c.kind)).all())

    def debtor(self, ref: str) -> dict:
        row = self.conn.execute(select(debtors).where(debtors.c.debtor_ref == ref)).one()
        return dict(row._mapping)

    def case_of(self, invoice_number: str) -> dict:
        row = self.conn.execute(select(cases).join(invoices, invoices.c.case_id == cases.c.id)
                                .where(invoices.c.invoice_number == invoice_number,
                                       invoices.c.document_type == "invoice")).one()
        return dict(row._mapping)

    def count(self, table) -> int:
        return self.conn.execute(select(func.count()).select_from(table)).scalar_one()

    def stats(self) -> dict:
        return ledger_stats(self.conn)

    def description(self, invoice_number: str):
        return self.conn.execute(select(invoices.c.description)
                                 .where(invoices.c.invoice_number == invoice_number)).scalar_one()


def add_creditors(settings, *blocks: str) -> None:
    """Append creditors to the test registry and make their folders."""
    text = settings.registry_path.read_text(encoding="utf-8")
    settings.registry_path.write_text(text + "".join(blocks), encoding="utf-8")
    Home(settings.home).create_party_folders(settings.load_registry())


def creditor_block(creditor_id: str, **csv) -> str:
    return "\n" + registry_text.creditor(creditor_id, "Nordisk Test ApS", "DK13585628", "DK", "Testvej 1, 2100 København Ø",
                                         "DKK", "DK5000400440116243", "NDEADKKK", csv=csv)


# --- ACCEPTED and BELOW_MINIMUM ---------------------------------------------------------------------------

def test_accepted_rows_open_one_case_per_debtor_with_normalised_debtor_details(settings):
    counts = ingest(settings, "acme", "outcome_accepted.csv")
    assert (counts.files, counts.rows, counts.rows_taken, counts.rows_rejected, counts.cases_opened) == (1, 3, 3, 0, 2)
    lines = receipt(settings, "acme", "outcome_accepted.csv")
    assert outcomes(lines) == [
        (2, "ACC-1", "ACCEPTED", ""),
        (3, "ACC-2", "ACCEPTED", ""),
        (4, "ACC-3", "ACCEPTED", "debtor_email 'not-an-email' ignored: not an e-mail address"),
    ]
    assert summary(lines) == "3 rows: 3 taken for collection, 0 not taken (ACCEPTED 3)"
    assert_cases_only_on_taken_rows(lines)
    assert lines[0]["case_number"] == lines[1]["case_number"] != lines[2]["case_number"]
    with Ledger(settings) as ledger:
        assert ledger.documents() == {"ACC-1": ("invoice", 250000, "DKK", 0, False),
                                      "ACC-2": ("invoice", 199995, "DKK", 0, False),
                                      "ACC-3": ("invoice", 1200000, "DKK", 0, False)}
        assert ledger.postings() == {"principal": 1649995}
        consumer = ledger.debtor("C-1")
        assert (consumer["debtor_type"], consumer["name"], consumer["national_id"], consumer["email"],
                consumer["phone"], consumer["city"]) == ("consumer", "Jens Hansen", "0707614285", "jens@example.dk",
                                                          "+4520123456", "København K")
        company = ledger.debtor("B-7")
        assert (company["debtor_type"], company["national_id"], company["email"], company["phone"]) == \
               ("business", "13585628", None, None)
        assert ledger.description("ACC-3") == "Consulting, April"
        case = ledger.case_of("ACC-1")
        assert (case["case_number"], case["payment_reference"], case["status"], case["country"], case["currency"]) == \
               (lines[0]["case_number"], lines[0]["payment_reference"], "OPEN", "DK", "DKK")
        assert ledger.stats()["open_balance"] == {"DKK": "16499.95"}


def test_below_minimum_is_a_warning_the_row_is_taken_and_flagged(settings):
    counts = ingest(settings, "acme", "outcome_below_minimum.csv")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (5, 5, 2)  # one debtor, DKK and EUR cases
    lines = receipt(settings, "acme", "outcome_below_minimum.csv")
    assert outcomes(lines) == [
        (2, "MIN-1", "BELOW_MINIMUM", BELOW),   # 1799.99 DKK < 1800.00
        (3, "MIN-2", "ACCEPTED", ""),           # exactly the minimum
        (4, "MIN-3", "BELOW_MINIMUM", BELOW),
        (5, "MIN-4", "BELOW_MINIMUM", BELOW),   # 249.99 EUR < 250.00
        (6, "MIN-5", "ACCEPTED", ""),
    ]
    assert summary(lines) == "5 rows: 5 taken for collection, 0 not taken (ACCEPTED 2, BELOW_MINIMUM 3)"
    assert_cases_only_on_taken_rows(lines)
    assert lines[0]["case_number"] == lines[2]["case_number"] != lines[3]["case_number"] == lines[4]["case_number"]
    with Ledger(settings) as ledger:
        assert ledger.documents() == {"MIN-1": ("invoice", 179999, "DKK", 0, True),
                                      "MIN-2": ("invoice", 180000, "DKK", 0, False),
                                      "MIN-3": ("invoice", 1, "DKK", 0, True),
                                      "MIN-4": ("invoice", 24999, "EUR", 0, True),
                                      "MIN-5": ("invoice", 25000, "EUR", 0, False)}
        assert ledger.stats()["open_balance"] == {"DKK": "3600.00", "EUR": "499.99"}


# --- DUPLICATE, CONFLICT, DUPLICATE_IN_FILE ---------------------------------------------------------------

def test_duplicate_same_claim_written_differently_changes_nothing(settings):
    ingest(settings, "acme", "ledger_base.csv")
    with Ledger(settings) as ledger:
        before = (ledger.documents(), ledger.postings(), ledger.count(cases), ledger.count(debtors))
    counts = ingest(settings, "acme", "outcome_duplicate.csv")  # `;`, other column order, "3,000.00", "2026-3-1"
    assert (counts.files, counts.rows, counts.rows_taken, counts.rows_rejected, counts.cases_opened) == (1, 1, 0, 1, 0)
    lines = receipt(settings, "acme", "outcome_duplicate.csv")
    assert outcomes(lines) == [(2, "BASE-1", "DUPLICATE", "received before in ledger_base.csv line 2; nothing changed")]
    assert summary(lines) == "1 rows: 0 taken for collection, 1 not taken (DUPLICATE 1)"
    with Ledger(settings) as ledger:
        assert (ledger.documents(), ledger.postings(), ledger.count(cases), ledger.count(debtors)) == before
        assert before[1] == {"principal": 700000}


def test_conflict_keeps_the_first_version_and_new_claims_join_the_open_case(settings):
    ingest(settings, "acme", "ledger_base.csv")
    base_case = receipt(settings, "acme", "ledger_base.csv")[0]["case_number"]
    counts = ingest(settings, "acme", "outcome_conflict.csv")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (2, 1, 0)
    lines = receipt(settings, "acme", "outcome_conflict.csv")
    assert outcomes(lines) == [
        (2, "BASE-2", "CONFLICT", "received before in ledger_base.csv line 3 with different content; nothing changed "
                                  "(use a credit note to correct a claim)"),
        (3, "BASE-3", "ACCEPTED", ""),
    ]
    assert summary(lines) == "2 rows: 1 taken for collection, 1 not taken (ACCEPTED 1, CONFLICT 1)"
    assert_cases_only_on_taken_rows(lines)
    assert lines[1]["case_number"] == base_case
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"BASE-1": 300000, "BASE-2": 400000, "BASE-3": 200000}  # not 4100.00
        assert ledger.count(cases) == 1


def test_duplicate_and_conflict_name_the_existing_case(settings):
    ingest(settings, "acme", "ledger_base.csv")
    base = receipt(settings, "acme", "ledger_base.csv")[0]
    ingest(settings, "acme", "outcome_duplicate.csv", "outcome_conflict.csv")
    duplicate = receipt(settings, "acme", "outcome_duplicate.csv")[0]
    conflict = receipt(settings, "acme", "outcome_conflict.csv")[0]
    assert (duplicate["outcome"], conflict["outcome"]) == ("DUPLICATE", "CONFLICT")
    expected = (base["case_number"], base["payment_reference"])
    assert (duplicate["case_number"], duplicate["payment_reference"]) == expected
    assert (conflict["case_number"], conflict["payment_reference"]) == expected


def test_duplicate_in_file_names_the_first_line_and_only_the_first_is_taken(settings):
    counts = ingest(settings, "acme", "outcome_duplicate_in_file.csv")
    assert (counts.rows, counts.rows_taken, counts.rows_rejected) == (5, 2, 3)
    lines = receipt(settings, "acme", "outcome_duplicate_in_file.csv")
    assert outcomes(lines) == [
        (2, "DF-1", "ACCEPTED", ""),
        (3, "DF-1", "DUPLICATE_IN_FILE", "invoice DF-1 already on line 2 of this file"),
        (4, "DF-1", "DUPLICATE_IN_FILE", "invoice DF-1 already on line 2 of this file"),  # different amount
        (5, "DF-2", "ACCEPTED", ""),
        (6, "DF-2", "DUPLICATE_IN_FILE", "invoice DF-2 already on line 5 of this file"),
    ]
    assert summary(lines) == "5 rows: 2 taken for collection, 3 not taken (ACCEPTED 2, DUPLICATE_IN_FILE 3)"
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"DF-1": 200000, "DF-2": 300000}
        assert ledger.postings() == {"principal": 500000}


# --- rows the parser cannot read --------------------------------------------------------------------------

def test_missing_field(settings):
    counts = ingest(settings, "acme", "outcome_missing_field.csv")
    assert (counts.rows, counts.rows_taken) == (9, 1)
    lines = receipt(settings, "acme", "outcome_missing_field.csv")
    assert outcomes(lines) == [
        (2, "", "MISSING_FIELD", "missing invoice_number"),
        (3, "MF-2", "MISSING_FIELD", "missing debtor_name"),
        (4, "MF-3", "MISSING_FIELD", "missing debtor_postcode, debtor_city"),
        (5, "MF-4", "MISSING_FIELD", "missing due_date"),
        (6, "MF-5", "MISSING_FIELD", "debtor_type 'person' must be consumer or business"),
        (7, "MF-6", "MISSING_FIELD", "document_type must be invoice or credit_note"),
        (8, "MF-7", "MISSING_FIELD", "missing credited_invoice_number"),
        (9, "MF-8-" + "x" * 60, "MISSING_FIELD", "invoice_number is longer than 64 characters"),
        (10, "MF-9", "ACCEPTED", ""),
    ]
    assert summary(lines) == "9 rows: 1 taken for collection, 8 not taken (ACCEPTED 1, MISSING_FIELD 8)"
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"MF-9": 200000}


def test_bad_date_impossible_wrong_format_future_and_inconsistent(settings):
    counts = ingest(settings, "acme", "outcome_bad_date.csv")
    assert (counts.rows, counts.rows_taken) == (9, 1)
    lines = receipt(settings, "acme", "outcome_bad_date.csv")
    assert outcomes(lines) == [
        (2, "BD-1", "BAD_DATE", NOT_A_DATE.format("invoice_date", "2026-02-31", "YYYY-MM-DD")),
        (3, "BD-2", "BAD_DATE", NOT_A_DATE.format("due_date", "2026-13-01", "YYYY-MM-DD")),
        (4, "BD-3", "BAD_DATE", NOT_A_DATE.format("invoice_date", "01.05.2026", "YYYY-MM-DD")),
        (5, "BD-4", "BAD_DATE", "invoice_date 2026-11-27 is in the future (as of 2026-11-26)"),
        (6, "BD-5", "BAD_DATE", "due_date 2026-05-01 is before invoice_date 2026-05-10"),
        (7, "BD-6", "BAD_DATE", "last_reminder_date 2026-12-01 is in the future (as of 2026-11-26)"),
        (8, "BD-7", "BAD_DATE", NOT_A_DATE.format("invoice_date", "0000-01-01", "YYYY-MM-DD")),
        (9, "BD-8", "BAD_DATE", NOT_A_DATE.format("last_reminder_date", "2026-02-30", "YYYY-MM-DD")),
        (10, "BD-9", "ACCEPTED", ""),                                   # 2024-02-29 is a date
    ]
    assert summary(lines) == "9 rows: 1 taken for collection, 8 not taken (ACCEPTED 1, BAD_DATE 8)"
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"BD-9": 200000}
        assert ledger.conn.execute(select(invoices.c.invoice_date, invoices.c.due_date, invoices.c.last_reminder_date)
                                   ).one() == (date(2024, 2, 29), date(2024, 3, 30), date(2024, 4, 15))


def test_bad_amount_negative_zero_absurd_decimals_and_fees(settings):
    counts = ingest(settings, "acme", "outcome_bad_amount.csv")
    assert (counts.rows, counts.rows_taken) == (11, 2)
    lines = receipt(settings, "acme", "outcome_bad_amount.csv")
    assert outcomes(lines) == [
        (2, "BA-1", "BAD_AMOUNT", "amount '-100.00' must be greater than zero"),
        (3, "BA-2", "BAD_AMOUNT", "amount '0.00' must be greater than zero"),
        (4, "BA-3", "BAD_AMOUNT", "amount '1000000000000.01' is absurdly large"),
        (5, "BA-4", "ACCEPTED", ""),
        (6, "BA-5", "BAD_AMOUNT", "amount '12.345' has more decimals than its currency allows"),
        (7, "BA-6", "BAD_AMOUNT", "amount '12,50' is not an amount with decimal separator '.'"),
        (8, "BA-7", "BELOW_MINIMUM", BELOW),
        (9, "BA-8", "BAD_AMOUNT", "reminder_fees '-10.00' must not be negative"),
        (10, "BA-9", "BAD_AMOUNT", "reminders_sent '4' must be a whole number from 0 to 3"),
        (11, "BA-10", "BAD_AMOUNT", "amount '--5' is not an amount with decimal separator '.'"),
        (12, "BA-11", "BAD_AMOUNT", "amount 'abc' is not an amount with decimal separator '.'"),
    ]
    assert summary(lines) == "11 rows: 2 taken for collection, 9 not taken (ACCEPTED 1, BAD_AMOUNT 9, BELOW_MINIMUM 1)"
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"BA-4": 99999999999999, "BA-7": 123450}   # 999,999,999,999.99 and "1,234.50"
        assert ledger.stats()["open_balance"] == {"DKK": "1000000001234.49"}


def test_bad_currency_and_currencies_with_other_minor_units(settings):
    counts = ingest(settings, "acme", "outcome_bad_currency.csv")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (6, 3, 3)  # one debtor: DKK, EUR and JPY cases
    lines = receipt(settings, "acme", "outcome_bad_currency.csv")
    assert outcomes(lines) == [
        (2, "CUR-1", "BAD_CURRENCY", "currency 'XYZ' is not an ISO 4217 code"),
        (3, "CUR-2", "BAD_CURRENCY", "currency 'KR' is not an ISO 4217 code"),
        (4, "CUR-3", "ACCEPTED", ""),                          # "eur"
        (5, "CUR-4", "ACCEPTED", ""),                          # empty: the creditor's DKK
        (6, "CUR-5", "BAD_AMOUNT", "amount '2500.5' has more decimals than its currency allows"),  # JPY has none
        (7, "CUR-6", "ACCEPTED", ""),
    ]
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.documents() == {"CUR-3": ("invoice", 30000, "EUR", 0, False),
                                      "CUR-4": ("invoice", 200000, "DKK", 0, False),
                                      "CUR-6": ("invoice", 250000, "JPY", 0, False)}
        assert ledger.stats()["open_balance"] == {"DKK": "2000.00", "EUR": "300.00", "JPY": "250000"}


def test_bad_country(settings):
    ingest(settings, "acme", "outcome_bad_country.csv")
    lines = receipt(settings, "acme", "outcome_bad_country.csv")
    assert outcomes(lines) == [
        (2, "CO-1", "BAD_COUNTRY", "debtor_country 'XX' is not an ISO 3166-1 alpha-2 code"),
        (3, "CO-2", "BAD_COUNTRY", "debtor_country 'DENMARK' is not an ISO 3166-1 alpha-2 code"),
        (4, "CO-3", "ACCEPTED", ""),                           # "dk"
        (5, "CO-4", "MISSING_FIELD", "missing debtor_country"),
    ]
    assert summary(lines) == "4 rows: 1 taken for collection, 3 not taken (ACCEPTED 1, BAD_COUNTRY 2, MISSING_FIELD 1)"
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"CO-3": 200000}
        assert ledger.debtor("L-1")["country"] == "DK"


# --- rows the admission rules reject ----------------------------------------------------------------------

def test_unsupported_country_and_a_swedish_debtor_gets_an_ocr_reference(settings):
    counts = ingest(settings, "acme", "outcome_unsupported_country.csv")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (3, 1, 1)
    lines = receipt(settings, "acme", "outcome_unsupported_country.csv")
    assert outcomes(lines) == [
        (2, "UC-1", "UNSUPPORTED_COUNTRY", "debtor_country DE is not a country we collect in (supported: DK, SE)"),
        (3, "UC-2", "UNSUPPORTED_COUNTRY", "debtor_country NO is not a country we collect in (supported: DK, SE)"),
        (4, "UC-3", "ACCEPTED", ""),
    ]
    assert_cases_only_on_taken_rows(lines, kind="OCR")
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"UC-3": 200000}
        assert ledger.count(debtors) == 1
        assert ledger.case_of("UC-3")["country"] == "SE"


def test_bad_national_id_denmark(settings):
    counts = ingest(settings, "acme", "outcome_bad_national_id.csv")
    assert (counts.rows, counts.rows_taken) == (7, 4)
    lines = receipt(settings, "acme", "outcome_bad_national_id.csv")
    assert outcomes(lines) == [
        (2, "NI-1", "BAD_NATIONAL_ID",
         "debtor_national_id is not a valid cpr (cpr: The number does not contain valid birth date information.)"),
        (3, "NI-2", "BAD_NATIONAL_ID",
         "debtor_national_id is not a valid cvr or cpr (cvr: The number's checksum or check digit is invalid.; "
         "cpr: The number has an invalid length.)"),
        (4, "NI-3", "ACCEPTED", ""),                 # CVR
        (5, "NI-4", "ACCEPTED", ""),                 # "DK 13 58 56 28"
        (6, "NI-5", "ACCEPTED", ""),                 # CPR 070761-4285
        (7, "NI-6", "BAD_NATIONAL_ID", "debtor_national_id is not a valid cpr (cpr: The number has an invalid length.)"),
        (8, "NI-7", "ACCEPTED", ""),                 # a sole trader named by the owner's CPR
    ]
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert {ref: ledger.debtor(ref)["national_id"] for ref in ("N-3", "N-4", "N-5", "N-7")} == \
               {"N-3": "13585628", "N-4": "13585628", "N-5": "0707614285", "N-7": "0707614285"}
        assert set(ledger.amounts()) == {"NI-3", "NI-4", "NI-5", "NI-7"}


def test_bad_national_id_sweden(settings):
    counts = ingest(settings, "svea", "outcome_bad_national_id_se.csv")
    assert (counts.rows, counts.rows_taken) == (5, 3)
    lines = receipt(settings, "svea", "outcome_bad_national_id_se.csv")
    assert outcomes(lines) == [
        (2, "SN-1", "BAD_NATIONAL_ID",
         "debtor_national_id is not a valid personnummer (personnummer: The number's checksum or check digit is "
         "invalid.)"),
        (3, "SN-2", "ACCEPTED", ""),
        (4, "SN-3", "BAD_NATIONAL_ID",
         "debtor_national_id is not a valid orgnr or personnummer (orgnr: The number's checksum or check digit is "
         "invalid.; personnummer: One of the parts of the number are invalid or unknown.)"),
        (5, "SN-4", "ACCEPTED", ""),
        (6, "SN-5", "ACCEPTED", ""),
    ]
    assert_cases_only_on_taken_rows(lines, kind="OCR")
    with Ledger(settings) as ledger:
        assert {ref: ledger.debtor(ref)["national_id"] for ref in ("S-2", "S-4", "S-5")} == \
               {"S-2": "880320-0016", "S-4": "5560360793", "S-5": "8112289874"}
        assert ledger.documents() == {n: ("invoice", 300000, "SEK", 0, False) for n in ("SN-2", "SN-4", "SN-5")}


def test_not_overdue_at_the_edge(settings):
    counts = ingest(settings, "acme", "outcome_not_overdue.csv")
    assert (counts.rows, counts.rows_taken) == (4, 1)
    lines = receipt(settings, "acme", "outcome_not_overdue.csv")
    assert outcomes(lines) == [
        (2, "NO-1", "NOT_OVERDUE", "due_date 2026-11-26 is not yet past (as of 2026-11-26)"),  # due today
        (3, "NO-2", "ACCEPTED", ""),                                                          # due yesterday
        (4, "NO-3", "NOT_OVERDUE", "due_date 2026-12-31 is not yet past (as of 2026-11-26)"),
        (5, "NO-4", "NOT_OVERDUE", "due_date 2026-11-26 is not yet past (as of 2026-11-26)"),  # dated today
    ]
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"NO-2": 200000}


def test_time_barred_denmark_three_years_from_the_due_date(settings):
    counts = ingest(settings, "acme", "outcome_time_barred_dk.csv")
    assert (counts.rows, counts.rows_taken) == (4, 1)
    lines = receipt(settings, "acme", "outcome_time_barred_dk.csv")
    assert outcomes(lines) == [
        (2, "TB-1", "TIME_BARRED", "the claim is time-barred as of 2026-11-26: 3 years from its due date 2023-11-26"),
        (3, "TB-2", "ACCEPTED", ""),                                                     # due 2023-11-27
        (4, "TB-3", "TIME_BARRED",   # a reminder does not interrupt in Denmark
         "the claim is time-barred as of 2026-11-26: 3 years from its due date 2023-11-26"),
        (5, "TB-4", "TIME_BARRED", "the claim is time-barred as of 2026-11-26: 3 years from its due date 2019-01-31"),
    ]
    assert summary(lines) == "4 rows: 1 taken for collection, 3 not taken (ACCEPTED 1, TIME_BARRED 3)"
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"TB-2": 200000}


def test_time_barred_sweden_consumer_three_years_business_ten_a_reminder_interrupts(settings):
    counts = ingest(settings, "svea", "outcome_time_barred_se.csv")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (7, 4, 2)
    lines = receipt(settings, "svea", "outcome_time_barred_se.csv")
    assert outcomes(lines) == [   # Sweden counts from the invoice date (the claim's creation)
        (2, "ST-1", "TIME_BARRED", "the claim is time-barred as of 2026-11-26: 3 years from its invoice date "
                                   "2023-11-26"),
        (3, "ST-2", "ACCEPTED", ""),                     # invoiced 2023-11-27
        (4, "ST-3", "ACCEPTED", ""),                     # invoiced 2023-05-01, reminded 2023-11-27: a new period
        (5, "ST-4", "TIME_BARRED", "the claim is time-barred as of 2026-11-26: 3 years from the creditor's "
                                   "reminder of 2023-11-26"),
        (6, "ST-5", "ACCEPTED", ""),                     # business: 10 years
        (7, "ST-6", "TIME_BARRED", "the claim is time-barred as of 2026-11-26: 10 years from its invoice date "
                                   "2016-11-26"),
        (8, "ST-7", "ACCEPTED", ""),
    ]
    assert_cases_only_on_taken_rows(lines, kind="OCR")
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"ST-2": 300000, "ST-3": 300000, "ST-5": 300000, "ST-7": 300000}
        assert ledger.stats()["open_balance"] == {"SEK": "12000.00"}


def test_disputed(settings):
    counts = ingest(settings, "acme", "outcome_disputed.csv")
    assert (counts.rows, counts.rows_taken) == (6, 2)
    lines = receipt(settings, "acme", "outcome_disputed.csv")
    assert outcomes(lines) == [
        (2, "DI-1", "DISPUTED", "the claim is disputed and cannot be collected"),
        (3, "DI-2", "ACCEPTED", ""),
        (4, "DI-3", "DISPUTED", "the claim is disputed and cannot be collected"),     # "Ja"
        (5, "DI-4", "ACCEPTED", ""),
        (6, "DI-5", "MISSING_FIELD", "disputed 'maybe' must be true or false"),
        (7, "DI-6", "DISPUTED", "the claim is disputed and cannot be collected"),     # "TRUE"
    ]
    assert summary(lines) == "6 rows: 2 taken for collection, 4 not taken (ACCEPTED 2, DISPUTED 3, MISSING_FIELD 1)"
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"DI-2": 200000, "DI-4": 200000}


def test_fee_above_legal_max_denmark_100_per_reminder_at_most_3(settings):
    counts = ingest(settings, "acme", "outcome_fee_above_legal_max_dk.csv")
    assert (counts.rows, counts.rows_taken) == (7, 3)
    lines = receipt(settings, "acme", "outcome_fee_above_legal_max_dk.csv")
    assert outcomes(lines) == [
        (2, "FE-1", "ACCEPTED", ""),        # 2 reminders, 200.00
        (3, "FE-2", "FEE_ABOVE_LEGAL_MAX", "reminder_fees 200.01 DKK exceed the legal maximum 200.00 DKK"),
        (4, "FE-3", "ACCEPTED", ""),        # reminders not given: at most 3, 300.00
        (5, "FE-4", "FEE_ABOVE_LEGAL_MAX", "reminder_fees 300.01 DKK exceed the legal maximum 300.00 DKK"),
        (6, "FE-5", "FEE_ABOVE_LEGAL_MAX", "reminder_fees 0.01 DKK exceed the legal maximum 0.00 DKK"),
        (7, "FE-6", "ACCEPTED", ""),        # business, 3 reminders, 300.00
        (8, "FE-7", "FEE_ABOVE_LEGAL_MAX", "reminder_fees 400.00 DKK exceed the legal maximum 300.00 DKK"),
    ]
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.documents() == {"FE-1": ("invoice", 200000, "DKK", 20000, False),
                                      "FE-3": ("invoice", 200000, "DKK", 30000, False),
                                      "FE-6": ("invoice", 200000, "DKK", 30000, False)}
        assert ledger.postings() == {"principal": 600000, "creditor_fee": 80000}
        assert ledger.stats()["open_balance"] == {"DKK": "6800.00"}


def test_fee_above_legal_max_sweden_60_consumer_450_business(settings):
    counts = ingest(settings, "svea", "outcome_fee_above_legal_max_se.csv")
    assert (counts.rows, counts.rows_taken) == (7, 3)
    lines = receipt(settings, "svea", "outcome_fee_above_legal_max_se.csv")
    assert outcomes(lines) == [
        (2, "SF-1", "ACCEPTED", ""),
        (3, "SF-2", "FEE_ABOVE_LEGAL_MAX", "reminder_fees 60.01 SEK exceed the legal maximum 60.00 SEK"),
        (4, "SF-3", "FEE_ABOVE_LEGAL_MAX", "reminder_fees 120.00 SEK exceed the legal maximum 60.00 SEK"),  # once
        (5, "SF-4", "ACCEPTED", ""),
        (6, "SF-5", "FEE_ABOVE_LEGAL_MAX", "reminder_fees 450.01 SEK exceed the legal maximum 450.00 SEK"),
        (7, "SF-6", "ACCEPTED", ""),        # förseningsersättning is due without any reminder
        (8, "SF-7", "FEE_ABOVE_LEGAL_MAX", "reminder_fees 60.00 SEK exceed the legal maximum 0.00 SEK"),  # none sent
    ]
    assert_cases_only_on_taken_rows(lines, kind="OCR")
    with Ledger(settings) as ledger:
        assert ledger.documents() == {"SF-1": ("invoice", 300000, "SEK", 6000, False),
                                      "SF-4": ("invoice", 300000, "SEK", 45000, False),
                                      "SF-6": ("invoice", 300000, "SEK", 45000, False)}
        assert ledger.postings() == {"principal": 900000, "creditor_fee": 96000}


# --- credit notes -----------------------------------------------------------------------------------------

def test_credit_notes_reduce_close_and_are_rejected_when_they_cannot_apply(settings):
    counts = ingest(settings, "acme", "credit_notes.csv")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (10, 4, 2)
    lines = receipt(settings, "acme", "credit_notes.csv")
    assert outcomes(lines) == [
        (2, "CN-1", "ACCEPTED", "reduces invoice INV-CN-1 by 500.00 DKK"),         # names a later line
        (3, "INV-CN-1", "ACCEPTED", ""),
        (4, "CN-2", "BAD_AMOUNT", "credit note 1600.00 exceeds the 1500.00 DKK outstanding on invoice INV-CN-1"),
        (5, "CN-3", "ACCEPTED", "reduces invoice INV-CN-1 by 1500.00 DKK"),        # the rest: case settled
        (6, "CN-4", "UNKNOWN_CREDITED_INVOICE", "credited invoice NOPE-1 is not a claim of yours on file"),
        (7, "INV-CN-2", "ACCEPTED", ""),
        (8, "CN-5", "BAD_CURRENCY", "currency EUR differs from invoice INV-CN-2's DKK"),
        (9, "CN-6", "BAD_AMOUNT", "amount '-50.00' must be greater than zero"),
        (10, "INV-CN-3", "NOT_OVERDUE", "due_date 2026-12-01 is not yet past (as of 2026-11-26)"),
        (11, "CN-7", "UNKNOWN_CREDITED_INVOICE", "credited invoice INV-CN-3 is not a claim of yours on file"),
    ]
    assert summary(lines) == ("10 rows: 4 taken for collection, 6 not taken (ACCEPTED 4, BAD_AMOUNT 2, BAD_CURRENCY 1, "
                              "NOT_OVERDUE 1, UNKNOWN_CREDITED_INVOICE 2)")
    assert_cases_only_on_taken_rows(lines)
    assert lines[0]["case_number"] == lines[1]["case_number"] == lines[3]["case_number"] != lines[5]["case_number"]
    with Ledger(settings) as ledger:
        assert ledger.documents() == {"INV-CN-1": ("invoice", 200000, "DKK", 0, False),
                                      "CN-1": ("credit_note", 50000, "DKK", 0, False),
                                      "CN-3": ("credit_note", 150000, "DKK", 0, False),
                                      "INV-CN-2": ("invoice", 300000, "DKK", 0, False)}
        assert ledger.postings() == {"principal": 500000, "credit_note": -200000}
        settled = ledger.case_of("INV-CN-1")
        assert (settled["status"], settled["closed_on"]) == ("CLOSED", AS_OF)
        assert ledger.case_of("INV-CN-2")["status"] == "OPEN"
        stats = ledger.stats()
    assert stats["open_balance"] == {"DKK": "3000.00"}
    assert stats["cases"] == {"total": 2, "by_status": {"CLOSED": 1, "OPEN": 1}}
    assert (stats["invoices"], stats["credit_notes"]) == (2, 2)


def test_a_credit_note_in_a_later_file_reduces_an_earlier_invoice(settings):
    ingest(settings, "acme", "ledger_base.csv")
    counts = ingest(settings, "acme", "credit_note_later_file.csv")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (2, 1, 0)
    lines = receipt(settings, "acme", "credit_note_later_file.csv")
    assert outcomes(lines) == [
        (2, "CN-B1", "ACCEPTED", "reduces invoice BASE-1 by 1000.00 DKK"),
        (3, "CN-B2", "BAD_AMOUNT", "credit note 4000.01 exceeds the 4000.00 DKK outstanding on invoice BASE-2"),
    ]
    assert_cases_only_on_taken_rows(lines)
    assert lines[0]["case_number"] == receipt(settings, "acme", "ledger_base.csv")[0]["case_number"]
    with Ledger(settings) as ledger:
        assert ledger.postings() == {"principal": 700000, "credit_note": -100000}
        assert ledger.stats()["open_balance"] == {"DKK": "6000.00"}


def test_invoices_and_credit_notes_are_separate_number_series(settings):
    """The natural key is (creditor, document type, number): a credit note may carry its invoice's number
    (PEPPOL's own correction example does); two documents of one type and number are still one."""
    counts = ingest(settings, "acme", "credit_note_same_number.csv")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (4, 2, 1)
    assert outcomes(receipt(settings, "acme", "credit_note_same_number.csv")) == [
        (2, "SN-7", "ACCEPTED", ""),
        (3, "SN-7", "ACCEPTED", "reduces invoice SN-7 by 150.00 DKK"),
        (4, "SN-7", "DUPLICATE_IN_FILE", "credit note SN-7 already on line 3 of this file"),
        (5, "SN-7", "DUPLICATE_IN_FILE", "invoice SN-7 already on line 2 of this file"),
    ]
    with Ledger(settings) as ledger:
        assert ledger.postings() == {"principal": 190000, "credit_note": -15000}
    first_three_lines = "".join((DATA / "credit_note_same_number.csv").read_text().splitlines(True)[:3])
    drop(settings, "acme", "again.csv", first_three_lines)
    run_ingest(settings, AS_OF, "test")
    assert [l["outcome"] for l in receipt(settings, "acme", "again.csv")[:-1]] == ["DUPLICATE", "DUPLICATE"]


def test_unknown_credited_invoice(settings):
    ingest(settings, "acme", "ledger_base.csv")
    counts = ingest(settings, "acme", "outcome_unknown_credited_invoice.csv")
    assert (counts.rows, counts.rows_taken, counts.rows_rejected) == (1, 0, 1)
    lines = receipt(settings, "acme", "outcome_unknown_credited_invoice.csv")
    assert outcomes(lines) == [
        (2, "CN-U1", "UNKNOWN_CREDITED_INVOICE", "credited invoice INV-404 is not a claim of yours on file")]
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.postings() == {"principal": 700000}


def test_a_credit_note_cannot_reach_another_creditors_invoice(settings):
    ingest(settings, "acme", "ledger_base.csv")
    drop(settings, "svea", "credit_note_later_file.csv", DATA / "credit_note_later_file.csv")
    run_ingest(settings, AS_OF, "test")
    lines = receipt(settings, "svea", "credit_note_later_file.csv")
    assert [(l["invoice_number"], l["outcome"]) for l in lines[:-1]] == [("CN-B1", "UNKNOWN_CREDITED_INVOICE"),
                                                                         ("CN-B2", "UNKNOWN_CREDITED_INVOICE")]
    with Ledger(settings) as ledger:
        assert ledger.postings() == {"principal": 700000}


# --- input variants ---------------------------------------------------------------------------------------

def test_utf8_with_bom_and_crlf(settings):
    ingest(settings, "acme", "variant_utf8_bom_crlf.csv")
    lines = receipt(settings, "acme", "variant_utf8_bom_crlf.csv")
    assert outcomes(lines) == [(2, "BOM-1", "ACCEPTED", ""), (3, "BOM-2", "ACCEPTED", "")]
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"BOM-1": 234567, "BOM-2": 345678}
        debtor = ledger.debtor("BOM-D")
        assert (debtor["name"], debtor["address_line1"], debtor["city"], debtor["country"]) == \
               ("Søren Ærø", "Åboulevard 7", "København N", "DK")


def test_semicolon_delimiter_with_commas_in_values(settings):
    ingest(settings, "acme", "variant_semicolon_lf.csv")
    lines = receipt(settings, "acme", "variant_semicolon_lf.csv")
    assert outcomes(lines) == [(2, "SEMI-1", "ACCEPTED", ""), (3, "SEMI-2", "ACCEPTED", "")]
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"SEMI-1": 234567, "SEMI-2": 123456789}   # "1,234,567.89"
        debtor = ledger.debtor("SEMI-D")
        assert (debtor["name"], debtor["address_line1"]) == ("Hansen, Jens", "Vej 1, 2. th.")


def test_lf_and_crlf_files_with_the_same_rows_are_the_same_claims(settings):
    ingest(settings, "acme", "variant_lf.csv")
    counts = ingest(settings, "acme", "variant_crlf.csv")
    assert (counts.files, counts.rows, counts.rows_taken) == (1, 2, 0)
    assert outcomes(receipt(settings, "acme", "variant_crlf.csv")) == [
        (2, "LE-1", "DUPLICATE", "received before in variant_lf.csv line 2; nothing changed"),
        (3, "LE-2", "DUPLICATE", "received before in variant_lf.csv line 3; nothing changed"),
    ]
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"LE-1": 234567, "LE-2": 345678}
        assert (ledger.description("LE-1"), ledger.description("LE-2")) == ("first", "second")  # no stray "\r"


def test_windows_1252_semicolon_decimal_comma_and_renamed_columns(settings):
    counts = ingest(settings, "dansk", "variant_cp1252_semicolon_decimal_comma.csv")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (8, 4, 2)
    lines = receipt(settings, "dansk", "variant_cp1252_semicolon_decimal_comma.csv")
    assert outcomes(lines) == [
        (2, "DV-1", "BELOW_MINIMUM", BELOW),        # 1.234,50
        (3, "DV-2", "BELOW_MINIMUM", BELOW),        # 1 234,50 and date 1.5.2026
        (4, "DV-3", "ACCEPTED", ""),                # 12.345.678,90
        (5, "DV-4", "BELOW_MINIMUM", BELOW),        # 950,5
        (6, "DV-5", "BAD_AMOUNT", "amount '1,234.50' is not an amount with decimal separator ','"),
        (7, "DV-6", "BAD_DATE", NOT_A_DATE.format("invoice_date", "31.02.2026", "DD.MM.YYYY")),
        (8, "DV-7", "BAD_DATE", NOT_A_DATE.format("due_date", "2026-05-31", "DD.MM.YYYY")),
        (9, "DV-8", "BAD_AMOUNT", "amount '2000,001' has more decimals than its currency allows"),
    ]
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.amounts("dansk") == {"DV-1": 123450, "DV-2": 123450, "DV-3": 1234567890, "DV-4": 95050}
        consumer, company = ledger.debtor("K-1"), ledger.debtor("K-2")
        assert (consumer["debtor_type"], consumer["name"], consumer["address_line1"], consumer["city"]) == \
               ("consumer", "Søren Ærø", "Åboulevard 7", "København N")
        assert (company["debtor_type"], company["name"], company["address_line1"], company["city"]) == \
               ("business", "Ærø Æbler ApS", "Østergade 2", "Ærøskøbing")
        assert ledger.conn.execute(select(invoices.c.invoice_date, invoices.c.due_date)
                                   .where(invoices.c.invoice_number == "DV-2")).one() == \
               (date(2026, 5, 1), date(2026, 5, 31))


def test_a_utf8_file_with_bom_from_a_windows_1252_creditor_is_read_as_utf8(settings):
    ingest(settings, "dansk", "variant_utf8_bom_for_cp1252_creditor.csv")
    lines = receipt(settings, "dansk", "variant_utf8_bom_for_cp1252_creditor.csv")
    assert outcomes(lines) == [(2, "DU-1", "BELOW_MINIMUM", BELOW)]
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"DU-1": 123450}
        debtor = ledger.debtor("K-9")
        assert (debtor["name"], debtor["city"]) == ("Søren Ærø", "København N")   # not "SÃ¸ren"


def test_headers_match_case_insensitively_with_blanks_around(settings):
    ingest(settings, "acme", "variant_case_insensitive_headers.csv")
    assert outcomes(receipt(settings, "acme", "variant_case_insensitive_headers.csv")) == [
        (2, "CI-1", "ACCEPTED", "")]
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"CI-1": 200000}
        assert ledger.debtor("CI-D")["country"] == "DK"


def test_unknown_extra_columns_are_ignored(settings):
    ingest(settings, "acme", "variant_extra_columns.csv")
    assert outcomes(receipt(settings, "acme", "variant_extra_columns.csv")) == [
        (2, "EX-1", "ACCEPTED", ""), (3, "EX-2", "ACCEPTED", "")]
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"EX-1": 200000, "EX-2": 300000}
        assert (ledger.description("EX-1"), ledger.description("EX-2")) == (None, None)


def test_quoted_fields_with_newlines_delimiters_and_quotes(settings):
    ingest(settings, "acme", "variant_quoted_fields.csv")
    lines = receipt(settings, "acme", "variant_quoted_fields.csv")
    assert outcomes(lines) == [(2, "QF-1", "ACCEPTED", ""), (3, "QF-2", "ACCEPTED", ""), (4, "QF-3", "ACCEPTED", "")]
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"QF-1": 200000, "QF-2": 250000, "QF-3": 300000}
        assert ledger.description("QF-1") == "Line one\nline two, with a comma; and a semicolon"
        assert ledger.description("QF-2") == 'He said "pay now"'
        debtor = ledger.debtor("QF-D")
        assert (debtor["name"], debtor["address_line1"]) == ("Hansen, Jens", "Nørregade 1\n2. sal")


def test_a_row_with_too_few_or_too_many_fields_does_not_stop_the_rest(settings):
    counts = ingest(settings, "acme", "variant_short_row_in_middle.csv")
    assert (counts.rows, counts.rows_taken) == (6, 4)
    lines = receipt(settings, "acme", "variant_short_row_in_middle.csv")
    assert outcomes(lines) == [
        (2, "SR-1", "ACCEPTED", ""),
        (3, "SR-2", "ACCEPTED", ""),
        (4, "SR-3", "MISSING_FIELD", "the row has 3 fields, the header 12"),
        (5, "SR-4", "MISSING_FIELD", "the row has 13 fields, the header 12"),
        (6, "SR-5", "ACCEPTED", ""),
        (7, "SR-6", "ACCEPTED", ""),           # after a blank line, which is not counted
    ]
    assert_cases_only_on_taken_rows(lines)
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"SR-1": 200000, "SR-2": 210000, "SR-5": 230000, "SR-6": 240000}


def test_receipt_cells_are_protected_against_formula_injection(settings):
    ingest(settings, "acme", "variant_formula_injection.csv")
    lines = receipt(settings, "acme", "variant_formula_injection.csv")
    assert outcomes(lines) == [(2, "'=1+1", "ACCEPTED", "")]
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"=1+1": 200000}          # stored as sent
        assert ledger.debtor("FI-D")["name"] == "@SUM(A1)"


def test_the_other_two_date_formats(settings):
    add_creditors(settings, creditor_block("dashdates", date_format="DD-MM-YYYY"),
                  creditor_block("slashdates", date_format="DD/MM/YYYY", decimal=","))
    counts = ingest(settings, "dashdates", "variant_date_dd_mm_yyyy.csv")
    counts.add(ingest(settings, "slashdates", "variant_date_dd_slash_mm_yyyy.csv"))
    assert (counts.files, counts.rows, counts.rows_taken) == (2, 8, 4)
    assert outcomes(receipt(settings, "dashdates", "variant_date_dd_mm_yyyy.csv")) == [
        (2, "DM-1", "ACCEPTED", ""),
        (3, "DM-2", "ACCEPTED", ""),                                                  # 1-5-2026 and 30-6-2026
        (4, "DM-3", "BAD_DATE", NOT_A_DATE.format("invoice_date", "31-04-2026", "DD-MM-YYYY")),
        (5, "DM-4", "BAD_DATE", NOT_A_DATE.format("invoice_date", "2026-05-01", "DD-MM-YYYY")),
    ]
    assert outcomes(receipt(settings, "slashdates", "variant_date_dd_slash_mm_yyyy.csv")) == [
        (2, "DS-1", "ACCEPTED", ""),
        (3, "DS-2", "ACCEPTED", ""),                                                  # 29/02/2024
        (4, "DS-3", "BAD_DATE", NOT_A_DATE.format("invoice_date", "29/02/2025", "DD/MM/YYYY")),
        (5, "DS-4", "BAD_DATE", NOT_A_DATE.format("due_date", "05/31/2026", "DD/MM/YYYY")),  # month first
    ]
    with Ledger(settings) as ledger:
        dates = dict((n, (i, d)) for n, i, d in ledger.conn.execute(
            select(invoices.c.invoice_number, invoices.c.invoice_date, invoices.c.due_date)))
        assert dates == {"DM-1": (date(2026, 5, 1), date(2026, 5, 31)), "DM-2": (date(2026, 5, 1), date(2026, 6, 30)),
                         "DS-1": (date(2026, 5, 1), date(2026, 5, 31)), "DS-2": (date(2024, 2, 29), date(2024, 3, 30))}
        assert ledger.amounts() == {"DM-1": 200000, "DM-2": 200000, "DS-1": 200000, "DS-2": 200000}


def test_line_numbers_and_duplicates_stay_right_across_batches_and_the_fallback(settings, monkeypatch):
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", 700)          # a few rows per Arrow batch
    monkeypatch.setattr(invoice_csv, "FALLBACK_BATCH_ROWS", 3)    # fallback batches 20-22, 23-25, 26-28, 29-31, ...
    counts = ingest(settings, "acme", "variant_many_rows.csv")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (40, 37, 3)
    expected = []
    number = 0
    for line in range(2, 42):
        if line == 12:
            expected.append((12, "MR-03", "DUPLICATE_IN_FILE", "invoice MR-03 already on line 4 of this file"))
        elif line == 22:
            expected.append((22, "MR-BAD", "MISSING_FIELD", "the row has 3 fields, the header 13"))
        elif line == 30:
            expected.append((30, "MR-25", "DUPLICATE_IN_FILE", "invoice MR-25 already on line 28 of this file"))
        elif line == 41:
            expected.append((41, "MR-CN", "ACCEPTED", "reduces invoice MR-01 by 100.00 DKK"))
        else:
            number += 1
            expected.append((line, f"MR-{number:02d}", "ACCEPTED", ""))
    lines = receipt(settings, "acme", "variant_many_rows.csv")
    assert outcomes(lines) == expected
    assert summary(lines) == "40 rows: 37 taken for collection, 3 not taken (ACCEPTED 37, DUPLICATE_IN_FILE 2, MISSING_FIELD 1)"
    with Ledger(settings) as ledger:
        amounts = ledger.amounts()
        assert amounts == {**{f"MR-{n:02d}": 200000 + 100 * n for n in range(1, 37)}, "MR-CN": 10000}
        assert ledger.postings() == {"principal": sum(200000 + 100 * n for n in range(1, 37)), "credit_note": -10000}
        lines_in_ledger = dict(ledger.conn.execute(select(invoices.c.invoice_number, invoices.c.line)).all())
        assert lines_in_ledger["MR-01"] == 2 and lines_in_ledger["MR-25"] == 28 and lines_in_ledger["MR-36"] == 40


# --- file-level rejections --------------------------------------------------------------------------------

FILE_LEVEL = [
    ("acme", "file_empty.csv", "EMPTY_FILE", "the file is empty"),
    ("acme", "file_header_only.csv", "EMPTY_FILE", "the file has a header but no data rows"),
    ("acme", "file_header_and_blank_lines.csv", "EMPTY_FILE", "the file has a header but no data rows"),
    ("acme", "file_binary.csv", "NOT_CSV", "the file is binary, not a CSV text file"),
    ("acme", "file_invalid_utf8.csv", "BAD_ENCODING",
     'line 4 is not valid utf-8 (if the file is Windows-1252, set encoding = "cp1252" in [creditor.csv])'),
    ("acme", "file_invalid_utf8_late.csv", "BAD_ENCODING",
     'line 32 is not valid utf-8 (if the file is Windows-1252, set encoding = "cp1252" in [creditor.csv])'),
    ("acme", "file_invalid_utf8_after_short_row.csv", "BAD_ENCODING",
     'line 5 is not valid utf-8 (if the file is Windows-1252, set encoding = "cp1252" in [creditor.csv])'),
    ("dansk", "file_invalid_cp1252.csv", "BAD_ENCODING", "line 3 is not valid cp1252"),
    ("acme", "file_no_header.csv", "NO_HEADER",
     "the first line has no known column names (found: nh-1, 2026-05-01, 2026-05-31, 2000.00, nh-d, consumer, "
     "jens hansen, nørregade 1, 1165, københavn k, dk)"),
    ("acme", "file_duplicate_column.csv", "BAD_HEADER", "column amount appears more than once"),
    ("acme", "file_missing_column.csv", "MISSING_COLUMN",
     "required column amount, due_date not found; columns found: invoice_number, invoice_date, debtor_id, "
     "debtor_type, debtor_name, debtor_address_line1, debtor_postcode, debtor_city, debtor_country, total"),
    ("acme", "file_not_csv.txt", "UNSUPPORTED_FILE", UNSUPPORTED),
]


def assert_rejected_whole(settings, creditor: str, name: str, code: str, message: str, counts: Pass) -> None:
    assert (counts.files, counts.files_rejected, counts.rows, counts.rows_taken, counts.cases_opened) == (1, 1, 0, 0, 0)
    assert receipt(settings, creditor, name) == [{"line": "", "invoice_number": "", "outcome": code,
                                                  "message": message, "case_number": "", "payment_reference": ""}]
    content = (DATA / name).read_bytes()
    sha256 = hashlib.sha256(content).hexdigest()
    assert not (settings.home / "creditors" / creditor / "inbox" / name).exists()
    quarantined = settings.home / "quarantine" / "creditors" / creditor / f"{sha256[:12]}_{name}"
    assert quarantined.read_bytes() == content
    assert list((settings.home / "archive").rglob("*")) == []
    with Ledger(settings) as ledger:
        assert [ledger.count(t) for t in (invoices, debtors, cases, postings)] == [0, 0, 0, 0]
        assert ledger.conn.execute(select(ingested_files.c.file_name, ingested_files.c.status, ingested_files.c.sha256,
                                          ingested_files.c.rows_total)).all() == [(name, "REJECTED", sha256, 0)]


@pytest.mark.parametrize(("creditor", "name", "code", "message"), FILE_LEVEL, ids=[case[1] for case in FILE_LEVEL])
def test_a_file_level_problem_rejects_the_whole_file_with_one_receipt_line(settings, monkeypatch, creditor, name,
                                                                           code, message):
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", 512)   # file_invalid_utf8_late: earlier batches are written first
    counts = ingest(settings, creditor, name)
    assert_rejected_whole(settings, creditor, name, code, message, counts)


def test_a_file_over_the_size_limit_is_rejected(settings):
    registry = settings.registry_path.read_text(encoding="utf-8")
    settings.registry_path.write_text(registry.replace("settle_seconds = 0", "settle_seconds = 0\nmax_file_bytes = 400"),
                                      encoding="utf-8")
    size = (DATA / "file_too_large.csv").stat().st_size
    assert size == 427
    counts = ingest(settings, "acme", "file_too_large.csv")
    assert_rejected_whole(settings, "acme", "file_too_large.csv", "FILE_TOO_LARGE",
                          "the file has 427 bytes; the limit is 400", counts)


def test_a_rejected_file_dropped_again_gets_no_second_receipt(settings):
    ingest(settings, "acme", "file_missing_column.csv")
    first = receipts(settings, "acme")
    counts = ingest(settings, "acme", "file_missing_column.csv")
    assert (counts.files, counts.files_seen_before, counts.files_rejected) == (0, 1, 0)
    assert receipts(settings, "acme") == first
    assert not (settings.home / "creditors" / "acme" / "inbox" / "file_missing_column.csv").exists()
    with Ledger(settings) as ledger:
        assert ledger.stats()["files"] == {"processed": 0, "rejected": 1}


def test_good_and_bad_files_in_one_pass_are_judged_separately(settings):
    counts = ingest(settings, "acme", "file_binary.csv", "outcome_not_overdue.csv", "file_header_only.csv")
    assert (counts.files, counts.files_rejected, counts.rows, counts.rows_taken) == (3, 2, 4, 1)
    assert [l["outcome"] for l in receipt(settings, "acme", "file_binary.csv")] == ["NOT_CSV"]
    assert [l["outcome"] for l in receipt(settings, "acme", "file_header_only.csv")] == ["EMPTY_FILE"]
    assert outcomes(receipt(settings, "acme", "outcome_not_overdue.csv"))[1] == (3, "NO-2", "ACCEPTED", "")
    assert list((settings.home / "creditors" / "acme" / "inbox").iterdir()) == []
    with Ledger(settings) as ledger:
        assert ledger.amounts() == {"NO-2": 200000}
        assert ledger.stats()["files"] == {"processed": 1, "rejected": 2}
    quarantined = sorted(path.name.split("_", 1)[1] for path in (settings.home / "quarantine" / "creditors" / "acme").iterdir())
    assert quarantined == ["file_binary.csv", "file_header_only.csv"]
