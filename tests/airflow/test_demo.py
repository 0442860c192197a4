"""`inkasso demo` end to end, as `make demo` runs it: a fresh home, the real DAGs, a summary that matches the files."""
from __future__ import annotations

import os
import re
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import read_receipt

pytestmark = pytest.mark.airflow


def test_demo_runs_the_dag_and_its_summary_matches_the_receipts(tmp_path):
    home = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "INKASSO"))}
    env["INKASSO_HOME"] = str(home)
    inkasso = str(Path(sys.executable).parent / "inkasso")
    result = subprocess.run([inkasso, "demo"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "finished: success" in result.stdout

    printed = dict(re.findall(r"^(\w+/[\w.-]+): (\d+ rows, \d+ taken, \d+ not taken \(.*\))$", result.stdout, re.M))
    assert set(printed) == {"nordlys/faktura_eksport.csv", "nordlys/instructions_nordlys.csv", "svea/invoices_2026.csv",
                            "byggmax/unpaid.csv", "fjordvvs/oioubl_FV-20417.xml"}
    for source, summary in printed.items():
        creditor, file_name = source.split("/")
        (receipt,) = (home / "creditors" / creditor / "outbox").glob(f"receipt_{file_name}_*.csv")
        assert str(receipt) in result.stdout
        lines = read_receipt(receipt)
        rows = lines[:-1]
        taken = sum(line["outcome"] in ("ACCEPTED", "BELOW_MINIMUM", "APPLIED") for line in rows)
        assert summary.startswith(f"{len(rows)} rows, {taken} taken, {len(rows) - taken} not taken")
        assert lines[-1]["message"].startswith(f"{len(rows)} rows: {taken} ")
    assert printed["byggmax/unpaid.csv"] == (
        "8 rows, 2 taken, 6 not taken (ACCEPTED 1, BAD_AMOUNT 1, BELOW_MINIMUM 1, "
        "DISPUTED 1, DUPLICATE_IN_FILE 1, FEE_ABOVE_LEGAL_MAX 1, NOT_OVERDUE 1, TIME_BARRED 1)")
    assert printed["nordlys/faktura_eksport.csv"].startswith("3 rows, 3 taken, 0 not taken")
    assert printed["fjordvvs/oioubl_FV-20417.xml"] == "1 rows, 1 taken, 0 not taken (ACCEPTED 1)"  # OIOUBL
    assert printed["nordlys/instructions_nordlys.csv"] == "3 rows, 2 taken, 1 not taken (APPLIED 2, UNKNOWN_CASE 1)"
    assert "cases         7" in result.stdout and "COURT_APPROVED  1" in result.stdout

    # the day's lifecycle: a first letter to each of the seven cases, a status file for each creditor
    as_of = date.fromisoformat(re.search(r"business date (\S+)\)", result.stdout)[1])
    assert result.stdout.count("finished: success") == 6
    assert "letters of the day: 7 (INKASSOKRAV 3, INKASSOVARSEL 4)" in result.stdout
    letters = home / "letters" / "outbox" / f"letters_{as_of}.csv"
    assert [len(read_receipt(p)) for p in sorted(home.glob(f"creditors/*/outbox/status_{as_of}.csv"))] == [1, 1, 2, 3]
    owed = {}
    for line in read_receipt(letters):
        owed[line["currency"]] = owed.get(line["currency"], 0) + int(line["total"].replace(".", ""))
    # every open case had a letter today, so their totals are the open balance: 43280.75 DKK less the 1000.00
    # paid directly, plus interest; 53659.00 SEK plus interest and two inkassokrav fees of 180.00
    shown = {}  # the first day's ledger, printed before the demo moves on to the handoff's Monday
    for whole, cents, currency in re.findall(r"^open balance  (\d+)\.(\d\d) (\w+)$", result.stdout, re.M):
        shown.setdefault(currency, int(whole + cents))
    assert owed["DKK"] > 4228075 and owed["SEK"] > 5365900 + 36000
    # then the bank's files: a Danish case paid in full, one part-paid, a Swedish one part-paid, two parked
    assert ("reconciliation of the day: 5 payments (REFERENCE 2, TEXT_REFERENCE 1, parked NO_REFERENCE 1, "
            "parked UNKNOWN_REFERENCE 1)") in result.stdout
    assert "  PAID            1" in result.stdout
    [report] = (home / "finance" / "outbox").glob("reconciliation_*.csv")
    totals = {line["currency"]: line for line in read_receipt(report) if line["payment_id"] == "TOTAL"}
    allocated = {currency: sum(int(total[name].replace(".", "")) for name in (
        "allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs"))
        for currency, total in totals.items()}
    assert (allocated["SEK"], int(totals["DKK"]["parked"].replace(".", ""))) == (100000, 12345)
    assert shown == {currency: owed[currency] - allocated[currency] for currency in owed}
    assert not any(any((home / "creditors" / c / "inbox").iterdir())
                   for c in ("nordlys", "svea", "byggmax", "fjordvvs"))

    # the Monday after the warnings' deadlines: the approved case goes to the court partner and is closed here
    monday = date.fromisoformat(re.search(r"^=== (\S+), the Monday", result.stdout, re.M)[1])
    assert monday.weekday() == 0 and (monday - as_of).days in range(12, 21)
    year, week, _ = monday.isocalendar()
    [handoff] = read_receipt(home / "partners" / "alektum" / "outbox" / f"court_handoff_alektum_{year}W{week:02d}.csv")
    assert (handoff["invoice_number"], handoff["debtor_national_id"], handoff["principal_outstanding"],
            handoff["inkassovarsel_date"], handoff["creditor_approval_date"]) == (
        "NL-1003", "25313763", "12500.00", str(as_of), str(as_of))
    assert f"court handoff to alektum: 1 cases, 1 claims (case {handoff['case_number']}" in result.stdout
    assert "  HANDED_OVER     1" in result.stdout
    shown_case = subprocess.run([inkasso, "case", handoff["case_number"], "--json"], env=env, capture_output=True,
                                text=True, timeout=120)
    case = json.loads(shown_case.stdout)
    assert (case["status"], case["closed_on"], case["balance"]["total"]) == (
        "HANDED_OVER", str(monday), handoff["total_outstanding"])

    # the Tuesday: everything collected so far settled, one payout per creditor, a statement each
    tuesday = monday + timedelta(days=1)
    before = (tuesday - timedelta(days=7)).isocalendar()
    period = f"{before.year}-W{before.week:02d}"
    summary = read_receipt(home / "finance" / "outbox" / f"settlement_summary_{period}.csv")
    settled = [(row["creditor_id"], row["currency"]) for row in summary]
    assert settled == [("fjordvvs", "DKK"), ("nordlys", "DKK"), ("svea", "SEK")]
    payout = (home / "finance" / "outbox" / f"payouts_{period}.xml").read_text(encoding="utf-8")
    paid = [row["settlement_id"] for row in summary if not row["net_payout"].startswith(("-", "0.00"))]
    assert payout.count("<CdtTrfTxInf>") == len(paid) > 0 and f"<Dt>{tuesday}</Dt>" in payout
    assert all(f"<EndToEndId>{settlement_id}</EndToEndId>" in payout for settlement_id in paid)
    lines = read_receipt(home / "finance" / "outbox" / f"settlement_lines_{period}.csv")
    collected = {currency: sum(int((line[name]).replace(".", "")) for line in lines if line["currency"] == currency
                               for name in ("allocated_principal", "allocated_interest", "allocated_fees"))
                 for currency in ("DKK", "SEK")}
    assert collected == {"DKK": allocated["DKK"] + 100000, "SEK": allocated["SEK"]}   # the bank's, and 1,000.00 direct
    assert sorted(p.name for p in home.glob(f"creditors/*/outbox/statement_*_{period}.pdf")) == [
        f"statement_{creditor}_{period}.pdf" for creditor, _ in settled]
