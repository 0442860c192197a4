"""`inkasso case NUMBER`: one case as operations sees it (formats.md §4), read from the ledger only.

Every amount comes from `pipeline.ledger.balances`, as a decimal string in the case currency; each claim's
time bar date is `pipeline.rules.time_bar`'s, renewed by what the ledger holds (payments, our letters).
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, select

from pipeline.exporters.letters import letter_id
from pipeline.ledger import repository as repo
from pipeline.ledger.balances import Balance, Movements, case_balances, claim_ledgers
from pipeline.ledger.postings import Component
from pipeline.ledger.schema import case_events, cases, debtors, invoices, letters
from pipeline.money import format_minor
from pipeline.rules import time_bar

BALANCE_PARTS = (Component.PRINCIPAL, Component.INTEREST, Component.REMINDER_FEES, Component.COLLECTION_FEES,
                 Component.COMPENSATION, Component.COSTS)


def case_view(conn: Connection, case_number: str) -> dict | None:
    """The case as a JSON-ready dict, or None when there is no such case."""
    case = conn.execute(select(cases, debtors.c.debtor_type).join(debtors, debtors.c.id == cases.c.debtor_id)
                        .where(cases.c.case_number == case_number)).first()
    if case is None:
        return None
    money = lambda minor: format_minor(minor, case.currency)  # noqa: E731
    claims = conn.execute(select(invoices.c.id, invoices.c.invoice_number, invoices.c.invoice_date,
                                 invoices.c.due_date, invoices.c.amount_minor, invoices.c.disputed_since,
                                 invoices.c.last_reminder_date, invoices.c.time_barred_on)
                          .where(invoices.c.case_id == case.id, invoices.c.document_type == "invoice")
                          .order_by(invoices.c.due_date, invoices.c.id)).all()
    owed, movements = claim_ledgers(conn, [claim.id for claim in claims])
    letter_dates = defaultdict(list)
    for step in repo.claim_history(conn, [claim.id for claim in claims]):
        if step.letter_id is not None:
            letter_dates[step.invoice_id].append(step.taken_on)
    balance = case_balances(conn, [case.id])[case.id]
    sent = conn.execute(select(letters.c.sequence, letters.c.letter_type, letters.c.sent_on, letters.c.deadline)
                        .where(letters.c.case_id == case.id).order_by(letters.c.sequence)).all()
    events = conn.execute(select(case_events.c.on_date, case_events.c.kind, case_events.c.detail)
                          .where(case_events.c.case_id == case.id).order_by(case_events.c.id)).all()
    return {
        "case_number": case.case_number, "status": case.status, "creditor_id": case.creditor_id,
        "currency": case.currency, "payment_reference": case.payment_reference, "country": case.country,
        "debtor_type": case.debtor_type, "opened_on": case.opened_on.isoformat(),
        "closed_on": case.closed_on.isoformat() if case.closed_on else None,
        "claims": [_claim(claim, owed[claim.id], money, _time_bar(case, claim, movements[claim.id],
                                                               letter_dates[claim.id])) for claim in claims],
        "balance": _balance(balance, money),
        "creditor_charges": money(balance.creditor_charges),
        "letters": [{"letter_id": letter_id(case.case_number, letter.sequence), "letter_type": letter.letter_type,
                     "sent_on": letter.sent_on.isoformat(), "deadline": letter.deadline.isoformat()}
                    for letter in sent],
        "events": [{"on_date": on_date.isoformat(), "kind": kind, "detail": detail or ""}
                   for on_date, kind, detail in events],
    }


def _claim(claim, balance: Balance, money, time_bar_date) -> dict:
    return {"invoice_number": claim.invoice_number, "due_date": claim.due_date.isoformat(),
            "principal_original": money(claim.amount_minor),
            "principal_outstanding": money(balance.outstanding[Component.PRINCIPAL]),
            "interest": money(balance.components[Component.INTEREST]),
            "reminder_fees": money(balance.components[Component.REMINDER_FEES]),
            "disputed": claim.disputed_since is not None, "time_bar_date": time_bar_date.isoformat(),
            "time_barred": claim.time_barred_on is not None}


def _time_bar(case, claim, movements: Movements, letter_dates: list) -> object:
    """The day the claim is (or was) time-barred: what the lifecycle found, else the rule's date today."""
    if claim.time_barred_on is not None:
        return claim.time_barred_on
    rule = time_bar.rule_for(case.country, case.debtor_type, claim.invoice_date)
    renewals = [("payment", day) for day in movements.payments] + [("letter", day) for day in letter_dates]
    if claim.last_reminder_date is not None:
        renewals.append(("letter", claim.last_reminder_date))
    return time_bar.time_bar_date(rule, claim.invoice_date, claim.due_date, renewals)


def _balance(balance: Balance, money) -> dict:
    parts = {component.value: money(balance.components[component]) for component in BALANCE_PARTS}
    return parts | {"payments": money(balance.payments), "total": money(balance.total)}


def format_case(view: dict) -> str:
    """The same, for a terminal."""
    currency = view["currency"]
    lines = [f"case {view['case_number']}  {view['status']}  {view['creditor_id']}  {view['country']} "
             f"{view['debtor_type']}  opened {view['opened_on']}" + (f", closed {view['closed_on']}"
                                                                     if view["closed_on"] else ""),
             f"payment reference {view['payment_reference']}", "", "claims"]
    lines += [f"  {c['invoice_number']:<20} due {c['due_date']}  principal {c['principal_outstanding']:>12} of "
              f"{c['principal_original']:>12}  interest {c['interest']:>10}  reminder fees {c['reminder_fees']:>8}"
              f"  time bar {c['time_bar_date']}" + ("  TIME-BARRED" if c["time_barred"] else "")
              + ("  DISPUTED" if c["disputed"] else "") for c in view["claims"]]
    lines += ["", f"balance ({currency})"]
    lines += [f"  {name.replace('_', ' '):<16} {amount:>12}" for name, amount in view["balance"].items()]
    lines.append(f"  charged to the creditor {view['creditor_charges']}")
    lines += ["", "letters"] + [f"  {l['letter_id']}  {l['letter_type']:<14} sent {l['sent_on']}, deadline "
                                f"{l['deadline']}" for l in view["letters"]]
    lines += ["", "events"] + [f"  {e['on_date']}  {e['kind']:<18} {e['detail']}" for e in view["events"]]
    return "\n".join(lines)
