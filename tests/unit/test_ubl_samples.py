"""Every Invoice and CreditNote among the public samples (tests/data/ubl, copied unchanged with
SOURCES.tsv) is read, or rejected with a specific reason: never an exception, never a silent row.

The invoice number and the payable amount are checked against the documents themselves, read
here independently with a plain XPath and Decimal."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from pipeline.parsers import FileRejected
from pipeline.parsers.ubl import read_ubl_invoices

SAMPLES = Path(__file__).parent.parent / "data" / "ubl"
NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
      "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
DOCUMENT_ROOTS = ("{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice",
                  "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote")
ROW_CODES = {"MISSING_FIELD", "BAD_DATE", "BAD_AMOUNT", "BAD_CURRENCY", "BAD_COUNTRY", "WRONG_CREDITOR"}


def _documents() -> list[Path]:
    return sorted(path for path in SAMPLES.rglob("*.xml") if not path.parts[-2] == "own"
                  and etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot().tag
                  in DOCUMENT_ROOTS)


DOCUMENTS = _documents()


def test_the_sample_set_holds_the_invoices_and_credit_notes_of_every_family():
    families = {path.relative_to(SAMPLES).parts[0] for path in DOCUMENTS}
    assert families == {"peppol-bis3", "oioubl", "ubl21"}
    assert len(DOCUMENTS) >= 60


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(SAMPLES)))
def test_each_sample_document_is_read_or_rejected_with_a_reason(path):
    root = etree.parse(str(path)).getroot()
    number = root.findtext("cbc:ID", namespaces=NS)
    payable = root.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS)
    try:
        frames = list(read_ubl_invoices(path, "", "DKK", 50 * 2**20))
    except FileRejected as rejection:
        assert rejection.code and rejection.message
        return
    (row,) = [row for frame in frames for row in frame.itertuples()]
    assert row.invoice_number == number
    assert row.currency == payable.get("currencyID")
    if row.outcome is None:
        assert row.amount_minor == int(Decimal(payable.text.strip()) * 100)
        assert row.document_type == ("credit_note" if root.tag.endswith("CreditNote") else "invoice")
    else:
        assert row.outcome in ROW_CODES and row.message
