"""Files of any party, and the exports we owe.

A file's record is keyed by (party kind, party id, SHA-256) instead of (creditor, SHA-256), so that bank and
partner files go through the same intake (every file so far is a creditor's). A file rejected whole keeps
its code and message on its record; its one receipt line moves there. ``exports`` records every file we
write, by its natural key; each file taken so far owes its receipt, named as it was.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

files = sa.table("ingested_files", sa.column("id", sa.Integer), sa.column("creditor_id", sa.String),
                 sa.column("party_kind", sa.String), sa.column("party_id", sa.String), sa.column("status", sa.String),
                 sa.column("file_name", sa.Text), sa.column("received_at", sa.DateTime), sa.column("as_of", sa.Date),
                 sa.column("run_id", sa.Text), sa.column("rejection_code", sa.String),
                 sa.column("rejection_message", sa.Text))
lines = sa.table("receipt_lines", sa.column("file_id", sa.Integer), sa.column("seq", sa.Integer),
                 sa.column("line", sa.Integer), sa.column("invoice_number", sa.Text), sa.column("outcome", sa.String),
                 sa.column("message", sa.Text))


def upgrade() -> None:
    with op.batch_alter_table("ingested_files") as batch:
        batch.add_column(sa.Column("party_kind", sa.String(20)))
        batch.add_column(sa.Column("party_id", sa.String(40)))
        batch.add_column(sa.Column("rejection_code", sa.String(32)))
        batch.add_column(sa.Column("rejection_message", sa.Text))
    bind = op.get_bind()
    bind.execute(files.update().values(party_kind="creditor", party_id=files.c.creditor_id))
    _move_rejections_onto_their_files(bind)
    with op.batch_alter_table("ingested_files") as batch:
        batch.drop_constraint("uq_ingested_files_creditor_id_sha256", type_="unique")
        batch.drop_column("creditor_id")
        batch.alter_column("party_kind", existing_type=sa.String(20), nullable=False)
        batch.alter_column("party_id", existing_type=sa.String(40), nullable=False)
        batch.create_unique_constraint("uq_ingested_files_party_kind_party_id_sha256",
                                       ["party_kind", "party_id", "sha256"])
    _create_exports()
    _owe_the_receipts(bind)


def _move_rejections_onto_their_files(bind) -> None:
    rejected = bind.execute(sa.select(lines.c.file_id, lines.c.outcome, lines.c.message)
                            .join(files, files.c.id == lines.c.file_id)
                            .where(files.c.status == "REJECTED", lines.c.seq == 0)).all()
    for file_id, code, message in rejected:
        bind.execute(files.update().where(files.c.id == file_id).values(rejection_code=code,
                                                                         rejection_message=message))
    bind.execute(lines.delete().where(lines.c.file_id.in_(
        sa.select(files.c.id).where(files.c.status == "REJECTED").scalar_subquery())))


def _create_exports() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("natural_key", sa.String(200), nullable=False),
        sa.Column("party", sa.String(20), nullable=False),
        sa.Column("folder", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id")),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("size_bytes", sa.BigInteger),
        sa.Column("delivered_at", sa.DateTime),
        sa.UniqueConstraint("kind", "natural_key", name="uq_exports_kind_natural_key"),
        sa.UniqueConstraint("folder", "file_name", name="uq_exports_folder_file_name"),
    )


def _owe_the_receipts(bind) -> None:
    """Each file taken so far owes its receipt under the name it was given, and counts as delivered: the code
    before put it into the outbox before the file left the inbox (a file still there is taken again, and its
    receipt put again if the outbox lacks it). What the receipt's bytes were is not known until it is
    rendered again."""
    exports = sa.table("exports", *(sa.column(name) for name in (
        "kind", "natural_key", "party", "folder", "file_name", "file_id", "as_of", "run_id", "delivered_at")))
    rows = [dict(kind="receipt", natural_key=str(file_id), party="creditors", folder=f"creditors/{creditor}/outbox",
                 file_name=f"receipt_{name}_{received_at:%Y%m%dT%H%M%SZ}.csv", file_id=file_id, as_of=as_of,
                 run_id=run_id, delivered_at=received_at)
            for file_id, creditor, name, received_at, as_of, run_id in bind.execute(
                sa.select(files.c.id, files.c.party_id, files.c.file_name, files.c.received_at, files.c.as_of,
                          files.c.run_id).order_by(files.c.id))]
    if rows:
        bind.execute(exports.insert(), rows)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.select(sa.func.count()).select_from(files).where(files.c.party_kind != "creditor")).scalar():
        raise RuntimeError("the ledger holds files of other parties than creditors: it cannot go below 0006")
    op.drop_table("exports")
    with op.batch_alter_table("ingested_files") as batch:
        batch.add_column(sa.Column("creditor_id", sa.String(40)))
    bind.execute(files.update().values(creditor_id=files.c.party_id))
    bind.execute(lines.insert().from_select(
        ["file_id", "seq", "line", "invoice_number", "outcome", "message"],
        sa.select(files.c.id, sa.literal(0), sa.null(), sa.literal(""), files.c.rejection_code,
                  files.c.rejection_message).where(files.c.status == "REJECTED")))
    with op.batch_alter_table("ingested_files") as batch:
        batch.drop_constraint("uq_ingested_files_party_kind_party_id_sha256", type_="unique")
        batch.alter_column("creditor_id", existing_type=sa.String(40), nullable=False)
        batch.create_foreign_key("fk_ingested_files_creditor_id_creditors", "creditors", ["creditor_id"], ["id"])
        batch.create_unique_constraint("uq_ingested_files_creditor_id_sha256", ["creditor_id", "sha256"])
        batch.drop_column("rejection_message")
        batch.drop_column("rejection_code")
        batch.drop_column("party_id")
        batch.drop_column("party_kind")
