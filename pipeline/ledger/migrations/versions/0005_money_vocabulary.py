"""The money vocabulary: postings gain ``value_date`` and ``settles``, ``kind`` grows, direct payments move
onto claims.

``value_date`` is the day the money event took effect (``booked_on`` stays the run's date): for a claim,
its creditor's fees and a credit note, the document's date; for the postings an instruction wrote (direct
payments, withdrawal fees) the date of its case event. A payment posting names in ``settles`` the
component it pays down. Before this revision a direct payment was booked on the case; it is now spread
over what the case's claims owed when it was booked, oldest due date first, and within a claim over its
reminder fees, then its principal (the only components a claim could have then; disputes are not
replayed).

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
COMPONENT_OF = {"principal": "principal", "credit_note": "principal", "creditor_fee": "reminder_fees"}


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
    """Each case's postings are replayed in the order they were written, so that a direct payment is spread
    over what its claims owed when it was booked (a credit note written later does not move it)."""
    case_ids = bind.execute(sa.select(postings.c.case_id).where(postings.c.kind == "direct_payment",
                                                                 postings.c.invoice_id.is_(None))
                            .distinct()).scalars().all()
    for case_id in case_ids:
        claims = bind.execute(sa.select(invoices.c.id).where(invoices.c.case_id == case_id,
                                                             invoices.c.document_type == "invoice")
                              .order_by(invoices.c.due_date, invoices.c.id)).scalars().all()
        owed = {claim: {"reminder_fees": 0, "principal": 0} for claim in claims}
        for posting in bind.execute(sa.select(postings).where(postings.c.case_id == case_id)
                                    .order_by(postings.c.id)).all():
            if posting.kind in COMPONENT_OF and posting.invoice_id in owed:
                owed[posting.invoice_id][COMPONENT_OF[posting.kind]] += posting.amount_minor
            elif posting.kind == "direct_payment" and posting.invoice_id is None:
                _book_on_claims(bind, posting, _spread(-posting.amount_minor, claims, owed))


def _spread(amount: int, claims: list, owed: dict) -> list[tuple]:
    """Oldest due date first, a claim's reminder fees before its principal. What is left over (the old code
    let a later credit note make a claim overpaid, never a payment exceed the case) stays on the newest
    claim's principal: money is never dropped."""
    parts = []
    for claim in claims:
        for component in ("reminder_fees", "principal"):
            part = min(amount, max(owed[claim][component], 0))
            if part:
                parts.append((claim, component, part))
                owed[claim][component] -= part
                amount -= part
    if amount and claims:
        parts.append((claims[-1], "principal", amount))
        owed[claims[-1]]["principal"] -= amount
    return parts


def _book_on_claims(bind, payment, parts: list[tuple]) -> None:
    bind.execute(postings.delete().where(postings.c.id == payment.id))
    bind.execute(postings.insert(), [
        dict(case_id=payment.case_id, invoice_id=claim_id, kind="direct_payment", amount_minor=-part,
             currency=payment.currency, booked_on=payment.booked_on, value_date=payment.value_date,
             settles=component, file_id=payment.file_id, run_id=payment.run_id)
        for claim_id, component, part in parts])


def downgrade() -> None:
    op.execute("UPDATE postings SET invoice_id = NULL WHERE kind = 'direct_payment'")
    with op.batch_alter_table("postings") as batch:
        batch.drop_column("settles")
        batch.drop_column("value_date")
        batch.alter_column("kind", type_=sa.String(20), existing_type=sa.String(40), existing_nullable=False)
