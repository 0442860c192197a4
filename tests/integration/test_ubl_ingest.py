"""UBL invoice XML (formats.md §1.2) end to end on the ledger (SQLite and PostgreSQL): a document of acme
(CVR 13585628) becomes a case, a receipt line and postings like a CSV row; a wrapper of several documents is
judged document by document; a hostile or unsupported XML file is rejected whole and quarantined."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.ingest import file_kind, run_ingest
from pipeline.ledger.schema import cases, debtors, ingested_files, invoices, postings
from pipeline.references import case_number_from_reference
from tests.conftest import AS_OF, drop, read_receipt, receipts
from tests.integration.test_outcomes import Ledger

UBL = Path(__file__).parents[1] / "data" / "ubl"


def ingest(settings, creditor: str, source: str, name: str):
    drop(settings, creditor, name, UBL / source)
    counts = run_ingest(settings, AS_OF, "test")
    found = [p for p in receipts(settings, creditor) if p.name.startswith(f"receipt_{name}_")]
    assert len(found) == 1, found
    return counts, read_receipt(found[0])


def test_an_xml_invoice_opens_a_case(settings):
    counts, lines = ingest(settings, "acme", "own/acme_invoice.xml", "acme_invoice.xml")
    assert (counts.files, counts.files_rejected, counts.rows, counts.rows_taken, counts.cases_opened) == (1, 0, 1, 1, 1)
    assert [(l["line"], l["invoice_number"], l["outcome"], l["message"]) for l in lines[:-1]] == [
        ("1", "ACME-2026-0815", "ACCEPTED", "")]
    assert lines[-1]["outcome"] == "SUMMARY"
    assert case_number_from_reference(lines[0]["payment_reference"]) == lines[0]["case_number"]
    assert not (settings.home / "creditors" / "acme" / "inbox" / "acme_invoice.xml").exists()
    with Ledger(settings) as ledger:
        assert ledger.documents("acme") == {"ACME-2026-0815": ("invoice", 1250000, "DKK", 0, False)}
        assert ledger.postings() == {"principal": 1250000}
        debtor = ledger.debtor("K-4711")
        assert (debtor["name"], debtor["national_id"], debtor["address_line1"], debtor["address_line2"],
                debtor["postcode"], debtor["city"], debtor["country"], debtor["email"], debtor["phone"]) == (
            "Jensen Tømrer ApS", "29403473", "Vestergade 12", "Baghuset", "8000", "Aarhus C", "DK",
            "bogholderi@jensen-toemrer.dk", "+4586123456")
        case = ledger.case_of("ACME-2026-0815")
        assert (case["case_number"], case["currency"], case["status"]) == (lines[0]["case_number"], "DKK", "OPEN")
        assert ledger.conn.execute(select(ingested_files.c.kind, ingested_files.c.status)).all() == [
            ("invoice_xml", "PROCESSED")]


def test_a_wrapper_is_judged_document_by_document(settings):
    counts, lines = ingest(settings, "acme", "own/wrapper_four_documents.xml", "batch.xml")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (4, 2, 1)
    assert [(l["line"], l["invoice_number"], l["outcome"], l["message"]) for l in lines[:-1]] == [
        ("1", "ACME-2026-0901", "ACCEPTED", ""),
        ("2", "ACME-2026-0902", "BAD_DATE", "no due date in the document"),
        ("3", "OTHER-77", "WRONG_CREDITOR", "the document's supplier is 25313763, not this creditor (13585628)"),
        ("4", "ACME-CN-0901", "ACCEPTED", "reduces invoice ACME-2026-0901 by 1000.00 DKK"),
    ]
    assert [l["case_number"] != "" for l in lines[:-1]] == [True, False, False, True]
    with Ledger(settings) as ledger:
        assert ledger.amounts("acme") == {"ACME-2026-0901": 400000, "ACME-CN-0901": 100000}
        assert ledger.postings() == {"principal": 400000, "credit_note": -100000}


@pytest.mark.parametrize("source, code, message", [
    ("own/xxe_external_entity.xml", "BAD_XML", "the file declares a DTD or entities, which are not accepted"),
    ("ubl21/examples/UBL-Reminder-2.1-Example.xml", "UNSUPPORTED_DOCUMENT",
     "a UBL Reminder is not taken here; only Invoice and CreditNote"),
])
def test_a_rejected_xml_file_is_quarantined_with_one_receipt_line(settings, source, code, message):
    name = Path(source).name
    counts, lines = ingest(settings, "acme", source, name)
    assert (counts.files, counts.files_rejected, counts.rows, counts.rows_taken) == (1, 1, 0, 0)
    assert lines == [{"line": "", "invoice_number": "", "outcome": code, "message": message, "case_number": "",
                      "payment_reference": ""}]
    content = (UBL / source).read_bytes()
    sha256 = hashlib.sha256(content).hexdigest()
    assert (settings.home / "quarantine" / "acme" / f"{sha256[:12]}_{name}").read_bytes() == content
    assert not (settings.home / "creditors" / "acme" / "inbox" / name).exists()
    with Ledger(settings) as ledger:
        assert [ledger.count(t) for t in (invoices, debtors, cases, postings)] == [0, 0, 0, 0]


def test_xml_files_are_invoices_and_instruction_files_are_instructions():
    assert file_kind("Faktura-2026.XML") == "invoice_xml"
    assert file_kind("invoices.csv") == "invoice_csv"
    assert file_kind("instructions_2026.xml") == "instructions"
    assert file_kind("scan.pdf") == "unsupported"


def test_the_oioubl_sample_pair_is_judged_on_its_made_up_customer_cvr(settings):
    """The OIOUBL example invoice A00095678 and the credit note A00095679 that references it: their
    customer's CVR fails its check digit, so both are BAD_NATIONAL_ID and nothing is booked. (Our own
    wrapper file proves the accepted credit-note path.)"""
    from datetime import date

    sample = UBL / "oioubl" / "official-examples" / "2.0.2"
    for name in ("BASPRO_03_01_06_Invoice_v2p2.xml", "BASPRO_03_01_06_CreditNote_v2p2.xml"):
        drop(settings, "svea", name, sample / name)
        run_ingest(settings, date(2006, 1, 15), name)  # the sample's own time: due 2005-11-25
    (invoice_line,) = [l for l in read_receipt(_receipt_of(settings, "BASPRO_03_01_06_Invoice")) if l["line"]]
    (note_line,) = [l for l in read_receipt(_receipt_of(settings, "BASPRO_03_01_06_CreditNote")) if l["line"]]
    assert (invoice_line["invoice_number"], invoice_line["outcome"]) == ("A00095678", "BAD_NATIONAL_ID")
    assert (note_line["invoice_number"], note_line["outcome"]) == ("A00095679", "BAD_NATIONAL_ID")
    assert note_line["message"].startswith("debtor_national_id is not a valid cvr")
    with Ledger(settings) as ledger:
        assert ledger.postings() == {}


def _receipt_of(settings, prefix: str) -> Path:
    (path,) = [p for p in receipts(settings, "svea") if p.name.startswith(f"receipt_{prefix}")]
    return path
