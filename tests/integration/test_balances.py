"""One balances module answers every balance question (`pipeline.ledger.balances`), on SQLite and PostgreSQL.

The ledger is built the way the stages build it: a claims file (one claim with the creditor's reminder fees,
one credited in part), then instructions (a direct payment of the case, a withdrawal of another case)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from pipeline.ledger import repository as repo
from pipeline.ledger.balances import case_balances, claim_balances, claim_ledgers, open_balances
from pipeline.ledger.db import make_engine
from pipeline.ledger.postings import Component, UnknownPosting
from pipeline.ledger.schema import invoices, postings
from pipeline.stats import ledger_stats
from tests.conftest import AS_OF
from tests.integration.test_instructions import case_of, ingest

CLAIMS = ("invoice_number,document_type,credited_invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,"
          "debtor_name,debtor_address_line1,debtor_postcode,debtor_city,debtor_country,reminder_fees\n"
          "C-1,invoice,,2026-05-01,2026-05-31,1000.00,D1,consumer,Bo Berg,Vej 1,2100,København,DK,200.00\n"
          "C-2,invoice,,2026-06-01,2026-06-30,3000.00,D1,consumer,Bo Berg,Vej 1,2100,København,DK,\n"
          "CN-2,credit_note,C-2,2026-07-01,,500.00,D1,consumer,Bo Berg,Vej 1,2100,København,DK,\n"
          "W-1,invoice,,2026-05-01,2026-05-31,4000.00,D2,consumer,Eva Holm,Vej 2,2100,København,DK,\n")


@pytest.fixture
def ledger(settings):
    ingest(settings, "acme", "claims.csv", CLAIMS)
    case = case_of(settings, "C-1")[0]
    ingest(settings, "acme", "instructions.csv", "instruction,invoice_number,case_number,amount,date\n"
                                                 f"PAID_DIRECTLY,,{case.case_number},1500.00,2026-11-20\n"
                                                 "WITHDRAW,W-1,,,2026-11-21\n")
    withdrawn = case_of(settings, "W-1")[0]
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        claims = dict(conn.execute(select(invoices.c.invoice_number, invoices.c.id)).all())
        yield conn, claims, case.id, withdrawn.id
    engine.dispose()


def test_claim_balances_split_payments_by_what_they_settled(ledger):
    conn, claims, _, _ = ledger
    found = claim_balances(conn, [claims["C-1"], claims["C-2"]])
    first, second = found[claims["C-1"]], found[claims["C-2"]]
    # C-1: 1000.00 + 200.00 fees, paid 1200.00 of the 1500.00 (fees first); C-2: 3000.00 - 500.00, paid 300.00
    assert (first.components[Component.PRINCIPAL], first.components[Component.REMINDER_FEES], first.payments,
            first.outstanding[Component.PRINCIPAL], first.outstanding[Component.REMINDER_FEES], first.total) == (
        100000, 20000, 120000, 0, 0, 0)
    assert (second.components[Component.PRINCIPAL], second.payments, second.outstanding[Component.PRINCIPAL],
            second.total) == (250000, 30000, 220000, 220000)


def test_claim_ledgers_give_the_balance_on_a_day_and_every_movement_of_the_principal(ledger):
    conn, claims, _, _ = ledger
    balances, movements = claim_ledgers(conn, [claims["C-2"]], on=date(2026, 11, 19))
    # C-2: 3000.00 from its invoice date, 500.00 credited on 2026-07-01, 300.00 paid directly on 2026-11-20
    assert movements[claims["C-2"]].principal == [(date(2026, 6, 1), 300000), (date(2026, 7, 1), 250000),
                                                  (date(2026, 11, 20), 220000)]
    assert movements[claims["C-2"]].payments == [date(2026, 11, 20)]
    assert (balances[claims["C-2"]].outstanding[Component.PRINCIPAL], balances[claims["C-2"]].total) == (250000, 250000)
    assert claim_ledgers(conn, [claims["C-2"]])[0][claims["C-2"]].total == 220000


def test_case_balances_leave_the_creditors_charges_out_of_the_total(ledger):
    conn, _, paid_case, withdrawn_case = ledger
    found = case_balances(conn, [paid_case, withdrawn_case])
    assert (found[paid_case].total, found[paid_case].payments, found[paid_case].creditor_charges) == (
        220000, 150000, 0)
    assert (found[withdrawn_case].total, found[withdrawn_case].creditor_charges) == (400000, 25000)
    on_the_day_before = case_balances(conn, [paid_case, withdrawn_case], on=date(2026, 11, 19))
    assert on_the_day_before[paid_case].total == 370000          # the payment took effect on 2026-11-20
    assert on_the_day_before[withdrawn_case].creditor_charges == 0  # the withdrawal on 2026-11-21


def test_stats_and_open_balances_ask_the_same_module(ledger):
    conn, _, _, _ = ledger
    assert open_balances(conn) == {"DKK": 220000}  # the withdrawn case is closed
    assert ledger_stats(conn)["open_balance"] == {"DKK": "2200.00"}
    assert ledger_stats(conn)["payments"] == {"matched": 0, "parked": 0, "refunds_due": 0, "direct": 1}


def test_a_posting_against_the_vocabulary_is_never_written(ledger):
    conn, claims, paid_case, _ = ledger
    before = conn.execute(select(postings.c.id)).all()
    with pytest.raises(UnknownPosting, match="its amounts are negative"):
        repo.post(conn, case_id=[paid_case], invoice_id=[claims["C-1"]], kind="direct_payment", amount_minor=[100],
                  currency="DKK", booked_on=AS_OF, value_date=AS_OF, settles="principal", file_id=None, run_id="t")
    assert conn.execute(select(postings.c.id)).all() == before
