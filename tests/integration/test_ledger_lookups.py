"""The ingest's lookups in the ledger stay index searches however large the ledger grows (SQLite's plans)."""
from __future__ import annotations

from sqlalchemy import select

from pipeline.config import Settings
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.ledger.schema import cases, invoices


def plan_of(conn, query) -> list[str]:
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = tuple(compiled.params[name] for name in compiled.positiontup)
    return [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params).all()]


def test_documents_are_found_number_by_number_in_the_unique_index_not_by_scanning_the_creditors(tmp_path):
    """Without the document type in the condition SQLite searched the index by creditor alone: every batch
    of a file read all the creditor's documents, and a million-row file took ever longer per batch."""
    engine = open_ledger(Settings(tmp_path, f"sqlite:///{tmp_path / 'inkasso.db'}"))
    with engine.connect() as conn:
        documents = plan_of(conn, select(invoices.c.id).where(repo._numbered(conn, "acme", ["INV-1", "INV-2"])))
        debtors_cases = plan_of(conn, select(cases.c.id).where(
            cases.c.creditor_id == "acme", cases.c.closed_on.is_(None), repo._one_of(conn, cases.c.debtor_id, [1, 2])))
    engine.dispose()
    assert any("(creditor_id=? AND document_type=? AND invoice_number=?)" in step for step in documents), documents
    assert not any(step.startswith("SCAN invoices") for step in documents), documents
    assert any("uq_cases_one_open (creditor_id=? AND debtor_id=?)" in step for step in debtors_cases), debtors_cases
