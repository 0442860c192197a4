"""The money vocabulary: postings gain ``value_date`` and ``settles``, ``kind`` grows, direct payments move
onto claims.

``value_date`` is the day the money event took effect (``booked_on`` stays the run's date): for a claim,
its creditor's fees and a credit note, the document's date; for the postings an instruction wrote (direct
payments, withdrawal fees) the date of its case event. A payment posting names in ``settles`` the
component it pays down. Before this revision a direct payment was booked on the case; it is now spread over the case's claims,
oldest due date first, and within a claim over its reminder fees, then its principal (the only
components a claim could have then), as `pipeline.rules.allocation` does today.

Revision ID: 0005
Revises: 0004
"""
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

postings = sa.table("postings", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
                    sa.column("invoice_id", sa.Integer), sa.column("kind", sa.String),
                    sa.column("amount_minor", sa.BigInteger), sa.column("currency", sa.String),
                    sa.column("booked_on", sa.Date), sa.column("value_date", sa.Date),
                    sa.column("settles", sa.String), sa.column("file_id", sa.Integer), sa.column("run_id", sa.Text))
events = sa.table("case_events", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
                  sa.column("file_id", sa.Integer), sa.column("kind", sa.String), sa.column("on_date", sa.Date))
invoices = sa.table("invoices", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
                    sa.column("document_type", sa.String), sa.column("due_date", sa.Date),
                    sa.column("invoice_date", sa.Date), sa.column("credited_invoice_id", sa.Integer),
                    sa.column("file_id", sa.Integer))
EVENT_OF = {"direct_payment": "paid_directly", "withdrawal_fee": "withdrawn",
            "court_withdrawal_fee": "withdrawn_from_court"}


def upgrade() -> None:
    with op.batch_alter_table("postings") as batch:
        batch.alter_column("kind", type_=sa.String(40), existing_type=sa.String(20), existing_nullable=False)
        batch.add_column(sa.Column("value_date", sa.Date))
        batch.add_column(sa.Column("settles", sa.String(20)))
    bind = op.get_bind()
    bind.execute(postings.update().values(value_date=postings.c.booked_on))
    _date_document_postings(bind)
    _date_instruction_postings(bind)
    _move_direct_payments_onto_claims(bind)
    with op.batch_alter_table("postings") as batch:
        batch.alter_column("value_date", existing_type=sa.Date, nullable=False)


def _date_document_postings(bind) -> None:
    """A claim's principal and fees take the claim's invoice date; a credit note, its own date."""
    bind.execute(postings.update().where(postings.c.kind.in_(["principal", "creditor_fee"])).values(
        value_date=sa.select(invoices.c.invoice_date).where(invoices.c.id == postings.c.invoice_id)
        .scalar_subquery()))
    dates = defaultdict(list)
    for credited, file_id, issued in bind.execute(
            sa.select(invoices.c.credited_invoice_id, invoices.c.file_id, invoices.c.invoice_date)
            .where(invoices.c.document_type == "credit_note").order_by(invoices.c.id)):
        dates[(credited, file_id)].append(issued)
    _pair(bind, postings.c.kind == "credit_note", lambda p: dates.get((p.invoice_id, p.file_id)))


def _date_instruction_postings(bind) -> None:
    """An instruction's postings take the date of its event."""
    dates = defaultdict(list)
    for case_id, file_id, kind, on_date in bind.execute(
            sa.select(events.c.case_id, events.c.file_id, events.c.kind, events.c.on_date)
            .where(events.c.kind.in_(list(EVENT_OF.values()))).order_by(events.c.id)):
        dates[(case_id, file_id, kind)].append(on_date)
    _pair(bind, postings.c.kind.in_(list(EVENT_OF)), lambda p: dates.get((p.case_id, p.file_id, EVENT_OF[p.kind])))


def _pair(bind, which, dates_of) -> None:
    """The n-th posting (by id) that ``dates_of`` gives a list of dates takes the n-th of them: one file may
    have written several of a kind on one case (or claim), each with its own document or event."""
    for posting in bind.execute(sa.select(postings).where(which).order_by(postings.c.id)).all():
        found = dates_of(posting)
        if found:
            bind.execute(postings.update().where(postings.c.id == posting.id).values(value_date=found.pop(0)))


def _move_direct_payments_onto_claims(bind) -> None:
    payments = bind.execute(sa.select(postings).where(postings.c.kind == "direct_payment",
                                                      postings.c.invoice_id.is_(None))
                            .order_by(postings.c.id)).all()
    owed = _owed_by_claim(bind, {payment.case_id for payment in payments})
    for payment in payments:
        left = -payment.amount_minor
        parts = []
        for claim_id, components in owed[payment.case_id]:
            for component in ("reminder_fees", "principal"):
                part = min(left, max(components[component], 0))
                if part:
                    parts.append((claim_id, component, part))
                    components[component] -= part
                    left -= part
        if left:
            raise RuntimeError(f"direct payment {payment.id} of case {payment.case_id} exceeds what its claims owe")
        bind.execute(postings.delete().where(postings.c.id == payment.id))
        bind.execute(postings.insert(), [
            dict(case_id=payment.case_id, invoice_id=claim_id, kind="direct_payment", amount_minor=-part,
                 currency=payment.currency, booked_on=payment.booked_on, value_date=payment.value_date,
                 settles=component, file_id=payment.file_id, run_id=payment.run_id)
            for claim_id, component, part in parts])


def _owed_by_claim(bind, case_ids: set) -> dict:
    """case id -> [(claim id, {"principal": …, "reminder_fees": …})], oldest due date first."""
    owed = defaultdict(list)
    if not case_ids:
        return owed
    claims = bind.execute(sa.select(invoices.c.id, invoices.c.case_id)
                          .where(invoices.c.case_id.in_(list(case_ids)), invoices.c.document_type == "invoice")
                          .order_by(invoices.c.due_date, invoices.c.id)).all()
    sums = defaultdict(int)
    for claim_id, kind, amount in bind.execute(
            sa.select(postings.c.invoice_id, postings.c.kind, sa.func.sum(postings.c.amount_minor))
            .where(postings.c.invoice_id.in_([claim.id for claim in claims]))
            .group_by(postings.c.invoice_id, postings.c.kind)):
        sums[(claim_id, kind)] = int(amount)
    for claim_id, case_id in claims:
        owed[case_id].append((claim_id, {
            "principal": sums[(claim_id, "principal")] + sums[(claim_id, "credit_note")],
            "reminder_fees": sums[(claim_id, "creditor_fee")]}))
    return owed


def downgrade() -> None:
    op.execute("UPDATE postings SET invoice_id = NULL WHERE kind = 'direct_payment'")
    with op.batch_alter_table("postings") as batch:
        batch.drop_column("settles")
        batch.drop_column("value_date")
        batch.alter_column("kind", type_=sa.String(20), existing_type=sa.String(40), existing_nullable=False)
