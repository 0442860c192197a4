"""`inkasso stats`: counts from the ledger, the same numbers a receipt or a DAG run reports."""
from __future__ import annotations

from sqlalchemy import Connection, and_, func, or_, select

from pipeline.ledger.balances import open_balances
from pipeline.ledger.repository import in_suspense
from pipeline.ledger.schema import case_events, cases, creditors, debtors, ingested_files, invoices, payments
from pipeline.money import format_minor


def ledger_stats(conn: Connection) -> dict:
    def count(table, *where) -> int:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()

    by_status = dict(conn.execute(select(cases.c.status, func.count()).group_by(cases.c.status)).all())
    files = dict(conn.execute(select(ingested_files.c.status, func.count()).group_by(ingested_files.c.status)).all())
    return {
        "creditors": count(creditors),
        "debtors": count(debtors),
        "invoices": count(invoices, invoices.c.document_type == "invoice"),
        "credit_notes": count(invoices, invoices.c.document_type == "credit_note"),
        "files": {"processed": files.get("PROCESSED", 0), "rejected": files.get("REJECTED", 0)},
        "cases": {"total": sum(by_status.values()), "by_status": dict(sorted(by_status.items()))},
        "payments": _payments(count),
        "open_balance": {currency: format_minor(total, currency) for currency, total in open_balances(conn).items()},
    }


def _payments(count) -> dict:
    """Payments matched to a case (by a rule, or by an operator out of suspense), those still parked (no operator
    has worked them yet), those with money due back to the payer (an overpayment no reversal took back, or a
    parked payment an operator refunded), and those paid to the creditor directly."""
    taken_back = select(payments.c.reverses_id).where(payments.c.reverses_id.is_not(None))
    return {"matched": count(payments, or_(payments.c.rule.is_not(None), payments.c.resolved_case_id.is_not(None))),
            "parked": count(payments, in_suspense()),
            "refunds_due": count(payments, or_(and_(payments.c.refund_due_minor > 0, payments.c.id.not_in(taken_back)),
                                               payments.c.resolved_refund_minor > 0)),
            "direct": count(case_events, case_events.c.kind == "paid_directly")}


def format_stats(stats: dict) -> str:
    lines = [f"creditors     {stats['creditors']}",
             f"debtors       {stats['debtors']}",
             f"invoices      {stats['invoices']} (+ {stats['credit_notes']} credit notes)",
             f"files         {stats['files']['processed']} processed, {stats['files']['rejected']} rejected",
             f"cases         {stats['cases']['total']}"]
    lines += [f"  {status:<15} {n}" for status, n in stats["cases"]["by_status"].items()]
    paid = stats["payments"]
    lines.append(f"payments      {paid['matched']} matched, {paid['parked']} parked, {paid['refunds_due']} due back; "
                 f"{paid['direct']} paid to the creditor directly")
    lines += [f"open balance  {amount} {currency}" for currency, amount in stats["open_balance"].items()]
    return "\n".join(lines)
