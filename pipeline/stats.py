"""`inkasso stats`: counts from the ledger, the same numbers a receipt or a DAG run reports."""
from __future__ import annotations

from sqlalchemy import Connection, func, select

from pipeline.ledger.balances import open_balances
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
        "payments": {"matched": count(payments, payments.c.rule.is_not(None)),
                     "parked": count(payments, payments.c.parked_reason.is_not(None)),
                     "refunds_due": count(payments, payments.c.refund_due_minor > 0),
                     "direct": count(case_events, case_events.c.kind == "paid_directly")},
        "open_balance": {currency: format_minor(total, currency) for currency, total in open_balances(conn).items()},
    }


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
