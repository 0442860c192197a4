"""Instruction files (formats.md §1.3) end to end on the ledger (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from pipeline.ledger import open_ledger
from pipeline.ledger.schema import case_events, cases, invoices, postings
from tests.conftest import AS_OF, DATA, drop, read_receipt, receipts, run_ingest

INSTRUCTIONS = DATA / "instructions"
HEADER = "instruction,invoice_number,amount,date,note\n"


def ingest(settings, creditor: str, name: str, content) -> None:
    drop(settings, creditor, name, content)
    run_ingest(settings, AS_OF, f"run-{name}", creditor_id=creditor)


def receipt_of(settings, creditor: str, name: str) -> list[dict]:
    found = [p for p in receipts(settings, creditor) if p.name.startswith(f"receipt_{name}_")]
    assert len(found) == 1, found
    return read_receipt(found[0])


def outcomes(lines: list[dict]) -> list[tuple[str, str]]:
    return [(line["invoice_number"], line["outcome"]) for line in lines[:-1]]


@pytest.fixture
def acme(settings):
    ingest(settings, "acme", "cases_acme.csv", INSTRUCTIONS / "cases_acme.csv")
    return settings


def case_of(settings, invoice_number: str):
    engine = open_ledger(settings)
    with engine.connect() as conn:
        case = conn.execute(select(cases).join(invoices, invoices.c.case_id == cases.c.id)
                            .where(invoices.c.invoice_number == invoice_number)).one()
        booked = sorted(conn.execute(select(postings.c.kind, postings.c.amount_minor, postings.c.currency)
                                     .where(postings.c.case_id == case.id)).all())
        events = conn.execute(select(case_events.c.kind, case_events.c.on_date, case_events.c.detail)
                              .where(case_events.c.case_id == case.id).order_by(case_events.c.id)).all()
    engine.dispose()
    return case, booked, events


def set_state(settings, invoice_number: str, status: str, closed_on: date | None) -> None:
    engine = open_ledger(settings)
    with engine.begin() as conn:
        case_id = conn.execute(select(invoices.c.case_id).where(invoices.c.invoice_number == invoice_number)).scalar()
        conn.execute(update(cases).where(cases.c.id == case_id).values(status=status, closed_on=closed_on))
    engine.dispose()


def test_every_instruction_applies_with_its_exact_ledger_effect(acme):
    ingest(acme, "acme", "instructions.csv", INSTRUCTIONS / "applied.csv")
    lines = receipt_of(acme, "acme", "instructions.csv")
    assert outcomes(lines) == [(n, "APPLIED") for n in ("A-1", "A-2", "A-3", "A-4", "A-5")]
    assert lines[-1]["message"] == "5 rows: 5 applied, 0 not applied (APPLIED 5)"
    assert lines[1]["message"] == "OPEN -> WITHDRAWN; withdrawal fee 250.00 DKK charged to you"
    assert lines[1]["case_number"] and lines[1]["payment_reference"]

    case, booked, events = case_of(acme, "A-1")
    assert (case.status, case.closed_on, case.status_before_dispute) == ("COURT_APPROVED", None, None)
    assert booked == [("principal", 200000, "DKK")]
    assert events[-1] == ("court_approved", date(2026, 11, 20),
                          "APPROVE_COURT (line 2): OPEN -> COURT_APPROVED; note: debtor ignores us")

    case, booked, events = case_of(acme, "A-2")
    assert (case.status, case.closed_on) == ("WITHDRAWN", AS_OF)
    assert booked == [("principal", 300000, "DKK"), ("withdrawal_fee", 25000, "DKK")]
    assert events[-1][:2] == ("withdrawn", AS_OF)

    case, booked, events = case_of(acme, "A-3")
    assert (case.status, case.closed_on, case.status_before_dispute) == ("DISPUTED", None, "OPEN")
    assert events[-1][:2] == ("disputed", date(2026, 11, 25))

    case, booked, _ = case_of(acme, "A-4")
    assert (case.status, case.closed_on) == ("OPEN", None)
    assert booked == [("direct_payment", -150000, "DKK"), ("principal", 500000, "DKK")]
    assert lines[3]["message"] == "OPEN -> OPEN; direct payment 1500.00 DKK recorded, 3500.00 DKK outstanding"

    case, booked, events = case_of(acme, "A-5")
    assert (case.status, case.closed_on) == ("PAID", AS_OF)
    assert booked == [("direct_payment", -600000, "DKK"), ("principal", 600000, "DKK")]
    assert events[-1][0] == "paid_directly"


def test_a_withdrawal_after_the_handoff_records_the_court_withdrawal_fee(acme):
    set_state(acme, "A-1", "HANDED_OVER", date(2026, 11, 23))
    ingest(acme, "acme", "instructions.csv", HEADER + "WITHDRAW,A-1,,,\n")
    assert outcomes(receipt_of(acme, "acme", "instructions.csv")) == [("A-1", "APPLIED")]
    case, booked, events = case_of(acme, "A-1")
    assert (case.status, case.closed_on) == ("WITHDRAWN", date(2026, 11, 23))
    assert booked == [("court_withdrawal_fee", 75000, "DKK"), ("principal", 200000, "DKK")]
    assert events[-1][0] == "withdrawn_from_court"


@pytest.mark.parametrize("state", ["HANDED_OVER", "WITHDRAWN", "PAID", "CLOSED"])
def test_a_closed_case_refuses_every_instruction_but_a_withdrawal_from_court(acme, state):
    set_state(acme, "A-1", state, date(2026, 11, 23))
    instructions = ["APPROVE_COURT", "DISPUTE", "PAID_DIRECTLY", "RESUME"] + ([] if state == "HANDED_OVER" else ["WITHDRAW"])
    ingest(acme, "acme", "instructions.csv", HEADER + "".join(f"{i},A-1,10.00,,\n" for i in instructions))
    lines = receipt_of(acme, "acme", "instructions.csv")
    assert [line["outcome"] for line in lines[:-1]] == ["NOT_ALLOWED_IN_STATE"] * len(instructions)
    for instruction, line in zip(instructions, lines):
        assert line["message"].startswith(f"{instruction} is not allowed for a case in state {state} (")
    case, booked, events = case_of(acme, "A-1")
    assert (case.status, case.closed_on) == (state, date(2026, 11, 23))
    assert booked == [("principal", 200000, "DKK")]
    assert [kind for kind, _, _ in events] == ["case_opened", "claim_added"]


def test_open_states_refuse_what_they_do_not_allow_and_resume_restores_the_state_before_the_dispute(acme):
    steps = [("RESUME", "NOT_ALLOWED_IN_STATE"), ("APPROVE_COURT", "APPLIED"), ("APPROVE_COURT", "NOT_ALLOWED_IN_STATE"),
             ("RESUME", "NOT_ALLOWED_IN_STATE"), ("DISPUTE", "APPLIED"), ("DISPUTE", "NOT_ALLOWED_IN_STATE"),
             ("APPROVE_COURT", "NOT_ALLOWED_IN_STATE"), ("RESUME", "APPLIED")]
    ingest(acme, "acme", "instructions.csv", HEADER + "".join(f"{i},A-1,,,\n" for i, _ in steps))
    lines = receipt_of(acme, "acme", "instructions.csv")
    assert [line["outcome"] for line in lines[:-1]] == [outcome for _, outcome in steps]
    assert "state DISPUTED" in lines[6]["message"] and lines[6]["message"].startswith("APPROVE_COURT")
    assert lines[4]["message"] == "COURT_APPROVED -> DISPUTED; dispute of invoice A-1; 0 of 1 claims collected"
    assert lines[7]["message"] == "DISPUTED -> COURT_APPROVED; dispute lifted on invoice A-1; 1 of 1 claims collected"
    case, _, events = case_of(acme, "A-1")
    assert (case.status, case.status_before_dispute, case.closed_on) == ("COURT_APPROVED", None, None)
    assert [kind for kind, _, _ in events][2:] == ["court_approved", "disputed", "resumed"]


TWO_CLAIMS = ("invoice_number,invoice_date,due_date,amount,currency,debtor_id,debtor_type,debtor_name,"
              "debtor_address_line1,debtor_postcode,debtor_city,debtor_country\n"
              "B-1,2026-05-01,2026-05-31,1000.00,DKK,D6,consumer,Bo Berg,Vej 6,2100,København,DK\n"
              "B-2,2026-06-01,2026-06-30,2000.00,DKK,D6,consumer,Bo Berg,Vej 6,2100,København,DK\n")


def disputes_of(settings, *numbers: str) -> dict[str, date | None]:
    engine = open_ledger(settings)
    with engine.connect() as conn:
        found = dict(conn.execute(select(invoices.c.invoice_number, invoices.c.disputed_since)
                                  .where(invoices.c.invoice_number.in_(numbers))).all())
    engine.dispose()
    return found


def disputes(settings) -> dict[str, date | None]:
    return disputes_of(settings, "B-1", "B-2")


def test_a_dispute_stops_collection_on_its_claim_and_the_case_only_when_no_claim_is_left(acme):
    ingest(acme, "acme", "two_claims.csv", TWO_CLAIMS)
    steps = ["DISPUTE,B-1,,2026-11-02,", "DISPUTE,B-1,,,", "RESUME,B-2,,,", "DISPUTE,B-2,,2026-11-03,",
             "RESUME,B-1,,,"]
    ingest(acme, "acme", "instructions_1.csv", HEADER + "\n".join(steps) + "\n")
    lines = receipt_of(acme, "acme", "instructions_1.csv")
    assert [(l["outcome"], l["message"]) for l in lines[:-1]] == [
        ("APPLIED", "OPEN -> OPEN; dispute of invoice B-1; 1 of 2 claims collected"),
        ("NOT_ALLOWED_IN_STATE", "invoice B-1 is already disputed"),
        ("NOT_ALLOWED_IN_STATE", "invoice B-2 is not disputed"),
        ("APPLIED", "OPEN -> DISPUTED; dispute of invoice B-2; 0 of 2 claims collected"),
        ("APPLIED", "DISPUTED -> OPEN; dispute lifted on invoice B-1; 1 of 2 claims collected"),
    ]
    assert disputes(acme) == {"B-1": None, "B-2": date(2026, 11, 3)}
    case, _, events = case_of(acme, "B-1")
    assert (case.status, case.status_before_dispute) == ("OPEN", None)
    assert [e.kind for e in events] == ["case_opened", "claim_added", "claim_added", "claim_disputed", "disputed",
                                        "resumed"]
    by_case = "instruction,case_number,amount,date,note\n" + "".join(
        f"{i},{case.case_number},,2026-11-04,\n" for i in ("RESUME", "RESUME", "DISPUTE"))
    ingest(acme, "acme", "instructions_2.csv", by_case)
    lines = receipt_of(acme, "acme", "instructions_2.csv")
    assert [(l["outcome"], l["message"]) for l in lines[:-1]] == [
        ("APPLIED", "OPEN -> OPEN; dispute lifted on invoice B-2; 2 of 2 claims collected"),
        ("NOT_ALLOWED_IN_STATE", "RESUME is not allowed for a case in state OPEN (amicable collection)"),
        ("APPLIED", "OPEN -> DISPUTED; dispute of invoices B-1, B-2; 0 of 2 claims collected"),
    ]
    assert disputes(acme) == {"B-1": date(2026, 11, 4), "B-2": date(2026, 11, 4)}
    assert case_of(acme, "B-1")[2][-1].kind == "disputed"


def test_a_credit_note_number_names_the_claim_it_credits(acme):
    ingest(acme, "acme", "two_claims.csv", TWO_CLAIMS)
    ingest(acme, "acme", "note.csv", TWO_CLAIMS.splitlines(True)[0].replace("invoice_number,", "invoice_number,"
           "document_type,credited_invoice_number,") + "CN-B2,credit_note,B-2,2026-06-15,,100.00,DKK,D6,consumer,"
           "Bo Berg,Vej 6,2100,København,DK\n")
    ingest(acme, "acme", "instructions_1.csv", HEADER + "DISPUTE,CN-B2,,2026-11-02,\n")
    lines = receipt_of(acme, "acme", "instructions_1.csv")
    assert lines[0]["message"] == "OPEN -> OPEN; dispute of invoice B-2; 1 of 2 claims collected"
    assert disputes(acme) == {"B-1": None, "B-2": date(2026, 11, 2)}


def test_a_new_claim_joining_a_disputed_case_resumes_its_collection(acme):
    ingest(acme, "acme", "instructions_1.csv", HEADER + "APPROVE_COURT,A-1,,,\nDISPUTE,A-1,,,\n")
    ingest(acme, "acme", "more.csv", TWO_CLAIMS.splitlines(True)[0] +
           "A-9,2026-05-01,2026-05-31,1000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,København,DK\n")
    case, _, events = case_of(acme, "A-9")
    assert case_of(acme, "A-1")[0].id == case.id
    assert (case.status, case.status_before_dispute) == ("COURT_APPROVED", None)
    assert events[-2:] == [("resumed", AS_OF, "DISPUTED -> COURT_APPROVED: a new claim of this file is not disputed"),
                           ("claim_added", AS_OF, "invoice A-9: 1000.00 DKK")]
    assert disputes_of(acme, "A-1", "A-9") == {"A-1": AS_OF, "A-9": None}


def test_a_disputed_case_met_on_every_batch_of_a_file_is_resumed_once(acme, monkeypatch):
    """The case found on the first batch is remembered (SeenCases), resumed: the later batches join it."""
    from pipeline.parsers import invoice_csv

    ingest(acme, "acme", "instructions_1.csv", HEADER + "APPROVE_COURT,A-1,,,\nDISPUTE,A-1,,,\n")
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", 400)   # a batch of four or five rows
    claims = [f"A-{n},2026-05-01,2026-05-31,1000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,København,DK\n"
              for n in range(10, 22)]
    ingest(acme, "acme", "more.csv", TWO_CLAIMS.splitlines(True)[0] + "".join(claims))
    case, _, events = case_of(acme, "A-21")
    assert {case_of(acme, f"A-{n}")[0].id for n in (1, *range(10, 22))} == {case.id}
    assert (case.status, case.status_before_dispute) == ("COURT_APPROVED", None)
    assert [kind for kind, _, _ in events].count("resumed") == 1
    assert [kind for kind, _, _ in events].count("claim_added") == 1 + 12


def test_a_new_claim_in_another_currency_leaves_the_disputed_case_alone(acme):
    ingest(acme, "acme", "instructions_1.csv", HEADER + "DISPUTE,A-1,,,\n")
    ingest(acme, "acme", "more.csv", TWO_CLAIMS.splitlines(True)[0] +
           "A-9,2026-05-01,2026-05-31,1000.00,EUR,D1,consumer,Jens Hansen,Vej 1,2100,København,DK\n")
    disputed, _, events = case_of(acme, "A-1")
    assert (disputed.status, disputed.status_before_dispute) == ("DISPUTED", "OPEN")
    assert events[-1][0] == "disputed"
    euro = case_of(acme, "A-9")[0]
    assert (euro.id != disputed.id, euro.currency, euro.status) == (True, "EUR", "OPEN")


def test_resume_in_a_later_file_returns_to_the_state_before_the_dispute(acme):
    ingest(acme, "acme", "instructions_1.csv", HEADER + "APPROVE_COURT,A-1,,,\nDISPUTE,A-1,,,\n")
    case, _, _ = case_of(acme, "A-1")
    assert (case.status, case.status_before_dispute) == ("DISPUTED", "COURT_APPROVED")
    ingest(acme, "acme", "instructions_2.csv", HEADER + "RESUME,A-1,,,\n")
    case, _, _ = case_of(acme, "A-1")
    assert (case.status, case.status_before_dispute) == ("COURT_APPROVED", None)


def test_bad_rows_and_other_creditors_cases_change_nothing(acme):
    ingest(acme, "svea", "cases_svea.csv", INSTRUCTIONS / "cases_svea.csv")
    ingest(acme, "acme", "instructions.csv", INSTRUCTIONS / "bad_rows.csv")
    lines = receipt_of(acme, "acme", "instructions.csv")
    assert [line["outcome"] for line in lines[:-1]] == [
        "MISSING_FIELD", "MISSING_FIELD", "UNKNOWN_INSTRUCTION", "MISSING_FIELD", "BAD_AMOUNT", "BAD_AMOUNT",
        "BAD_AMOUNT", "BAD_AMOUNT", "BAD_DATE", "BAD_DATE", "BAD_DATE", "MISSING_FIELD", "UNKNOWN_CASE",
        "UNKNOWN_CASE", "UNKNOWN_CASE", "UNKNOWN_CASE"]
    assert lines[7]["message"] == "amount 2000.01 DKK exceeds the 2000.00 DKK outstanding on invoice A-1"
    assert lines[12]["message"] == "invoice B-1 is not a case of yours on file"
    assert lines[12]["case_number"] == ""
    assert lines[-1]["message"].startswith("16 rows: 0 applied, 16 not applied (BAD_AMOUNT 4, BAD_DATE 3, ")
    svea_case = case_of(acme, "B-1")[0].case_number
    ingest(acme, "svea", "instructions.csv", f"instruction,case_number\nWITHDRAW,{svea_case}\nWITHDRAW,10000001\n")
    assert outcomes(receipt_of(acme, "svea", "instructions.csv")) == [(svea_case, "APPLIED"), ("10000001", "UNKNOWN_CASE")]
    for number in ("A-1", "A-2"):
        case, booked, events = case_of(acme, number)
        assert case.status == "OPEN" and len(booked) == 1 and len(events) == 2


def test_dropping_the_same_instruction_file_again_changes_nothing(acme):
    ingest(acme, "acme", "instructions.csv", INSTRUCTIONS / "applied.csv")
    before = [case_of(acme, n) for n in ("A-1", "A-2", "A-3", "A-4", "A-5")]
    first = receipts(acme, "acme")
    drop(acme, "acme", "instructions.csv", INSTRUCTIONS / "applied.csv")
    counts = run_ingest(acme, AS_OF, "run-again", creditor_id="acme")
    assert (counts.files_seen_before, counts.rows) == (1, 0)
    assert receipts(acme, "acme") == first
    assert [case_of(acme, n) for n in ("A-1", "A-2", "A-3", "A-4", "A-5")] == before


def test_a_bom_semicolon_file_with_the_creditors_layout(settings):
    ingest(settings, "dansk", "fakturaer.csv", DATA / "variant_cp1252_semicolon_decimal_comma.csv")
    ingest(settings, "dansk", "instructions.csv", INSTRUCTIONS / "bom_semicolon.csv")
    lines = receipt_of(settings, "dansk", "instructions.csv")
    assert outcomes(lines) == [("DV-1", "APPLIED"), ("DV-1", "APPLIED"), ("DV-2", "APPLIED")]
    case, booked, events = case_of(settings, "DV-2")
    assert case.status == "OPEN"
    assert ("direct_payment", -123450, "DKK") in booked
    assert [(kind, on) for kind, on, _ in events[-3:]] == [
        ("claim_disputed", date(2026, 11, 20)), ("claim_resumed", AS_OF), ("paid_directly", date(2026, 11, 25))]
    assert events[-1][2].endswith("; note: Betalt i butikken")


def test_a_header_only_instruction_file_is_rejected_whole(acme):
    ingest(acme, "acme", "instructions.csv", HEADER)
    lines = receipt_of(acme, "acme", "instructions.csv")
    assert [(line["outcome"], line["message"]) for line in lines] == [
        ("EMPTY_FILE", "the file has a header but no data rows")]


def test_a_withdrawal_in_a_currency_the_fee_plan_does_not_name_is_refused_not_charged_zero(acme):
    ingest(acme, "acme", "kroner.csv", TWO_CLAIMS.splitlines(True)[0] +
           "N-1,2026-05-01,2026-05-31,1000.00,NOK,D9,consumer,Nils Berg,Vej 9,2100,København,DK\n")
    ingest(acme, "acme", "instructions.csv", HEADER + "WITHDRAW,N-1,,,\n")
    [line] = receipt_of(acme, "acme", "instructions.csv")[:-1]
    assert (line["outcome"], line["message"]) == (
        "NOT_ALLOWED_IN_STATE", "WITHDRAW cannot be applied: fee plan 'standard' has no withdrawal_fee for NOK "
                                "(it names DKK, EUR, SEK); the agency must add it")
    case, booked, events = case_of(acme, "N-1")
    assert (case.status, booked) == ("OPEN", [("principal", 100000, "NOK")])
    assert [kind for kind, _, _ in events] == ["case_opened", "claim_added"]


def test_a_direct_payment_is_booked_on_the_claims_oldest_due_date_first_with_the_instructions_date(acme):
    """B-1 (due 2026-05-31) has 100.00 of reminder fees: a payment of the case pays them, then B-1's principal,
    then B-2's; one naming B-2 pays B-2 only. Each part names what it settles; its value date is the line's."""
    ingest(acme, "acme", "two_claims.csv", TWO_CLAIMS.replace(
        "debtor_country\n", "debtor_country,reminder_fees\n").replace(",DK\n", ",DK,\n").replace(
        "B-1,2026-05-01,2026-05-31,1000.00,DKK,D6,consumer,Bo Berg,Vej 6,2100,København,DK,",
        "B-1,2026-05-01,2026-05-31,1000.00,DKK,D6,consumer,Bo Berg,Vej 6,2100,København,DK,100.00"))
    case = case_of(acme, "B-1")[0]
    ingest(acme, "acme", "instructions.csv", f"instruction,case_number,invoice_number,amount,date,note\n"
                                             f"PAID_DIRECTLY,{case.case_number},,1300.00,2026-11-10,\n"
                                             f"PAID_DIRECTLY,,B-2,500.00,2026-11-12,\n"
                                             f"PAID_DIRECTLY,,B-2,1300.01,2026-11-12,\n")
    lines = receipt_of(acme, "acme", "instructions.csv")
    assert [(l["outcome"], l["message"]) for l in lines[:-1]] == [
        ("APPLIED", "OPEN -> OPEN; direct payment 1300.00 DKK recorded, 1800.00 DKK outstanding"),
        ("APPLIED", "OPEN -> OPEN; direct payment 500.00 DKK recorded, 1300.00 DKK outstanding"),
        ("BAD_AMOUNT", "amount 1300.01 DKK exceeds the 1300.00 DKK outstanding on invoice B-2")]
    engine = open_ledger(acme)
    with engine.connect() as conn:
        paid = conn.execute(select(invoices.c.invoice_number, postings.c.amount_minor, postings.c.settles,
                                   postings.c.value_date, postings.c.booked_on)
                            .join(invoices, invoices.c.id == postings.c.invoice_id)
                            .where(postings.c.kind == "direct_payment").order_by(postings.c.id)).all()
    engine.dispose()
    assert paid == [("B-1", -10000, "reminder_fees", date(2026, 11, 10), AS_OF),
                    ("B-1", -100000, "principal", date(2026, 11, 10), AS_OF),
                    ("B-2", -20000, "principal", date(2026, 11, 10), AS_OF),
                    ("B-2", -50000, "principal", date(2026, 11, 12), AS_OF)]


def test_a_withdrawal_fee_the_plan_sets_to_zero_charges_nothing(acme):
    acme.registry_path.write_text(acme.registry_path.read_text(encoding="utf-8").replace(
        'withdrawal_fee = { DKK = "250.00"', 'withdrawal_fee = { DKK = "0.00"'), encoding="utf-8")
    ingest(acme, "acme", "instructions.csv", HEADER + "WITHDRAW,A-2,,,\n")
    [line] = receipt_of(acme, "acme", "instructions.csv")[:-1]
    assert (line["outcome"], line["message"]) == ("APPLIED", "OPEN -> WITHDRAWN")
    case, booked, _ = case_of(acme, "A-2")
    assert (case.status, booked) == ("WITHDRAWN", [("principal", 300000, "DKK")])
