"""ISO 20022 camt.053 and camt.054 (formats.md §2): every public sample (tests/data/iso20022, copied unchanged
with SOURCES.tsv) is read, or rejected with a specific code; what each payment says is checked against the
genkgo/camt parser's expected JSON where there is one, else against the XML itself, read here with plain
local-name XPath (not with the parser's code). Reversals, splits, pending entries and bad files are built here.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from pipeline.parsers import FileRejected
from pipeline.parsers.camt import read_camt
from pipeline.parsers.payments import Ignored, Payment

DATA = Path(__file__).parent.parent / "data" / "iso20022"
EXPECTED = DATA / "expected" / "genkgo-camt"
SAMPLES = sorted((DATA / "camt053").rglob("*.xml")) + sorted((DATA / "camt054").rglob("*.xml"))
LIMIT = 50 * 2**20
DEBIT = "debit entry (money out of the account)"
# every sample: (payments, entries left with a reason), or the code it is rejected with
OUTCOMES = {
    "camt053.v2.all-balance-types.xml": (1, 0),
    "camt053.v2.five.decimals.xml": (1, 0),
    "camt053.v2.minimal.ultimate.xml": (1, 0),
    "camt053.v2.minimal.xml": (1, 0),
    "camt053.v2.multi.statement.xml": (1, 1),
    "camt053.v2.with-account-name.xml": (1, 0),
    "camt053.v2.with-party-ids.xml": (1, 0),
    "camt053.v2.wrong.xml": "BAD_XML",  # a BkToCstmrStmt without its mandatory Stmt
    "camt053.v3.xml": (1, 0),
    "camt053.v4.xml": (1, 0),
    "camt053.v8.xml": (1, 0),
    "camt53.only-Dt-with-DtTm.xml": (0, 0),
    "FI_camt_053_sample.xml.xml": (6, 4),
    "camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml": (4, 1),
    "statement_1.xml": (0, 4),
    "camt054.v2.with-account-name.xml": (0, 1),
    "camt054.v2.xml": (0, 1),
    "camt054.v4.xml": (0, 1),
    "camt054.v8-with-UETR.xml": (0, 1),
    "camt054.v8-with-financial-institution.xml": (0, 1),
    "camt054.v8.xml": (0, 1),
    "200519_camt.054-Credit_P_CH2909000000250094239_1110092691_0_2019042421291293.xml": (1, 0),
    "200519_camt.054-Debit_P_CH2909000000250094239_1110092692_0_2019042401501580.xml": (0, 1),
    "200519_camt.054_P_CH2909000000250094239_1111091335_0_2020061900081727.xml": (2, 0),
    "200519_camt054-ESR-ASR_P_CH2909000000250094239_1110092704_0_2019042500372179.xml": (5, 1),
    "200519_camt054-chdd_p_ch2909000000250094239_1110097484_0_20190520700381159.xml": (2, 0),
    "200519_camt054-epo_p_ch5109000000250092291_1110097605_0_2019052003522556.xml": (0, 1),
    "200519_camt054-epo_p_ch5109000000250092291_1110097605_0_2019052103322231.xml": (0, 1),
    "200519_camt054-returns_p_ch2909000000250094239_1109800798_0_2019052023472022.xml": (1, 0),
    "200924_camt.054_P_CH2909000000250094239_1110092703_0_2019042423412214.xml": (6, 0),
    "200924_camt.054_P_CH2909000000250094239_1111091335_0_2020061900081727.xml": (2, 0),
    "FI_camt_054_sample.xml.xml": (6, 3),
    "camt054-returns_p_ch5109000000250092291_1110097606_0_2020112500512470.xml": (1, 0),
}
POSITION = re.compile(r"^(statement|notification) (\S+) entry (\d+)(?: detail (\d+))?$")


def sample(name: str) -> Path:
    (path,) = [path for path in SAMPLES if path.name == name]
    return path


def xpath(node, path: str) -> list:
    """The elements at ``A/B`` by local name, whatever the namespace: an independent read of the XML."""
    return node.xpath("/".join(f"*[local-name()='{step}']" for step in path.split("/")))


def xtext(node, path: str) -> str:
    found = xpath(node, path)
    return (found[0].text or "").strip() if found else ""


def statements(root) -> list:
    return root.xpath("//*[local-name()='Stmt' or local-name()='Ntfctn']")


def located(root, position: str):
    """(entry, detail or None) of the XML that a position string names."""
    _label, ident, entry, detail = POSITION.match(position).groups()
    (statement,) = [node for node in statements(root) if xtext(node, "Id") == ident]
    ntry = xpath(statement, "Ntry")[int(entry) - 1]
    return ntry, xpath(ntry, "NtryDtls/TxDtls")[int(detail) - 1] if detail else None


# --- the samples -------------------------------------------------------------------------------------------------

def test_sources_tsv_names_every_copied_file_with_its_checksum():
    with (DATA / "SOURCES.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    copied = {path.relative_to(DATA.parent).as_posix() for path in DATA.rglob("*") if path.is_file()}
    assert {row["local_file"] for row in rows} == copied - {"iso20022/SOURCES.tsv"}
    for row in rows:
        content = (DATA.parent / row["local_file"]).read_bytes()
        assert (hashlib.sha256(content).hexdigest(), len(content)) == (row["sha256"], int(row["bytes"]))
    assert {path.name for path in SAMPLES} == set(OUTCOMES)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.name)
def test_each_sample_is_read_entry_by_entry_or_rejected_with_its_code(path):
    outcome = OUTCOMES[path.name]
    if isinstance(outcome, str):
        with pytest.raises(FileRejected) as rejected:
            read_camt(path, LIMIT)
        assert rejected.value.code == outcome
        assert "holds no statement (BkToCstmrStmt/Stmt)" in rejected.value.message
        return
    root = etree.parse(str(path)).getroot()
    read = read_camt(path, LIMIT)
    assert read.source == re.search(r"camt\.05[34]", etree.QName(root).namespace)[0]
    assert read.account == (xtext(statements(root)[0], "Acct/Id/IBAN") or xtext(statements(root)[0], "Acct/Id/Othr/Id"))
    assert (len(read.payments), len(read.ignored)) == outcome
    positions = [item.position for item in read.payments + read.ignored]
    assert len(set(positions)) == len(positions)
    assert len({payment.key for payment in read.payments}) == len(read.payments)
    entries = {f"{'statement' if read.source == 'camt.053' else 'notification'} {xtext(node, 'Id')} entry {number}"
               for node in statements(root) for number in range(1, len(xpath(node, "Ntry")) + 1)}
    assert {position.partition(" detail ")[0] for position in positions} == entries
    for payment in read.payments:
        assert_as_in_the_xml(root, payment)


def assert_as_in_the_xml(root, payment: Payment) -> None:
    """Amount, currency, dates, references and payer as the XML states them (all sample payments are in EUR or
    CHF: two decimals)."""
    ntry, detail = located(root, payment.position)
    amount = xpath(ntry, "Amt")[0]
    if detail is not None:
        amount = (xpath(detail, "Amt") or xpath(detail, "AmtDtls/TxAmt/Amt"))[0]
    sign = -1 if xtext(ntry, "RvslInd") == "true" else 1
    assert (payment.amount_minor, payment.currency) == (sign * int(Decimal(amount.text) * 100), amount.get("Ccy"))
    assert payment.reversal is (sign == -1)
    booked = (xtext(ntry, "BookgDt/Dt") or xtext(ntry, "BookgDt/DtTm"))[:10]
    assert payment.booking_date == date.fromisoformat(booked)
    assert payment.value_date == date.fromisoformat((xtext(ntry, "ValDt/Dt") or booked)[:10])
    described = detail if detail is not None else (xpath(ntry, "NtryDtls/TxDtls") or [None])[0]
    if described is None:
        assert (payment.reference, payment.text, payment.payer_name) == ("", "", "")
        return
    assert payment.reference == xtext(described, "RmtInf/Strd/CdtrRefInf/Ref")
    assert payment.text == " ".join(node.text.strip() for node in xpath(described, "RmtInf/Ustrd"))
    assert payment.payer_name == (xtext(described, "RltdPties/Dbtr/Nm") or xtext(described, "RltdPties/Dbtr/Pty/Nm"))


def genkgo_cases() -> list[str]:
    """The samples with genkgo's expected JSON; multi.statement's JSON lists only its last statement's entry."""
    return sorted(path.name for path in EXPECTED.glob("*.json") if "multi.statement" not in path.name)


def genkgo_debtor(detail: dict) -> dict:
    parties = [party["getRelatedPartyType"] for party in detail["getRelatedParties"] if isinstance(party, dict)]
    return next((party for party in parties if party["__CLASS__"].endswith("\\Debtor")), {})


@pytest.mark.parametrize("expected", genkgo_cases())
def test_payments_are_what_genkgo_camt_expects(expected):
    entries = json.loads((EXPECTED / expected).read_text(encoding="utf-8"))["getEntries"]
    read = read_camt(sample(expected.removesuffix(".json") + ".xml"), LIMIT)
    credits = [entry for entry in entries if entry["getCreditDebitIndicator"] == "CRDT"]
    debits = [entry for entry in entries if entry["getCreditDebitIndicator"] == "DBIT"]
    assert len(read.payments) == len(credits)
    assert [item.reason for item in read.ignored] == [DEBIT] * len(debits)
    for payment, entry in zip(read.payments, credits):
        record, detail = entry["getRecord"], entry["getTransactionDetail"]
        remittance = detail["getRemittanceInformation"] or {}
        debtor = genkgo_debtor(detail)
        booked = entry["getBookingDate"]["0"][:10]
        assert read.account == record["getAccount"]["getIdentification"]
        assert payment.key == (entry["getAccountServicerReference"] or entry["getReference"]
                               or f"{record['getId']}/{entry['getIndex'] + 1}")
        assert (payment.amount_minor, payment.currency) == (int(entry["getAmount"]["getAmount"]),
                                                            entry["getAmount"]["getCurrency"]["getCode"])
        assert payment.booking_date == date.fromisoformat(booked)
        assert payment.value_date == date.fromisoformat((entry["getValueDate"] or {"0": booked})["0"][:10])
        assert payment.reference == ((remittance.get("getCreditorReferenceInformation") or {}).get("getRef") or "")
        assert payment.text == ((remittance.get("getUnstructuredBlock") or {}).get("getMessage") or "")
        assert payment.payer_name == (debtor.get("getName") or "")
        assert payment.payer_address == ", ".join((debtor.get("getAddress") or {}).get("getAddressLines") or [])
        assert payment.payer_id == ((debtor.get("getIdentification") or {}).get("getOtherId") or "")
        assert entry["getReversalIndicator"] is False
        assert payment.reversal is False


def test_a_payer_id_a_version_8_entry_and_a_missing_value_date_among_the_genkgo_samples():
    read = {name: read_camt(sample(name), LIMIT).payments[0]
            for name in ("camt053.v2.with-party-ids.xml", "camt053.v8.xml", "camt053.v2.with-account-name.xml")}
    assert read["camt053.v2.with-party-ids.xml"] == Payment(
        "253EURNL26VAYB8060476890/1", 885, "EUR", date(2015, 1, 2), date(2014, 12, 31), "4654654654654654", "",
        "NAME NAME", "ADDR ADDR 10, 2000 ANTWERPEN", "19121212-1212", False,
        "statement 253EURNL26VAYB8060476890 entry 1")
    # .001.08: Sts/Cd, BookgDt/DtTm (the bank's day, 13:15 at +01:00), Dbtr/Pty/Nm
    assert (read["camt053.v8.xml"].key, read["camt053.v8.xml"].booking_date, read["camt053.v8.xml"].payer_name) == (
        "AAAASESS-FP-CN_98765/01", date(2014, 12, 31), "NAME NAME")
    # no ValDt: the booking date is the value date
    assert (read["camt053.v2.with-account-name.xml"].value_date,
            read["camt053.v2.with-account-name.xml"].booking_date) == (date(2014, 12, 31), date(2014, 12, 31))


def test_a_file_of_two_statements_takes_the_credit_of_one_and_leaves_the_debit_of_the_other():
    path = sample("camt053.v2.multi.statement.xml")
    root = etree.parse(str(path)).getroot()
    first, second = statements(root)
    read = read_camt(path, LIMIT)
    assert [(p.key, p.amount_minor, p.text) for p in read.payments] == [
        (f"{xtext(first, 'Id')}/1", 885, xtext(first, "Ntry/NtryDtls/TxDtls/RmtInf/Ustrd"))]
    assert read.ignored == [Ignored(f"statement {xtext(second, 'Id')} entry 1", DEBIT)]
    assert xtext(second, "Ntry/CdtDbtInd") == "DBIT"


def test_the_finnish_statement_takes_six_credits_with_their_references_and_payers():
    read = read_camt(sample("FI_camt_053_sample.xml.xml"), LIMIT)
    assert [(p.key, p.amount_minor, p.value_date, p.reference, p.payer_name, p.payer_address)
            for p in read.payments] == [
        ("091029ACCTSTMTARCH04", 200000, date(2009, 10, 29), "", "", ""),  # lump sums FI_camt_054 details per payment
        ("091029ACCTSTMTARCH21", 50000, date(2009, 10, 29), "", "", ""),
        ("091029ACCTSTMTARCH05", 300000, date(2009, 10, 29), "", "", ""),
        ("091029ACCTSTMTARCH06", 212000, date(2009, 10, 30), "", "DEBTOR NAME", ""),
        ("091029ACCTSTMTARCH07", 545500, date(2009, 10, 29), "RF98123456789012", "PAYERS NAME2",
         "GOVERN STREET 22, 291092 LONDON"),
        ("091029ACCTSTMTARCH08", 1000000, date(2009, 10, 29), "RF98123456789012", "DEBTOR", "")]
    assert [item.position for item in read.ignored] == [f"statement BANKSTMTID0972009 entry {n}" for n in (1, 2, 3, 10)]
    assert {item.reason for item in read.ignored} == {DEBIT}


def test_a_repeated_account_servicer_reference_keeps_keys_unique_and_stable():
    path = sample("camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml")
    root = etree.parse(str(path)).getroot()
    assert [xtext(node, "AcctSvcrRef") for node in xpath(statements(root)[0], "Ntry")][3:] == ["07582000303KBMSU"] * 2
    first, second = (read_camt(path, LIMIT) for _ in range(2))
    assert [p.key for p in first.payments] == ["0758103031480900", "07582000303F0C7U", "07582000303KBMSU",
                                               "07582000303KBMSU@20201124375204229003973/5"]
    assert first.payments == second.payments
    assert [p.amount_minor for p in first.payments] == [450, 150000, 153700, 169222]


# --- batch entries split per transaction detail ---------------------------------------------------------------------

def test_a_batch_entry_is_split_into_one_payment_per_transaction_detail():
    path = sample("200519_camt054-ESR-ASR_P_CH2909000000250094239_1110092704_0_2019042500372179.xml")
    root = etree.parse(str(path)).getroot()
    batch = xpath(statements(root)[0], "Ntry")[0]
    details = xpath(batch, "NtryDtls/TxDtls")
    read = read_camt(path, LIMIT)
    assert [(p.key, p.amount_minor, p.reference) for p in read.payments] == [
        ("180315CH02ZX5RI3", 25000, "120000000000234478943216899"),
        ("180315CH02ZX5RI4", 20000, "120000000000234478943216899"),
        ("180315CH02ZX5RI5", 30000, "120000000000234478943216899"),
        ("180315CH02ZZ4OOX", 32400, "359335273113716998981168243"),
        ("180315CH02ZZ4OOY", 46300, "684388397169969395754931859")]
    assert [p.key for p in read.payments] == [xtext(detail, "Refs/AcctSvcrRef") for detail in details]
    assert sum(p.amount_minor for p in read.payments) == int(Decimal(xtext(batch, "Amt")) * 100) == 153700
    assert [p.position for p in read.payments] == [
        f"notification 20190424375204228750931 entry 1 detail {n}" for n in range(1, 6)]
    assert {(p.payer_name, p.payer_address, p.value_date, p.booking_date) for p in read.payments} == {
        ("Bernasconi Maria", "Place de la Gare 12, 2502 Biel/Bienne", date(2019, 4, 25), date(2019, 4, 24))}
    assert read.ignored == [Ignored("notification 20190424375204228750931 entry 2", DEBIT)]


def test_the_finnish_notification_splits_its_batches_and_leaves_the_entry_for_information_only():
    read = read_camt(sample("FI_camt_054_sample.xml.xml"), LIMIT)
    assert [(p.key, p.amount_minor, p.reference, p.text, p.payer_name, p.payer_id) for p in read.payments] == [
        ("D091029N987654321S001", 190000, "3900", "", "PAYERS NAME1", ""),  # its first Strd's reference
        ("D091029N987654321S002", 10000, "43216", "", "PAYERS NAME2", ""),
        ("D091029N987654321S211", 40000, "3900", "", "PAYERS NAME1", ""),
        ("D091029N987654321S212", 10000, "43216", "", "PAYERS NAME2", ""),
        ("D091029N123456789S001", 250000, "RF7812345", "", "AT-02 DEBTOR NAME 01", "AT-10ASDUNS"),
        ("D091029N123456789S002", 50000, "", "RFB/557742358", "AT-02 DEBTOR NAME 02", "AT-10ASEANG")]
    assert read.ignored == [
        Ignored("notification BANKFILEID00001NTR00001 entry 4", DEBIT),
        Ignored("notification BANKFILEID00001NTR00001 entry 5", DEBIT),
        Ignored("notification BANKFILEID00001NTR00001 entry 6", "status INFO: for information only, never booked")]


def test_a_returned_payment_notified_as_a_reversal_is_a_negative_reversal():
    read = read_camt(sample("camt054-returns_p_ch5109000000250092291_1110097606_0_2020112500512470.xml"), LIMIT)
    assert read.payments == [Payment(
        "075820002ZZTJR1K", -50000, "CHF", date(2020, 11, 24), date(2020, 11, 24), "", "Kontouebertrag",
        "Robert Schneider SA", "Rue du Lac 177, 2503 Biel/Bienne", "", True,
        "notification 20201124375204228763930 entry 1")]


def test_a_debit_notification_is_left_as_a_debit():
    read = read_camt(sample("200519_camt.054-Debit_P_CH2909000000250094239_1110092692_0_2019042401501580.xml"), LIMIT)
    assert (read.source, read.account, read.payments) == ("camt.054", "CH2909000000250094239", [])
    assert read.ignored == [Ignored("notification 20190424375204222704047 entry 1", DEBIT)]


# --- files built here ----------------------------------------------------------------------------------------------

def ntry(amount: str = "100.00", *, ccy: str = "DKK", cdi: str = "CRDT", status: str = "<Sts>BOOK</Sts>",
         refs: str = "", reversal: str = "", details: str = "",
         dates: str = "<BookgDt><Dt>2026-11-02</Dt></BookgDt><ValDt><Dt>2026-11-03</Dt></ValDt>") -> str:
    """One entry (``Ntry``) of a camt.053 statement."""
    rvsl = f"<RvslInd>{reversal}</RvslInd>" if reversal else ""
    ntry_dtls = f"<NtryDtls>{details}</NtryDtls>" if details else ""
    return (f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{cdi}</CdtDbtInd>{rvsl}{status}{dates}{refs}'
            f"<BkTxCd/>{ntry_dtls}</Ntry>")


def tx(amount: str = "", *, ccy: str = "DKK", inner: str = "") -> str:
    amt = f'<Amt Ccy="{ccy}">{amount}</Amt>' if amount else ""
    return f"<TxDtls>{amt}{inner}</TxDtls>"


def stmt(*entries: str, ident: str = "S1", iban: str = "DK5000400440116243") -> str:
    return (f"<Stmt><Id>{ident}</Id><CreDtTm>2026-11-03T06:00:00</CreDtTm><Acct><Id><IBAN>{iban}</IBAN></Id></Acct>"
            f"{''.join(entries)}</Stmt>")


def camt053(tmp_path, *statements_xml: str, version: str = "02", name: str = "camt.xml") -> Path:
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:'
                    f'camt.053.001.{version}"><BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr>'
                    f"{''.join(statements_xml)}</BkToCstmrStmt></Document>", encoding="utf-8")
    return path


def rejected(path: Path) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        read_camt(path, LIMIT)
    return caught.value


def test_a_reversed_credit_booked_as_a_debit_is_a_negative_reversal_and_a_plain_debit_is_left(tmp_path):
    path = camt053(tmp_path, stmt(
        ntry("250.00", refs="<AcctSvcrRef>PAY-1</AcctSvcrRef>"),
        ntry("250.00", cdi="DBIT", reversal="true", refs="<AcctSvcrRef>REV-1</AcctSvcrRef>",
             details=tx(inner="<RmtInf><Strd><CdtrRefInf><Ref>+71&lt;000000012345678+12345678&lt;</Ref></CdtrRefInf>"
                              "</Strd></RmtInf>")),
        ntry("80.00", cdi="DBIT", reversal="false", refs="<AcctSvcrRef>OUT-1</AcctSvcrRef>")))
    read = read_camt(path, LIMIT)
    assert [(p.key, p.amount_minor, p.reversal, p.reference) for p in read.payments] == [
        ("PAY-1", 25000, False, ""), ("REV-1", -25000, True, "+71<000000012345678+12345678<")]
    assert read.ignored == [Ignored("statement S1 entry 3", DEBIT)]


def test_entries_not_booked_are_left_with_the_status_as_reason(tmp_path):
    path = camt053(tmp_path, stmt(ntry(status="<Sts>PDNG</Sts>"), ntry(status="<Sts>INFO</Sts>"),
                                  ntry(status="<Sts>FUTR</Sts>"), ntry(status="")))
    assert [(item.position, item.reason) for item in read_camt(path, LIMIT).ignored] == [
        ("statement S1 entry 1", "status PDNG: pending, not booked yet"),
        ("statement S1 entry 2", "status INFO: for information only, never booked"),
        ("statement S1 entry 3", "status FUTR: not booked"),
        ("statement S1 entry 4", "no status (Sts)")]


def test_version_8_status_code_party_and_structured_address(tmp_path):
    payer = ("<RltdPties><Dbtr><Pty><Nm>Sven Svensson</Nm><PstlAdr><StrtNm>Storgatan</StrtNm><BldgNb>1</BldgNb>"
             "<PstCd>111 22</PstCd><TwnNm>Stockholm</TwnNm><Ctry>SE</Ctry></PstlAdr><Id><OrgId><Othr>"
             "<Id>5560360793</Id></Othr></OrgId></Id></Pty></Dbtr></RltdPties>")
    path = camt053(tmp_path, stmt(
        ntry("1250.00", ccy="SEK", status="<Sts><Cd>BOOK</Cd></Sts>",
             dates="<BookgDt><DtTm>2026-11-02T23:30:00+01:00</DtTm></BookgDt>", details=tx(inner=payer)),
        ntry(status="<Sts><Cd>PDNG</Cd></Sts>")), version="08")
    read = read_camt(path, LIMIT)
    assert read.payments == [Payment("S1/1", 125000, "SEK", date(2026, 11, 2), date(2026, 11, 2), "", "",
                                     "Sven Svensson", "Storgatan 1, 111 22 Stockholm", "5560360793", False,
                                     "statement S1 entry 1")]
    assert read.ignored == [Ignored("statement S1 entry 2", "status PDNG: pending, not booked yet")]


def test_the_key_falls_back_from_account_servicer_reference_to_entry_reference_to_the_position(tmp_path):
    two = tx("60.00", inner="<Refs><AcctSvcrRef>TX-A</AcctSvcrRef></Refs>") + tx("40.00")
    path = camt053(tmp_path, stmt(
        ntry(refs="<NtryRef>NREF-1</NtryRef><AcctSvcrRef>ASR-1</AcctSvcrRef>"),
        ntry(refs="<NtryRef>NREF-2</NtryRef>"),
        ntry(),
        ntry(refs="<AcctSvcrRef>ASR-4</AcctSvcrRef>", details=two),
        ntry(details=two.replace("TX-A", "TX-B"))))
    assert [(p.key, p.position) for p in read_camt(path, LIMIT).payments] == [
        ("ASR-1", "statement S1 entry 1"), ("NREF-2", "statement S1 entry 2"), ("S1/3", "statement S1 entry 3"),
        ("TX-A", "statement S1 entry 4 detail 1"), ("ASR-4/2", "statement S1 entry 4 detail 2"),
        ("TX-B", "statement S1 entry 5 detail 1"), ("S1/5/2", "statement S1 entry 5 detail 2")]


def test_remittance_information_several_unstructured_lines_and_the_old_creditor_reference(tmp_path):
    inner = ("<RmtInf><Ustrd>Faktura 17</Ustrd><Ustrd> og 18 </Ustrd><Strd><CdtrRefInf><CdtrRef>RF18539007547034"
             "</CdtrRef></CdtrRefInf></Strd></RmtInf>")
    path = camt053(tmp_path, stmt(ntry(details=tx(inner=inner))))
    (payment,) = read_camt(path, LIMIT).payments
    assert (payment.reference, payment.text) == ("RF18539007547034", "Faktura 17 og 18")


def test_a_fee_netted_in_a_credit_batch_is_left_and_the_rest_split(tmp_path):
    fee = tx("5.00", inner="<CdtDbtInd>DBIT</CdtDbtInd>")
    path = camt053(tmp_path, stmt(ntry("95.00", refs="<AcctSvcrRef>B1</AcctSvcrRef>",
                                       details=tx("60.00") + tx("40.00", inner="<CdtDbtInd>CRDT</CdtDbtInd>") + fee)))
    read = read_camt(path, LIMIT)
    assert [(p.key, p.amount_minor) for p in read.payments] == [("B1/1", 6000), ("B1/2", 4000)]
    assert read.ignored == [Ignored("statement S1 entry 1 detail 3",
                                    "detail booked DBIT inside a CRDT batch entry: netted against it, not a payment")]


def test_a_file_is_streamed_entry_by_entry(tmp_path):
    entries = [ntry(f"{n}.00", refs=f"<AcctSvcrRef>R{n}</AcctSvcrRef>") for n in range(1, 5001)]
    read = read_camt(camt053(tmp_path, stmt(*entries[:2500], ident="A"), stmt(*entries[2500:], ident="B")), LIMIT)
    assert len(read.payments) == 5000
    assert (read.payments[0].key, read.payments[2500].position) == ("R1", "statement B entry 1")
    assert sum(p.amount_minor for p in read.payments) == 100 * 5000 * 5001 // 2


@pytest.mark.parametrize("amount, minor", [("18.150", 1815), ("0.5", 50), ("1000000", 100000000)])
def test_amounts_are_exact_whatever_trailing_zeros(tmp_path, amount, minor):
    (payment,) = read_camt(camt053(tmp_path, stmt(ntry(amount, ccy="EUR"))), LIMIT).payments
    assert (payment.amount_minor, payment.currency) == (minor, "EUR")


# --- files rejected whole -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("entries, code, message", [
    (ntry("8.851", ccy="EUR"), "BAD_AMOUNT", "statement S1 entry 1: '8.851' is not an amount in EUR"),
    (ntry("12.5", ccy="JPY"), "BAD_AMOUNT", "statement S1 entry 1: '12.5' is not an amount in JPY"),
    (ntry("1,00"), "BAD_AMOUNT", "statement S1 entry 1: '1,00' is not an amount in DKK"),
    (ntry(ccy="XXY"), "BAD_CURRENCY", "statement S1 entry 1: 'XXY' is not an ISO 4217 currency"),
    (ntry("100.00", details=tx("60.00") + tx("30.00")), "BAD_AMOUNT",
     "statement S1 entry 1: the details net to 90.00 DKK, the entry is 100.00 DKK"),
    (ntry("100.00", details=tx("60.00") + tx()), "BAD_AMOUNT",
     "statement S1 entry 1 detail 2: no amount (Amt or AmtDtls/TxAmt/Amt), so the batch entry cannot be split"),
    (ntry("100.00", details=tx("60.00") + tx("40.00", ccy="EUR")), "BAD_CURRENCY",
     "statement S1 entry 1 detail 2: the amount is in EUR, the entry in DKK"),
    (ntry(dates=""), "BAD_DATE", "statement S1 entry 1: neither a value date (ValDt) nor a booking date (BookgDt)"),
    (ntry(dates="<ValDt><Dt>2026-02-30</Dt></ValDt>"), "BAD_DATE", "statement S1 entry 1: ValDt '2026-02-30' is not"),
    (ntry(cdi="CRED"), "BAD_XML", "statement S1 entry 1: CdtDbtInd 'CRED' is neither CRDT nor DBIT"),
])
def test_an_entry_that_cannot_be_read_exactly_rejects_the_file(tmp_path, entries, code, message):
    failure = rejected(camt053(tmp_path, stmt(entries)))
    assert (failure.code, failure.message[:len(message)]) == (code, message)


def test_a_doctype_is_rejected_before_parsing(tmp_path):
    path = tmp_path / "xxe.xml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>&x;'
                    "</BkToCstmrStmt></Document>", encoding="utf-8")
    failure = rejected(path)
    assert (failure.code, failure.message) == ("BAD_XML", "the file declares a DTD or entities, which are not accepted")


@pytest.mark.parametrize("content, code, message", [
    (b"%PDF-1.4 not a bank file", "BAD_XML", "the file is not well-formed XML: line 1, column 1: Start tag expected"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>', "BAD_XML",
     "the file is not well-formed XML: line 1"),
    (b"", "EMPTY_FILE", "the file is empty"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"><BkToCstmrAcctRpt/></Document>',
     "UNSUPPORTED_DOCUMENT", "not an ISO 20022 camt.053 or camt.054 message: the root element is Document in "
                             "namespace urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"),
    (b"<Invoice><ID>1</ID></Invoice>", "UNSUPPORTED_DOCUMENT",
     "not an ISO 20022 camt.053 or camt.054 message: the root element is Invoice in namespace (none)"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.10"><BkToCstmrStmt/></Document>',
     "UNSUPPORTED_DOCUMENT", "camt.053.001.10 is not a version we read (.001.02 to .001.08)"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04"><BkToCstmrDbtCdtNtfctn><GrpHdr/>'
     b"</BkToCstmrDbtCdtNtfctn></Document>", "BAD_XML",
     "the camt.054 message holds no notification (BkToCstmrDbtCdtNtfctn/Ntfctn)"),
])
def test_a_file_that_is_not_a_camt_053_or_054_message_is_rejected(tmp_path, content, code, message):
    path = tmp_path / "bank.xml"
    path.write_bytes(content)
    failure = rejected(path)
    assert (failure.code, failure.message[:len(message)]) == (code, message)


def test_statements_must_be_distinct_of_one_account_and_name_it(tmp_path):
    twice = rejected(camt053(tmp_path, stmt(ntry()), stmt(ntry()), name="twice.xml"))
    assert (twice.code, twice.message) == ("DUPLICATE_STATEMENT", "statement S1 appears more than once in the file")
    two_accounts = rejected(camt053(tmp_path, stmt(ntry()), stmt(ident="S2", iban="SE4550000000058398257466"),
                                    name="accounts.xml"))
    assert (two_accounts.code, two_accounts.message) == (
        "UNSUPPORTED_DOCUMENT",
        "statement S2 is of account SE4550000000058398257466, an earlier one of DK5000400440116243: "
        "one account per file")
    nameless = rejected(camt053(tmp_path, stmt(ntry()).replace("<IBAN>DK5000400440116243</IBAN>", ""), name="n.xml"))
    assert (nameless.code, nameless.message) == (
        "BAD_XML", "statement S1 names no account (Acct/Id/IBAN or Acct/Id/Othr/Id)")


def test_a_key_that_stays_taken_after_adding_the_place_rejects_the_file(tmp_path):
    path = camt053(tmp_path, stmt(ntry(refs="<AcctSvcrRef>K@S1/3</AcctSvcrRef>"),
                                  ntry(refs="<AcctSvcrRef>K</AcctSvcrRef>"), ntry(refs="<AcctSvcrRef>K</AcctSvcrRef>")))
    failure = rejected(path)
    assert (failure.code, failure.message) == (
        "DUPLICATE_KEY", "statement S1 entry 3: the payment key 'K@S1/3' is taken twice in the file")
