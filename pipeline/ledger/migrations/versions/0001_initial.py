"""The ingest ledger: creditors, files, receipts, debtors, cases, claims, postings, events.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "creditors",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("vat_id", sa.String(20), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("iban", sa.String(34), nullable=False),
        sa.Column("bic", sa.String(11), nullable=False),
        sa.Column("fee_plan", sa.String(64), nullable=False),
    )
    op.create_table(
        "ingested_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("creditor_id", sa.String(40), sa.ForeignKey("creditors.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("rows_total", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("rows_accepted", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("cases_opened", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.UniqueConstraint("creditor_id", "sha256", name="uq_ingested_files_creditor_id_sha256"),
    )
    op.create_table(
        "debtors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("creditor_id", sa.String(40), sa.ForeignKey("creditors.id"), nullable=False),
        sa.Column("debtor_ref", sa.String(64), nullable=False),
        sa.Column("debtor_type", sa.String(10), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("national_id", sa.String(20)),
        sa.Column("address_line1", sa.Text, nullable=False),
        sa.Column("address_line2", sa.Text),
        sa.Column("postcode", sa.String(16), nullable=False),
        sa.Column("city", sa.Text, nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.String(20)),
        sa.UniqueConstraint("creditor_id", "debtor_ref", name="uq_debtors_creditor_id_debtor_ref"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_number", sa.String(20), nullable=False, unique=True),
        sa.Column("payment_reference", sa.String(35), nullable=False, unique=True),
        sa.Column("creditor_id", sa.String(40), sa.ForeignKey("creditors.id"), nullable=False),
        sa.Column("debtor_id", sa.Integer, sa.ForeignKey("debtors.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("closed_on", sa.Date),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id"), nullable=False),
    )
    op.create_index("uq_cases_one_open", "cases", ["creditor_id", "debtor_id", "currency"], unique=True,
                    sqlite_where=sa.text("closed_on IS NULL"), postgresql_where=sa.text("closed_on IS NULL"))
    op.create_table(
        "receipt_lines",
        sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("line", sa.Integer),
        sa.Column("invoice_number", sa.Text),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("creditor_id", sa.String(40), sa.ForeignKey("creditors.id"), nullable=False),
        sa.Column("invoice_number", sa.String(64), nullable=False),
        sa.Column("document_type", sa.String(12), nullable=False),
        sa.Column("credited_invoice_id", sa.Integer, sa.ForeignKey("invoices.id")),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("debtor_id", sa.Integer, sa.ForeignKey("debtors.id"), nullable=False),
        sa.Column("invoice_date", sa.Date, nullable=False),
        sa.Column("due_date", sa.Date),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reminders_sent", sa.Integer, nullable=False),
        sa.Column("last_reminder_date", sa.Date),
        sa.Column("reminder_fees_minor", sa.BigInteger, nullable=False),
        sa.Column("below_minimum", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("content_sha", sa.String(64), nullable=False),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id"), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.UniqueConstraint("creditor_id", "invoice_number", name="uq_invoices_creditor_id_invoice_number"),
    )
    op.create_index("ix_invoices_case_id", "invoices", ["case_id"])
    op.create_table(
        "postings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("invoice_id", sa.Integer, sa.ForeignKey("invoices.id")),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("booked_on", sa.Date, nullable=False),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id")),
        sa.Column("run_id", sa.Text, nullable=False),
    )
    op.create_index("ix_postings_case_id", "postings", ["case_id"])
    op.create_index("ix_postings_invoice_id", "postings", ["invoice_id"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("invoice_id", sa.Integer, sa.ForeignKey("invoices.id")),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id")),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])


def downgrade() -> None:
    for table in ("case_events", "postings", "invoices", "receipt_lines", "cases",
                  "debtors", "ingested_files", "creditors"):
        op.drop_table(table)
