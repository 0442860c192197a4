"""The bank's files through the intake (`pipeline.stages.reconcile`): every payment stored once by the bank's
own key, on SQLite and PostgreSQL, whatever file told us of it."""
from __future__ import annotations

from datetime import date
from xml.sax.saxutils import escape

from sqlalchemy import select

from pipeline.ledger import open_ledger
from pipeline.ledger.schema import bank_entries_left, ingested_files, payments
from pipeline.stages.reconcile import take_bank_files
from tests.conftest import AS_OF, DATA

CAMT = "urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.{version}"
BGMAX = DATA / "bgmax" / "fabhed-bgmax-parser" / \
    "bankgiroinbetalningar_exempelfil_avtal-om-ocr-kontroll_checksiffra_langd_sv.txt"


def entry(ref: str, amount: str, reference: str = "", indicator: str = "CRDT", payer: str = "Jens Hansen",
          text: str = "", reversal: bool = False, value_date: str = "2026-11-24") -> str:
    remittance = (f"<Ustrd>{escape(text)}</Ustrd>" if text else "") + (
        f"<Strd><CdtrRefInf><Ref>{escape(reference)}</Ref></CdtrRefInf></Strd>" if reference else "")
    return f"""<Ntry><NtryRef>{ref}</NtryRef><Amt Ccy="DKK">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>
      {'<RvslInd>true</RvslInd>' if reversal else ''}
      <Sts>BOOK</Sts><BookgDt><Dt>2026-11-25</Dt></BookgDt><ValDt><Dt>{value_date}</Dt></ValDt>
      <AcctSvcrRef>BANK-{ref}</AcctSvcrRef><BkTxCd/>
      <NtryDtls><TxDtls><Refs><AcctSvcrRef>BANK-{ref}</AcctSvcrRef></Refs>
        <RltdPties><Dbtr><Nm>{escape(payer)}</Nm></Dbtr></RltdPties>
        <RmtInf>{remittance}</RmtInf></TxDtls></NtryDtls></Ntry>"""


def camt(kind: str, statement_id: str, *entries: str) -> str:
    root, record = ("BkToCstmrStmt", "Stmt") if kind == "053" else ("BkToCstmrDbtCdtNtfctn", "Ntfctn")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{CAMT.format(kind=kind, version='02')}"><{root}>
  <GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>2026-11-25T06:00:00</CreDtTm></GrpHdr>
  <{record}><Id>{statement_id}</Id><CreDtTm>2026-11-25T06:00:00</CreDtTm>
    <Acct><Id><IBAN>DK5000400440116243</IBAN></Id><Ccy>DKK</Ccy></Acct>
    {''.join(entries)}
  </{record}></{root}></Document>"""


def drop_bank(settings, name: str, content: str | bytes) -> None:
    path = settings.home / "bank" / "inbox" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)


def stored(settings) -> list[tuple]:
    engine = open_ledger(settings)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(
                select(payments.c.scheme, payments.c.bank_key, payments.c.source, payments.c.amount_minor,
                       payments.c.value_date, payments.c.reference, payments.c.payer_name, payments.c.reversal)
                .order_by(payments.c.id))]
    finally:
        engine.dispose()


def test_a_statement_stores_its_credits_and_keeps_what_it_left_with_the_reason(settings):
    drop_bank(settings, "stmt1.xml", camt("053", "S1", entry("E1", "1250.50", "+71<000000100000017+85382016<"),
                                          entry("E2", "99.00", indicator="DBIT")))
    [taken] = take_bank_files(settings, AS_OF, "bank-1", settle_seconds=0)
    assert taken.record.status != "REJECTED"
    assert stored(settings) == [("iso20022", "BANK-E1", "camt053", 125050, date(2026, 11, 24),
                                 "+71<000000100000017+85382016<", "Jens Hansen", False)]
    engine = open_ledger(settings)
    with engine.connect() as conn:
        [(kind, rows, taken_rows)] = conn.execute(select(ingested_files.c.kind, ingested_files.c.rows_total,
                                                         ingested_files.c.rows_accepted)).all()
        left = conn.execute(select(bank_entries_left.c.reason)).scalars().all()
    engine.dispose()
    assert (kind, rows, taken_rows) == ("bank_payments", 2, 1)
    assert len(left) == 1 and "debit" in left[0]


def test_overlapping_statements_and_a_notification_of_the_same_payment_add_nothing(settings):
    drop_bank(settings, "stmt1.xml", camt("053", "S1", entry("E1", "100.00"), entry("E2", "200.00")))
    take_bank_files(settings, AS_OF, "bank-1", settle_seconds=0)
    drop_bank(settings, "stmt2.xml", camt("053", "S2", entry("E2", "200.00"), entry("E3", "300.00")))
    drop_bank(settings, "note.xml", camt("054", "N1", entry("E3", "300.00")))
    drop_bank(settings, "stmt1-again.xml", camt("053", "S1", entry("E1", "100.00"), entry("E2", "200.00")))
    take_bank_files(settings, AS_OF, "bank-2", settle_seconds=0)
    assert [(key, source, amount) for _, key, source, amount, *_ in stored(settings)] == [
        ("BANK-E1", "camt053", 10000), ("BANK-E2", "camt053", 20000), ("BANK-E3", "camt053", 30000)]


def test_a_bgmax_file_with_its_line_breaks_removed_adds_nothing_the_first_did_not(settings):
    take = BGMAX.read_bytes()
    drop_bank(settings, "bgmax.txt", take)
    take_bank_files(settings, AS_OF, "bank-1", settle_seconds=0)
    first = stored(settings)
    assert first and {scheme for scheme, *_ in first} == {"bgmax"}
    drop_bank(settings, "bgmax-one-line.txt", take.replace(b"\r", b"").replace(b"\n", b""))
    [again] = take_bank_files(settings, AS_OF, "bank-2", settle_seconds=0)
    assert again.record.status != "REJECTED" and stored(settings) == first


def test_a_file_that_is_not_a_bank_file_is_rejected_and_kept_in_quarantine(settings):
    drop_bank(settings, "hello.csv", "reference,amount\nX,1\n")
    [taken] = take_bank_files(settings, AS_OF, "bank-1", settle_seconds=0)
    assert (taken.record.status, taken.record.rejection_code) == ("REJECTED", "UNSUPPORTED_FILE")
    assert stored(settings) == []
    assert [path.name for path in (settings.home / "quarantine" / "bank").rglob("*") if path.is_file()]
