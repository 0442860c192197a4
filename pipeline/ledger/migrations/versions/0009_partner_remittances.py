"""The court-stage partner's remittances: the commission the partner kept of each payment it collected, for
the settlement.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("partner_commission_minor", sa.BigInteger, nullable=False,
                                   server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("partner_commission_minor")
