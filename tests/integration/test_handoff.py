"""The weekly court handoff (`pipeline.stages.handoff`, formats.md §3.1) on the ledger, SQLite and PostgreSQL:
the eligible approved cases go to the partner once, the others stay and their creditor is told why."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.ledger import open_ledger
from pipeline.ledger.schema import cases, invoices, payments
from pipeline.stages import handoff, lifecycle, reconcile
from tests.conftest import AS_OF, FAST_RETRIES, SFTP_CONNECTION, drop, run_ingest, use_connection
from tests.integration.test_bank_payments import camt, drop_bank, entry
from tests.integration.test_lifecycle import RATES, posted
from tests.integration.test_reconciliation import case_of

HEADER = ("invoice_number,invoice_date,due_date,amount,currency,debtor_id,debtor_type,debtor_name,debtor_national_id,"
          "debtor_address_line1,debtor_postcode,debtor_city,debtor_country\n")
MONDAY = date(2026, 12, 14)          # week 2026-W51: the warnings of 11-26 expired on Monday 12-07
OUTBOX = ("partners", "alektum", "outbox")


@pytest.fixture
def home(settings):
    (settings.home / "rates.csv").write_text(RATES, encoding="utf-8")
    drop(settings, "acme", "claims.csv", HEADER + "H-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,"
                                                  "070761-4285,Vej 1,2100,København Ø,DK\n"
                                                  "H-2,2026-09-01,2026-10-01,1000.00,DKK,D2,consumer,Eva Holm,,Vej 2,"
                                                  "2100,København Ø,DK\n")
    run_ingest(settings, AS_OF, "ingest")
    lifecycle.run(settings, AS_OF, "day-1")
    drop(settings, "acme", "instructions_approve.csv",
         "instruction,invoice_number,amount,date,note\nAPPROVE_COURT,H-1,,,\nAPPROVE_COURT,H-2,,,\n")
    run_ingest(settings, AS_OF, "ingest-2")
    return settings


def status(home, number: str) -> tuple:
    engine = open_ledger(home)
    with engine.connect() as conn:
        found = conn.execute(select(cases.c.status, cases.c.closed_on).join(invoices, invoices.c.case_id == cases.c.id)
                             .where(invoices.c.invoice_number == number)).one()
    engine.dispose()
    return tuple(found)


def test_a_week_hands_over_the_eligible_case_and_tells_the_creditor_why_the_other_stays(home):
    """H-1: 2,000.00 due 10-01; interest to the handoff day, the days 10-01 … 12-13 (74) at 9.60 %:
    2,000 × 0.096 × 74 / 365 = 38.926 → 38.93 (29.46 posted by the lifecycle of 11-26, 9.47 at the handoff)."""
    result = handoff.run(home, MONDAY, "week-51")
    assert (result["week"], result["batches"], result["cases"], result["refused"], result["handed_over"]) == (
        "2026-W51", 1, 1, 1, 1)
    outbox = home.home.joinpath(*OUTBOX)
    data = (outbox / "court_handoff_alektum_2026W51.csv").read_bytes()
    [line] = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert {k: line[k] for k in ("invoice_number", "debtor_national_id", "principal_original",
                                 "principal_outstanding", "interest_accrued", "interest_rate_basis",
                                 "total_outstanding", "inkassovarsel_date", "inkassovarsel_deadline",
                                 "creditor_approval_date", "documents", "creditor_name")} == {
        "invoice_number": "H-1", "debtor_national_id": "0707614285", "principal_original": "2000.00",
        "principal_outstanding": "2000.00", "interest_accrued": "38.93", "interest_rate_basis": "reference+8pp",
        "total_outstanding": "2038.93", "inkassovarsel_date": "2026-11-26", "inkassovarsel_deadline": "2026-12-07",
        "creditor_approval_date": AS_OF.isoformat(), "documents": "claims.csv", "creditor_name": "Acme ApS"}
    assert posted(home, "H-1")["interest"] == 3893
    manifest = json.loads((outbox / "court_handoff_alektum_2026W51.manifest.json").read_text(encoding="utf-8"))
    assert (manifest["case_count"], manifest["line_count"], manifest["totals"], manifest["sha256"],
            manifest["created_at"]) == (1, 1, {"DKK": "2038.93"}, hashlib.sha256(data).hexdigest(),
                                        "2026-12-14T06:00:00+01:00")
    assert status(home, "H-1") == ("HANDED_OVER", MONDAY)
    assert status(home, "H-2") == ("COURT_APPROVED", None)
    report = home.home / "creditors" / "acme" / "outbox" / "handoff_report_2026W51.csv"
    assert [row["reasons"] for row in csv.DictReader(io.StringIO(report.read_text(encoding="utf-8")))] == [
        "NO_NATIONAL_ID"]

    again = handoff.run(home, MONDAY, "week-51-again")
    assert (again["chosen_before"], again["handed_over"]) == (True, 0)
    (outbox / "court_handoff_alektum_2026W51.csv").unlink()                  # the outbox lost it
    handoff.run(home, MONDAY, "week-51-third", week="2026-W51")
    assert (outbox / "court_handoff_alektum_2026W51.csv").read_bytes() == data
    assert lifecycle.run(home, date(2026, 12, 15), "day-2")["claims"] == 1   # only H-2 is still collected


def test_a_payment_after_the_handoff_is_parked_for_the_partner_and_one_before_it_is_allocated(home):
    """H-1 went to the partner on Monday 12-14: the debtor's 500.00 to our account on 12-15 is parked
    (CASE_HANDED_OVER: the partner collects it now); H-2, approved but kept, still takes its 100.00."""
    handoff.run(home, MONDAY, "week-51")
    references = {number: case_of(home, number)[1] for number in ("H-1", "H-2")}
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "500.00", references["H-1"], value_date="2026-12-15"),
                                     entry("E2", "100.00", references["H-2"], value_date="2026-12-15")))
    result = reconcile.run(home, date(2026, 12, 15), "rec", settle_seconds=0)
    assert (result["matched"], result["parked"]) == (1, 1)
    engine = open_ledger(home)
    with engine.connect() as conn:
        judged = conn.execute(select(payments.c.bank_key, payments.c.rule, payments.c.parked_reason)
                              .order_by(payments.c.id)).all()
    engine.dispose()
    assert [tuple(row) for row in judged] == [("BANK-E1", None, "CASE_HANDED_OVER"), ("BANK-E2", "REFERENCE", None)]
    assert status(home, "H-1") == ("HANDED_OVER", MONDAY)


class Stop(Exception):
    pass


@pytest.mark.parametrize("step", ["chosen", "court_handoff_delivered", "handoff_manifest_delivered", "delivered"])
def test_a_run_stopped_between_any_two_steps_is_completed_by_the_next_with_each_case_over_once(home, step):
    def stop_at(name: str) -> None:
        if name == step:
            raise Stop(name)

    with pytest.raises(Stop):
        handoff.run(home, MONDAY, "week-51", checkpoint=stop_at)
    assert status(home, "H-1") == ("COURT_APPROVED", None)           # not over until both files are out
    result = handoff.run(home, MONDAY, "week-51-retry")
    assert (result["chosen_before"], result["handed_over"]) == (True, 1)
    assert status(home, "H-1") == ("HANDED_OVER", MONDAY)
    outbox = home.home.joinpath(*OUTBOX)
    assert sorted(path.name for path in outbox.iterdir()) == ["court_handoff_alektum_2026W51.csv",
                                                              "court_handoff_alektum_2026W51.manifest.json"]
    assert handoff.run(home, MONDAY, "week-51-third")["handed_over"] == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_files_go_up_to_the_partners_sftp_server(home, sftp_server, airflow_home, monkeypatch):
    home.registry_path.write_text(home.registry_path.read_text(encoding="utf-8") + '\n[transport]\npartner = '
                                  f'{{ kind = "sftp", connection = "{SFTP_CONNECTION}" }}\n', encoding="utf-8")
    use_connection(monkeypatch, sftp_server.connection(**FAST_RETRIES))
    assert handoff.run(home, MONDAY, "week-51")["handed_over"] == 1
    outbox = "partners/alektum/outbox"
    assert sorted(sftp_server.listdir(outbox)) == ["court_handoff_alektum_2026W51.csv",
                                                   "court_handoff_alektum_2026W51.manifest.json"]
    data = sftp_server.download(f"{outbox}/court_handoff_alektum_2026W51.csv")
    manifest = json.loads(sftp_server.download(f"{outbox}/court_handoff_alektum_2026W51.manifest.json"))
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest() and b"H-1" in data


def test_every_reason_an_approved_case_stays_is_reported_to_its_creditor(settings):
    """One approved case for each reason formats.md §3.1 and the issue name (NO_ADDRESS cannot come in through
    ingest, which requires the address: `tests/unit/test_court_eligibility.py` has it)."""
    (settings.home / "rates.csv").write_text(RATES, encoding="utf-8")
    settings.registry_path.write_text(settings.registry_path.read_text(encoding="utf-8").replace(
        '\ncountries = ["DK", "SE"]', '\ncountries = ["DK"]'), encoding="utf-8")  # no partner takes Sweden
    row = "{},2026-09-01,2026-10-01,{},DKK,{},consumer,{},{},Vej 1,2100,København Ø,DK\n"
    drop(settings, "acme", "claims.csv", HEADER
         + row.format("E-1", "2000.00", "D1", "Jens Hansen", "070761-4285")
         + row.format("N-1", "1000.00", "D2", "Eva Holm", "")
         + row.format("P-1", "1000.00", "D3", "Per Lund", "070761-4285")
         + row.format("P-2", "1000.00", "D3", "Per Lund", "070761-4285")
         + row.format("L-1", "150000.00", "D5", "Lone Berg", "070761-4285")
         + "T-1,2023-11-10,2023-12-10,1000.00,DKK,D4,consumer,Tove Dahl,070761-4285,Vej 4,2100,København Ø,DK\n")
    drop(settings, "svea", "claims.csv", HEADER
         + "S-1,2026-09-01,2026-10-01,3000.00,SEK,C1,consumer,Sven Svensson,880320-0016,Gata 1,11122,Stockholm,SE\n")
    run_ingest(settings, AS_OF, "ingest")
    lifecycle.run(settings, AS_OF, "day-1")
    drop(settings, "acme", "late.csv", HEADER + row.format("W-1", "1000.00", "D6", "Ole Olsen", "070761-4285"))
    run_ingest(settings, date(2026, 12, 10), "ingest-late")                       # no warning sent yet
    instructions = "instruction,invoice_number,amount,date,note\n"
    drop(settings, "acme", "instructions_court.csv", instructions + "".join(
        f"APPROVE_COURT,{number},,2026-12-10,\n" for number in ("E-1", "N-1", "P-1", "T-1", "L-1", "W-1"))
         + "DISPUTE,P-2,,2026-12-10,\n")
    drop(settings, "svea", "instructions_court.csv", instructions + "APPROVE_COURT,S-1,,2026-12-10,\n")
    run_ingest(settings, date(2026, 12, 10), "ingest-instructions")

    result = handoff.run(settings, MONDAY, "week-51")
    assert (result["cases"], result["refused"], result["handed_over"]) == (1, 6, 1)
    numbers = {}
    engine = open_ledger(settings)
    with engine.connect() as conn:
        for number, case_number in conn.execute(select(invoices.c.invoice_number, cases.c.case_number)
                                                .join(cases, cases.c.id == invoices.c.case_id)):
            numbers[case_number] = number
    engine.dispose()
    reported = {}
    for creditor in ("acme", "svea"):
        path = settings.home / "creditors" / creditor / "outbox" / "handoff_report_2026W51.csv"
        for line in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
            reported[numbers[line["case_number"]]] = line["reasons"]
    assert reported == {"N-1": "NO_NATIONAL_ID", "P-2": "DISPUTED", "T-1": "TIME_BARRED",
                        "L-1": "ABOVE_PAYMENT_ORDER_LIMIT", "W-1": "WARNING_NOT_EXPIRED", "S-1": "NO_PARTNER"}
    assert status(settings, "E-1") == ("HANDED_OVER", MONDAY)


def test_a_run_killed_between_the_file_and_its_manifest_is_completed_by_the_next(home, tmp_path):
    marker = tmp_path / "reached"
    process = subprocess.Popen([sys.executable, "-m", "tests.integration.handoff_run", str(home.home),
                                home.database_url, "court_handoff_delivered", str(marker)],
                               cwd=Path(__file__).parents[2], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "the run never reached the upload of its manifest"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    outbox = home.home.joinpath(*OUTBOX)
    assert [path.name for path in outbox.iterdir()] == ["court_handoff_alektum_2026W51.csv"]
    assert status(home, "H-1") == ("COURT_APPROVED", None)
    assert handoff.run(home, MONDAY, "after-the-kill")["handed_over"] == 1
    data = (outbox / "court_handoff_alektum_2026W51.csv").read_bytes()
    manifest = json.loads((outbox / "court_handoff_alektum_2026W51.manifest.json").read_text(encoding="utf-8"))
    assert (manifest["case_count"], manifest["sha256"]) == (1, hashlib.sha256(data).hexdigest())
    assert status(home, "H-1") == ("HANDED_OVER", MONDAY)
