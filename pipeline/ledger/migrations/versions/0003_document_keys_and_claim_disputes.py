"""Invoices and credit notes are separate number series; a claim can be disputed on its own.

The natural key of a document becomes (creditor, document type, number): PEPPOL's own example credit note
carries the number of the invoice it corrects. ``invoices.disputed_since`` marks a claim the creditor
disputed (DISPUTE naming the invoice) until RESUME.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint("uq_invoices_creditor_id_invoice_number", type_="unique")
        batch.create_unique_constraint("uq_invoices_creditor_id_document_type_invoice_number",
                                       ["creditor_id", "document_type", "invoice_number"])
        batch.add_column(sa.Column("disputed_since", sa.Date))


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("disputed_since")
        batch.drop_constraint("uq_invoices_creditor_id_document_type_invoice_number", type_="unique")
        batch.create_unique_constraint("uq_invoices_creditor_id_invoice_number", ["creditor_id", "invoice_number"])
