"""The settlement's reads and writes of the ledger (`pipeline.stages.settle`), in bulk.

A week is settled once (``settlement_weeks``); each creditor's settlement per currency keeps the terms it
applied and its lines as computed, and ``settled_postings`` names every posting a settlement took, each once.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
from sqlalchemy import Connection, func, select

from pipeline.ledger.repository import insert_rows
from pipeline.ledger.schema import (cases, handoff_cases, handoffs, invoices, payments, postings, settled_postings,
                                    settlement_lines, settlement_weeks, settlements)

SETTLED_KINDS = ("payment", "payment_reversal", "direct_payment", "withdrawal_fee", "court_withdrawal_fee")
POSTING_COLUMNS = ["posting_id", "case_id", "invoice_id", "kind", "amount_minor", "currency", "value_date",
                   "settles", "payment_id", "file_id", "creditor_id", "country", "opened_on", "payment_source",
                   "partner_commission", "partner_id", "handoff_date", "oldest_due"]


def record_week(conn: Connection, period: str, run_id: str) -> bool:
    """Mark the week settled; False when it was settled before."""
    if conn.execute(select(settlement_weeks.c.period).where(settlement_weeks.c.period == period)).first():
        return False
    conn.execute(settlement_weeks.insert().values(period=period, run_id=run_id))
    return True


def unsettled_postings(conn: Connection, through: date) -> pd.DataFrame:
    """The postings a settlement takes (allocations of payments, direct payments, the fees a creditor owes us)
    booked through ``through`` and never settled, with what their lines need: the case's creditor, country
    and opening day, its oldest claim's due date, its handoff, and the payment's source and partner commission."""
    oldest = (select(invoices.c.case_id, func.min(invoices.c.due_date).label("oldest_due"))
              .where(invoices.c.document_type == "invoice").group_by(invoices.c.case_id).subquery())
    handed = (select(handoff_cases.c.case_id, handoffs.c.partner_id, handoffs.c.handoff_date)
              .join(handoffs, handoffs.c.id == handoff_cases.c.handoff_id).subquery())
    query = (select(postings.c.id, postings.c.case_id, postings.c.invoice_id, postings.c.kind, postings.c.amount_minor,
                    postings.c.currency, postings.c.value_date, postings.c.settles, postings.c.payment_id,
                    postings.c.file_id, cases.c.creditor_id, cases.c.country, cases.c.opened_on, payments.c.source,
                    payments.c.partner_commission_minor, handed.c.partner_id, handed.c.handoff_date,
                    oldest.c.oldest_due)
             .join(cases, cases.c.id == postings.c.case_id)
             .outerjoin(payments, payments.c.id == postings.c.payment_id)
             .outerjoin(handed, handed.c.case_id == postings.c.case_id)
             .outerjoin(oldest, oldest.c.case_id == postings.c.case_id)
             .where(postings.c.kind.in_(SETTLED_KINDS), postings.c.booked_on <= through,
                    postings.c.id.not_in(select(settled_postings.c.posting_id)))
             .order_by(postings.c.id))
    return pd.DataFrame(conn.execute(query).all(), columns=POSTING_COLUMNS)


def pending_carries(conn: Connection, period: str) -> dict[tuple[str, str], int]:
    """(creditor, currency) -> the negative net of its latest settlement, when that one was carried forward
    and is of an earlier week (a later week's settlement took it already)."""
    latest = (select(settlements.c.creditor_id, settlements.c.currency, func.max(settlements.c.id).label("id"))
              .group_by(settlements.c.creditor_id, settlements.c.currency).subquery())
    rows = conn.execute(select(settlements.c.creditor_id, settlements.c.currency, settlements.c.net_payout)
                        .join(latest, latest.c.id == settlements.c.id)
                        .where(settlements.c.outcome == "CARRIED", settlements.c.period < period)).all()
    return {(row.creditor_id, row.currency): row.net_payout for row in rows}


def record_settlement(conn: Connection, lines: Sequence[dict], posting_ids: Sequence[Sequence[int]],
                      **settlement) -> int:
    """One creditor's settlement in one currency with its lines (in order) and, per line, the postings it took."""
    settlement_pk = conn.execute(settlements.insert().values(**settlement).returning(settlements.c.id)).scalar_one()
    if lines:
        insert_rows(conn, settlement_lines, settlement_id=settlement_pk, seq=list(range(1, len(lines) + 1)),
                    **{name: [line[name] for line in lines] for name in lines[0]})
        insert_rows(conn, settled_postings, posting_id=[pid for ids in posting_ids for pid in ids],
                    settlement_id=settlement_pk)
    return settlement_pk


SUMMED = ("allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs", "creditor_share",
          "commission", "vat", "fees_due", "net_to_creditor")


def settlements_of(conn: Connection, period: str, creditor_id: str | None = None) -> list[tuple]:
    """The week's settlements (of one creditor, or all), by creditor and currency, each with the sums of its
    lines' money columns (a dict of ``SUMMED``): one grouped query."""
    chosen = select(settlements.c.id).where(settlements.c.period == period)
    if creditor_id is not None:
        chosen = chosen.where(settlements.c.creditor_id == creditor_id)
    sums = {row[0]: dict(zip(SUMMED, (int(value) for value in row[1:]))) for row in conn.execute(
        select(settlement_lines.c.settlement_id, *[func.sum(settlement_lines.c[name]) for name in SUMMED])
        .where(settlement_lines.c.settlement_id.in_(chosen)).group_by(settlement_lines.c.settlement_id))}
    rows = conn.execute(select(settlements).where(settlements.c.id.in_(chosen))
                        .order_by(settlements.c.creditor_id, settlements.c.currency)).all()
    return [(row, sums.get(row.id, dict.fromkeys(SUMMED, 0))) for row in rows]


def lines_of(conn: Connection, period: str, creditor_id: str | None = None) -> list:
    """The week's lines (of one creditor, or all) with their settlement, case and claim, in file order."""
    query = (select(settlement_lines, settlements.c.settlement_id.label("settlement_key"), settlements.c.creditor_id,
                    settlements.c.currency, cases.c.case_number, invoices.c.invoice_number)
             .join(settlements, settlements.c.id == settlement_lines.c.settlement_id)
             .join(cases, cases.c.id == settlement_lines.c.case_id)
             .outerjoin(invoices, invoices.c.id == settlement_lines.c.invoice_id)
             .where(settlements.c.period == period)
             .order_by(settlements.c.creditor_id, settlements.c.currency, settlement_lines.c.seq))
    if creditor_id is not None:
        query = query.where(settlements.c.creditor_id == creditor_id)
    return conn.execute(query).all()
