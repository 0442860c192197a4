"""The settlement's reads and writes of the ledger (`pipeline.stages.settle`), in bulk.

A week is settled once (``settlement_weeks``, with the day its payouts execute); each creditor's settlement
per currency keeps the terms it applied and its lines as computed, and ``settled_postings`` names every posting
a settlement took, each once. A million lines are read as columns straight from the driver's cursor, never as
one Python object per row and column.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
from sqlalchemy import Connection, Select, and_, func, select

from pipeline.ledger.repository import fetch_frame, insert_rows, reserve_ids
from pipeline.ledger.schema import (cases, handoff_cases, handoffs, invoices, payments, postings, settled_postings,
                                    settlement_lines, settlement_weeks, settlements)

SETTLED_KINDS = ("payment", "payment_reversal", "direct_payment", "withdrawal_fee", "court_withdrawal_fee")
SUMMED = ("allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs", "creditor_share",
          "commission", "vat", "fees_due", "net_to_creditor")


def record_week(conn: Connection, period: str, run_id: str, executes_on: date) -> bool:
    """Mark the week settled, its payouts to execute on ``executes_on``; False when it was settled before."""
    if conn.execute(select(settlement_weeks.c.period).where(settlement_weeks.c.period == period)).first():
        return False
    conn.execute(settlement_weeks.insert().values(period=period, run_id=run_id, executes_on=executes_on))
    return True


def executes_on(conn: Connection, period: str) -> date:
    return conn.execute(select(settlement_weeks.c.executes_on).where(settlement_weeks.c.period == period)
                        ).scalar_one()


def unsettled_postings(conn: Connection, through: date) -> pd.DataFrame:
    """The postings a settlement takes (allocations of payments and of their reversals, direct payments, the
    fees a creditor owes us) booked through ``through`` and never settled, with what their lines need: the
    case's creditor, country and opening day; the oldest due date of the claims it opened with; its handoff;
    the payment's source and partner commission; and the day whose terms price it (a reversal: its payment's)."""
    return fetch_frame(conn, unsettled_postings_query(through),
                       dates=("value_date", "opened_on", "handoff_date", "oldest_due", "priced_on"))


def unsettled_postings_query(through: date) -> Select:
    opening = (select(invoices.c.case_id, func.min(invoices.c.due_date).label("oldest_due"))
               .join(cases, and_(cases.c.id == invoices.c.case_id, cases.c.file_id == invoices.c.file_id))
               .where(invoices.c.document_type == "invoice").group_by(invoices.c.case_id).subquery())
    handed = (select(handoff_cases.c.case_id, handoffs.c.partner_id, handoffs.c.handoff_date)
              .join(handoffs, handoffs.c.id == handoff_cases.c.handoff_id).subquery())
    reversed_payment = payments.alias("reversed_payment")
    return (select(postings.c.id.label("posting_id"), postings.c.case_id, postings.c.invoice_id, postings.c.kind,
                   postings.c.amount_minor, postings.c.currency, postings.c.value_date, postings.c.settles,
                   postings.c.payment_id, postings.c.file_id, cases.c.creditor_id, cases.c.country,
                   cases.c.opened_on, payments.c.source.label("payment_source"),
                   payments.c.partner_commission_minor.label("partner_kept"), handed.c.partner_id,
                   handed.c.handoff_date, opening.c.oldest_due,
                   func.coalesce(reversed_payment.c.value_date, postings.c.value_date).label("priced_on"))
            .join(cases, cases.c.id == postings.c.case_id)
            .outerjoin(payments, payments.c.id == postings.c.payment_id)
            .outerjoin(reversed_payment, reversed_payment.c.id == payments.c.reverses_id)
            .outerjoin(handed, handed.c.case_id == postings.c.case_id)
            .outerjoin(opening, opening.c.case_id == postings.c.case_id)
            .where(postings.c.kind.in_(SETTLED_KINDS), postings.c.booked_on <= through,
                   postings.c.id.not_in(select(settled_postings.c.posting_id)))
            .order_by(postings.c.id))


def pending_carries(conn: Connection, period: str) -> dict[tuple[str, str], int]:
    """(creditor, currency) -> the negative net of its latest settlement, when that one was carried forward
    and is of an earlier week (a later week's settlement took it already)."""
    latest = (select(settlements.c.creditor_id, settlements.c.currency, func.max(settlements.c.id).label("id"))
              .group_by(settlements.c.creditor_id, settlements.c.currency).subquery())
    rows = conn.execute(select(settlements.c.creditor_id, settlements.c.currency, settlements.c.net_payout)
                        .join(latest, latest.c.id == settlements.c.id)
                        .where(settlements.c.outcome == "CARRIED", settlements.c.period < period)).all()
    return {(row.creditor_id, row.currency): row.net_payout for row in rows}


def record_settlements(conn: Connection, rows: Sequence[dict]) -> list[int]:
    """The week's settlements (dicts of their columns but the id), in order; their ids."""
    ids = reserve_ids(conn, settlements, len(rows))
    if rows:
        insert_rows(conn, settlements, id=ids, **{name: [row[name] for row in rows] for name in rows[0]})
    return ids


def record_lines(conn: Connection, lines: pd.DataFrame, posting_ids: Sequence[int],
                 posting_settlements: Sequence[int]) -> None:
    """The lines (a frame of their columns) and the postings they took, each with its settlement's id."""
    insert_rows(conn, settlement_lines, **{name: lines[name] for name in lines.columns})
    insert_rows(conn, settled_postings, posting_id=posting_ids, settlement_id=posting_settlements)


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


def lines_of(conn: Connection, period: str, creditor_id: str | None = None) -> pd.DataFrame:
    """The week's lines (of one creditor, or all) with their settlement, case and claim, in file order."""
    query = (select(settlements.c.settlement_id, settlements.c.creditor_id, cases.c.case_number,
                    invoices.c.invoice_number, settlement_lines.c.payment_id, settlement_lines.c.payment_date,
                    settlement_lines.c.source, *[settlement_lines.c[name] for name in (
                        "allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs",
                        "creditor_share", "agency_share", "commission_rate", "commission_base", "commission",
                        "vat_rate", "vat", "partner_commission", "fees_due", "net_to_creditor")],
                    settlements.c.currency)
             .join(settlements, settlements.c.id == settlement_lines.c.settlement_id)
             .join(cases, cases.c.id == settlement_lines.c.case_id)
             .outerjoin(invoices, invoices.c.id == settlement_lines.c.invoice_id)
             .where(settlements.c.period == period)
             .order_by(settlements.c.creditor_id, settlements.c.currency, settlement_lines.c.seq))
    if creditor_id is not None:
        query = query.where(settlements.c.creditor_id == creditor_id)
    return fetch_frame(conn, query, dates=("payment_date",))
