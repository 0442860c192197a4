"""`inkasso case NUMBER`: one case as operations sees it (formats.md §4), read from the ledger only.

Every amount comes from `pipeline.ledger.balances`, as a decimal string in the case currency. Letters and
the time bar date stay empty until the daily lifecycle writes them.
"""
from __future__ import annotations

from sqlalchemy import Connection, select

from pipeline.ledger.balances import Balance, case_balances, claim_balances
from pipeline.ledger.postings import Component
from pipeline.ledger.schema import case_events, cases, debtors, invoices
from pipeline.money import format_minor

BALANCE_PARTS = (Component.PRINCIPAL, Component.INTEREST, Component.REMINDER_FEES, Component.COLLECTION_FEES,
                 Component.COMPENSATION, Component.COSTS)


def case_view(conn: Connection, case_number: str) -> dict | None:
    """The case as a JSON-ready dict, or None when there is no such case."""
    case = conn.execute(select(cases, debtors.c.debtor_type).join(debtors, debtors.c.id == cases.c.debtor_id)
                        .where(cases.c.case_number == case_number)).first()
    if case is None:
        return None
    money = lambda minor: format_minor(minor, case.currency)  # noqa: E731
    claims = conn.execute(select(invoices.c.id, invoices.c.invoice_number, invoices.c.due_date,
                                 invoices.c.amount_minor, invoices.c.disputed_since)
                          .where(invoices.c.case_id == case.id, invoices.c.document_type == "invoice")
                          .order_by(invoices.c.due_date, invoices.c.id)).all()
    owed = claim_balances(conn, [claim.id for claim in claims])
    balance = case_balances(conn, [case.id])[case.id]
    events = conn.execute(select(case_events.c.on_date, case_events.c.kind, case_events.c.detail)
                          .where(case_events.c.case_id == case.id).order_by(case_events.c.id)).all()
    return {
        "case_number": case.case_number, "status": case.status, "creditor_id": case.creditor_id,
        "currency": case.currency, "payment_reference": case.payment_reference, "country": case.country,
        "debtor_type": case.debtor_type, "opened_on": case.opened_on.isoformat(),
        "closed_on": case.closed_on.isoformat() if case.closed_on else None,
        "claims": [_claim(claim, owed[claim.id], money) for claim in claims],
        "balance": _balance(balance, money),
        "creditor_charges": money(balance.creditor_charges),
        "letters": [],
        "events": [{"on_date": on_date.isoformat(), "kind": kind, "detail": detail or ""}
                   for on_date, kind, detail in events],
    }


def _claim(claim, balance: Balance, money) -> dict:
    return {"invoice_number": claim.invoice_number, "due_date": claim.due_date.isoformat(),
            "principal_original": money(claim.amount_minor),
            "principal_outstanding": money(balance.outstanding[Component.PRINCIPAL]),
            "interest": money(balance.components[Component.INTEREST]),
            "reminder_fees": money(balance.components[Component.REMINDER_FEES]),
            "disputed": claim.disputed_since is not None, "time_bar_date": None}


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
              + ("  DISPUTED" if c["disputed"] else "") for c in view["claims"]]
    lines += ["", f"balance ({currency})"]
    lines += [f"  {name.replace('_', ' '):<16} {amount:>12}" for name, amount in view["balance"].items()]
    lines.append(f"  charged to the creditor {view['creditor_charges']}")
    lines += ["", "events"] + [f"  {e['on_date']}  {e['kind']:<18} {e['detail']}" for e in view["events"]]
    return "\n".join(lines)
