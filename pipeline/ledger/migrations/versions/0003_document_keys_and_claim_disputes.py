"""Invoices and credit notes are separate number series; a claim can be disputed on its own.

The natural key of a document becomes (creditor, document type, number): PEPPOL's own example credit note
carries the number of the invoice it corrects. ``invoices.disputed_since`` marks a claim the creditor
disputed (DISPUTE naming the invoice) until RESUME. Before this revision a dispute was the whole case's, so
the claims of a DISPUTED case are disputed since the case's last ``disputed`` event.

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
    op.execute("""
        UPDATE invoices SET disputed_since = COALESCE(
            (SELECT MAX(case_events.on_date) FROM case_events
             WHERE case_events.case_id = invoices.case_id AND case_events.kind = 'disputed'),
            (SELECT cases.opened_on FROM cases WHERE cases.id = invoices.case_id))
        WHERE document_type = 'invoice'
          AND case_id IN (SELECT id FROM cases WHERE status = 'DISPUTED')""")


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("disputed_since")
        batch.drop_constraint("uq_invoices_creditor_id_document_type_invoice_number", type_="unique")
        batch.create_unique_constraint("uq_invoices_creditor_id_invoice_number", ["creditor_id", "invoice_number"])
