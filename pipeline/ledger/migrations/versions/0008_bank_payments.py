"""Payments from the bank's files, once per (scheme, account, the bank's key), with what reconciliation made
of each (matched and allocated, or parked, or worked in suspense); the entries of a bank file that are not
payments in (debits, pending entries), each with the reason it was left; the payment an allocation allocates.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scheme", sa.String(12), nullable=False),
        sa.Column("account", sa.String(40), nullable=False),
        sa.Column("bank_key", sa.String(140), nullable=False),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("value_date", sa.Date, nullable=False),
        sa.Column("booking_date", sa.Date),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("remittance_text", sa.Text, nullable=False),
        sa.Column("payer_name", sa.Text, nullable=False),
        sa.Column("payer_address", sa.Text, nullable=False),
        sa.Column("payer_id", sa.Text, nullable=False),
        sa.Column("reversal", sa.Boolean, nullable=False),
        sa.Column("position", sa.Text, nullable=False),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id"), nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("judged_on", sa.Date),
        sa.Column("rule", sa.String(20)),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id")),
        sa.Column("parked_reason", sa.String(20)),
        sa.Column("refund_due_minor", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("reverses_id", sa.Integer, sa.ForeignKey("payments.id")),
        sa.Column("resolved_on", sa.Date),
        sa.Column("resolved_case_id", sa.Integer, sa.ForeignKey("cases.id")),
        sa.Column("resolved_refund_minor", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("resolved_by", sa.Text),
        sa.Column("resolved_at", sa.DateTime),
        sa.UniqueConstraint("scheme", "account", "bank_key", name="uq_payments_scheme_account_bank_key"),
    )
    op.create_index("ix_payments_judged_on", "payments", ["judged_on"])
    op.create_table(
        "bank_entries_left",
        sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id"), nullable=False),
        sa.Column("position", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("file_id", "position", name="pk_bank_entries_left"),
    )
    with op.batch_alter_table("postings") as batch:
        batch.add_column(sa.Column("payment_id", sa.Integer))
        batch.create_foreign_key("fk_postings_payment_id_payments", "payments", ["payment_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("postings") as batch:
        batch.drop_constraint("fk_postings_payment_id_payments", type_="foreignkey")
        batch.drop_column("payment_id")
    op.drop_index("ix_payments_judged_on", "payments")
    op.drop_table("bank_entries_left")
    op.drop_table("payments")
