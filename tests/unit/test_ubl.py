"""The UBL invoice XML parser (formats.md §1.2) against real PEPPOL BIS 3, OIOUBL 2.0.2, OIOUBL 3 and UBL 2.1
examples, copied unchanged into tests/data/ubl (sources in tests/data/ubl/SOURCES.tsv), and against small
files of our own in tests/data/ubl/own (hostile XML, a wrapper of several documents, another supplier).

Every expected value below was read from the file by hand.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pipeline.parsers as parsers
import pipeline.parsers.ubl as ubl
from pipeline.config import CsvLayout, XmlLayout
from pipeline.parsers import FileRejected
from pipeline.parsers.invoice_csv import read_invoice_csv
from pipeline.parsers.ubl import read_ubl_invoices

DATA = Path(__file__).parents[1] / "data"
UBL = DATA / "ubl"
ACME = "13585628"                 # acme's CVR (tests/conftest.py), supplier of the documents in own/
LIMIT = 10 * 1024 * 1024


def read(path: Path, legal_id: str = "", currency: str = "DKK", max_bytes: int = LIMIT) -> pd.DataFrame:
    return pd.concat(list(read_ubl_invoices(path, legal_id, currency, max_bytes)), ignore_index=True)


def day(text: str) -> np.datetime64:
    return np.datetime64(text, "s")


# file, invoice number, invoice date, due date, amount in minor units, currency, debtor name
INVOICES = [
    ("peppol-bis3/examples/base-example.xml", "Snippet1", "2017-11-13", "2017-12-01", 165625, "EUR",
     "BuyerTradingName AS"),
    ("peppol-bis3/examples/Allowance-example.xml", "Snippet1", "2017-11-13", "2017-12-01", 612500, "EUR",
     "BuyerTradingName AS"),
    ("oioubl/official-examples/2.0.2/BASPRO_01_01_00_Invoice_v2p2.xml", "A00095678", "2005-11-20", "2005-11-25",
     631250, "DKK", "Den Lille Skole"),
    ("oioubl/official-examples/2.0.2/COMDEL_02_02_00_Invoice_v2p2.xml", "A00095678", "2005-12-29", "2006-01-15",
     4167500, "DKK", "Falck Hjælpemidler A/S"),
    ("oioubl/official-examples/2.0.2/COMPAY_03_03_00_Invoice_v2p2.xml", "65830241", "2006-04-01", "2006-04-25",
     998125, "DKK", "IT- og Telestyrelsen"),
    ("oioubl/oioubl3-examples/OIOUBL3_Invoice_billing_with_response_Example.xml", "202400095678", "2024-05-20",
     "2024-07-01", 631250, "DKK", "Customer A/S"),
    ("oioubl/oioubl3-examples/OIOUBL3_Invoice_billing_private_without_response_base_Example.xml", "202400095678",
     "2024-05-20", "2024-05-25", 631250, "DKK", "Customer A/S"),
    ("ubl21/examples/UBL-Invoice-2.1-Example.xml", "TOSL108", "2009-12-15", "2009-12-31", 72900, "EUR",
     "Buyercompany ltd"),
]


@pytest.mark.parametrize("name, number, issued, due, amount, currency, debtor", INVOICES,
                         ids=[Path(i[0]).name for i in INVOICES])
def test_real_invoices_are_read_field_by_field(name, number, issued, due, amount, currency, debtor):
    frame = read(UBL / name)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["line"] == 1
    assert row["document_type"] == "invoice"
    assert row["invoice_number"] == number
    assert row["invoice_date"] == day(issued)
    assert row["due_date"] == day(due)
    assert row["amount_minor"] == amount and isinstance(row["amount_minor"], (int, np.integer))
    assert row["currency"] == currency
    assert row["debtor_name"] == debtor
    assert row["debtor_type"] == "business"


def test_the_frame_has_exactly_the_columns_of_the_csv_parser():
    csv_frame = next(read_invoice_csv(DATA / "outcome_accepted.csv", CsvLayout(), "DKK", LIMIT))
    xml_frame = read(UBL / "own/acme_invoice.xml", ACME)
    assert list(xml_frame.columns) == list(csv_frame.columns)
    assert xml_frame.dtypes.to_dict() == csv_frame.dtypes.to_dict()


def test_an_oioubl_debtor_in_full():
    row = read(UBL / "oioubl/official-examples/2.0.2/COMPAY_03_03_00_Invoice_v2p2.xml").iloc[0]
    assert (row["debtor_id"], row["debtor_national_id"]) == ("DK11223344", "11223344")
    assert (row["debtor_address_line1"], row["debtor_postcode"], row["debtor_city"], row["debtor_country"]) == (
        "Holsteinsgade 300", "2100", "København K", "DK")
    assert (row["debtor_email"], row["debtor_phone"]) == ("jenstroelsen@dls.dk", "+4526532150")


def test_our_own_invoice_in_full():
    row = read(UBL / "own/acme_invoice.xml", ACME).iloc[0]
    assert pd.isna(row["outcome"])
    assert (row["invoice_number"], row["amount_minor"], row["currency"]) == ("ACME-2026-0815", 1250000, "DKK")
    assert (row["debtor_id"], row["debtor_name"], row["debtor_national_id"]) == ("K-4711", "Jensen Tømrer ApS",
                                                                                 "29403473")
    assert (row["debtor_address_line1"], row["debtor_address_line2"], row["debtor_postcode"], row["debtor_city"],
            row["debtor_country"]) == ("Vestergade 12", "Baghuset", "8000", "Aarhus C", "DK")
    assert (row["debtor_email"], row["debtor_phone"]) == ("bogholderi@jensen-toemrer.dk", "+4586123456")


def test_name_falls_back_to_the_registration_name_and_no_due_date_is_bad_date():
    row = read(UBL / "peppol-bis3/examples/vat-category-O.xml").iloc[0]
    assert (row["invoice_number"], row["invoice_date"], row["amount_minor"], row["currency"]) == (
        "Vat-O", day("2018-08-30"), 320000, "SEK")
    assert row["debtor_name"] == "The Buyercompany"
    assert (row["outcome"], row["message"]) == ("BAD_DATE", "no due date in the document")


@pytest.mark.parametrize("name, number, credited, issued, amount, currency, debtor", [
    ("peppol-bis3/examples/base-creditnote-correction.xml", "Snippet1", "Snippet1", "2017-11-13", 165625, "EUR",
     "BuyerTradingName AS"),
    ("oioubl/official-examples/2.0.2/BASPRO_03_01_06_CreditNote_v2p2.xml", "A00095679", "A00095678", "2005-11-20",
     631250, "DKK", "Den Lille Skole"),
    ("oioubl/oioubl3-examples/OIOUBL3_CreditNote_billing_with_response_Example.xml", "202400095679",
     "202400095678", "2024-05-20", 631250, "DKK", "Customer A/S"),
])
def test_credit_notes_name_the_credited_invoice(name, number, credited, issued, amount, currency, debtor):
    row = read(UBL / name).iloc[0]
    assert (row["document_type"], row["invoice_number"], row["credited_invoice_number"]) == (
        "credit_note", number, credited)
    assert (row["invoice_date"], row["amount_minor"], row["currency"], row["debtor_name"]) == (
        day(issued), amount, currency, debtor)
    assert pd.isna(row["outcome"])


@pytest.mark.parametrize("name, kind", [
    ("oioubl/official-examples/2.0.2/BASPRO_04_01_08_Reminder_v2p2.xml", "Reminder"),
    ("oioubl/official-examples/2.0.2/StatementStor_v2p2.xml", "Statement"),
    ("oioubl/oioubl3-examples/OIOUBL3_InvoiceResponse_billing_with_response_Example.xml", "ApplicationResponse"),
    ("ubl21/examples/UBL-Reminder-2.1-Example.xml", "Reminder"),
    ("ubl21/examples/UBL-Statement-2.0-Example.xml", "Statement"),
])
def test_other_ubl_documents_are_unsupported(name, kind):
    with pytest.raises(FileRejected) as caught:
        read(UBL / name)
    assert caught.value.code == "UNSUPPORTED_DOCUMENT"
    assert caught.value.message == f"a UBL {kind} is not taken here; only Invoice and CreditNote"


@pytest.mark.parametrize("name", ["own/xxe_external_entity.xml", "own/billion_laughs.xml"])
def test_dtds_and_entities_are_rejected_before_any_parsing(name, monkeypatch):
    def no_parsing(*args, **kwargs):
        raise AssertionError("the file was handed to the XML parser")

    monkeypatch.setattr(ubl.etree, "iterparse", no_parsing)
    with pytest.raises(FileRejected) as caught:
        read(UBL / name, ACME)
    assert (caught.value.code, caught.value.message) == (
        "BAD_XML", "the file declares a DTD or entities, which are not accepted")


def test_a_doctype_across_two_read_chunks_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(parsers, "SCAN_CHUNK", 16)
    path = tmp_path / "split.xml"
    path.write_bytes(b'<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "http://example.com/x.dtd"><x/>')
    with pytest.raises(FileRejected) as caught:
        read(path)
    assert caught.value.code == "BAD_XML"


def test_a_utf16_doctype_is_found(tmp_path):
    path = tmp_path / "utf16.xml"
    path.write_bytes('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
                     .encode("utf-16"))
    with pytest.raises(FileRejected) as caught:
        read(path)
    assert caught.value.code == "BAD_XML"


def test_a_truncated_file_is_bad_xml_naming_the_line():
    with pytest.raises(FileRejected) as caught:
        read(UBL / "own/truncated_invoice.xml", ACME)
    assert caught.value.code == "BAD_XML"
    assert caught.value.message.startswith("the file is not well-formed XML: line 29, column ")


def test_empty_and_too_large_files(tmp_path):
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    with pytest.raises(FileRejected) as caught:
        read(empty)
    assert caught.value.code == "EMPTY_FILE"
    with pytest.raises(FileRejected) as caught:
        read(UBL / "own/acme_invoice.xml", ACME, max_bytes=100)
    assert caught.value.code == "FILE_TOO_LARGE"


def _wrapper(tmp_path, documents: int, note_bytes: int = 0) -> Path:
    """A wrapper of copies of our own invoice, the first with a note of ``note_bytes`` characters."""
    invoice = (UBL / "own/acme_invoice.xml").read_bytes().split(b"?>", 1)[1]
    big = invoice.replace(b"<cbc:IssueDate>", b"<cbc:Note>" + b"x" * note_bytes + b"</cbc:Note><cbc:IssueDate>", 1)
    path = tmp_path / "batch.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?>\n<Batch>' + big + invoice * (documents - 1) + b"</Batch>")
    return path


def test_a_wrapper_may_be_far_larger_than_the_document_limit(tmp_path):
    path = _wrapper(tmp_path, 400)
    assert path.stat().st_size > 1_000_000
    frames = list(read_ubl_invoices(path, ACME, "DKK", LIMIT, max_document_bytes=200_000))
    assert sum(len(frame) for frame in frames) == 400


def test_a_document_over_the_document_limit_rejects_the_file(tmp_path):
    path = _wrapper(tmp_path, 3, note_bytes=300_000)
    with pytest.raises(FileRejected) as caught:
        list(read_ubl_invoices(path, ACME, "DKK", LIMIT, max_document_bytes=200_000))
    assert (caught.value.code, caught.value.message) == (
        "FILE_TOO_LARGE", "document 1 of the file is larger than the limit of 200000 bytes for one document")


def test_a_text_node_over_the_parsers_10_mb_safety_limit_rejects_the_file(tmp_path):
    """huge_tree stays off (formats.md §1.2): one element of more than 10 MB of text (an embedded PDF of about
    7.5 MB in base64) is beyond lxml's limit, whatever the document limit."""
    path = _wrapper(tmp_path, 1, note_bytes=10_500_000)
    with pytest.raises(FileRejected) as caught:
        list(read_ubl_invoices(path, ACME, "DKK", LIMIT * 10, max_document_bytes=50 * 2**20))
    assert (caught.value.code, caught.value.message) == (
        "FILE_TOO_LARGE", "line 9: a value (an embedded attachment, say) or the nesting is beyond the XML "
                          "parser's safety limits (10 MB of text in one element)")


def test_the_document_limit_defaults_to_50_mb():
    assert ubl.DEFAULT_MAX_XML_DOCUMENT_BYTES == 50 * 1024 * 1024


def test_ubl_debtors_are_businesses_unless_the_creditor_says_otherwise():
    assert read(UBL / "own/acme_invoice.xml", ACME).loc[0, "debtor_type"] == "business"
    frames = read_ubl_invoices(UBL / "own/acme_invoice.xml", ACME, "DKK", LIMIT, layout=XmlLayout("consumer"))
    assert pd.concat(list(frames)).iloc[0]["debtor_type"] == "consumer"


def test_a_wrapper_without_invoices_is_unsupported(tmp_path):
    path = tmp_path / "wrapper.xml"
    path.write_bytes(b'<?xml version="1.0"?><Batch xmlns="urn:example"><Note>nothing</Note></Batch>')
    with pytest.raises(FileRejected) as caught:
        read(path)
    assert (caught.value.code, caught.value.message) == (
        "UNSUPPORTED_DOCUMENT", "the file holds no UBL Invoice or CreditNote")


def test_a_wrapper_gives_one_row_per_document_in_order():
    frame = read(UBL / "own/wrapper_four_documents.xml", ACME)
    assert frame["line"].tolist() == [1, 2, 3, 4]
    assert frame["invoice_number"].tolist() == ["ACME-2026-0901", "ACME-2026-0902", "OTHER-77", "ACME-CN-0901"]
    assert frame["document_type"].tolist() == ["invoice", "invoice", "invoice", "credit_note"]
    assert frame["amount_minor"].tolist() == [400000, 250050, 199995, 100000]
    assert frame["credited_invoice_number"].tolist() == ["", "", "", "ACME-2026-0901"]
    assert [None if pd.isna(o) else o for o in frame["outcome"]] == [None, "BAD_DATE", "WRONG_CREDITOR", None]
    assert frame.loc[2, "message"] == "the document's supplier is 25313763, not this creditor (13585628)"


def test_a_wrapper_is_read_in_batches_with_continuing_lines(monkeypatch):
    monkeypatch.setattr(ubl, "BATCH_DOCUMENTS", 3)
    frames = list(read_ubl_invoices(UBL / "own/wrapper_four_documents.xml", ACME, "DKK", LIMIT))
    assert [f["line"].tolist() for f in frames] == [[1, 2, 3], [4]]


def test_a_document_of_another_supplier_is_wrong_creditor():
    row = read(UBL / "own/acme_invoice.xml", "25313763").iloc[0]
    assert (row["outcome"], row["message"]) == (
        "WRONG_CREDITOR", "the document's supplier is 13585628, not this creditor (25313763)")


def test_a_supplier_id_whose_check_digit_fails_names_no_company():
    """The OIOUBL examples' supplier DK16356706 is made up (its CVR check digit fails): nothing to compare."""
    row = read(UBL / "oioubl/official-examples/2.0.2/BASPRO_01_01_00_Invoice_v2p2.xml", ACME).iloc[0]
    assert pd.isna(row["outcome"])


def test_a_supplier_without_a_nordic_id_is_not_checked():
    """base-example's supplier has only GB and foreign ids: nothing to compare, so no WRONG_CREDITOR."""
    assert pd.isna(read(UBL / "peppol-bis3/examples/base-example.xml", ACME).iloc[0]["outcome"])


@pytest.mark.parametrize("value, scheme, expected", [
    ("DK13585628", "", "13585628"), ("SE556036079301", "", "5560360793"), ("SE5560360793", "", "5560360793"),
    ("13585628", "0184", "13585628"), ("13585628", "GLN", ""), ("DKPRIVATE", "ZZZ", ""), ("DK12345", "", ""),
    ("GB983294", "", ""),
])
def test_nordic_ids(value, scheme, expected):
    assert ubl._nordic_id(value, scheme) == expected


@pytest.mark.parametrize("text, expected", [("1656.25", "1656.25"), ("6125.00", "6125"), ("+729", "729"),
                                            ("100.500", "100.5"), ("0.00", "0"), ("-12.10", "-12.1")])
def test_amount_text_is_normalised_without_floats(text, expected):
    assert ubl._amount(text) == expected
