"""`inkasso case NUMBER [--json]` (formats.md §4) on a demo case, on SQLite and PostgreSQL: every amount is
what the balances module says."""
from __future__ import annotations

import json

from pipeline.cli import main
from pipeline.demo import DEMO_FILES, REGISTRY, nordlys_instructions
from pipeline.home import Home
from pipeline.ledger import open_ledger
from pipeline.ledger.balances import case_balances
from pipeline.money import format_minor
from pipeline.runs import command_run_id
from pipeline.stages import ingest, lifecycle
from tests.conftest import AS_OF, drop, read_receipt, receipts
from tests.integration.test_lifecycle import RATES


def test_a_demo_case_as_operations_sees_it(settings, capsys):
    """Nordlys's demo case after its first lifecycle day: two claims, 1,000.00 paid directly on NL-1002 (its
    100.00 of fees first, then 900.00 of principal), interest at 1.60 + 8 % (a test rate from 2026-07-01):
    NL-1001 2,450.00 × 0.096 × 45 / 365 = 29.00; NL-1002 1,180.75 × 0.096 × 30 / 365 = 9.32."""
    settings.registry_path.write_text(REGISTRY, encoding="utf-8")
    (settings.home / "rates.csv").write_text(RATES, encoding="utf-8")
    Home(settings.home).create_party_folders(settings.load_registry())
    name, make = DEMO_FILES["nordlys"]
    drop(settings, "nordlys", name, make(AS_OF))
    ingest.run(settings, AS_OF, command_run_id("ingest"))
    drop(settings, "nordlys", "instructions_nordlys.csv", nordlys_instructions(AS_OF))
    ingest.run(settings, AS_OF, command_run_id("ingest"))
    lifecycle.run(settings, AS_OF, command_run_id("lifecycle"))
    lines = {line["invoice_number"]: line for path in receipts(settings, "nordlys") for line in read_receipt(path)}
    number = lines["NL-1002"]["case_number"]
    capsys.readouterr()

    assert main(["case", number, "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    engine = open_ledger(settings)
    with engine.connect() as conn:
        total = case_balances(conn, [int(number) - 10_000_000])[int(number) - 10_000_000].total
    engine.dispose()
    assert view["balance"]["total"] == format_minor(total, "DKK") == "2969.07"
    assert {key: view[key] for key in ("case_number", "status", "creditor_id", "currency", "payment_reference",
                                       "country", "debtor_type", "opened_on", "closed_on", "letters")} == {
        "case_number": number, "status": "OPEN", "creditor_id": "nordlys", "currency": "DKK",
        "payment_reference": lines["NL-1002"]["payment_reference"], "country": "DK", "debtor_type": "consumer",
        "opened_on": AS_OF.isoformat(), "closed_on": None,
        "letters": [{"letter_id": f"{number}-001", "letter_type": "INKASSOVARSEL", "sent_on": "2026-11-26",
                     "deadline": "2026-12-07"}]}
    # the time bar: 3 years from the due date, NL-1002's renewed by the payment (forældelsesloven § 14)
    assert view["claims"] == [
        {"invoice_number": "NL-1001", "due_date": "2026-10-12", "principal_original": "2450.00",
         "principal_outstanding": "2450.00", "interest": "29.00", "reminder_fees": "200.00", "disputed": False,
         "time_bar_date": "2029-10-12", "time_barred": False},
        {"invoice_number": "NL-1002", "due_date": "2026-10-27", "principal_original": "1180.75",
         "principal_outstanding": "280.75", "interest": "9.32", "reminder_fees": "100.00", "disputed": False,
         "time_bar_date": "2029-11-26", "time_barred": False}]
    assert view["balance"] == {"principal": "3630.75", "interest": "38.32", "reminder_fees": "300.00",
                               "collection_fees": "0.00", "compensation": "0.00", "costs": "0.00",
                               "payments": "1000.00", "total": "2969.07"}
    assert view["creditor_charges"] == "0.00"
    assert [(e["on_date"], e["kind"]) for e in view["events"]] == [
        (AS_OF.isoformat(), "case_opened"), (AS_OF.isoformat(), "claim_added"), (AS_OF.isoformat(), "claim_added"),
        (AS_OF.isoformat(), "paid_directly"), (AS_OF.isoformat(), "letter_sent")]

    assert main(["case", number]) == 0
    readable = capsys.readouterr().out
    assert readable.startswith(f"case {number}  OPEN  nordlys  DK consumer  opened {AS_OF.isoformat()}\n")
    assert "  total                 2969.07\n" in readable and f"  {number}-001  INKASSOVARSEL  sent 2026-11-26" in readable
