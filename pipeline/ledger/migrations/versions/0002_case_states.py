"""Case states: the state a disputed case returns to on RESUME.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("cases", sa.Column("status_before_dispute", sa.String(20)))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("status_before_dispute")
