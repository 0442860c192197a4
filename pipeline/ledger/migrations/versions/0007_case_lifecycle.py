"""The daily case lifecycle: letters, the steps each claim took, the days each creditor's lifecycle ran, a
claim's time bar once past, and the letter a charge belongs to.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
AMOUNTS = ("principal_minor", "interest_minor", "reminder_fees_minor", "collection_fees_minor", "compensation_minor",
           "payments_minor", "total_minor")


def upgrade() -> None:
    op.create_table(
        "letters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("letter_type", sa.String(20), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("sent_on", sa.Date, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("interest_rate_pct", sa.String(12), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("debtor_name", sa.Text, nullable=False),
        sa.Column("debtor_address_line1", sa.Text, nullable=False),
        sa.Column("debtor_address_line2", sa.Text),
        sa.Column("debtor_postcode", sa.String(16), nullable=False),
        sa.Column("debtor_city", sa.Text, nullable=False),
        sa.Column("debtor_country", sa.String(2), nullable=False),
        sa.Column("debtor_email", sa.Text),
        sa.Column("creditor_name", sa.Text, nullable=False),
        sa.Column("claims", sa.Text, nullable=False),
        sa.Column("payment_reference", sa.String(35), nullable=False),
        sa.Column("pay_to_iban", sa.String(34), nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("posted_from", sa.String(2), nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False) for name in AMOUNTS),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.UniqueConstraint("case_id", "sequence", name="uq_letters_case_id_sequence"),
    )
    op.create_index("ix_letters_sent_on", "letters", ["sent_on"])
    op.create_table(
        "claim_steps",
        sa.Column("invoice_id", sa.Integer, sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("step", sa.String(20), nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("taken_on", sa.Date, nullable=False),
        sa.Column("letter_id", sa.Integer, sa.ForeignKey("letters.id")),
        sa.Column("deadline", sa.Date),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "step", "repeat", name="pk_claim_steps"),
    )
    op.create_table(
        "lifecycle_runs",
        sa.Column("creditor_id", sa.String(40), sa.ForeignKey("creditors.id"), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("creditor_id", "as_of", name="pk_lifecycle_runs"),
    )
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("time_barred_on", sa.Date))
    with op.batch_alter_table("postings") as batch:
        batch.add_column(sa.Column("letter_id", sa.Integer))
        batch.create_foreign_key("fk_postings_letter_id_letters", "letters", ["letter_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("postings") as batch:
        batch.drop_constraint("fk_postings_letter_id_letters", type_="foreignkey")
        batch.drop_column("letter_id")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("time_barred_on")
    op.drop_table("lifecycle_runs")
    op.drop_table("claim_steps")
    op.drop_index("ix_letters_sent_on", "letters")
    op.drop_table("letters")
