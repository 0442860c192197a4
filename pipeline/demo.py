"""`inkasso demo`: a demo home with four creditors and their files, played through the real Airflow DAGs.

On the business date the files are ingested, the day's lifecycle sends the first letters (fees, status
files) and the bank's files of the day (a camt.053 statement and a BgMax file) are reconciled: one case
paid in full, two part-paid, two payments parked. On the first Monday after the Danish warnings' deadlines
that day's lifecycle runs and then the week's court handoff takes the case its creditor approved; on the
Tuesday the week before is settled with every creditor: lines, summary, payouts and statements.

The files are written relative to the business date, so the outcomes are the same
whichever day the demo runs: a Danish creditor exporting `;`-separated Windows-1252
with decimal commas, a Swedish creditor in the canonical layout, a Danish creditor
whose file has a few bad rows, and a Danish creditor sending an OIOUBL invoice. The
first also drops an instruction file: court approval, a direct payment, an unknown invoice.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from pipeline import registry_text
from pipeline.config import Settings
from pipeline.exporters.receipt import SUMMARY, TAKEN
from pipeline.home import Home
from pipeline.rules import calendar
from pipeline.runs import today

MARKER = ".inkasso-demo"
RECEIPT_NAME = re.compile(r"^receipt_(?P<file>.+)_\d{8}T\d{6}Z\.csv$")
REGISTRY = registry_text.registry([
    registry_text.creditor("nordlys", "Nordlys Energi A/S", "DK13585628", "DK", "Energivej 1, 8000 Aarhus C", "DKK",
                           "DK5000400440116243", "NDEADKKK", csv=dict(
                               encoding="cp1252", decimal=",", date_format="DD.MM.YYYY", columns={
                                   "fakturanummer": "invoice_number", "fakturadato": "invoice_date",
                                   "forfaldsdato": "due_date", "beløb": "amount", "kundenummer": "debtor_id",
                                   "kundetype": "debtor_type", "navn": "debtor_name", "adresse": "debtor_address_line1",
                                   "postnr": "debtor_postcode", "by": "debtor_city", "land": "debtor_country",
                                   "cvr": "debtor_national_id", "rykkergebyrer": "reminder_fees",
                                   "rykkere": "reminders_sent"})),
    registry_text.creditor("svea", "Svea Hem AB", "SE5560360793", "SE", "Hemvägen 3, 111 22 Stockholm", "SEK",
                           "SE4550000000058398257466", "ESSESESS"),
    registry_text.creditor("byggmax", "Byggmarked Nord ApS", "DK13585628", "DK", "Tømrervej 7, 7100 Vejle", "DKK",
                           "DK5000400440116243", "NDEADKKK"),
    registry_text.creditor("fjordvvs", "Fjord VVS A/S", "DK29403473", "DK", "Fjordgade 5, 6700 Esbjerg", "DKK",
                           "DK5000400440116243", "NDEADKKK"),
], settle_seconds=0, title="# The demo home's registry: four creditors (see pipeline/demo.py).")


def _danish_file(as_of: date) -> bytes:
    d = lambda days: (as_of - timedelta(days=days)).strftime("%d.%m.%Y")  # noqa: E731
    rows = [
        "Fakturanummer;Fakturadato;Forfaldsdato;Beløb;Kundenummer;Kundetype;Navn;CVR;Adresse;Postnr;By;Land;"
        "Rykkergebyrer;Rykkere",
        f"NL-1001;{d(75)};{d(45)};2.450,00;K-501;private;Søren Ærø;;Østergade 12;8000;Aarhus C;DK;200,00;2",
        f"NL-1002;{d(60)};{d(30)};1.180,75;K-501;private;Søren Ærø;;Østergade 12;8000;Aarhus C;DK;100,00;1",
        f"NL-1003;{d(90)};{d(60)};12.500,00;K-777;business;Bageriet Åen ApS;25313763;Åboulevarden 3;8000;"
        "Aarhus C;DK;;",
    ]
    return ("\r\n".join(rows) + "\r\n").encode("cp1252")


def _swedish_file(as_of: date) -> bytes:
    d = lambda days: (as_of - timedelta(days=days)).isoformat()  # noqa: E731
    rows = [
        "invoice_number,invoice_date,due_date,amount,currency,debtor_id,debtor_type,debtor_name,"
        "debtor_national_id,debtor_address_line1,debtor_postcode,debtor_city,debtor_country,debtor_email,"
        "debtor_phone,reminder_fees",
        f"SV-77001,{d(70)},{d(40)},3250.00,SEK,C-9001,consumer,Eva Lindqvist,198112189876,Storgatan 1,"
        f"11122,Stockholm,SE,eva@example.se,070-123 45 67,60.00",
        f"SV-77002,{d(50)},{d(20)},1899.00,SEK,C-9002,consumer,Per Holm,,Kungsgatan 5,41119,Göteborg,SE,,,",
        f"SV-77003,{d(40)},{d(10)},48000.00,SEK,B-120,business,Holm & Son AB,5560360793,Hamngatan 2,"
        f"21122,Malmö,SE,,,450.00",
    ]
    return ("\n".join(rows) + "\n").encode("utf-8")


def _file_with_bad_rows(as_of: date) -> bytes:
    d = lambda days: (as_of - timedelta(days=days)).isoformat()  # noqa: E731
    rows = [
        "invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,debtor_name,debtor_address_line1,"
        "debtor_postcode,debtor_city,debtor_country,reminder_fees,disputed",
        f"BM-1,{d(60)},{d(30)},5400.00,D-1,business,Tømrer Jensen ApS,Industrivej 4,7100,Vejle,DK,,",
        f"BM-2,{d(60)},{d(30)},-200.00,D-2,consumer,Anne Berg,Strandvej 9,7100,Vejle,DK,,",
        f"BM-3,{d(5)},{d(-25)},1990.00,D-3,consumer,Kim Lund,Møllevej 2,7100,Vejle,DK,,",
        f"BM-4,{d(60)},{d(30)},2300.00,D-4,consumer,Mette Kjær,Skovvej 1,7100,Vejle,DK,450.00,",
        f"BM-5,{d(1400)},{d(1370)},9900.00,D-5,consumer,Ole Dam,Havnegade 8,7100,Vejle,DK,,",
        f"BM-6,{d(60)},{d(30)},3100.00,D-6,consumer,Lis Bak,Kirkevej 3,7100,Vejle,DK,,true",
        f"BM-7,{d(60)},{d(30)},1500.00,D-1,business,Tømrer Jensen ApS,Industrivej 4,7100,Vejle,DK,,",
        f"BM-7,{d(60)},{d(30)},1500.00,D-1,business,Tømrer Jensen ApS,Industrivej 4,7100,Vejle,DK,,",
    ]
    return ("\n".join(rows) + "\n").encode("utf-8")


def _oioubl_invoice(as_of: date) -> bytes:
    """An OIOUBL 2.02 invoice: the due date sits in PaymentMeans, the parties carry DK:CVR ids."""
    issued, due = as_of - timedelta(days=70), as_of - timedelta(days=40)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
    xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:UBLVersionID>2.0</cbc:UBLVersionID>
  <cbc:CustomizationID>OIOUBL-2.02</cbc:CustomizationID>
  <cbc:ProfileID schemeAgencyID="320" schemeID="urn:oioubl:id:profileid-1.2">Procurement-BilSim-1.0</cbc:ProfileID>
  <cbc:ID>FV-20417</cbc:ID>
  <cbc:IssueDate>{issued.isoformat()}</cbc:IssueDate>
  <cbc:InvoiceTypeCode listAgencyID="320" listID="urn:oioubl:codelist:invoicetypecode-1.1">380</cbc:InvoiceTypeCode>
  <cbc:DocumentCurrencyCode>DKK</cbc:DocumentCurrencyCode>
  <cac:AccountingSupplierParty>
    <cac:Party>
      <cbc:EndpointID schemeAgencyID="320" schemeID="DK:CVR">DK29403473</cbc:EndpointID>
      <cac:PartyName><cbc:Name>Fjord VVS A/S</cbc:Name></cac:PartyName>
      <cac:PartyLegalEntity>
        <cbc:RegistrationName>Fjord VVS A/S</cbc:RegistrationName>
        <cbc:CompanyID schemeID="DK:CVR">DK29403473</cbc:CompanyID>
      </cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty>
    <cac:Party>
      <cbc:EndpointID schemeAgencyID="320" schemeID="DK:CVR">DK13585628</cbc:EndpointID>
      <cac:PartyIdentification><cbc:ID schemeID="DK:CVR">DK13585628</cbc:ID></cac:PartyIdentification>
      <cac:PartyName><cbc:Name>Havnens Kantine ApS</cbc:Name></cac:PartyName>
      <cac:PostalAddress>
        <cbc:StreetName>Havnegade</cbc:StreetName>
        <cbc:BuildingNumber>21</cbc:BuildingNumber>
        <cbc:CityName>Esbjerg</cbc:CityName>
        <cbc:PostalZone>6700</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>DK</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>
      <cac:PartyLegalEntity>
        <cbc:RegistrationName>Havnens Kantine ApS</cbc:RegistrationName>
        <cbc:CompanyID schemeID="DK:CVR">DK13585628</cbc:CompanyID>
      </cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingCustomerParty>
  <cac:PaymentMeans>
    <cbc:PaymentMeansCode>31</cbc:PaymentMeansCode>
    <cbc:PaymentDueDate>{due.isoformat()}</cbc:PaymentDueDate>
  </cac:PaymentMeans>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="DKK">15960.00</cbc:LineExtensionAmount>
    <cbc:PayableAmount currencyID="DKK">19950.00</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
</Invoice>
""".encode("utf-8")


def nordlys_instructions(as_of: date) -> bytes:
    """Nordlys steers its cases: court for the business debtor, a payment it received itself, a typo."""
    rows = ["instruction;invoice_number;amount;date;note",
            f"APPROVE_COURT;NL-1003;;{as_of:%d.%m.%Y};debitor svarer ikke",
            f"PAID_DIRECTLY;NL-1002;1.000,00;{as_of:%d.%m.%Y};indbetalt direkte til os",
            "DISPUTE;NL-9999;;;forkert fakturanummer"]
    return ("\r\n".join(rows) + "\r\n").encode("cp1252")


DEMO_FILES = {
    "nordlys": ("faktura_eksport.csv", _danish_file),
    "svea": ("invoices_2026.csv", _swedish_file),
    "byggmax": ("unpaid.csv", _file_with_bad_rows),
    "fjordvvs": ("oioubl_FV-20417.xml", _oioubl_invoice),
}


def prepare_demo_home(root: Path, as_of: date) -> Settings:
    """A fresh demo home under ``root`` on its own SQLite database, with every creditor's file in its inbox."""
    if root.exists() and any(root.iterdir()) and not (root / MARKER).exists():
        raise OSError(f"{root} is not empty and not a demo home; point INKASSO_HOME at an empty folder")
    settings = Settings(home=root.resolve(), database_url=f"sqlite:///{root.resolve() / 'inkasso.db'}")
    _clear(root)
    home = Home(settings.home)
    home.create()
    (root / MARKER).touch()
    settings.registry_path.write_text(REGISTRY, encoding="utf-8")
    home.create_party_folders(settings.load_registry())
    for creditor, (name, make) in DEMO_FILES.items():
        (root / "creditors" / creditor / "inbox" / name).write_bytes(make(as_of))
    (root / "rates.csv").write_text(demo_rates(handoff_monday(as_of)), encoding="utf-8")
    instructions = root / "creditors" / "nordlys" / "inbox" / "instructions_nordlys.csv"
    instructions.write_bytes(nordlys_instructions(as_of))
    later = instructions.stat().st_mtime + 1  # taken after the invoices it refers to
    os.utime(instructions, (later, later))
    return settings


def demo_rates(until: date) -> str:
    """Reference rates for the half-years from 2026-07-01 to ``until``, which rules.md leaves unconfirmed: the
    demo supplies its own, and says so in their source (a deployment's operations put the real ones here)."""
    rows = ["country,valid_from,rate_pct,source"]
    half = date(2026, 7, 1)
    while half <= until:
        rows += [f"DK,{half},1.60,demo rate (not a confirmed udlånsrente)",
                 f"SE,{half},1.75,demo rate (not a confirmed referensränta)"]
        half = date(half.year, 7, 1) if half.month == 1 else date(half.year + 1, 1, 1)
    return "\n".join(rows) + "\n"


def _clear(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)


def receipt_summary(settings: Settings) -> list[tuple[str, Path, Counter]]:
    """(creditor, receipt path, outcome counts) read back from the receipts in the outboxes, oldest first."""
    found = []
    for receipt in sorted(settings.home.glob("creditors/*/outbox/receipt_*.csv"), key=lambda p: p.stat().st_mtime):
        with receipt.open(newline="", encoding="utf-8") as fh:
            outcomes = Counter(row["outcome"] for row in csv.DictReader(fh) if row["outcome"] != SUMMARY)
        found.append((receipt.parent.parent.name, receipt, outcomes))
    return found


def handoff_monday(as_of: date) -> date:
    """The first Monday on which the Danish warnings of ``as_of`` have expired: the court handoff's day."""
    expired = calendar.deadline(as_of, 10, "DK") + timedelta(days=1)
    return expired + timedelta(days=-expired.weekday() % 7)


def run_demo(settings: Settings, as_of: date | None = None) -> int:
    """Build the demo home and play its days through the real DAGs, printing what they did: on ``as_of`` the
    creditors' files, the day's lifecycle and the bank's files; on the Monday after the warnings expired,
    that day's lifecycle and the week's court handoff of the case its creditor approved; on the Tuesday, the
    settlement."""
    as_of = as_of or today()
    demo = prepare_demo_home(settings.home, as_of)
    if os.environ.get("INKASSO_DATABASE_URL"):
        print("demo: INKASSO_DATABASE_URL is ignored; the demo keeps its own SQLite ledger")
    print(f"demo home: {demo.home}  (business date {as_of})")
    states = [_first_day(demo, as_of)]
    monday = handoff_monday(as_of)
    print(f"\n=== {monday}, the Monday after the warnings' deadlines: the day's lifecycle, the court handoff")
    states.append(_dag(demo, "case_lifecycle", monday, "the day's pass over the open cases"))
    _show_the_day(demo, monday)
    states.append(_dag(demo, "court_handoff", monday, "the week's approved cases to the court partner"))
    _show_handoff(demo, monday)
    tuesday = monday + timedelta(days=1)
    print(f"\n=== {tuesday}: the settlement of the week before with every creditor")
    states.append(_dag(demo, "settlement", tuesday, "commission, VAT, payouts and statements"))
    _show_settlement(demo, tuesday)
    _show_ledger(demo)
    return 0 if set(states) == {"success"} else 1


def _first_day(demo: Settings, as_of: date) -> str:
    print(f"\n=== {as_of}: the creditors' files, the day's lifecycle, the bank's files")
    state = _dag(demo, "creditor_ingest", as_of, "the creditors' files")
    for creditor, path, outcomes in receipt_summary(demo):
        taken = sum(outcomes[code] for code in TAKEN)
        detail = ", ".join(f"{code} {n}" for code, n in sorted(outcomes.items()))
        print(f"\n{creditor}/{RECEIPT_NAME.match(path.name)['file']}: "
              f"{sum(outcomes.values())} rows, {taken} taken, "
              f"{sum(outcomes.values()) - taken} not taken ({detail})\n  receipt: {path}")
    day = _dag(demo, "case_lifecycle", as_of, "the day's pass over the open cases")
    _show_the_day(demo, as_of)
    drop_bank_files(demo, as_of)
    bank = _dag(demo, "payment_reconciliation", as_of, "the bank's camt.053 and BgMax files of the day",
                close_day=True)
    _show_reconciliation(demo, as_of)
    _show_ledger(demo)
    return "success" if {state, day, bank} == {"success"} else "failed"


def _dag(demo: Settings, dag_id: str, day: date, what: str, **params) -> str:
    """Run ``dag_id`` for the business date ``day`` with Airflow's dag.test(); its final state."""
    from pipeline.airflow_runner import run_dag

    print(f"\nrunning the {dag_id} DAG ({what}) ...")
    dag_run = run_dag(dag_id, demo, {"as_of": day.isoformat(), **params})
    print(f"DAG run {dag_run.run_id} finished: {dag_run.state}")
    return str(dag_run.state)


def _show_ledger(demo: Settings) -> None:
    from pipeline.ledger import open_ledger
    from pipeline.stats import format_stats, ledger_stats

    engine = open_ledger(demo)
    with engine.connect() as conn:
        print("\nledger:\n" + format_stats(ledger_stats(conn)))
    engine.dispose()


def _show_settlement(demo: Settings, tuesday: date) -> None:
    from pipeline.stages.settle import default_period

    period = default_period(tuesday)
    summary = demo.home / "finance" / "outbox" / f"settlement_summary_{period}.csv"
    if summary.exists():
        with summary.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                print(f"settlement {row['settlement_id']} {row['creditor_id']}: collected "
                      f"{row['collected_principal']} principal, {row['collected_interest']} interest, "
                      f"{row['collected_fees']} fees; commission {row['commission']}, VAT {row['vat']}, fees due "
                      f"{row['fees_due']}; net {row['net_payout']} {row['currency']}")
        print(f"  {summary}\n  {summary.with_name(f'settlement_lines_{period}.csv')} (and .parquet)\n"
              f"  {summary.with_name(f'payouts_{period}.xml')}  (pain.001)")
    for statement in sorted(demo.home.glob(f"creditors/*/outbox/statement_*_{period}.pdf")):
        print(f"  {statement}")


def _show_handoff(demo: Settings, monday: date) -> None:
    from pipeline.stages.handoff import iso_week

    year, week = iso_week(monday).split("-W")
    for handoff in sorted(demo.home.glob(f"partners/*/outbox/court_handoff_*_{year}W{week}.csv")):
        with handoff.open(newline="", encoding="utf-8") as fh:
            lines = list(csv.DictReader(fh))
        cases = sorted({line["case_number"] for line in lines})
        print(f"\ncourt handoff to {handoff.parent.parent.name}: {len(cases)} cases, {len(lines)} claims "
              f"(case {', '.join(cases)}: inkasso case NUMBER shows it HANDED_OVER)\n  {handoff}\n"
              f"  {handoff.with_suffix('.manifest.json')}")


def _show_the_day(demo: Settings, as_of: date) -> None:
    letters = demo.home / "letters" / "outbox" / f"letters_{as_of.isoformat()}.csv"
    if letters.exists():
        with letters.open(newline="", encoding="utf-8") as fh:
            kinds = Counter(row["letter_type"] for row in csv.DictReader(fh))
        print(f"\nletters of the day: {sum(kinds.values())} "
              f"({', '.join(f'{kind} {n}' for kind, n in sorted(kinds.items()))})\n  {letters}\n"
              f"  {letters.with_suffix('.pdf')}  (typeset, one letter a page)")
    for status in sorted(demo.home.glob(f"creditors/*/outbox/status_{as_of.isoformat()}.csv")):
        with status.open(newline="", encoding="utf-8") as fh:
            changed = len(list(csv.DictReader(fh)))
        print(f"{status.parent.parent.name}: {changed} cases changed\n  {status}")


CAMT_ENTRY = """<Ntry><NtryRef>{key}</NtryRef><Amt Ccy="DKK">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>{key}</AcctSvcrRef><BkTxCd/>
<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties><RmtInf>{remittance}</RmtInf></TxDtls>
</NtryDtls></Ntry>"""


def drop_bank_files(demo: Settings, as_of: date) -> None:
    """The bank's files of the day, made from the demo's own cases: a camt.053 statement (a Danish case paid in
    full by its FIK, another part-paid with its case number in the text, a payment with nothing to go by) and
    a BgMax file (a Swedish case part-paid by its OCR, a payment whose OCR has a wrong check digit)."""
    from xml.sax.saxutils import escape

    from pipeline.ledger import open_ledger
    from pipeline.ledger.repository import collecting_case_totals
    from pipeline.ledger.schema import cases
    from pipeline.money import format_minor

    engine = open_ledger(demo)
    with engine.connect() as conn:
        totals = collecting_case_totals(conn, as_of, ["OPEN"])
        owed = {int(case_id): int(total) for case_id, total in zip(totals["case_id"], totals["total_minor"])}
        found = conn.execute(cases.select().where(cases.c.id.in_(list(owed)))   # by creditor: the same cases
                             .order_by(cases.c.creditor_id.desc(), cases.c.case_number)).all()   # in every run
    engine.dispose()
    danish = [case for case in found if case.country == "DK"]
    swedish = [case for case in found if case.country == "SE"]
    entries = [dict(key="DEMO-1", amount=format_minor(owed[danish[0].id], "DKK"), payer="Debitor",
                    remittance=f"<Strd><CdtrRefInf><Ref>+71&lt;{danish[0].payment_reference}+85382016&lt;</Ref>"
                               "</CdtrRefInf></Strd>"),
               dict(key="DEMO-2", amount="500.00", payer="Debitor", remittance=f"<Ustrd>sag {danish[1].case_number}"
                                                                               "</Ustrd>"),
               dict(key="DEMO-3", amount="123.45", payer="Ukendt", remittance="<Ustrd>Tak for laan</Ustrd>")]
    statement = "".join(CAMT_ENTRY.format(day=as_of, **{k: v if k == "remittance" else escape(v)
                                                         for k, v in entry.items()}) for entry in entries)
    (demo.home / "bank" / "inbox" / f"camt053_{as_of:%Y%m%d}.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        f"<BkToCstmrStmt><GrpHdr><MsgId>DEMO-{as_of}</MsgId><CreDtTm>{as_of}T06:00:00</CreDtTm></GrpHdr><Stmt>"
        f"<Id>DEMO-{as_of}</Id><CreDtTm>{as_of}T06:00:00</CreDtTm><Acct><Id><IBAN>DK5000400440116243</IBAN></Id>"
        f"</Acct>{statement}</Stmt></BkToCstmrStmt></Document>\n", encoding="utf-8")
    bad_ocr = swedish[1].payment_reference[:-1] + str((int(swedish[1].payment_reference[-1]) + 1) % 10)
    (demo.home / "bank" / "inbox" / f"bgmax_{as_of:%Y%m%d}.txt").write_bytes(
        bgmax_file(as_of, [(swedish[0].payment_reference, 100000, "Anna Lind"), (bad_ocr, 25000, "B. Berg")]))


def bgmax_file(day: date, payments: list[tuple[str, int, str]]) -> bytes:
    """A BgMax file (rules.md) of one deposit to bankgiro 991-2346: (OCR, öre, payer name) a payment."""
    stamp = f"{day:%Y%m%d}060000000000"
    records = [f"01BGMAX               01{stamp}P", "050009912346          SEK"]
    for serial, (reference, amount, payer) in enumerate(payments, start=1):
        records += [f"200000000000{reference:<25}{amount:018d}21{serial:012d}0", f"26{payer}"]
    total = sum(amount for _, amount, _ in payments)
    records += [f"15{'0' * 35}{day:%Y%m%d}00001{total:018d}SEK{len(payments):08d} ",
                f"70{len(payments):08d}{0:08d}{0:08d}{1:08d}"]
    return "".join(record.ljust(80) + "\r\n" for record in records).encode("iso-8859-1")


def _show_reconciliation(demo: Settings, as_of: date) -> None:
    report = demo.home / "finance" / "outbox" / f"reconciliation_{as_of.isoformat()}.csv"
    if report.exists():
        with report.open(newline="", encoding="utf-8") as fh:
            lines = [line for line in csv.DictReader(fh) if line["payment_id"] != "TOTAL"]
        rules = Counter(line["rule"] or f"parked {line['parked_reason']}" for line in lines)
        print(f"\nreconciliation of the day: {len(lines)} payments "
              f"({', '.join(f'{rule} {n}' for rule, n in sorted(rules.items()))})\n  {report}")
