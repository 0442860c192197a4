"""Bulk reads and writes of the ledger. No per-row round trips: every function takes many rows.

The stages call these inside the one transaction they hold per file.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import pandas as pd
from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.config import Registry
from pipeline.ledger.schema import cases, creditors, debtors, ingested_files, invoices, postings, receipt_lines

CHUNK = 5000
CASE_NUMBER_BASE = 10_000_000
DEBTOR_FIELDS = ("debtor_type", "name", "national_id", "address_line1", "address_line2", "postcode", "city",
                 "country", "email", "phone")


def _insert(conn: Connection, table):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _chunks(values: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def sync_creditors(conn: Connection, registry: Registry) -> None:
    """The registry is the truth for creditor master data; the ledger keeps a copy for joins and history."""
    rows = [dict(id=c.id, name=c.name, vat_id=c.vat_id, country=c.country, currency=c.currency, iban=c.iban,
                 bic=c.bic, fee_plan=c.fee_plan) for c in registry.creditors.values()]
    if not rows:
        return
    stmt = _insert(conn, creditors)
    stmt = stmt.on_conflict_do_update(index_elements=[creditors.c.id],
                                      set_={k: stmt.excluded[k] for k in rows[0] if k != "id"})
    conn.execute(stmt, rows)


def find_file(conn: Connection, creditor_id: str, sha256: str):
    return conn.execute(select(ingested_files).where(ingested_files.c.creditor_id == creditor_id,
                                                     ingested_files.c.sha256 == sha256)).first()


def insert_file(conn: Connection, **values) -> int:
    return conn.execute(ingested_files.insert().values(**values).returning(ingested_files.c.id)).scalar_one()


def finish_file(conn: Connection, file_id: int, **counts) -> None:
    conn.execute(update(ingested_files).where(ingested_files.c.id == file_id).values(**counts))


def known_invoices(conn: Connection, creditor_id: str, numbers: Sequence[str]) -> pd.DataFrame:
    """The ledger's documents among ``numbers`` with what DUPLICATE/CONFLICT and credit notes need."""
    columns = [invoices.c.invoice_number, invoices.c.id.label("invoice_id"), invoices.c.content_sha,
               invoices.c.file_id, invoices.c.line.label("known_line"), invoices.c.case_id, invoices.c.debtor_id,
               invoices.c.currency.label("known_currency"), invoices.c.document_type.label("known_type"),
               cases.c.case_number, cases.c.payment_reference, cases.c.closed_on,
               ingested_files.c.file_name.label("known_file")]
    frames = []
    for chunk in _chunks(list(numbers)):
        query = (select(*columns).join(cases, cases.c.id == invoices.c.case_id)
                 .join(ingested_files, ingested_files.c.id == invoices.c.file_id)
                 .where(invoices.c.creditor_id == creditor_id, invoices.c.invoice_number.in_(chunk)))
        frames.append(pd.DataFrame(conn.execute(query).all(), columns=[c.name for c in columns]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[c.name for c in columns])


def upsert_debtors(conn: Connection, creditor_id: str, rows: list[dict]) -> dict[str, int]:
    """Insert new debtors, refresh known ones with the latest details; return debtor ref -> id."""
    if not rows:
        return {}
    stmt = _insert(conn, debtors)
    stmt = stmt.on_conflict_do_update(index_elements=[debtors.c.creditor_id, debtors.c.debtor_ref],
                                      set_={k: stmt.excluded[k] for k in DEBTOR_FIELDS})
    conn.execute(stmt, [dict(row, creditor_id=creditor_id) for row in rows])
    ids = {}
    for chunk in _chunks([row["debtor_ref"] for row in rows]):
        ids.update(conn.execute(select(debtors.c.debtor_ref, debtors.c.id).where(
            debtors.c.creditor_id == creditor_id, debtors.c.debtor_ref.in_(chunk))).all())
    return ids


def open_cases(conn: Connection, creditor_id: str, debtor_ids: Sequence[int]) -> pd.DataFrame:
    columns = [cases.c.debtor_id, cases.c.currency, cases.c.id.label("case_id"), cases.c.case_number,
               cases.c.payment_reference]
    frames = [pd.DataFrame(conn.execute(select(*columns).where(
        cases.c.creditor_id == creditor_id, cases.c.closed_on.is_(None), cases.c.debtor_id.in_(chunk))).all(),
        columns=[c.name for c in columns]) for chunk in _chunks(list(debtor_ids))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[c.name for c in columns])


def reserve_case_ids(conn: Connection, count: int) -> list[int]:
    """``count`` new case ids: a sequence on PostgreSQL (no lock held), a counter row on SQLite (one writer)."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        return list(conn.execute(text("SELECT nextval('case_ids') FROM generate_series(1, :n)"), {"n": count}).scalars())
    conn.execute(text("INSERT INTO id_counters (name, next_value) VALUES ('case', 1) ON CONFLICT (name) DO NOTHING"))
    after = conn.execute(text("UPDATE id_counters SET next_value = next_value + :n WHERE name = 'case' "
                              "RETURNING next_value"), {"n": count}).scalar_one()
    return list(range(after - count, after))


def case_number_for(case_id: int) -> str:
    return str(CASE_NUMBER_BASE + case_id)


def insert_rows(conn: Connection, table, rows: list[dict]) -> None:
    if rows:
        conn.execute(table.insert(), rows)


def insert_invoices(conn: Connection, rows: list[dict]) -> dict[str, int]:
    """Insert claims; return invoice number -> id."""
    if not rows:
        return {}
    result = conn.execute(invoices.insert().returning(invoices.c.invoice_number, invoices.c.id), rows)
    return dict(result.all())


def invoice_balances(conn: Connection, invoice_ids: Sequence[int]) -> dict[int, int]:
    """Outstanding principal per claim: principal less credit notes (and, later, allocations)."""
    balances: dict[int, int] = {}
    for chunk in _chunks(list(invoice_ids)):
        balances.update(conn.execute(
            select(postings.c.invoice_id, func.sum(postings.c.amount_minor))
            .where(postings.c.invoice_id.in_(chunk), postings.c.kind.in_(("principal", "credit_note")))
            .group_by(postings.c.invoice_id)).all())
    return balances


def case_balances(conn: Connection, case_ids: Sequence[int]) -> dict[int, int]:
    balances: dict[int, int] = {}
    for chunk in _chunks(list(case_ids)):
        balances.update(conn.execute(select(postings.c.case_id, func.sum(postings.c.amount_minor))
                                     .where(postings.c.case_id.in_(chunk)).group_by(postings.c.case_id)).all())
    return balances


def close_cases(conn: Connection, case_ids: Sequence[int], status: str, on: date) -> None:
    for chunk in _chunks(list(case_ids)):
        conn.execute(update(cases).where(cases.c.id.in_(chunk)).values(status=status, closed_on=on))


def receipt_of(conn: Connection, file_id: int) -> list:
    query = (select(receipt_lines.c.line, receipt_lines.c.invoice_number, receipt_lines.c.outcome,
                    receipt_lines.c.message, cases.c.case_number, cases.c.payment_reference)
             .select_from(receipt_lines.outerjoin(cases, cases.c.id == receipt_lines.c.case_id))
             .where(receipt_lines.c.file_id == file_id).order_by(receipt_lines.c.seq))
    return conn.execute(query).all()


