"""Suspense: the parked payments, worked by an operator (`inkasso suspense list | assign | refund`).

``assign PAYMENT CASE`` allocates the payment to the case as reconciliation would (`allocating`, rule
``MANUAL``), under the case's creditor's lock; ``refund PAYMENT`` makes all of it due back to the payer.
Each is recorded with the operator (``--by``) and the time as the payment's resolution; the payment's
first judgement (parked, on the report of its day) stands. The report of the day it was worked has a
``manual`` line for it: amount 0.00, what it paid or refunds, and ``parked`` the amount taken out of
suspense, negative. A payment is worked once: a second assign or refund is refused, naming who worked it
and when.
"""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from sqlalchemy import Connection

from pipeline import exports
from pipeline.config import Settings
from pipeline.exports import utc_now
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.rules.interest import ReferenceRates
from pipeline.runs import StageRefused
from pipeline.stages.reconcile import Report, report_day
from pipeline.stages.reconcile.allocating import CreditorPayments
from pipeline.stages.reconcile.matching import COLLECTING, MANUAL


class CannotWork(StageRefused):
    """The payment or the case cannot be worked as asked."""


def parked(settings: Settings) -> list:
    engine = open_ledger(settings)
    try:
        with engine.connect() as conn:
            return repo.parked_payments(conn)
    finally:
        engine.dispose()


def assign(settings: Settings, payment_id: int, case_number: str, by: str, as_of: date, run_id: str) -> dict:
    """Allocate a parked payment to a case; what it paid and what is due back."""
    engine = open_ledger(settings)
    try:
        with engine.begin() as conn:
            payment = _parked(conn, payment_id)
            case = repo.cases_by_number(conn, [case_number])
            if case.empty:
                raise CannotWork(f"no case {case_number}")
            case = case.iloc[0]
            if case["status"] not in COLLECTING:
                raise CannotWork(f"case {case_number} is {case['status']}: it takes no payments")
            if case["currency"] != payment.currency:
                raise CannotWork(f"case {case_number} is in {case['currency']}, payment {payment_id} in "
                                 f"{payment.currency}")
            day = report_day(conn, as_of)
            row = SimpleNamespace(**{**payment._asdict(), "case_id": int(case["case_id"]), "rule": MANUAL})
            rates = ReferenceRates.for_home(settings.home)
            [judged] = CreditorPayments(conn, case["creditor_id"], day, run_id, rates).run(
                [row], still_open=lambda conn, ids: {p for p in ids if _still_parked(conn, p)},
                record=lambda conn, done: repo.resolve_payment(conn, payment_id, day, row.case_id, done[0].refund,
                                                               by, utc_now()))
            exports.owe(conn, Report.owed(day, run_id))
        return dict(payment=payment_id, case=case_number, refund_due_minor=judged.refund, day=day.isoformat())
    finally:
        engine.dispose()


def refund(settings: Settings, payment_id: int, by: str, as_of: date, run_id: str) -> dict:
    """Make a parked payment due back to its payer, whole."""
    engine = open_ledger(settings)
    try:
        with engine.begin() as conn:
            repo.lock_party(conn, "bank", "bank")
            payment = _parked(conn, payment_id)
            day = report_day(conn, as_of)
            repo.resolve_payment(conn, payment_id, day, None, payment.amount_minor, by, utc_now())
            exports.owe(conn, Report.owed(day, run_id))
        return dict(payment=payment_id, refund_due_minor=payment.amount_minor, day=day.isoformat())
    finally:
        engine.dispose()


def _parked(conn: Connection, payment_id: int):
    payment = repo.payment_row(conn, payment_id)
    if payment is None:
        raise CannotWork(f"no payment {payment_id}")
    if payment.resolved_at is not None:
        raise CannotWork(f"payment {payment_id} was worked by {payment.resolved_by} at "
                         f"{payment.resolved_at:%Y-%m-%d %H:%M} UTC")
    if payment.parked_reason is None:
        raise CannotWork(f"payment {payment_id} is not parked" + (
            f" (it was matched to a case by {payment.rule})" if payment.rule else " (it is not judged yet)"))
    return payment


def _still_parked(conn: Connection, payment_id: int) -> bool:
    payment = repo.payment_row(conn, payment_id)
    return payment.parked_reason is not None and payment.resolved_at is None
