"""The invoice XML of formats.md §1.2: UBL 2.1 ``Invoice`` and ``CreditNote`` (PEPPOL BIS Billing 3.0,
OIOUBL 2.x and 3), bytes in, typed batches out, streamed.

Each document becomes one row of canonical text columns (dates ISO, amounts with a ``.`` decimal), which
`rows.RowConverter` converts exactly as it converts a CSV row, so every value is judged the same way
whatever format it came in. ``line`` is the document's position in the file: 1 for a file holding one
document, 1..n for a wrapper holding several.

The XML is untrusted. A file declaring a DTD or an entity is rejected before any parser sees it (a
DOCTYPE is the carrier of XXE and of entity expansion bombs, and no UBL document needs one); the parser
is additionally configured to load no DTD, resolve no entity, use no network and refuse huge trees.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
from lxml import etree
from stdnum.dk import cvr
from stdnum.se import orgnr

from pipeline.config import CANONICAL_COLUMNS, DEFAULT_MAX_XML_DOCUMENT_BYTES, CsvLayout, XmlLayout
from pipeline.parsers import FileRejected, check_size, refuse_declarations
from pipeline.parsers.rows import RowConverter

UBL_DOCUMENT_NS = re.compile(r"^urn:oasis:names:specification:ubl:schema:xsd:(?P<name>[A-Za-z]+)-2$")
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
DOCUMENTS = {f"{{{INVOICE_NS}}}Invoice": "invoice", f"{{{CREDIT_NOTE_NS}}}CreditNote": "credit_note"}
NS = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
      "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
BATCH_DOCUMENTS = 10_000
# identifier schemes (OIOUBL names, ISO 6523 ICDs) whose values are Danish CVR/SE or Swedish organisationsnummer
NORDIC_SCHEMES = {"DK:CVR", "DK:SE", "SE:ORGNR", "0184", "0198", "0007", "9902", "9955"}
ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$")


def read_ubl_invoices(path: Path, creditor_legal_id: str, default_currency: str, max_bytes: int, *,
                      layout: XmlLayout = XmlLayout(),
                      max_document_bytes: int = DEFAULT_MAX_XML_DOCUMENT_BYTES) -> Iterator[pd.DataFrame]:
    """Yield typed batches, one row per Invoice/CreditNote; raise FileRejected for a file-level problem.

    The frames have exactly the columns `invoice_csv.read_invoice_csv` yields. A document whose supplier
    is known to be another company than the creditor (``creditor_legal_id``: CVR or organisationsnummer)
    is marked WRONG_CREDITOR. ``max_bytes`` limits the file, ``max_document_bytes`` each document in it
    (one document's tree is held in memory; a wrapper streams, so it may hold many small documents).
    """
    check_size(path, max_bytes)
    refuse_declarations(path)
    converter = RowConverter(CsvLayout(), default_currency)
    records: list[dict] = []
    line = 1
    for record in _documents(path, _compact(creditor_legal_id), layout.debtor_type, max_document_bytes):
        records.append(record)
        if len(records) == BATCH_DOCUMENTS:
            yield converter.convert(_table(records), line)
            line += len(records)
            records = []
    if records:
        yield converter.convert(_table(records), line)


class _CountingReader:
    """A binary file that counts the bytes the parser has read (how far into the file a document reaches)."""

    def __init__(self, raw):
        self.raw = raw
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.position += len(data)
        return data


def _documents(path: Path, creditor_legal_id: str, debtor_type: str, max_document_bytes: int) -> Iterator[dict]:
    """The text record of every Invoice/CreditNote in the file, in order, each element freed after use."""
    parser_options = dict(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                          dtd_validation=False, remove_comments=True, remove_pis=True)
    depth = 0  # open Invoice/CreditNote elements: one nested inside a document is not a document of the file
    found = 0
    started = 0  # bytes the parser had read when the current document started
    try:
        with path.open("rb") as raw:
            reader = _CountingReader(raw)
            for event, elem in etree.iterparse(reader, events=("start", "end"), **parser_options):
                if depth and reader.position - started > max_document_bytes:
                    raise FileRejected("FILE_TOO_LARGE", f"document {found + 1} of the file is larger than the "
                                                         f"limit of {max_document_bytes} bytes for one document")
                if not isinstance(elem.tag, str):
                    continue
                kind = DOCUMENTS.get(elem.tag)
                if event == "start":
                    if kind:
                        depth += 1
                        started = reader.position if depth == 1 else started
                    elif depth == 0:
                        _refuse_other_document(elem.tag)
                    continue
                if kind:
                    depth -= 1
                    if depth == 0:
                        found += 1
                        yield _record(elem, kind, creditor_legal_id, debtor_type)
                        _free(elem)
                elif depth == 0 and elem.getparent() is not None:
                    _free(elem)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        if "Resource limit exceeded" in exc.msg:  # huge_tree is off: a text node over 10 MB, or nesting too deep
            raise FileRejected("FILE_TOO_LARGE", f"line {line}: a value (an embedded attachment, say) or the "
                                                 "nesting is beyond the XML parser's safety limits (10 MB of text "
                                                 "in one element)") from None
        problem = re.sub(r", line \d+, column \d+$", "", exc.msg)
        raise FileRejected("BAD_XML", f"the file is not well-formed XML: line {line}, column {column}: {problem}") from None
    if found == 0:
        raise FileRejected("UNSUPPORTED_DOCUMENT", "the file holds no UBL Invoice or CreditNote")


def _refuse_other_document(tag: str) -> None:
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    match = UBL_DOCUMENT_NS.match(namespace)
    if match and match["name"] == local:
        raise FileRejected("UNSUPPORTED_DOCUMENT", f"a UBL {local} is not taken here; only Invoice and CreditNote")


def _free(elem) -> None:
    elem.clear()
    while elem.getprevious() is not None:
        del elem.getparent()[0]


def _record(doc, kind: str, creditor_legal_id: str, debtor_type: str) -> dict:
    customer = doc.find("cac:AccountingCustomerParty/cac:Party", NS)
    party = _Party(customer)
    legal_id, scheme = party.legal_id()
    payable = doc.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS)
    due = _date(_first(doc, "cbc:DueDate", "cac:PaymentMeans/cbc:PaymentDueDate",
                       "cac:PaymentTerms/cbc:PaymentDueDate", "cac:PaymentTerms/cac:SettlementPeriod/cbc:EndDate"))
    record = {
        "invoice_number": _text(doc, "cbc:ID"),
        "document_type": kind,
        "credited_invoice_number": _text(doc, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID")
        if kind == "credit_note" else "",
        "invoice_date": _date(_text(doc, "cbc:IssueDate")),
        "due_date": due,
        "amount": _amount(payable.text if payable is not None else ""),
        "currency": (payable.get("currencyID") or "").strip() if payable is not None else "",
        "debtor_id": party.text("cac:PartyIdentification/cbc:ID") or party.text("cbc:EndpointID") or legal_id,
        "debtor_type": debtor_type,
        "debtor_name": party.text("cac:PartyName/cbc:Name") or party.text("cac:PartyLegalEntity/cbc:RegistrationName"),
        "debtor_national_id": _nordic_id(legal_id, scheme),
        **party.address(),
        "debtor_email": party.text("cac:Contact/cbc:ElectronicMail"),
        "debtor_phone": party.text("cac:Contact/cbc:Telephone"),
        "_outcome": None,
        "_message": None,
    }
    supplier = _supplier_ids(doc.find("cac:AccountingSupplierParty/cac:Party", NS))
    if creditor_legal_id and supplier and creditor_legal_id not in supplier:
        record["_outcome"] = "WRONG_CREDITOR"
        record["_message"] = (f"the document's supplier is {', '.join(sorted(supplier))}, "
                              f"not this creditor ({creditor_legal_id})")
    elif kind == "invoice" and not due:
        record["_outcome"] = "BAD_DATE"
        record["_message"] = "no due date in the document"
    return record


class _Party:
    def __init__(self, elem):
        self.elem = elem

    def text(self, path: str) -> str:
        return _text(self.elem, path) if self.elem is not None else ""

    def legal_id(self) -> tuple[str, str]:
        """(compacted CompanyID of the legal entity, else of the tax scheme; its schemeID)."""
        for path in ("cac:PartyLegalEntity/cbc:CompanyID", "cac:PartyTaxScheme/cbc:CompanyID"):
            found = self.elem.find(path, NS) if self.elem is not None else None
            if found is not None and _compact(found.text or ""):
                return _compact(found.text), (found.get("schemeID") or "").strip().upper()
        return "", ""

    def address(self) -> dict:
        street = " ".join(filter(None, (self.text("cac:PostalAddress/cbc:StreetName"),
                                        self.text("cac:PostalAddress/cbc:BuildingNumber"))))
        return {"debtor_address_line1": street or self.text("cac:PostalAddress/cac:AddressLine/cbc:Line"),
                "debtor_address_line2": self.text("cac:PostalAddress/cbc:AdditionalStreetName"),
                "debtor_postcode": self.text("cac:PostalAddress/cbc:PostalZone"),
                "debtor_city": self.text("cac:PostalAddress/cbc:CityName"),
                "debtor_country": self.text("cac:PostalAddress/cac:Country/cbc:IdentificationCode")}


def _supplier_ids(party) -> set[str]:
    """The supplier's CVR / organisationsnummer as far as the document states it (empty when it does not)."""
    if party is None:
        return set()
    found = set()
    for path in ("cac:PartyLegalEntity/cbc:CompanyID", "cac:PartyTaxScheme/cbc:CompanyID", "cbc:EndpointID"):
        for elem in party.findall(path, NS):
            scheme = (elem.get("schemeID") or "").strip().upper()
            if path == "cbc:EndpointID" and scheme not in NORDIC_SCHEMES:
                continue
            nordic = _checked(_nordic_id(_compact(elem.text or ""), scheme))
            if nordic:
                found.add(nordic)
    return found


def _nordic_id(value: str, scheme: str) -> str:
    """A Danish CVR/SE number (8 digits) or Swedish organisationsnummer (10 digits), else "".

    The country prefix and the Swedish VAT suffix go: ``SE556036079301`` is the VAT number of
    organisationsnummer 5560360793. An unprefixed value counts only under a Danish/Swedish scheme (a Swiss
    UID or a GLN is no CVR); placeholders such as ``DK-PRIVATE`` or ``DK12345`` are no id at all."""
    prefix, digits = value[:2], value[2:]
    if prefix == "SE" and len(digits) == 12 and digits.endswith("01"):
        digits = digits[:10]
    if prefix in ("DK", "SE") and digits.isdigit() and len(digits) == {"DK": 8, "SE": 10}[prefix]:
        return digits
    if value.isdigit() and len(value) in (8, 10) and scheme in NORDIC_SCHEMES:
        return value
    return ""


def _checked(digits: str) -> str:
    """A supplier id only when its check digit holds (python-stdnum): one that fails names no company
    (the made-up suppliers of the OIOUBL examples), so it cannot make a document WRONG_CREDITOR."""
    valid = bool(digits) and (cvr.is_valid(digits) if len(digits) == 8 else orgnr.is_valid(digits))
    return digits if valid else ""


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value).upper()


def _first(elem, *paths: str) -> str:
    for path in paths:
        value = _text(elem, path)
        if value:
            return value
    return ""


def _text(elem, path: str) -> str:
    found = elem.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def _date(value: str) -> str:
    """xsd:date may carry a time zone (``2017-11-13Z``); the claim's date is the calendar date."""
    match = ISO_DATE.match(value)
    return match.group(1) if match else value


def _amount(value: str) -> str:
    """xsd:decimal as the converter reads it: no ``+``, no trailing zeros beyond the value (``100.500``)."""
    value = value.strip().lstrip("+")
    if re.fullmatch(r"-?\d*\.\d*", value):
        value = value.rstrip("0").rstrip(".") or "0"
    return value


def _table(records: list[dict]) -> pa.Table:
    columns = {name: pa.array([r.get(name, "") for r in records], pa.string()) for name in CANONICAL_COLUMNS}
    columns["_outcome"] = pa.array([r["_outcome"] for r in records], pa.string())
    columns["_message"] = pa.array([r["_message"] for r in records], pa.string())
    return pa.table(columns)
