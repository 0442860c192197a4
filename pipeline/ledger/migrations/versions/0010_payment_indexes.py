"""Indexes for reconciliation: the postings of a payment (the report joins them), the payments of a case (a
reversal looks for the payment it takes back).

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_index("ix_postings_payment_id", "postings", ["payment_id"])
    op.create_index("ix_payments_case_id", "payments", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_payments_case_id", "payments")
    op.drop_index("ix_postings_payment_id", "postings")
