"""Reconciliation (`pipeline.stages.reconcile`) on the ledger, on SQLite and PostgreSQL: payments from the
bank's files matched, allocated to the øre with the interest accrued to their value date, or parked, and the
day's report adding up (formats.md §3.3). Interest at 1.60 + 8 % (the tests' rates.csv), actual/365."""
from __future__ import annotations

import csv
import getpass
import io
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, func, select, update

from pipeline.cli import main
from pipeline.exports import utc_now
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.ledger.balances import claim_balances, claim_ledgers
from pipeline.ledger.postings import Component
from pipeline.ledger.schema import cases, invoices, payments, postings
from pipeline.stages import lifecycle, reconcile
from pipeline.stages.reconcile import suspense
from pipeline.stats import ledger_stats
from tests.conftest import AS_OF, drop, run_ingest
from tests.integration.test_bank_payments import camt, drop_bank, entry
from tests.integration.test_lifecycle import RATES, claims, fresh_home

PAID_ON = date(2026, 11, 24)     # the value date of every test payment (entry() writes it)


@pytest.fixture
def home(settings):
    (settings.home / "rates.csv").write_text(RATES, encoding="utf-8")
    claims(settings, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,",
           "B-1,2026-09-15,2026-10-15,500.00,DKK,D2,consumer,Karen Nielsen,Vej 2,2100,Kbh Ø,DK,,",
           "C-1,2026-09-20,2026-10-20,300.00,DKK,D3,consumer,Ole Olsen,Vej 3,2100,Kbh Ø,DK,,")
    return settings


def case_of(home, invoice_number: str) -> tuple[str, str]:
    """(case number, payment reference) of the invoice's case."""
    with reading(home) as conn:
        return tuple(conn.execute(select(cases.c.case_number, cases.c.payment_reference)
                                  .join(invoices, invoices.c.case_id == cases.c.id)
                                  .where(invoices.c.invoice_number == invoice_number)).one())


class reading:
    def __init__(self, home):
        self.engine = open_ledger(home)

    def __enter__(self):
        self.conn = self.engine.connect()
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()
        self.engine.dispose()


def status(home, invoice_number: str) -> str:
    with reading(home) as conn:
        return conn.execute(select(cases.c.status).join(invoices, invoices.c.case_id == cases.c.id)
                            .where(invoices.c.invoice_number == invoice_number)).scalar_one()


def posted(home, invoice_number: str) -> dict[tuple[str, str | None], int]:
    with reading(home) as conn:
        return {(kind, settles): int(amount) for kind, settles, amount in conn.execute(
            select(postings.c.kind, postings.c.settles, func.sum(postings.c.amount_minor))
            .join(invoices, invoices.c.id == postings.c.invoice_id).where(invoices.c.invoice_number == invoice_number)
            .group_by(postings.c.kind, postings.c.settles))}


def report(home, day: date = AS_OF) -> list[dict]:
    text = (home.home / "finance" / "outbox" / f"reconciliation_{day.isoformat()}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


PARTS = ("rule", "case_number", "amount", "allocated_principal", "allocated_interest", "allocated_fees",
         "allocated_costs", "refund_due", "parked", "parked_reason")


def test_exact_partial_and_over_payments_are_allocated_and_the_rest_parked(home):
    """A-1: 2,000.00 due 10-01, 54 days to the value date: 2,000 × 0.096 × 54 / 365 = 28.41, paid exactly.
    B-1: 500.00 due 10-15, 40 days: 5.26; 100.00 pays the interest, then 94.74 of principal.
    C-1: 300.00 due 10-20, 35 days: 2.76; 400.00 pays 302.76 and 97.24 is due back."""
    (a, a_ref), (b, _), (c, c_ref) = case_of(home, "A-1"), case_of(home, "B-1"), case_of(home, "C-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "2028.41", a_ref), entry("E2", "100.00", text=f"sag {b}"),
                                     entry("E3", "400.00", f"+71<{c_ref}+85382016<"),
                                     entry("E4", "50.00", text="thanks", payer="Somebody")))
    result = reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    assert (result["files"], result["payments"], result["matched"], result["parked"]) == (1, 4, 3, 1)
    assert result["reports"] == [f"reconciliation_{AS_OF}.csv"]
    assert [status(home, n) for n in ("A-1", "B-1", "C-1")] == ["PAID", "OPEN", "PAID"]
    assert posted(home, "B-1") == {("principal", None): 50000, ("interest", None): 526,
                                   ("payment", "interest"): -526, ("payment", "principal"): -9474}
    assert payment_counts(home) == dict(matched=3, parked=1, refunds_due=1)
    lines = report(home)
    assert [[line[name] for name in PARTS] for line in lines] == [
        ["REFERENCE", a, "2028.41", "2000.00", "28.41", "0.00", "0.00", "0.00", "0.00", ""],
        ["TEXT_REFERENCE", b, "100.00", "94.74", "5.26", "0.00", "0.00", "0.00", "0.00", ""],
        ["REFERENCE", c, "400.00", "300.00", "2.76", "0.00", "0.00", "97.24", "0.00", ""],
        ["", "", "50.00", "0.00", "0.00", "0.00", "0.00", "0.00", "50.00", "NO_REFERENCE"],
        ["", "", "2578.41", "2394.74", "36.43", "0.00", "0.00", "97.24", "50.00", ""]]
    assert (lines[0]["source"], lines[0]["source_key"], lines[-1]["payment_id"]) == ("camt053", "BANK-E1", "TOTAL")


def test_a_payment_of_one_cases_balance_from_its_debtor_is_matched_by_amount_and_name(home):
    """No reference: 500.00, B-1's balance as posted, from "Karen Nielsen" is B-1's (its interest, 5.26, is
    brought to the value date first: 494.74 of principal); 300.00, C-1's balance, from someone whose name is
    not Ole Olsen's is parked."""
    b, _ = case_of(home, "B-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "500.00", payer="Karen Nielsen"),
                                     entry("E2", "300.00", payer="Mette Lund")))
    result = reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    assert (result["matched"], result["parked"]) == (1, 1)
    assert [[line[name] for name in PARTS] for line in report(home)][:2] == [
        ["AMOUNT_AND_NAME", b, "500.00", "494.74", "5.26", "0.00", "0.00", "0.00", "0.00", ""],
        ["", "", "300.00", "0.00", "0.00", "0.00", "0.00", "0.00", "300.00", "NO_REFERENCE"]]


def test_an_amount_two_cases_owe_to_debtors_of_like_names_is_parked_ambiguous(home):
    """D-1 (Karen Nielsen, another debtor) owes 500.00 like B-1: a payment of 500.00 from "Karen Nielsen"
    with nothing else to go by fits both and is parked AMBIGUOUS."""
    claims(home, "acme", "D-1,2026-09-15,2026-10-15,500.00,DKK,D7,consumer,Karen Nielsen,Vej 7,8000,Aarhus C,DK,,")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "500.00", payer="Karen Nielsen")))
    assert reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)["parked"] == 1
    assert [line["parked_reason"] for line in report(home)] == ["AMBIGUOUS", ""]


def test_payments_allocated_in_batches_of_one_keep_a_cases_payments_together(home, monkeypatch):
    """Batches of one payment: A-1's exact payment in a transaction of its own; B-1's two in one, in their
    order: 100.00 pays its interest of 5.26 and 94.74, then 500.00 finds 405.26 left, pays it and closes the
    case, 94.74 back."""
    monkeypatch.setattr(reconcile, "ALLOCATION_BATCH", 1)
    (a, a_ref), (b, b_ref) = case_of(home, "A-1"), case_of(home, "B-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "100.00", b_ref), entry("E2", "2028.41", a_ref),
                                     entry("E3", "500.00", b_ref)))
    result = reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    assert (result["payments"], result["matched"], result["parked"]) == (3, 3, 0)
    assert posted(home, "B-1") == {("principal", None): 50000, ("interest", None): 526,
                                   ("payment", "interest"): -526, ("payment", "principal"): -50000}
    assert [status(home, n) for n in ("A-1", "B-1")] == ["PAID", "PAID"]
    assert [[line[name] for name in PARTS] for line in report(home)][:3] == [
        ["REFERENCE", b, "100.00", "94.74", "5.26", "0.00", "0.00", "0.00", "0.00", ""],
        ["REFERENCE", a, "2028.41", "2000.00", "28.41", "0.00", "0.00", "0.00", "0.00", ""],
        ["REFERENCE", b, "500.00", "405.26", "0.00", "0.00", "0.00", "94.74", "0.00", ""]]


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")   # its cursor closed too
def test_a_report_that_does_not_add_up_fails_the_run_and_is_not_written(home, capsys):
    """B-1's payment of 100.00 pays 5.26 interest and 94.74 principal. With a posting off by one øre (changed in
    the ledger behind the stage's back) its parts are 99.99: `inkasso reconcile` stops with the reason and
    writes no report; once the ledger balances again the next run delivers it."""
    _, b_ref = case_of(home, "B-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "100.00", b_ref)))
    assert reconcile.run(home, AS_OF, "rec-1", settle_seconds=0, close_day=False)["reports"] == []
    interest_paid = (postings.c.kind == "payment") & (postings.c.settles == "interest")
    engine = open_ledger(home)
    with engine.begin() as conn:
        conn.execute(update(postings).where(interest_paid).values(amount_minor=-525))
    outbox = home.home / "finance" / "outbox"
    assert main(["reconcile", "--as-of", AS_OF.isoformat(), "--settle-seconds", "0"]) == 1
    [reason] = capsys.readouterr().err.splitlines()
    assert reason.startswith("inkasso reconcile: payment ") and reason.endswith(
        "(BANK-E1): its parts allocated_principal=9474, allocated_interest=525, allocated_fees=0, allocated_costs=0, "
        "refund_due=0, parked=0 are not its amount 10000")
    assert list(outbox.iterdir()) == []
    with engine.begin() as conn:
        conn.execute(update(postings).where(interest_paid).values(amount_minor=-526))
    engine.dispose()
    assert main(["reconcile", "--as-of", AS_OF.isoformat(), "--settle-seconds", "0"]) == 0
    assert [line["amount"] for line in report(home)] == ["100.00", "100.00"]


def test_two_workers_judging_the_same_payments_at_once_allocate_each_once(home, monkeypatch):
    """Both workers read the same three unjudged payments before either writes (a barrier holds the first until
    the second has read them too): the creditor's lock and the check under it let each payment be judged, and
    its postings written, once: B-1's 100.00 pays 5.26 interest and 94.74 principal, not twice that."""
    (_, b_ref), (_, c_ref) = case_of(home, "B-1"), case_of(home, "C-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "100.00", b_ref), entry("E2", "400.00", c_ref),
                                     entry("E3", "50.00", text="thanks", payer="Somebody")))
    reconcile.take_bank_files(home, AS_OF, "take", settle_seconds=0)
    both_read = threading.Barrier(2)
    unjudged = repo.unjudged_payments

    def read_then_wait(conn):
        waiting = unjudged(conn)
        both_read.wait(timeout=60)
        return waiting

    monkeypatch.setattr(repo, "unjudged_payments", read_then_wait)
    with ThreadPoolExecutor(2) as workers:
        results = list(workers.map(lambda n: reconcile.judge_payments(home, AS_OF, f"worker-{n}"), (1, 2)))
    assert [result["payments"] for result in results] == [3, 3]
    assert posted(home, "B-1") == {("principal", None): 50000, ("interest", None): 526,
                                   ("payment", "interest"): -526, ("payment", "principal"): -9474}
    assert posted(home, "C-1") == {("principal", None): 30000, ("interest", None): 276,
                                   ("payment", "interest"): -276, ("payment", "principal"): -30000}
    with reading(home) as conn:
        judged = conn.execute(select(payments.c.bank_key, payments.c.rule, payments.c.parked_reason,
                                     payments.c.refund_due_minor).order_by(payments.c.id)).all()
    assert [tuple(row) for row in judged] == [("BANK-E1", "REFERENCE", None, 0), ("BANK-E2", "REFERENCE", None, 9724),
                                              ("BANK-E3", None, "NO_REFERENCE", 0)]
    assert payment_counts(home) == dict(matched=2, parked=1, refunds_due=1)


def test_judging_ten_times_the_payments_takes_no_more_statements(home):
    """Matching and allocation are joins and bulk writes, never a query per payment: 3 payments and then 30 (by
    reference, by text, and with nothing to go by) are judged with the same number of SQL statements."""
    (_, a_ref), (b, _) = case_of(home, "A-1"), case_of(home, "B-1")

    def statements_to_judge(statement: str, copies: int) -> int:
        drop_bank(home, f"{statement}.xml", camt("053", statement, *(
            entry(f"{statement}-{n}-{kind}", "1.00", a_ref if kind == "R" else "",
                  text=f"sag {b}" if kind == "T" else "") for n in range(copies) for kind in "RTN")))
        reconcile.take_bank_files(home, AS_OF, f"take-{statement}", settle_seconds=0)
        executed = []
        listen = lambda *args: executed.append(args[2])  # noqa: E731
        event.listen(Engine, "before_cursor_execute", listen)
        try:
            result = reconcile.judge_payments(home, AS_OF, f"judge-{statement}")
        finally:
            event.remove(Engine, "before_cursor_execute", listen)
        assert (result["matched"], result["parked"]) == (2 * copies, copies)
        return len(executed)

    assert statements_to_judge("S1", 1) == statements_to_judge("S2", 10)


def test_a_statement_again_and_an_overlapping_one_change_nothing(home):
    _, a_ref = case_of(home, "A-1")
    drop_bank(home, "stmt1.xml", camt("053", "S1", entry("E1", "100.00", a_ref)))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    before = posted(home, "A-1")
    drop_bank(home, "stmt1-again.xml", camt("053", "S1", entry("E1", "100.00", a_ref)) + "\n")
    drop_bank(home, "note.xml", camt("054", "N1", entry("E1", "100.00", a_ref)))
    again = reconcile.run(home, AS_OF, "rec-2", settle_seconds=0)
    assert (again["files"], again["payments"]) == (2, 0)
    assert posted(home, "A-1") == before


def test_a_payment_dated_before_the_last_interest_posting_corrects_the_interest(home):
    """The lifecycle of 11-26 posts B-1's interest to 11-26, 42 days: 500 × 0.096 × 42 / 365 = 5.52. A payment
    of 100.00 with value date 11-24 sets it to 5.26 (a correction of -0.26) and pays it and 94.74; the next
    day's run posts 40 days on 500.00 and 3 on 405.26: 5.26027 + 0.31977 = 5.58, so 0.32 more."""
    _, b_ref = case_of(home, "B-1")
    lifecycle.run(home, AS_OF, "day-1")
    assert posted(home, "B-1")[("interest", None)] == 552
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "100.00", b_ref)))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    assert posted(home, "B-1")[("interest_correction", None)] == -26
    paid = posted(home, "B-1")
    assert (paid[("payment", "interest")], paid[("payment", "principal")]) == (-526, -9474)
    lifecycle.run(home, date(2026, 11, 27), "day-2")
    assert posted(home, "B-1")[("interest", None)] == 552 + 32


def test_a_reversal_takes_the_payment_back_and_reopens_the_case(home):
    _, a_ref = case_of(home, "A-1")
    drop_bank(home, "stmt1.xml", camt("053", "S1", entry("E1", "2028.41", a_ref)))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    assert status(home, "A-1") == "PAID"
    drop_bank(home, "stmt2.xml", camt("053", "S2", entry("R1", "2028.41", a_ref, indicator="DBIT", reversal=True,
                                                         value_date="2026-11-26")))
    result = reconcile.run(home, date(2026, 11, 27), "rec-2", settle_seconds=0)
    assert (result["matched"], result["parked"]) == (1, 0)
    assert status(home, "A-1") == "OPEN"
    assert posted(home, "A-1")[("payment_reversal", "principal")] == 200000
    with reading(home) as conn:                         # the payment renewed the time bar, its reversal does not
        claim = conn.execute(select(invoices.c.id).where(invoices.c.invoice_number == "A-1")).scalar_one()
        assert claim_ledgers(conn, [claim])[1][claim].payments == [PAID_ON]
    [line, _total] = report(home, date(2026, 11, 27))
    assert (line["amount"], line["allocated_principal"], line["allocated_interest"]) == ("-2028.41", "-2000.00",
                                                                                          "-28.41")


def test_an_overpayment_the_bank_took_back_is_due_back_no_more(home):
    """C-1 owes 302.76 on the value date: 400.00 leaves 97.24 due back, until the bank reverses the payment."""
    _, c_ref = case_of(home, "C-1")
    drop_bank(home, "stmt1.xml", camt("053", "S1", entry("E1", "400.00", c_ref)))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    assert payment_counts(home) == dict(matched=1, parked=0, refunds_due=1)
    drop_bank(home, "stmt2.xml", camt("053", "S2", entry("R1", "400.00", c_ref, indicator="DBIT", reversal=True,
                                                         value_date="2026-11-26")))
    reconcile.run(home, date(2026, 11, 27), "rec-2", settle_seconds=0)
    [line, _total] = report(home, date(2026, 11, 27))
    assert (line["amount"], line["refund_due"]) == ("-400.00", "-97.24")
    assert payment_counts(home) == dict(matched=2, parked=0, refunds_due=0)
    assert status(home, "C-1") == "OPEN"


def test_a_reversal_in_the_same_statement_as_its_payment_takes_it_back(home):
    """The payment and its reversal are judged in one batch, before the payment's allocation is written: the
    reversal finds it among the batch's, and takes back each of its parts once."""
    _, a_ref = case_of(home, "A-1")
    drop_bank(home, "stmt1.xml", camt("053", "S1", entry("E1", "2028.41", a_ref), entry(
        "R1", "2028.41", a_ref, indicator="DBIT", reversal=True, value_date="2026-11-25")))
    result = reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    assert (result["matched"], result["parked"]) == (2, 0)
    assert status(home, "A-1") == "OPEN"
    assert {key: amount for key, amount in posted(home, "A-1").items() if key[0].startswith("payment")} == {
        ("payment", "principal"): -200000, ("payment", "interest"): -2841,
        ("payment_reversal", "principal"): 200000, ("payment_reversal", "interest"): 2841}
    with reading(home) as conn:
        payment, reversal = conn.execute(select(payments.c.id, payments.c.reverses_id, payments.c.parked_reason)
                                         .order_by(payments.c.id)).all()
    assert (reversal.reverses_id, reversal.parked_reason, payment.parked_reason) == (payment.id, None, None)
    [credit, debit, _total] = report(home)
    assert (credit["allocated_principal"], debit["allocated_principal"], debit["allocated_interest"]) == (
        "2000.00", "-2000.00", "-28.41")


@pytest.mark.parametrize("state, reason", [("HANDED_OVER", "CASE_HANDED_OVER"), ("WITHDRAWN", "CASE_CLOSED")])
def test_a_payment_to_a_case_that_cannot_take_it_is_parked_with_the_reason(home, state, reason):
    a, a_ref = case_of(home, "A-1")
    engine = open_ledger(home)
    with engine.begin() as conn:
        conn.execute(update(cases).where(cases.c.case_number == a).values(status=state))
    engine.dispose()
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "100.00", a_ref)))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    [line, _total] = report(home)
    assert (line["rule"], line["case_number"], line["parked"], line["parked_reason"]) == ("", a, "100.00", reason)
    with reading(home) as conn:
        assert conn.execute(select(func.count()).select_from(postings).where(postings.c.payment_id.is_not(None))
                            ).scalar_one() == 0
        assert conn.execute(select(payments.c.parked_reason)).scalar_one() == reason


def test_an_operator_assigns_one_parked_payment_and_refunds_another(home, capsys):
    """B-1 owes 505.26 on the value date; 50.00 assigned by hand pays 5.26 interest and 44.74 principal. The
    refund is by the login name (``--by``'s default); each is recorded with the time it was done."""
    b, _ = case_of(home, "B-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "50.00", text="for Karen", payer="K N"),
                                     entry("E2", "75.00", text="?", payer="Unknown")))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    assert [(p.amount_minor, p.parked_reason) for p in suspense.parked(home)] == [(5000, "NO_REFERENCE"),
                                                                                 (7500, "NO_REFERENCE")]
    first, second = (p.id for p in suspense.parked(home))
    assert main(["suspense", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{first:>8}  2026-11-24         50.00 DKK  NO_REFERENCE       K N  for Karen",
        f"{second:>8}  2026-11-24         75.00 DKK  NO_REFERENCE       Unknown  ?"]
    assert payment_counts(home) == dict(matched=0, parked=2, refunds_due=0)
    day = date(2026, 11, 27)
    started = utc_now()
    assert main(["suspense", "assign", str(first), b, "--by", "mette", "--as-of", day.isoformat()]) == 0
    assert main(["suspense", "refund", str(second), "--as-of", day.isoformat()]) == 0
    done = utc_now()
    assert main(["suspense", "refund", str(second), "--by", "ole", "--as-of", day.isoformat()]) == 1
    assert f"payment {second} was worked by {getpass.getuser()} at" in capsys.readouterr().err
    assert suspense.parked(home) == []
    assert main(["suspense", "list"]) == 0 and capsys.readouterr().out == ""
    assert payment_counts(home) == dict(matched=1, parked=0, refunds_due=1)
    paid = posted(home, "B-1")
    assert (paid[("payment", "interest")], paid[("payment", "principal")]) == (-526, -4474)
    reconcile.run(home, day, "rec-2", settle_seconds=0)
    assert [[line[name] for name in PARTS] for line in report(home, day)] == [
        ["MANUAL", b, "0.00", "44.74", "5.26", "0.00", "0.00", "0.00", "-50.00", "NO_REFERENCE"],
        ["", "", "0.00", "0.00", "0.00", "0.00", "0.00", "75.00", "-75.00", "NO_REFERENCE"],
        ["", "", "0.00", "44.74", "5.26", "0.00", "0.00", "75.00", "-125.00", ""]]
    assert [line["source"] for line in report(home, day)] == ["manual", "manual", ""]
    assert [line["parked"] for line in report(home)] == ["50.00", "75.00", "125.00"]   # the first day's stands
    with reading(home) as conn:
        worked = conn.execute(select(payments.c.resolved_by, payments.c.resolved_on, payments.c.resolved_at)
                              .order_by(payments.c.id)).all()
    assert [(by, on) for by, on, _ in worked] == [("mette", day), (getpass.getuser(), day)]
    assert all(started <= at <= done for _, _, at in worked)


def payment_counts(home) -> dict[str, int]:
    """What `inkasso stats` says of the payments: matched, still parked, money due back."""
    with reading(home) as conn:
        counts = ledger_stats(conn)["payments"]
    return {name: counts[name] for name in ("matched", "parked", "refunds_due")}


def test_a_payment_pays_the_oldest_claim_first_unless_it_designates_one(home):
    """One case of two claims of Lise Berg's: X-1 (1,000.00 due 10-01 and a 100.00 reminder fee; interest of
    54 days to the value date, 1,000 × 0.096 × 54 / 365 = 14.20) and X-2 (500.00 due 10-15; 40 days: 5.26),
    X-2 first in the file. 1,100.00 pays X-1 alone: its fee, its interest, then 985.80 of principal. 200.00
    whose text names X-2 pays X-2: its interest 5.26, then 194.74. 30.00 with no designation pays X-1's last
    14.20, then 15.80 of X-2's principal; 289.46 is left of X-2."""
    claims(home, "acme", "X-2,2026-09-15,2026-10-15,500.00,DKK,D9,consumer,Lise Berg,Vej 9,2100,Kbh Ø,DK,,",
           "X-1,2026-09-01,2026-10-01,1000.00,DKK,D9,consumer,Lise Berg,Vej 9,2100,Kbh Ø,DK,100.00,1")
    (x, reference), (same, _) = case_of(home, "X-1"), case_of(home, "X-2")
    assert same == x
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "1100.00", reference),
                                     entry("E2", "200.00", reference, text="faktura X-2"),
                                     entry("E3", "30.00", reference)))
    result = reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    assert (result["matched"], result["parked"]) == (3, 0)
    with reading(home) as conn:
        parts = conn.execute(select(payments.c.bank_key, invoices.c.invoice_number, postings.c.settles,
                                    postings.c.amount_minor)
                             .join(postings, postings.c.payment_id == payments.c.id)
                             .join(invoices, invoices.c.id == postings.c.invoice_id)
                             .where(postings.c.kind == "payment").order_by(postings.c.id)).all()
    assert [tuple(part) for part in parts] == [
        ("BANK-E1", "X-1", "reminder_fees", -10000), ("BANK-E1", "X-1", "interest", -1420),
        ("BANK-E1", "X-1", "principal", -98580),
        ("BANK-E2", "X-2", "interest", -526), ("BANK-E2", "X-2", "principal", -19474),
        ("BANK-E3", "X-1", "principal", -1420), ("BANK-E3", "X-2", "principal", -1580)]
    assert sum(posted(home, "X-1").values()) == 0 and sum(posted(home, "X-2").values()) == 28946
    assert status(home, "X-1") == "OPEN"
    assert [[line[name] for name in PARTS] for line in report(home)][:3] == [
        ["REFERENCE", x, "1100.00", "985.80", "14.20", "100.00", "0.00", "0.00", "0.00", ""],
        ["REFERENCE", x, "200.00", "194.74", "5.26", "0.00", "0.00", "0.00", "0.00", ""],
        ["REFERENCE", x, "30.00", "30.00", "0.00", "0.00", "0.00", "0.00", "0.00", ""]]


@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(payments=st.lists(st.tuples(st.sampled_from(["A-1", "B-1", "C-1", "D-2", None]), st.integers(1, 300_000),
                                   st.sampled_from(["reference", "text", "nothing"]), st.booleans()),
                         min_size=1, max_size=8))
def test_any_payments_add_up_to_the_ore_and_leave_no_component_below_zero(payments):
    """Each example is a fresh ledger (SQLite): in = allocated + parked + refunds due, per line and per currency;
    what each claim owes of each component stays at zero or more; a case owing nothing is PAID. D-1 and D-2 are
    one case, D-1 disputed: a payment pays D-1 only when its text names it (the boolean of each payment)."""
    home = fresh_home()
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,100.00,1",
           "B-1,2026-09-15,2026-10-15,500.00,DKK,D2,consumer,Karen Nielsen,Vej 2,2100,Kbh Ø,DK,,",
           "C-1,2026-09-20,2026-10-20,300.00,DKK,D3,consumer,Ole Olsen,Vej 3,2100,Kbh Ø,DK,,",
           "D-1,2026-09-01,2026-10-01,400.00,DKK,D4,consumer,Bo Berg,Vej 4,2100,Kbh Ø,DK,,",
           "D-2,2026-09-10,2026-10-10,600.00,DKK,D4,consumer,Bo Berg,Vej 4,2100,Kbh Ø,DK,,")
    drop(home, "acme", "instructions.csv", "instruction,invoice_number,amount,date,note\nDISPUTE,D-1,,2026-11-02,\n")
    assert run_ingest(home, AS_OF, "dispute", creditor_id="acme").rows_taken == 1
    entries = []
    for n, (invoice, amount, how, names_d1) in enumerate(payments):
        number, reference = case_of(home, invoice) if invoice else ("", "")
        text = " ".join(([f"sag {number}"] if how == "text" else []) + (["D-1"] if names_d1 else []))
        entries.append(entry(f"P{n}", f"{amount // 100}.{amount % 100:02d}", reference if how == "reference" else "",
                             text=text, payer="Nobody Known"))
    drop_bank(home, "stmt.xml", camt("053", "S1", *entries))
    reconcile.run(home, AS_OF, "rec", settle_seconds=0)
    lines = report(home)
    total = lines[-1]
    assert total["payment_id"] == "TOTAL" and len(lines) == len(payments) + 1
    cents = lambda text: int(text.replace(".", ""))  # noqa: E731
    parts = ("allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs", "refund_due", "parked")
    assert all(cents(line["amount"]) == sum(cents(line[name]) for name in parts) for line in lines)
    assert cents(total["amount"]) == sum(amount for _, amount, _, _ in payments)
    with reading(home) as conn:
        ids = conn.execute(select(invoices.c.id)).scalars().all()
        for balance in claim_balances(conn, ids).values():
            assert all(amount >= 0 for component, amount in balance.outstanding.items()
                       if component not in (Component.PAYMENTS, Component.CREDITOR_CHARGES))
    for invoice in ("A-1", "B-1", "C-1"):
        owed = sum(amount for amount in posted(home, invoice).values())
        assert (owed == 0) == (status(home, invoice) == "PAID")
    designated = any(invoice == "D-2" and how != "nothing" and names_d1 for invoice, _, how, names_d1 in payments)
    paid_d1 = sum(amount for (kind, _), amount in posted(home, "D-1").items() if kind == "payment")
    assert paid_d1 == 0 or designated
    shutil.rmtree(home.home.parent, ignore_errors=True)


REMITTANCE = ("partner_case_ref,case_number,payment_date,collected_amount,principal_part,interest_part,fees_part,"
              "partner_commission,net_remitted,currency\n")


def test_a_partner_remittance_is_allocated_by_its_parts_and_the_commission_kept(home):
    """A-1 (2,000.00, no interest posted yet) was handed over. The partner collected 1,250.50: 1,000.00 principal,
    150.50 interest and 100.00 fees of its own, kept 312.63. The interest and fees the ledger did not hold are
    posted first (interest, court costs), then all three parts are paid."""
    a, _ = case_of(home, "A-1")
    b, _ = case_of(home, "B-1")
    engine = open_ledger(home)
    with engine.begin() as conn:
        conn.execute(update(cases).where(cases.c.case_number == a).values(status="HANDED_OVER"))
    engine.dispose()
    inbox = home.home / "partners" / "alektum" / "inbox"
    lines = [f"AL-1,{a},2026-11-20,1250.50,1000.00,150.50,100.00,312.63,937.87,DKK",
             f"AL-2,{b},2026-11-20,10.00,10.00,0,0,0,10.00,DKK",
             "AL-3,99999999,2026-11-20,10.00,10.00,0,0,0,10.00,DKK",
             f"AL-1,{a},2026-11-21,1500.00,1500.00,0,0,0,1500.00,DKK",
             f"AL-1,{a},2026-11-21,10.00,10.00,0,0,1.00,8.00,DKK"]
    (inbox / "remittance_2026-11.csv").write_text(REMITTANCE + "\n".join(lines) + "\n", encoding="utf-8")
    result = reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    assert (result["files"], result["payments"]) == (1, 0)
    assert posted(home, "A-1") == {("principal", None): 200000, ("interest", None): 15050, ("court_costs", None): 10000,
                                   ("payment", "principal"): -100000, ("payment", "interest"): -15050,
                                   ("payment", "costs"): -10000}
    assert status(home, "A-1") == "HANDED_OVER"
    [receipt] = (home.home / "partners" / "alektum" / "outbox").glob("receipt_*.csv")
    answered = list(csv.DictReader(io.StringIO(receipt.read_text(encoding="utf-8"))))
    assert [(line["line"], line["outcome"]) for line in answered[:-1]] == [
        ("2", "APPLIED"), ("3", "NOT_ALLOWED_IN_STATE"), ("4", "UNKNOWN_CASE"), ("5", "BAD_AMOUNT"), ("6", "BAD_AMOUNT")]
    assert answered[3]["message"] == "principal_part 1500.00 is more than the 1000.00 outstanding"
    assert answered[4]["message"] == "net_remitted 8.00 DKK is not collected_amount - partner_commission = 9.00 DKK"
    [line, _total] = report(home)
    assert [line[name] for name in PARTS] == ["PARTNER", a, "1250.50", "1000.00", "150.50", "0.00", "100.00", "0.00",
                                              "0.00", ""]
    assert (line["source"], line["source_key"]) == ("partner", "AL-1:2026-11-20:125050:31263")
    with reading(home) as conn:
        assert conn.execute(select(payments.c.partner_commission_minor)).scalar_one() == 31263
    (inbox / "remittance_2026-11-again.csv").write_text(REMITTANCE + lines[0] + "\n\n", encoding="utf-8")
    reconcile.run(home, date(2026, 11, 27), "rec-2", settle_seconds=0)
    assert posted(home, "A-1")[("payment", "principal")] == -100000
    second = [path for path in (home.home / "partners" / "alektum" / "outbox").glob("receipt_*.csv")
              if path != receipt]
    assert [line["outcome"] for line in csv.DictReader(io.StringIO(second[0].read_text(encoding="utf-8")))][0] == \
        "DUPLICATE"
