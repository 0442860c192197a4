"""`inkasso stats`: counts from the ledger, the same numbers a receipt or a DAG run reports."""
from __future__ import annotations

from sqlalchemy import Connection, func, select

from pipeline.ledger.schema import cases, creditors, debtors, ingested_files, invoices, postings
from pipeline.money import format_minor


def ledger_stats(conn: Connection) -> dict:
    def count(table, *where) -> int:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()

    by_status = dict(conn.execute(select(cases.c.status, func.count()).group_by(cases.c.status)).all())
    files = dict(conn.execute(select(ingested_files.c.status, func.count()).group_by(ingested_files.c.status)).all())
    balances = conn.execute(
        select(postings.c.currency, func.sum(postings.c.amount_minor))
        .join(cases, cases.c.id == postings.c.case_id).where(cases.c.closed_on.is_(None))
        .group_by(postings.c.currency).order_by(postings.c.currency)).all()
    return {
        "creditors": count(creditors),
        "debtors": count(debtors),
        "invoices": count(invoices, invoices.c.document_type == "invoice"),
        "credit_notes": count(invoices, invoices.c.document_type == "credit_note"),
        "files": {"processed": files.get("PROCESSED", 0), "rejected": files.get("REJECTED", 0)},
        "cases": {"total": sum(by_status.values()), "by_status": dict(sorted(by_status.items()))},
        "payments": {"matched": 0, "parked": 0},
        "open_balance": {currency: format_minor(int(total), currency) for currency, total in balances},
    }


def format_stats(stats: dict) -> str:
    lines = [f"creditors     {stats['creditors']}",
             f"debtors       {stats['debtors']}",
             f"invoices      {stats['invoices']} (+ {stats['credit_notes']} credit notes)",
             f"files         {stats['files']['processed']} processed, {stats['files']['rejected']} rejected",
             f"cases         {stats['cases']['total']}"]
    lines += [f"  {status:<15} {n}" for status, n in stats["cases"]["by_status"].items()]
    lines.append(f"payments      {stats['payments']['matched']} matched, {stats['payments']['parked']} parked")
    lines += [f"open balance  {amount} {currency}" for currency, amount in stats["open_balance"].items()]
    return "\n".join(lines)
