"""The weekly settlement (`pipeline.stages.settle`, formats.md §3.2) on the ledger, on SQLite and PostgreSQL:
lines, summary and pain.001 computed by hand to the øre, exactly once per (creditor, currency, week).

The test registry's plan: success fee DK 10 %, SE 12 %, others 15 %; + 4 points when the oldest claim was more
than 180 days overdue when its case opened; the agency keeps interest and fees; withdrawal fee 250.00 DKK (after
the court handoff 750.00 DKK); VAT 25 %; the court partner alektum: our terms for 6 months after the handoff, then
25 %. Interest on the claims: 1.60 + 8 % a year (DK), 1.75 + 8 % (SE), actual/365, from the due date.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
from datetime import date, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pypdf
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import func, select, update

from pipeline import registry_text
from pipeline.cli import main
from pipeline.exporters.pain001 import XSD, PayoutRefused
from pipeline.home import Home
from pipeline.money import format_minor
from pipeline.ledger import open_ledger
from pipeline.ledger import settlements as book
from pipeline.ledger.schema import (cases, handoff_cases, handoffs, postings, settled_postings, settlement_weeks,
                                    settlements)
from pipeline.stages import reconcile, settle
from pipeline.stages.handoff import iso_week
from pipeline.transport.local import LocalOutbox
from tests.conftest import AS_OF, REGISTRY, drop, run_ingest
from tests.integration.test_bank_payments import camt, drop_bank, entry
from tests.integration.test_lifecycle import RATES, claims, fresh_home
from tests.integration.test_reconciliation import REMITTANCE, case_of, reading

TUESDAY = date(2026, 12, 1)      # settles 2026-W48, the week of AS_OF (2026-11-26) and of the payments (11-24)
PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.09}"


@pytest.fixture
def home(settings):
    settings.registry_path.write_text(REGISTRY.replace('SE = "10"', 'SE = "12"'), encoding="utf-8")
    (settings.home / "rates.csv").write_text(RATES, encoding="utf-8")
    return settings


def outbox(home, name: str) -> list[dict]:
    text = (home.home / "finance" / "outbox" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def minor(text: str) -> int:
    whole, cents = text.lstrip("-").split(".")
    return (-1 if text.startswith("-") else 1) * (int(whole) * 100 + int(cents))


LINE = ("case_number", "invoice_number", "source", "allocated_principal", "allocated_interest", "allocated_fees",
        "creditor_share", "agency_share", "commission_rate", "commission", "vat", "partner_commission",
        "net_to_creditor")


def instructions(home, name: str, *rows: str) -> None:
    drop(home, "acme", name, "instruction,invoice_number,amount,date,note\n" + "".join(row + "\n" for row in rows))
    run_ingest(home, AS_OF, f"ingest-{name}", creditor_id="acme")


def test_a_week_with_dk_and_se_debtors_an_aged_case_a_direct_payment_and_a_withdrawal_fee(home):
    """Hand-computed, per line (commission and VAT rounded half up on the line):
    A-1 (DK, 2,000.00 due 10-01) paid 2,028.41 on 11-24: 28.41 interest (54 days at 9.6 %) to us, 2,000.00
        principal; 10 %: 200.00, VAT 50.00, net 1,750.00.
    S-1 (SE debtor, 1,000.00 due 10-01) paid 500.00: 14.42 interest (54 days at 9.75 %), 485.58 principal;
        12 %: 58.2696 -> 58.27, VAT 14.5675 -> 14.57, net 485.58 - 58.27 - 14.57 = 412.74.
    G-1 (DK, 800.00 due 04-01: 239 days overdue when its case opened on 11-26, aged) paid 100.00: 50.17
        interest (91 days at 9.75 % to 06-30, 146 at 9.6 %), 49.83 principal; 14 %: 6.9762 -> 6.98, VAT
        1.745 -> 1.75, net 41.10.
    B-1 (DK, 500.00) paid 200.00 to acme directly: all principal (no interest was posted), 10 %: 20.00, VAT
        5.00; the money is with acme, so its net is -25.00.
    C-1 withdrawn in the amicable phase: the fee 250.00, VAT 62.50, net -312.50.
    Net payout 1,750.00 + 412.74 + 41.10 - 25.00 - 312.50 = 1,866.34."""
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,",
           "B-1,2026-09-15,2026-10-15,500.00,DKK,D2,consumer,Karen Nielsen,Vej 2,2100,Kbh Ø,DK,,",
           "C-1,2026-09-20,2026-10-20,300.00,DKK,D3,consumer,Ole Olsen,Vej 3,2100,Kbh Ø,DK,,",
           "S-1,2026-09-01,2026-10-01,1000.00,DKK,D4,consumer,Sven Berg,Gatan 1,11122,Stockholm,SE,,",
           "G-1,2026-03-01,2026-04-01,800.00,DKK,D5,consumer,Gitte Lund,Vej 5,2100,Kbh Ø,DK,,")
    (a, a_ref), (s, s_ref), (g, _) = case_of(home, "A-1"), case_of(home, "S-1"), case_of(home, "G-1")
    (b, _), (c, _) = case_of(home, "B-1"), case_of(home, "C-1")
    instructions(home, "instructions_1.csv", "PAID_DIRECTLY,B-1,200.00,2026-11-26,", "WITHDRAW,C-1,,,")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "2028.41", a_ref), entry("E2", "500.00", s_ref),
                                     entry("E3", "100.00", text=f"sag {g}")))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)

    result = settle.run(home, TUESDAY, "settle-1")
    assert (result["period"], result["settlements"], result["lines"], result["payouts"]) == ("2026-W48", 1, 5, 1)
    lines = outbox(home, "settlement_lines_2026-W48.csv")
    assert [[line[name] for name in LINE] for line in lines] == [
        [a, "A-1", "bank", "2000.00", "28.41", "0.00", "2000.00", "28.41", "10", "200.00", "50.00", "0.00", "1750.00"],
        [b, "B-1", "direct", "200.00", "0.00", "0.00", "0.00", "0.00", "10", "20.00", "5.00", "0.00", "-25.00"],
        [c, "", "fee", "0.00", "0.00", "0.00", "0.00", "250.00", "0", "0.00", "62.50", "0.00", "-312.50"],
        [s, "S-1", "bank", "485.58", "14.42", "0.00", "485.58", "14.42", "12", "58.27", "14.57", "0.00", "412.74"],
        [g, "G-1", "bank", "49.83", "50.17", "0.00", "49.83", "50.17", "14", "6.98", "1.75", "0.00", "41.10"]]
    assert {line["settlement_id"] for line in lines} == {"2026W48-00001"}
    assert {(line["creditor_id"], line["currency"], line["vat_rate"]) for line in lines} == {("acme", "DKK", "25")}
    [summary] = outbox(home, "settlement_summary_2026-W48.csv")
    assert summary == dict(settlement_id="2026W48-00001", creditor_id="acme", currency="DKK", period="2026-W48",
                           collected_principal="2735.41", collected_interest="93.00", collected_fees="0.00",
                           creditor_share="2535.41", commission="285.25", vat="133.82", fees_due="250.00",
                           carried_in="0.00", net_payout="1866.34")
    for name in ("creditor_share", "commission", "vat"):
        assert sum(minor(line[name]) for line in lines) == minor(summary[name])
    assert sum(minor(line["net_to_creditor"]) for line in lines) == minor(summary["net_payout"])
    payout = payouts(home, "2026-W48")
    assert payout == dict(count="1", control_sum="1866.34", transfers=[("2026W48-00001", "1866.34", "DKK",
                                                                        "DK5000400440116243", "NDEADKKK", "Acme ApS")])
    table = pq.read_table(home.home / "finance" / "outbox" / "settlement_lines_2026-W48.parquet")
    assert str(table.schema.field("commission").type) == "decimal128(20, 2)"
    assert [str(value) for value in table.column("net_to_creditor").to_pylist()] == [
        "1750.00", "-25.00", "-312.50", "412.74", "41.10"]
    assert result["totals"] == {"DKK": dict(collected="2828.41", commission="285.25", vat="133.82",
                                            payouts="1866.34")}
    statement = "\n".join(page.extract_text() for page in pypdf.PdfReader(
        home.home / "creditors" / "acme" / "outbox" / "statement_acme_2026-W48.pdf").pages)
    for shown in ("Nordisk Inkasso ApS", "CVR/moms DK12345674", "Acme ApS", "CVR/moms DK13585628",
                  "Afregning 2026-W48 (DKK)", "Afregningsnr. 2026W48-00001", "Udstedt 2026-12-01",
                  "Salær ekskl. moms -285,25 DKK", "Gebyrer ekskl. moms -250,00 DKK", "Moms 25 % -133,82 DKK",
                  "Netto 1.866,34 DKK", "udbetales til DK5000400440116243 den 2026-12-01",
                  "momskvittering"):
        assert shown in statement, shown
    for row in (rf"{a} +A-1 +2026-11-24 bank +2\.028,41 +200,00 +50,00 +1\.750,00",
                rf"{c} +2026-11-26 gebyr +0,00 +0,00 +62,50 +-312,50"):   # a fee's claim cell is empty
        assert re.search(row, statement), (row, statement)


def a_paid(home) -> None:
    """acme's A-1 (2,000.00 due 10-01) paid 500.00 on 11-24 (28.41 interest, 471.59 principal), reconciled."""
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,")
    _, a_ref = case_of(home, "A-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "500.00", a_ref)))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)


def payouts(home, period: str) -> dict:
    """The pain.001 read back, after validating it against the XSD the repository ships."""
    document = etree.parse(str(home.home / "finance" / "outbox" / f"payouts_{period}.xml"))
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(document)
    header = document.find(f"{PAIN}CstmrCdtTrfInitn/{PAIN}GrpHdr")
    transfers = [(t.findtext(f"{PAIN}PmtId/{PAIN}EndToEndId"), t.findtext(f"{PAIN}Amt/{PAIN}InstdAmt"),
                  t.find(f"{PAIN}Amt/{PAIN}InstdAmt").get("Ccy"), t.findtext(f"{PAIN}CdtrAcct/{PAIN}Id/{PAIN}IBAN"),
                  t.findtext(f"{PAIN}CdtrAgt/{PAIN}FinInstnId/{PAIN}BICFI"), t.findtext(f"{PAIN}Cdtr/{PAIN}Nm"))
                 for t in document.iter(f"{PAIN}CdtTrfTxInf")]
    return dict(count=header.findtext(f"{PAIN}NbOfTxs"), control_sum=header.findtext(f"{PAIN}CtrlSum"),
                transfers=transfers)


def test_a_negative_week_is_carried_and_then_paid_off(home):
    """W48: only C-1's withdrawal fee, 250.00 + VAT 62.50: -312.50, carried. W49: A-1 paid in full on 11-30
    (2,000.00 + 60 days of interest, 31.56, ours): 2,000.00 - 200.00 commission - 50.00 VAT = 1,750.00, with
    the -312.50 carried in: 1,437.50 paid. W50: nothing to settle and nothing carried: no settlement."""
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,",
           "C-1,2026-09-20,2026-10-20,300.00,DKK,D3,consumer,Ole Olsen,Vej 3,2100,Kbh Ø,DK,,")
    _, a_ref = case_of(home, "A-1")
    instructions(home, "instructions_1.csv", "WITHDRAW,C-1,,,")
    first = settle.run(home, TUESDAY, "settle-48")
    assert (first["settlements"], first["payouts"]) == (1, 0)
    [summary] = outbox(home, "settlement_summary_2026-W48.csv")
    assert (summary["fees_due"], summary["vat"], summary["net_payout"]) == ("250.00", "62.50", "-312.50")
    assert not (home.home / "finance" / "outbox" / "payouts_2026-W48.xml").exists()

    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "2031.56", a_ref, value_date="2026-11-30")))
    reconcile.run(home, date(2026, 12, 2), "rec-1", settle_seconds=0)
    second = settle.run(home, date(2026, 12, 8), "settle-49")
    [summary] = outbox(home, "settlement_summary_2026-W49.csv")
    assert (summary["collected_principal"], summary["collected_interest"], summary["commission"], summary["vat"],
            summary["carried_in"], summary["net_payout"]) == ("2000.00", "31.56", "200.00", "50.00", "-312.50",
                                                              "1437.50")
    assert payouts(home, "2026-W49")["transfers"][0][:2] == (summary["settlement_id"], "1437.50")
    third = settle.run(home, date(2026, 12, 15), "settle-50")
    assert (second["payouts"], third["settlements"], outbox(home, "settlement_summary_2026-W50.csv")) == (1, 0, [])


def test_a_week_with_nothing_but_a_carried_net_has_a_settlement_and_a_statement(home):
    claims(home, "acme", "C-1,2026-09-20,2026-10-20,300.00,DKK,D3,consumer,Ole Olsen,Vej 3,2100,Kbh Ø,DK,,")
    instructions(home, "instructions_1.csv", "WITHDRAW,C-1,,,")
    settle.run(home, TUESDAY, "settle-48")
    second = settle.run(home, date(2026, 12, 8), "settle-49")
    [summary] = outbox(home, "settlement_summary_2026-W49.csv")
    assert (second["lines"], summary["carried_in"], summary["net_payout"]) == (0, "-312.50", "-312.50")
    assert outbox(home, "settlement_lines_2026-W49.csv") == []
    statement = "\n".join(page.extract_text() for page in pypdf.PdfReader(
        home.home / "creditors" / "acme" / "outbox" / "statement_acme_2026-W49.pdf").pages)
    assert "Overført fra tidligere uger -312,50 DKK" in statement and "næste uges afregning" in statement


def test_a_negative_week_of_a_plan_that_invoices_is_not_carried(home):
    home.registry_path.write_text(REGISTRY.replace('negative_net = "carry"', 'negative_net = "invoice"'),
                                  encoding="utf-8")
    claims(home, "acme", "C-1,2026-09-20,2026-10-20,300.00,DKK,D3,consumer,Ole Olsen,Vej 3,2100,Kbh Ø,DK,,")
    instructions(home, "instructions_1.csv", "WITHDRAW,C-1,,,")
    settle.run(home, TUESDAY, "settle-48")
    settle.run(home, date(2026, 12, 8), "settle-49")
    with reading(home) as conn:
        assert conn.execute(select(settlements.c.period, settlements.c.outcome, settlements.c.net_payout)).all() == [
            ("2026-W48", "INVOICED", -31250)]


def hand_over(home, day: date, *case_numbers: str) -> None:
    """The cases handed over to alektum on ``day``, recorded as the court handoff records them."""
    engine = open_ledger(home)
    with engine.begin() as conn:
        handoff = conn.execute(handoffs.insert().values(partner_id="alektum", iso_week=iso_week(day), handoff_date=day,
                                                        run_id="handoff", marked_on=day).returning(handoffs.c.id)
                               ).scalar_one()
        for number in case_numbers:
            case_id = conn.execute(select(cases.c.id).where(cases.c.case_number == number)).scalar_one()
            conn.execute(handoff_cases.insert().values(case_id=case_id, handoff_id=handoff))
            conn.execute(update(cases).where(cases.c.id == case_id).values(status="HANDED_OVER", closed_on=day))
    engine.dispose()


def test_a_handed_over_case_pays_our_terms_for_six_months_then_the_partners(home):
    """Both cases went to alektum on Monday 2026-11-30. A-1's 1,000.00 came on 2027-03-01 (month 4): our 10 %,
    100.00 + VAT 25.00; alektum kept 80.00 of it. B-1's 400.00 came on 2027-06-01, past 2027-05-30: alektum's
    25 %, 100.00 + VAT 25.00; alektum kept 100.00. Both are shown; the creditor's net is 875.00 + 275.00."""
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,",
           "B-1,2026-09-15,2026-10-15,500.00,DKK,D2,consumer,Karen Nielsen,Vej 2,2100,Kbh Ø,DK,,")
    (a, _), (b, _) = case_of(home, "A-1"), case_of(home, "B-1")
    hand_over(home, date(2026, 11, 30), a, b)
    (home.home / "partners" / "alektum" / "inbox" / "remittance_2027.csv").write_text(
        REMITTANCE + f"AL-1,{a},2027-03-01,1000.00,1000.00,0,0,80.00,920.00,DKK\n"
                     f"AL-2,{b},2027-06-01,400.00,400.00,0,0,100.00,300.00,DKK\n", encoding="utf-8")
    reconcile.run(home, date(2027, 6, 2), "rec-1", settle_seconds=0)
    settle.run(home, date(2027, 6, 8), "settle-1")
    lines = outbox(home, "settlement_lines_2027-W22.csv")
    assert [[line[name] for name in LINE] for line in lines] == [
        [a, "A-1", "partner", "1000.00", "0.00", "0.00", "1000.00", "0.00", "10", "100.00", "25.00", "80.00",
         "875.00"],
        [b, "B-1", "partner", "400.00", "0.00", "0.00", "400.00", "0.00", "25", "100.00", "25.00", "100.00",
         "275.00"]]
    assert outbox(home, "settlement_summary_2027-W22.csv")[0]["net_payout"] == "1150.00"


def test_a_case_withdrawn_after_its_handoff_is_charged_the_court_withdrawal_fee_with_its_vat(home):
    """C-1 went to alektum on Monday 2026-11-23 and acme withdrew it on 11-26: the plan's court withdrawal fee,
    750.00 DKK, with VAT 25 % of it, 187.50: net 0.00 - 750.00 - 187.50 = -937.50, carried."""
    claims(home, "acme", "C-1,2026-09-20,2026-10-20,300.00,DKK,D3,consumer,Ole Olsen,Vej 3,2100,Kbh Ø,DK,,")
    c, _ = case_of(home, "C-1")
    hand_over(home, date(2026, 11, 23), c)
    instructions(home, "instructions_1.csv", "WITHDRAW,C-1,,,")
    settle.run(home, TUESDAY, "settle-48")
    [line] = outbox(home, "settlement_lines_2026-W48.csv")
    assert [line[name] for name in LINE] == [c, "", "fee", "0.00", "0.00", "0.00", "0.00", "750.00", "0", "0.00",
                                             "187.50", "0.00", "-937.50"]
    [summary] = outbox(home, "settlement_summary_2026-W48.csv")
    assert (summary["fees_due"], summary["vat"], summary["net_payout"]) == ("750.00", "187.50", "-937.50")


def test_a_plan_that_passes_interest_and_fees_on_pays_them_to_the_creditor(home):
    """With agency_keeps_interest_and_fees = false, A-1's 500.00 of 11-24 (28.41 interest, 471.59 principal) is all
    the creditor's: commission 10 % of the principal 47.159 -> 47.16, VAT 11.79, net 500.00 - 47.16 - 11.79 =
    441.05 (the plan that keeps them pays 412.64)."""
    home.registry_path.write_text(home.registry_path.read_text(encoding="utf-8").replace(
        "agency_keeps_interest_and_fees = true", "agency_keeps_interest_and_fees = false"), encoding="utf-8")
    a_paid(home)
    settle.run(home, TUESDAY, "settle-1")
    [line] = outbox(home, "settlement_lines_2026-W48.csv")
    assert [line[name] for name in LINE][3:] == ["471.59", "28.41", "0.00", "500.00", "0.00", "10", "47.16", "11.79",
                                                 "0.00", "441.05"]
    [summary] = outbox(home, "settlement_summary_2026-W48.csv")
    assert (summary["creditor_share"], summary["net_payout"]) == ("500.00", "441.05")
    assert payouts(home, "2026-W48")["transfers"][0][:2] == ("2026W48-00001", "441.05")


def test_the_same_week_twice_writes_the_same_bytes_and_pays_nothing_twice(home):
    a_paid(home)
    first = settle.run(home, TUESDAY, "settle-1")
    finance, acme = home.home / "finance" / "outbox", home.home / "creditors" / "acme" / "outbox"
    paths = [*(path for path in finance.iterdir() if not path.name.startswith("reconciliation")),
             acme / "statement_acme_2026-W48.pdf"]
    written = {path: path.read_bytes() for path in paths}
    for path in paths:
        path.unlink()      # lost from the outbox: rendered again, byte for byte
    again = settle.run(home, TUESDAY, "settle-2")
    assert (first["settled_before"], again["settled_before"], len(paths)) == (False, True, 5)
    assert {path: path.read_bytes() for path in paths} == written
    with reading(home) as conn:
        assert conn.execute(select(func.count()).select_from(settlements)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(settled_postings)).scalar_one() == conn.execute(
            select(func.count()).select_from(postings).where(postings.c.kind == "payment")).scalar_one()
    later = settle.run(home, date(2026, 12, 8), "settle-3")
    assert (later["settlements"], later["lines"]) == (0, 0)


def test_editing_the_fee_plan_after_a_week_was_settled_changes_nothing_of_that_week(home, capsys):
    """W48 settled at 10 % and VAT 25 % (A-1's 471.59: 47.16 + 11.79, 412.64 paid); then inkasso.toml says 20 %
    and VAT 30 %. The week's files, lost from the outboxes and rendered again by `inkasso settle`, are the same
    bytes, rendered two weeks later: they come from the terms recorded with the settlement."""
    a_paid(home)
    settle.run(home, TUESDAY, "settle-1")
    finance, acme = home.home / "finance" / "outbox", home.home / "creditors" / "acme" / "outbox"
    paths = [*(path for path in finance.iterdir() if not path.name.startswith("reconciliation")),
             acme / "statement_acme_2026-W48.pdf"]
    written = {path: path.read_bytes() for path in paths}
    home.registry_path.write_text(home.registry_path.read_text(encoding="utf-8").replace('DK = "10"', 'DK = "20"')
                                  .replace('vat_rate_pct = "25"', 'vat_rate_pct = "30"'), encoding="utf-8")
    edited = home.load_registry()
    assert (edited.fee_plans["standard"].success_fee_pct["DK"], edited.agency.vat_rate_pct) == (20, 30)
    for path in paths:
        path.unlink()
    assert main(["settle", "--as-of", "2026-12-15", "--period", "2026-W48"]) == 0   # two weeks later
    assert capsys.readouterr().out.splitlines()[:2] == [
        "2026-W48 was settled before; its files are out",
        "  DKK: collected 500.00, commission 47.16, vat 11.79, payouts 412.64"]
    assert (len(paths), {path: path.read_bytes() for path in paths}) == (5, written)


def test_an_allocation_reconciled_after_its_week_was_settled_goes_into_the_next_week(home):
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,")
    _, a_ref = case_of(home, "A-1")
    settle.run(home, TUESDAY, "settle-48")
    drop_bank(home, "late.xml", camt("053", "S1", entry("E1", "500.00", a_ref)))   # value date 11-24, in W48
    reconcile.run(home, date(2026, 12, 2), "rec-late", settle_seconds=0)
    settle.run(home, date(2026, 12, 8), "settle-49")
    [line] = outbox(home, "settlement_lines_2026-W49.csv")
    assert (line["payment_date"], line["allocated_principal"], line["allocated_interest"]) == (
        "2026-11-24", "471.59", "28.41")


def test_a_crash_between_settling_and_delivering_is_recovered_by_the_next_run(home):
    a_paid(home)

    def crash(step: str) -> None:
        if step == "settled":
            raise RuntimeError("killed after settling")

    with pytest.raises(RuntimeError, match="killed after settling"):
        settle.run(home, TUESDAY, "settle-1", checkpoint=crash)
    assert not list((home.home / "finance" / "outbox").glob("settlement_*"))
    retried = settle.run(home, TUESDAY, "settle-1")
    assert retried["settled_before"] and len(retried["files"]) == 5
    assert payouts(home, "2026-W48")["control_sum"] == outbox(home, "settlement_summary_2026-W48.csv")[0][
        "net_payout"]
    with reading(home) as conn:
        assert conn.execute(select(func.count()).select_from(settlement_weeks)).scalar_one() == 1


def test_a_crash_while_delivering_is_recovered_without_a_second_file_or_payout(home, monkeypatch):
    """The lines and the summary are out when the payouts' upload fails: the next run puts the payouts and the
    statement and leaves the files that are out alone."""
    a_paid(home)
    put = LocalOutbox.put

    def failing_put(outbox, name, source):
        if name.startswith("payouts_"):
            raise OSError("connection lost")
        put(outbox, name, source)

    monkeypatch.setattr(LocalOutbox, "put", failing_put)
    with pytest.raises(OSError, match="connection lost"):
        settle.run(home, TUESDAY, "settle-1")
    folder = home.home / "finance" / "outbox"
    lines = (folder / "settlement_lines_2026-W48.csv").read_bytes()
    assert not (folder / "payouts_2026-W48.xml").exists()
    monkeypatch.setattr(LocalOutbox, "put", put)
    retried = settle.run(home, TUESDAY, "settle-2")
    assert retried["settled_before"] and (folder / "settlement_lines_2026-W48.csv").read_bytes() == lines
    assert payouts(home, "2026-W48")["transfers"][0][:2] == ("2026W48-00001", "412.64")  # 471.59 - 47.16 - 11.79
    assert (home.home / "creditors" / "acme" / "outbox" / "statement_acme_2026-W48.pdf").exists()
    with reading(home) as conn:
        assert conn.execute(select(func.count()).select_from(settlements)).scalar_one() == 1


def test_a_payout_file_put_by_a_run_that_died_before_recording_it_is_not_put_again(home, monkeypatch):
    """The payouts' upload went through, then the run died before recording it: the next run finds the same bytes
    there (its record says what they must be), puts only the statement, and no payout goes to the bank twice."""
    a_paid(home)
    put = LocalOutbox.put

    def put_then_die(outbox, name, source):
        put(outbox, name, source)
        if name.startswith("payouts_"):
            raise RuntimeError("killed after the upload")

    monkeypatch.setattr(LocalOutbox, "put", put_then_die)
    with pytest.raises(RuntimeError, match="killed after the upload"):
        settle.run(home, TUESDAY, "settle-1")
    payout_file = home.home / "finance" / "outbox" / "payouts_2026-W48.xml"
    first = (payout_file.read_bytes(), payout_file.stat().st_mtime_ns)
    puts = []
    monkeypatch.setattr(LocalOutbox, "put", lambda outbox, name, source: (puts.append(name), put(outbox, name, source)))
    retried = settle.run(home, TUESDAY, "settle-2")
    assert (retried["settled_before"], puts) == (True, ["statement_acme_2026-W48.pdf"])
    assert (payout_file.read_bytes(), payout_file.stat().st_mtime_ns) == first
    assert payouts(home, "2026-W48")["transfers"][0][:2] == ("2026W48-00001", "412.64")


def test_a_payout_to_a_tampered_iban_is_refused_before_it_is_written(home):
    a_paid(home)

    def crash(step: str) -> None:
        if step == "settled":
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        settle.run(home, TUESDAY, "settle-1", checkpoint=crash)
    engine = open_ledger(home)
    with engine.begin() as conn:
        parties = json.loads(conn.execute(select(settlements.c.parties)).scalar_one())
        parties["creditor"]["iban"] = "DK5000400440116244"   # one digit off: the checksum fails
        conn.execute(update(settlements).values(parties=json.dumps(parties)))
    engine.dispose()
    with pytest.raises(PayoutRefused, match="DK5000400440116244"):
        settle.run(home, TUESDAY, "settle-2")
    assert not (home.home / "finance" / "outbox" / "payouts_2026-W48.xml").exists()
    assert not list((home.home / "finance" / "outbox").glob("*.tmp*"))


def test_a_reversal_in_a_later_week_gives_back_the_commission_and_vat_it_charged(home):
    """W48: A-1's 2,028.41 settled (200.00 commission, 50.00 VAT, 1,750.00 paid). W49: the bank takes it back: the
    line is the same line negated, priced on the payment's day; the week's net is -1,750.00, carried."""
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,")
    _, a_ref = case_of(home, "A-1")
    drop_bank(home, "stmt1.xml", camt("053", "S1", entry("E1", "2028.41", a_ref)))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    settle.run(home, TUESDAY, "settle-48")
    drop_bank(home, "stmt2.xml", camt("053", "S2", entry("R1", "2028.41", a_ref, indicator="DBIT", reversal=True,
                                                         value_date="2026-12-02")))
    reconcile.run(home, date(2026, 12, 2), "rec-2", settle_seconds=0)
    settle.run(home, date(2026, 12, 8), "settle-49")
    [paid] = outbox(home, "settlement_lines_2026-W48.csv")
    [taken_back] = outbox(home, "settlement_lines_2026-W49.csv")
    for name in ("allocated_principal", "allocated_interest", "creditor_share", "agency_share", "commission", "vat",
                 "net_to_creditor"):
        assert minor(taken_back[name]) == -minor(paid[name]), name
    assert (taken_back["commission_rate"], taken_back["payment_date"]) == ("10", "2026-12-02")
    [summary] = outbox(home, "settlement_summary_2026-W49.csv")
    assert summary["net_payout"] == "-1750.00"


def test_a_creditor_abroad_and_two_currencies_in_one_payout_file(home):
    """svea (SE) is not charged Danish VAT: the EU's reverse charge, said on its Swedish statement. acme's DKK and
    svea's SEK are one pain.001, one block per currency, each with its own control sum.
    V-1 (SE debtor, 3,000.00 SEK due 10-01) paid 1,000.00 and 500.00 on 11-24. The first takes the interest,
    3,000.00 x 9.75 % x 54 / 365 = 43.2740 -> 43.27, and 956.73 principal: 12 % 114.8076 -> 114.81, VAT 0 %
    0.00, net 956.73 - 114.81 = 841.92. The second is all principal: 12 % 60.00, net 440.00. SEK: 1,281.92."""
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,")
    claims(home, "svea", "V-1,2026-09-01,2026-10-01,3000.00,SEK,E1,consumer,Eva Holm,Gatan 9,11122,Stockholm,SE,,")
    (_, a_ref), (_, v_ref) = case_of(home, "A-1"), case_of(home, "V-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "2028.41", a_ref),
                                     *(entry(ref, amount, v_ref).replace('Ccy="DKK"', 'Ccy="SEK"')
                                       for ref, amount in (("E2", "1000.00"), ("E3", "500.00")))))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    settle.run(home, TUESDAY, "settle-1")
    summary = {row["creditor_id"]: row for row in outbox(home, "settlement_summary_2026-W48.csv")}
    assert (summary["svea"]["currency"], summary["svea"]["vat"]) == ("SEK", "0.00")
    svea = [line for line in outbox(home, "settlement_lines_2026-W48.csv") if line["currency"] == "SEK"]
    assert [[line[name] for name in ("invoice_number", "allocated_principal", "allocated_interest", "commission_rate",
                                     "commission", "vat_rate", "vat", "net_to_creditor")] for line in svea] == [
        ["V-1", "956.73", "43.27", "12", "114.81", "0", "0.00", "841.92"],
        ["V-1", "500.00", "0.00", "12", "60.00", "0", "0.00", "440.00"]]
    for name in ("creditor_share", "commission", "vat"):
        assert sum(minor(line[name]) for line in svea) == minor(summary["svea"][name])
    assert sum(minor(line["net_to_creditor"]) for line in svea) == minor(summary["svea"]["net_payout"]) == 128192
    document = etree.parse(str(home.home / "finance" / "outbox" / "payouts_2026-W48.xml"))
    blocks = {block.findtext(f"{PAIN}PmtInfId"): (block.findtext(f"{PAIN}NbOfTxs"), block.findtext(f"{PAIN}CtrlSum"))
              for block in document.iter(f"{PAIN}PmtInf")}
    assert blocks == {"PAYOUTS-2026-W48-DKK": ("1", summary["acme"]["net_payout"]),
                      "PAYOUTS-2026-W48-SEK": ("1", "1281.92")}
    assert payouts(home, "2026-W48")["control_sum"] == format_minor(
        minor(summary["acme"]["net_payout"]) + minor(summary["svea"]["net_payout"]), "DKK")
    statement = "\n".join(page.extract_text() for page in pypdf.PdfReader(
        home.home / "creditors" / "svea" / "outbox" / "statement_svea_2026-W48.pdf").pages)
    for shown in ("Redovisning 2026-W48 (SEK)", "Momsreg.nr SE5560360793", "Moms 0 %",
                  "Omvänd betalningsskyldighet", "Beloppet betalas ut till SE4550000000058398257466"):
        assert shown in statement, shown


def test_the_payouts_are_paid_from_the_agencys_account(home):
    """svea's V-1 paid 1,000.00 SEK on 11-24 (43.27 interest; 956.73 principal, 12 % 114.81, no VAT): 841.92 to
    svea's account, from the agency's: the debtor of the payment block is the agency of inkasso.toml."""
    claims(home, "svea", "V-1,2026-09-01,2026-10-01,3000.00,SEK,E1,consumer,Eva Holm,Gatan 9,11122,Stockholm,SE,,")
    _, v_ref = case_of(home, "V-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "1000.00", v_ref).replace('Ccy="DKK"', 'Ccy="SEK"')))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    settle.run(home, TUESDAY, "settle-1")
    assert payouts(home, "2026-W48")["transfers"] == [("2026W48-00001", "841.92", "SEK", "SE4550000000058398257466",
                                                       "ESSESESS", "Svensk Handel AB")]
    document = etree.parse(str(home.home / "finance" / "outbox" / "payouts_2026-W48.xml"))
    debtors = [tuple(block.findtext(PAIN + path.replace("/", "/" + PAIN)) for path in (
        "Dbtr/Nm", "DbtrAcct/Id/IBAN", "DbtrAgt/FinInstnId/BICFI")) for block in document.iter(f"{PAIN}PmtInf")]
    agency = home.load_registry().agency
    assert debtors == [(agency.name, agency.iban, agency.bic)] == [
        ("Nordisk Inkasso ApS", "DK5000400440116243", "NDEADKKK")]
    assert document.findtext(f"{PAIN}CstmrCdtTrfInitn/{PAIN}GrpHdr/{PAIN}InitgPty/{PAIN}Nm") == agency.name


def test_a_creditor_neither_danish_nor_swedish_gets_its_statement_in_english(home):
    """berlin, a German creditor (with a Danish CVR number), is paid B-1's 1,000.00 EUR of 11-24 (14.20 interest;
    985.80 principal, 10 % 98.58, no VAT: the reverse charge; net 887.22): its statement is in English, its amounts
    as English writes them, with both addresses."""
    berlin = registry_text.creditor("berlin", "Berliner Handel GmbH", "DK30000005", "DE",
                                    "Friedrichstraße 10, 10117 Berlin", "EUR", "DE89370400440532013000", "COBADEFFXXX")
    home.registry_path.write_text(home.registry_path.read_text(encoding="utf-8").replace(
        "[fee_plan.standard]", berlin + "\n[fee_plan.standard]"), encoding="utf-8")
    Home(home.home).create_party_folders(home.load_registry())
    claims(home, "berlin", "B-1,2026-09-01,2026-10-01,1000.00,EUR,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,")
    _, b_ref = case_of(home, "B-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "1000.00", b_ref).replace('Ccy="DKK"', 'Ccy="EUR"')))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    settle.run(home, TUESDAY, "settle-1")
    statement = "\n".join(page.extract_text() for page in pypdf.PdfReader(
        home.home / "creditors" / "berlin" / "outbox" / "statement_berlin_2026-W48.pdf").pages)
    for shown in ("Nordisk Inkasso ApS", "Vesterbrogade 10, 1620 København V", "VAT no. DK12345674",
                  "Berliner Handel GmbH", "Friedrichstraße 10", "10117 Berlin", "VAT no. DK30000005",
                  "Settlement statement 2026-W48 (EUR)", "Settlement no. 2026W48-00001", "Issued 2026-12-01",
                  "Commission excl. VAT -98.58 EUR", "VAT 0 %", "Net 887.22 EUR", "1,000.00",
                  "Paid to DE89370400440532013000 on 2026-12-01.",
                  "Reverse charge: the customer accounts for the VAT",
                  "This statement is your VAT receipt for our commission and fees."):
        assert shown in statement, shown


def test_a_payout_the_bank_would_refuse_stops_the_week_before_anything_is_recorded(home):
    """A creditor name longer than pain.001's 140 characters: nothing is settled; mended, the week settles."""
    long_name = REGISTRY.replace('name = "Acme ApS"', f'name = "{"Acme " * 30}ApS"')
    home.registry_path.write_text(long_name, encoding="utf-8")
    a_paid(home)
    with pytest.raises(settle.PayoutsRefused, match="2026-W48 is not settled: .*Nm"):
        settle.run(home, TUESDAY, "settle-1")
    with reading(home) as conn:
        assert conn.execute(select(func.count()).select_from(settlement_weeks)).scalar_one() == 0
    assert not list((home.home / "finance" / "outbox").glob("settlement_*"))
    home.registry_path.write_text(REGISTRY, encoding="utf-8")
    assert settle.run(home, TUESDAY, "settle-2")["payouts"] == 1


def test_a_creditor_the_registry_lost_waits_and_the_others_are_settled(home):
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,")
    claims(home, "svea", "V-1,2026-09-01,2026-10-01,3000.00,SEK,E1,consumer,Eva Holm,Gatan 9,11122,Stockholm,SE,,")
    (_, a_ref), (_, v_ref) = case_of(home, "A-1"), case_of(home, "V-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "500.00", a_ref),
                                     entry("E2", "1000.00", v_ref).replace('Ccy="DKK"', 'Ccy="SEK"')))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    without_svea = REGISTRY[:REGISTRY.index('[[creditor]]\nid = "svea"')] + REGISTRY[REGISTRY.index("[fee_plan"):]
    home.registry_path.write_text(without_svea, encoding="utf-8")
    first = settle.run(home, TUESDAY, "settle-48")
    assert (first["settlements"], first["left_out"]) == (1, ["svea"])
    home.registry_path.write_text(REGISTRY, encoding="utf-8")
    later = settle.run(home, date(2026, 12, 8), "settle-49")
    assert [row["creditor_id"] for row in outbox(home, "settlement_summary_2026-W49.csv")] == ["svea"]
    assert later["left_out"] == []


def test_a_week_is_settled_after_its_sunday_and_a_late_run_pays_on_its_own_day(home):
    a_paid(home)
    with pytest.raises(settle.WeekNotOver, match="2026-W48 ends on 2026-11-29"):
        settle.run(home, date(2026, 11, 29), "early", period="2026-W48")
    settle.run(home, date(2026, 12, 10), "late", period="2026-W48")
    document = etree.parse(str(home.home / "finance" / "outbox" / "payouts_2026-W48.xml"))
    assert document.findtext(f"{PAIN}CstmrCdtTrfInitn/{PAIN}PmtInf/{PAIN}ReqdExctnDt/{PAIN}Dt") == "2026-12-10"


THURSDAYS = [date(2026, 11, 26), date(2026, 12, 3), date(2026, 12, 10), date(2026, 12, 17)]   # W48 to W51
CURRENCY = {"A-1": "DKK", "B-1": "DKK", "S-1": "DKK", "V-1": "SEK"}


@settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(events=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["A-1", "B-1", "S-1", "V-1"]),
                                 st.integers(1, 250_000), st.sampled_from(["bank", "bank", "direct", "withdraw"])),
                       min_size=1, max_size=8),
       settled_weeks=st.lists(st.booleans(), min_size=4, max_size=4))
def test_any_allocations_over_any_weekly_runs_are_settled_once_and_balance(events, settled_weeks):
    """Each example is a fresh ledger (SQLite): payments, direct payments and withdrawals over four weeks, each
    week settled or not (a week not settled goes into the next one that is), then a last week that sweeps.
    Every settleable posting is settled exactly once; each line's net is its share less commission, VAT and
    fees; and what was paid out, invoiced and is still carried is, per creditor, the sum of every line's net;
    each week's payout file (valid against the XSD) pays exactly its summary's positive nets, and a week with
    none has no payout file."""
    home = fresh_home(REGISTRY.replace('SE = "10"', 'SE = "12"'))
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,",
           "B-1,2026-03-15,2026-04-15,500.00,DKK,D2,consumer,Karen Nielsen,Vej 2,2100,Kbh Ø,DK,,",
           "S-1,2026-09-01,2026-10-01,1000.00,DKK,D4,consumer,Sven Berg,Gatan 1,11122,Stockholm,SE,,")
    claims(home, "svea", "V-1,2026-09-01,2026-10-01,3000.00,SEK,E1,consumer,Eva Holm,Gatan 9,11122,Stockholm,SE,,")
    for week, thursday in enumerate(THURSDAYS):
        todays = [(invoice, amount, how) for w, invoice, amount, how in events if w == week]
        entries = [entry(f"W{week}-{n}", f"{amount // 100}.{amount % 100:02d}", case_of(home, invoice)[1],
                         value_date=thursday.isoformat()).replace('Ccy="DKK"', f'Ccy="{CURRENCY[invoice]}"')
                   for n, (invoice, amount, how) in enumerate(todays) if how == "bank"]
        if entries:
            drop_bank(home, f"stmt{week}.xml", camt("053", f"S{week}", *entries))
            reconcile.run(home, thursday, f"rec-{week}", settle_seconds=0)
        for n, (invoice, amount, how) in enumerate(todays):
            if how in ("direct", "withdraw"):
                creditor = "svea" if invoice == "V-1" else "acme"
                row = (f"PAID_DIRECTLY,{invoice},{amount // 100}.{amount % 100:02d},{thursday},"
                       if how == "direct" else f"WITHDRAW,{invoice},,,")
                drop(home, creditor, f"instructions_{week}_{n}.csv",
                     f"instruction,invoice_number,amount,date,note\n{row}\n")
                run_ingest(home, thursday, f"ingest-{week}-{n}", creditor_id=creditor)
        if settled_weeks[week]:
            settle.run(home, thursday + timedelta(days=5), f"settle-{week}")
    settle.run(home, date(2026, 12, 29), "settle-sweep")     # 2026-W52
    with reading(home) as conn:
        settleable = conn.execute(select(func.count()).select_from(postings).where(postings.c.kind.in_(
            ("payment", "payment_reversal", "direct_payment", "withdrawal_fee", "court_withdrawal_fee")))
        ).scalar_one()
        assert conn.execute(select(func.count()).select_from(settled_postings)).scalar_one() == settleable
        rows = conn.execute(select(settlements)).all()
        periods = sorted({row.period for row in rows})
        lines = pd.concat([book.lines_of(conn, period) for period in periods] or [pd.DataFrame(
            columns=["creditor_id", "creditor_share", "commission", "vat", "fees_due", "net_to_creditor"])])
        summaries = {period: settle.summary_rows(conn, period) for period in periods}
    assert (lines["net_to_creditor"] == lines["creditor_share"] - lines["commission"] - lines["vat"]
            - lines["fees_due"]).all()
    for creditor in ("acme", "svea"):
        mine = sorted((row for row in rows if row.creditor_id == creditor), key=lambda row: row.id)
        paid_or_invoiced = sum(row.net_payout for row in mine if row.outcome in ("PAYOUT", "INVOICED"))
        still_carried = mine[-1].net_payout if mine and mine[-1].outcome == "CARRIED" else 0
        assert paid_or_invoiced + still_carried == lines.loc[lines["creditor_id"] == creditor,
                                                             "net_to_creditor"].sum()
    for period, rows_of_week in summaries.items():
        paid = [summary for summary in rows_of_week if summary["outcome"] == "PAYOUT"]
        assert all(summary["net_payout"] > 0 for summary in paid)
        if paid:
            file = payouts(home, period)
            assert sorted((amount, currency) for _, amount, currency, *_ in file["transfers"]) == sorted(
                (format_minor(summary["net_payout"], summary["currency"]), summary["currency"]) for summary in paid)
            assert file["count"] == str(len(paid))
        else:
            assert not (home.home / "finance" / "outbox" / f"payouts_{period}.xml").exists()
    shutil.rmtree(home.home.parent, ignore_errors=True)
