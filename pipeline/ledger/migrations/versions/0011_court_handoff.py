"""The weekly court handoff: the weeks whose cases were chosen, each partner's batch with its lines as
chosen, the cases handed over (each once), and the approved cases that stayed with their reasons.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "handoff_weeks",
        sa.Column("iso_week", sa.String(8), primary_key=True),
        sa.Column("run_id", sa.Text, nullable=False),
    )
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("partner_id", sa.String(40), nullable=False),
        sa.Column("iso_week", sa.String(8), nullable=False),
        sa.Column("handoff_date", sa.Date, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("marked_on", sa.Date),
        sa.UniqueConstraint("partner_id", "iso_week", name="uq_handoffs_partner_id_iso_week"),
    )
    op.create_table(
        "handoff_lines",
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("handoff_id", "seq", name="pk_handoff_lines"),
    )
    op.create_table(
        "handoff_cases",
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id"), nullable=False),
    )
    op.create_table(
        "handoff_refusals",
        sa.Column("iso_week", sa.String(8), nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("creditor_id", sa.String(40), sa.ForeignKey("creditors.id"), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("iso_week", "case_id", name="pk_handoff_refusals"),
    )


def downgrade() -> None:
    for table in ("handoff_refusals", "handoff_cases", "handoff_lines", "handoffs", "handoff_weeks"):
        op.drop_table(table)
