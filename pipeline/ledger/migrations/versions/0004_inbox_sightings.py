"""What listings of remote inboxes saw: the "two listings" that prove an SFTP file complete, kept in the
database so that the listing task and the ingest task may run on different workers.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "inbox_sightings",
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("mtime", sa.BigInteger, nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("location", "name", name="pk_inbox_sightings"),
    )


def downgrade() -> None:
    op.drop_table("inbox_sightings")
