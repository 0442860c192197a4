"""The ingest stage end to end on the ledger (SQLite and PostgreSQL): cases, references, credit notes, re-runs."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from pipeline.ledger import open_ledger
from pipeline.ledger.schema import case_events, cases, invoices, postings
from pipeline.references import case_number_from_reference
from pipeline.stats import ledger_stats
from pipeline.stages.ingest import invoices as invoices_module
from tests.conftest import AS_OF, drop, only_receipt, receipts, run_ingest

HEADER = ("invoice_number,document_type,credited_invoice_number,invoice_date,due_date,amount,currency,debtor_id,"
          "debtor_type,debtor_name,debtor_address_line1,debtor_postcode,debtor_city,debtor_country,reminder_fees\n")


def test_invoices_of_one_debtor_share_a_case_and_a_credit_note_reduces_its_invoice(settings):
    drop(settings, "acme", "invoices.csv", HEADER
         + "CN-1,credit_note,INV-2,2026-06-01,,200.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,København,DK,\n"
         + "INV-1,,,2026-05-01,2026-05-31,1500.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,København,DK,100.00\n"
         + "INV-2,invoice,,2026-05-02,2026-06-01,2500.50,DKK,D1,consumer,Jens Hansen,Vej 1,2100,København,DK,\n"
         + "INV-3,invoice,,2026-05-02,2026-06-01,3000.00,DKK,D2,business,Firma ApS,Gade 2,8000,Aarhus,DK,\n")
    counts = run_ingest(settings, AS_OF, "test-run")
    assert (counts.files, counts.rows, counts.rows_taken, counts.cases_opened) == (1, 4, 4, 2)
    lines = only_receipt(settings, "acme")
    by_number = {line["invoice_number"]: line for line in lines if line["invoice_number"]}
    assert [line["line"] for line in lines] == ["2", "3", "4", "5", ""]
    assert by_number["INV-1"]["outcome"] == "BELOW_MINIMUM"
    assert by_number["INV-2"]["outcome"] == "ACCEPTED"
    assert by_number["CN-1"]["outcome"] == "ACCEPTED"
    assert by_number["CN-1"]["message"] == "reduces invoice INV-2 by 200.00 DKK"
    assert by_number["INV-1"]["case_number"] == by_number["INV-2"]["case_number"] == by_number["CN-1"]["case_number"]
    assert by_number["INV-3"]["case_number"] != by_number["INV-1"]["case_number"]
    for line in (by_number["INV-1"], by_number["INV-3"]):
        assert len(line["payment_reference"]) == 15  # FIK +71 payment id for Danish debtors
        assert case_number_from_reference(line["payment_reference"]) == line["case_number"]
    assert lines[-1]["outcome"] == "SUMMARY"
    assert lines[-1]["message"] == "4 rows: 4 taken for collection, 0 not taken (ACCEPTED 3, BELOW_MINIMUM 1)"

    engine = open_ledger(settings)
    with engine.connect() as conn:
        case_id = conn.execute(select(cases.c.id).where(cases.c.case_number == by_number["INV-1"]["case_number"])).scalar_one()
        amounts = sorted(conn.execute(select(postings.c.kind, postings.c.amount_minor)
                                      .where(postings.c.case_id == case_id)).all())
        assert amounts == [("credit_note", -20000), ("creditor_fee", 10000), ("principal", 150000), ("principal", 250050)]
        events = sorted(conn.execute(select(case_events.c.kind).where(case_events.c.case_id == case_id)).scalars())
        assert events == ["case_opened", "claim_added", "claim_added", "credit_note"]
        assert conn.execute(select(invoices.c.document_type).where(invoices.c.invoice_number == "CN-1")).scalar_one() == "credit_note"
        stats = ledger_stats(conn)
    engine.dispose()
    assert stats["open_balance"] == {"DKK": "6900.50"}  # 1500 + 100 + 2500.50 - 200 + 3000
    assert stats["cases"] == {"total": 2, "by_status": {"OPEN": 2}}


def test_the_same_file_again_changes_nothing_and_a_changed_invoice_is_a_conflict(settings):
    body = HEADER + "INV-1,,,2026-05-01,2026-05-31,1500.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,København,DK,\n"
    drop(settings, "acme", "first.csv", body)
    run_ingest(settings, AS_OF, "run-1")
    first = receipts(settings, "acme")
    engine = open_ledger(settings)
    with engine.connect() as conn:
        before = ledger_stats(conn)

    drop(settings, "acme", "first.csv", body)
    counts = run_ingest(settings, AS_OF, "run-2")
    assert counts.files_seen_before == 1 and counts.rows == 0
    assert receipts(settings, "acme") == first

    drop(settings, "acme", "second.csv", body + body.splitlines()[1].replace("1500.00", "1600.00") + "\n")
    run_ingest(settings, AS_OF, "run-3")
    second = only_receipt_named(settings, "second.csv")
    assert [(l["invoice_number"], l["outcome"]) for l in second[:-1]] == [("INV-1", "DUPLICATE"), ("INV-1", "DUPLICATE_IN_FILE")]
    drop(settings, "acme", "third.csv", HEADER + body.splitlines()[1].replace("1500.00", "1600.00") + "\n")
    run_ingest(settings, AS_OF, "run-4")
    third = only_receipt_named(settings, "third.csv")
    assert third[0]["outcome"] == "CONFLICT"
    assert third[0]["message"].startswith("received before in first.csv line 2 with different content")
    with engine.connect() as conn:
        after = ledger_stats(conn)
    engine.dispose()
    assert after["invoices"] == before["invoices"] == 1
    assert after["open_balance"] == before["open_balance"] == {"DKK": "1500.00"}


def only_receipt_named(settings, file_name):
    found = [p for p in receipts(settings, "acme") if p.name.startswith(f"receipt_{file_name}_")]
    assert len(found) == 1
    from tests.conftest import read_receipt
    return read_receipt(found[0])


def test_a_later_file_updates_the_debtor_but_does_not_erase_what_it_leaves_out(settings):
    from pipeline.ledger.schema import debtors

    drop(settings, "acme", "one.csv", HEADER.rstrip("\n") + ",debtor_national_id,debtor_email\n"
         + "INV-1,,,2026-05-01,2026-05-31,2500.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,København,DK,,070761-4285,jens@example.dk\n")
    run_ingest(settings, AS_OF, "run-1")
    drop(settings, "acme", "two.csv", HEADER
         + "INV-2,,,2026-06-01,2026-06-30,2600.00,DKK,D1,consumer,Jens Hansen,Nyvej 7,8000,Aarhus C,DK,\n")
    run_ingest(settings, AS_OF, "run-2")
    engine = open_ledger(settings)
    with engine.connect() as conn:
        debtor = conn.execute(select(debtors.c.national_id, debtors.c.email, debtors.c.address_line1,
                                     debtors.c.city)).one()
        case_count = conn.execute(select(cases.c.id)).all()
    engine.dispose()
    assert tuple(debtor) == ("0707614285", "jens@example.dk", "Nyvej 7", "Aarhus C")
    assert len(case_count) == 1


@pytest.mark.parametrize("remembered", [invoices_module.REMEMBERED, 1])
def test_a_debtor_on_several_batches_of_a_file_takes_the_details_of_its_last_row(settings, monkeypatch, remembered):
    """A debtor a file gave before with the same details is taken from what the file remembers (SeenDebtors),
    one with other details from the ledger, which writes them; its open case too (SeenCases); forgetting (a bound
    of 1) changes nothing."""
    from pipeline.ledger.schema import debtors
    from pipeline.parsers import invoice_csv

    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", 400)   # a batch of two or three rows
    monkeypatch.setattr(invoices_module, "REMEMBERED", remembered)
    row = "INV-{},,,2026-05-01,2026-05-31,2500.00,DKK,{},consumer,{},{},2100,København,DK,\n"
    rows = [row.format(1, "D1", "Jens Hansen", "Vej 1"), row.format(2, "D2", "Firma ApS", "Gade 2"),
            row.format(3, "D1", "Jens Hansen", "Vej 1"), row.format(4, "D2", "Firma ApS", "Gade 2"),
            row.format(5, "D1", "Jens Hansen", "Vej 1"), row.format(6, "D1", "Jens Hansen", "Nyvej 7"),
            row.format(7, "D2", "Firma ApS", "Gade 2"), row.format(8, "D1", "Jens Hansen", "Nyvej 7")]
    drop(settings, "acme", "invoices.csv", HEADER + "".join(rows))
    counts = run_ingest(settings, AS_OF, "run-1")
    assert (counts.rows, counts.rows_taken, counts.cases_opened) == (8, 8, 2)
    engine = open_ledger(settings)
    with engine.connect() as conn:
        details = dict(conn.execute(select(debtors.c.debtor_ref, debtors.c.address_line1)).all())
        claims = conn.execute(select(invoices.c.invoice_number, invoices.c.debtor_id, invoices.c.case_id)
                              .order_by(invoices.c.invoice_number)).all()
    engine.dispose()
    assert details == {"D1": "Nyvej 7", "D2": "Gade 2"}
    assert len({(debtor, case) for _, debtor, case in claims}) == 2
    assert {number for number, debtor, _ in claims if debtor == claims[0].debtor_id} == {
        "INV-1", "INV-3", "INV-5", "INV-6", "INV-8"}
