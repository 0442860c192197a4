"""UBL invoice XML (formats.md §1.2) end to end on the ledger (SQLite and PostgreSQL): a document of acme
(CVR 13585628) becomes a case, a receipt line and postings like a CSV row; a wrapper of several documents is
judged document by document; a hostile or unsupported XML file is rejected whole and quarantined."""
from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import registry_text
from pipeline.config import load_registry
from pipeline.stages.ingest import handler_for
from pipeline.ledger.schema import cases, debtors, ingested_files, invoices, postings
from pipeline.references import case_number_from_reference
from tests.conftest import REGISTRY, AS_OF, drop, read_receipt, receipts, run_ingest
from tests.integration.test_outcomes import Ledger, add_creditors

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
    assert (settings.home / "quarantine" / "creditors" / "acme" / f"{sha256[:12]}_{name}").read_bytes() == content
    assert not (settings.home / "creditors" / "acme" / "inbox" / name).exists()
    with Ledger(settings) as ledger:
        assert [ledger.count(t) for t in (invoices, debtors, cases, postings)] == [0, 0, 0, 0]


def write_registry(folder):
    path = folder / "inkasso.toml"
    path.write_text(REGISTRY, encoding="utf-8")
    return path


def test_xml_files_are_invoices_and_instruction_files_are_instructions(tmp_path):
    registry = load_registry(write_registry(tmp_path))
    kinds = {name: handler_for(name, registry, registry.creditors["acme"]).kind
             for name in ("Faktura-2026.XML", "invoices.csv", "instructions_2026.xml", "scan.pdf")}
    assert kinds == {"Faktura-2026.XML": "invoice_xml", "invoices.csv": "invoice_csv",
                     "instructions_2026.xml": "instructions", "scan.pdf": "unsupported"}


SAMPLE_PAIRS = [  # (creditor, as_of, folder, invoice file, credit note file, numbers, amount, currency)
    ("svea", date(2018, 1, 15), "peppol-bis3/examples", "base-example.xml", "base-creditnote-correction.xml",
     ("Snippet1", "Snippet1"), 165625, "EUR"),
    ("acme", date(2006, 1, 15), "oioubl/official-examples/2.0.2", "BASPRO_03_01_06_Invoice_v2p2.xml",
     "BASPRO_03_01_06_CreditNote_v2p2.xml", ("A00095678", "A00095679"), 631250, "DKK"),
    ("oio", date(2006, 1, 15), "oioubl/gobl-dk-oioubl/examples", "invoice.xml", "credit-note.xml",
     ("A00095678", "A00095679"), 631250, "DKK"),
    ("svea", date(2018, 1, 15), "peppol-bis3/snippets", "base-example.xml", "base-creditnote-correction.xml",
     ("Snippet1", "Snippet1"), 165625, "EUR"),
    ("acme", date(2024, 7, 1), "oioubl/oioubl3-examples", "OIOUBL3_Invoice_billing_with_response_base_Example.xml",
     "OIOUBL3_CreditNote_billing_with_response_base_Example.xml", ("202400095678", "202400095679"), 631250, "DKK"),
    ("acme", date(2024, 7, 1), "oioubl/oioubl3-examples",
     "OIOUBL3_Invoice_billing_private_without_response_base_Example.xml",
     "OIOUBL3_CreditNote_billing_private_without_response_base_Example.xml", ("202400095678", "202400095679"),
     631250, "DKK"),
]
OIO_CREDITOR = "\n" + registry_text.creditor("oio", "OIOUBL sample supplier", "DK16356700", "DK",
                                             "Samplevej 1, 1000 København K", "DKK", "DK5000400440116243", "NDEADKKK")


@pytest.mark.parametrize("creditor, as_of, folder, invoice_file, note_file, numbers, amount, currency", SAMPLE_PAIRS,
                         ids=lambda value: value if isinstance(value, str) and "/" in value else None)
def test_a_sample_credit_note_reduces_the_sample_invoice_it_references(settings, creditor, as_of, folder,
                                                                       invoice_file, note_file, numbers, amount,
                                                                       currency):
    """Each public invoice with its public credit note, at the samples' own time: the note credits the invoice
    in full and the case closes. PEPPOL's correction note carries its invoice's own number (a separate number
    series); the OIOUBL 2.0.2 and OIOUBL 3 customers' made-up CVRs are dropped with a note, not fatal."""
    add_creditors(settings, OIO_CREDITOR)
    for name in (invoice_file, note_file):
        drop(settings, creditor, name, UBL / folder / name)
        run_ingest(settings, as_of, name)
    (invoice_line,) = [l for l in read_receipt(_receipt_of(settings, creditor, invoice_file)) if l["line"]]
    (note_line,) = [l for l in read_receipt(_receipt_of(settings, creditor, note_file)) if l["line"]]
    money = f"{amount // 100}.{amount % 100:02d} {currency}"
    assert (invoice_line["invoice_number"], invoice_line["outcome"]) == (numbers[0], "ACCEPTED")
    assert (note_line["invoice_number"], note_line["outcome"], note_line["message"]) == (
        numbers[1], "ACCEPTED", f"reduces invoice {numbers[0]} by {money}")
    assert note_line["case_number"] == invoice_line["case_number"] != ""
    with Ledger(settings) as ledger:
        assert ledger.postings() == {"principal": amount, "credit_note": -amount}
        case = ledger.case_of(numbers[0])
        assert (case["status"], case["closed_on"], case["currency"]) == ("CLOSED", as_of, currency)


def test_the_oioubl_stor_credit_note_exceeds_its_invoice_and_is_refused(settings):
    """InvoiceStor (12,900.00 DKK) and CreditNoteStor (13,000.00 DKK, crediting the same number) are two
    separate examples: the note would take the claim below zero, so it is BAD_AMOUNT and changes nothing."""
    folder = UBL / "oioubl" / "official-examples" / "2.0.2"
    for name in ("InvoiceStor_v2p2.xml", "CreditNoteStor_v2p2.xml"):
        drop(settings, "acme", name, folder / name)
        run_ingest(settings, date(2006, 1, 15), name)
    (line,) = [l for l in read_receipt(_receipt_of(settings, "acme", "CreditNoteStor_v2p2.xml")) if l["line"]]
    assert (line["invoice_number"], line["outcome"], line["message"]) == (
        "A00095679", "BAD_AMOUNT", "credit note 13000.00 exceeds the 12900.00 DKK outstanding on invoice A00095678")
    with Ledger(settings) as ledger:
        assert ledger.postings() == {"principal": 1290000}


def test_an_invalid_customer_cvr_in_ubl_is_dropped_with_a_note(settings):
    sample = UBL / "oioubl" / "official-examples" / "2.0.2" / "BASPRO_03_01_06_Invoice_v2p2.xml"
    drop(settings, "acme", sample.name, sample)
    run_ingest(settings, date(2006, 1, 15), "test")
    (line,) = [l for l in read_receipt(_receipt_of(settings, "acme", sample.name)) if l["line"]]
    assert (line["outcome"], line["message"]) == (
        "ACCEPTED", "debtor_national_id is not a valid cvr or cpr (cvr: The number's checksum or check digit is "
                    "invalid.; cpr: The number has an invalid length.) and was not stored")
    with Ledger(settings) as ledger:
        assert ledger.debtor("5798000416604")["national_id"] is None


def _receipt_of(settings, creditor: str, file_name: str) -> Path:
    (path,) = [p for p in receipts(settings, creditor) if p.name.startswith(f"receipt_{file_name}_")]
    return path


def test_a_creditor_can_say_its_ubl_debtors_are_consumers(settings):
    """[creditor.xml] debtor_type = "consumer": the debtor is a consumer, so consumer rules apply (the
    customer's CVR is no CPR: dropped with a note)."""
    add_creditors(settings, OIO_CREDITOR.replace('id = "oio"', 'id = "shop"').replace(
        'vat_id = "DK16356700"', 'vat_id = "DK13585628"') + '[creditor.xml]\ndebtor_type = "consumer"\n')
    counts, lines = ingest(settings, "shop", "own/acme_invoice.xml", "acme_invoice.xml")
    assert (counts.rows_taken, lines[0]["outcome"]) == (1, "ACCEPTED")
    assert lines[0]["message"] == ("debtor_national_id is not a valid cpr (cpr: The number has an invalid "
                                   "length.) and was not stored")
    with Ledger(settings) as ledger:
        debtor = ledger.debtor("K-4711")
        assert (debtor["debtor_type"], debtor["national_id"]) == ("consumer", None)
