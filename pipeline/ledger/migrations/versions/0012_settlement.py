"""The weekly settlement: the weeks settled, each creditor's settlement per currency with the terms it
applied, its lines as settled, and the postings each took (each once).

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "settlement_weeks",
        sa.Column("period", sa.String(8), primary_key=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("executes_on", sa.Date, nullable=False),
    )
    op.create_table(
        "settlements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("settlement_id", sa.String(35), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("creditor_id", sa.String(40), sa.ForeignKey("creditors.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("parties", sa.Text, nullable=False),
        sa.Column("carried_in", sa.BigInteger, nullable=False),
        sa.Column("net_payout", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.UniqueConstraint("settlement_id", name="uq_settlements_settlement_id"),
        sa.UniqueConstraint("creditor_id", "currency", "period", name="uq_settlements_creditor_id_currency_period"),
    )
    money = [sa.Column(name, sa.BigInteger, nullable=False) for name in (
        "allocated_principal", "allocated_interest", "allocated_fees", "allocated_costs", "creditor_share",
        "agency_share")]
    op.create_table(
        "settlement_lines",
        sa.Column("settlement_id", sa.Integer, sa.ForeignKey("settlements.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("invoice_id", sa.Integer, sa.ForeignKey("invoices.id")),
        sa.Column("payment_id", sa.Integer, sa.ForeignKey("payments.id")),
        sa.Column("payment_date", sa.Date, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        *money,
        sa.Column("commission_rate", sa.String(12), nullable=False),
        sa.Column("commission_base", sa.BigInteger, nullable=False),
        sa.Column("commission", sa.BigInteger, nullable=False),
        sa.Column("vat_rate", sa.String(12), nullable=False),
        sa.Column("vat", sa.BigInteger, nullable=False),
        sa.Column("partner_commission", sa.BigInteger, nullable=False),
        sa.Column("fees_due", sa.BigInteger, nullable=False),
        sa.Column("net_to_creditor", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("settlement_id", "seq", name="pk_settlement_lines"),
    )
    op.create_table(
        "settled_postings",
        sa.Column("posting_id", sa.Integer, sa.ForeignKey("postings.id"), primary_key=True),
        sa.Column("settlement_id", sa.Integer, sa.ForeignKey("settlements.id"), nullable=False),
    )


def downgrade() -> None:
    for table in ("settled_postings", "settlement_lines", "settlements", "settlement_weeks"):
        op.drop_table(table)
