"""Bulk reads and writes of the ledger. No per-row round trips: every function takes many rows.

The stages call these inside the one transaction they hold per file.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Select, Table, and_, any_, bindparam, func, literal, or_, select, text, update
from sqlalchemy import case as when
from sqlalchemy.dialects import postgresql, sqlite

from pipeline.config import Registry
from pipeline.ledger import postings as postings_vocabulary
from pipeline.ledger.schema import (case_events, cases, claim_steps, creditors, debtors, exports, handoff_cases,
                                    handoff_lines, handoff_refusals, handoff_weeks, handoffs, ingested_files,
                                    invoices, letters, lifecycle_runs, payments, postings, receipt_lines)

CHUNK = 5000
STREAM_ROWS = 2_000  # rows fetched at a time when a query is streamed
FRAME_ROWS = 10_000  # rows of one frame when a query is streamed as columns
FETCH_ROWS = 100_000  # rows turned into columns at a time when a whole result is fetched as one frame
INSERT_ROWS = 100_000  # rows made Python tuples at a time by a bulk insert
COLUMN_TYPES = (pd.Series, np.ndarray, list)   # what a bulk write takes as a column; anything else is one value
_CURSOR_NAMES = itertools.count()   # a server-side cursor is named
BULK_WRITE_CACHE_KIB = 65_536  # SQLite's page cache while a file's rows are written (`bulk_writes`)
CASE_NUMBER_BASE = 10_000_000
PARTY_LOCK_SPACE = 0x696E6B  # first key of the parties' advisory locks (the second: hash of kind and id)
KEPT_WHEN_MISSING = ("national_id", "email", "phone")  # a later file without them does not erase them
DOCUMENT_TYPES = ("invoice", "credit_note")
DEBTOR_FIELDS = ("debtor_type", "name", "national_id", "address_line1", "address_line2", "postcode", "city",
                 "country", "email", "phone")


def dialect_insert(conn: Connection, table):
    """An INSERT that knows ON CONFLICT on both databases."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _chunks(values: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


@contextmanager
def bulk_writes(conn: Connection) -> Iterator[None]:
    """SQLite's page cache made larger while a large file's rows are written, then put back.

    The ledger's indexes of a million claims do not fit SQLite's default of 2 MiB, and every page that
    falls out of it is read from the file again (a million rows inserted 1.3 times faster with 64 MiB). Put
    back after, so that a long read on the same connection later (a receipt of a million lines) keeps no
    more pages than before."""
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection
    (was,) = driver.execute("PRAGMA cache_size").fetchone()
    driver.execute(f"PRAGMA cache_size = -{BULK_WRITE_CACHE_KIB}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size = {int(was)}")


def sync_creditors(conn: Connection, registry: Registry) -> None:
    """The registry is the truth for creditor master data; the ledger keeps a copy for joins and history."""
    rows = [dict(id=c.id, name=c.name, vat_id=c.vat_id, country=c.country, currency=c.currency, iban=c.iban,
                 bic=c.bic, fee_plan=c.fee_plan) for c in registry.creditors.values()]
    if not rows:
        return
    stmt = dialect_insert(conn, creditors)
    stmt = stmt.on_conflict_do_update(index_elements=[creditors.c.id],
                                      set_={k: stmt.excluded[k] for k in rows[0] if k != "id"})
    conn.execute(stmt, rows)


def find_file(conn: Connection, party_kind: str, party_id: str, sha256: str):
    return conn.execute(select(ingested_files).where(
        ingested_files.c.party_kind == party_kind, ingested_files.c.party_id == party_id,
        ingested_files.c.sha256 == sha256)).first()


def lock_party(conn: Connection, party_kind: str, party_id: str) -> None:
    """Hold the party's lock to the end of the transaction (PostgreSQL advisory lock): the party's files are
    taken one transaction at a time. For a creditor that also serialises what its own files do to its cases
    and balances; a stage that moves money on a creditor's cases from another party's file (the bank's)
    must take that creditor's lock too.

    SQLite needs none: BEGIN IMMEDIATE already admits one writer at a time."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:party))"),
                     {"space": PARTY_LOCK_SPACE, "party": f"{party_kind}:{party_id}"})


def latest_received_at(conn: Connection, party_kind: str, party_id: str, file_name: str):
    """When the newest file of this name was received from this party (None: never)."""
    return conn.execute(select(func.max(ingested_files.c.received_at)).where(
        ingested_files.c.party_kind == party_kind, ingested_files.c.party_id == party_id,
        ingested_files.c.file_name == file_name)).scalar()


def insert_file(conn: Connection, **values) -> int:
    return conn.execute(ingested_files.insert().values(**values).returning(ingested_files.c.id)).scalar_one()


def finish_file(conn: Connection, file_id: int, **counts) -> None:
    conn.execute(update(ingested_files).where(ingested_files.c.id == file_id).values(**counts))


def file_record(conn: Connection, file_id: int):
    return conn.execute(select(ingested_files).where(ingested_files.c.id == file_id)).one()


def _one_of(conn: Connection, column, values: Sequence):
    """``column IN values`` with the values as one parameter, however many: an array on PostgreSQL, a JSON array
    that SQLite reads with json_each. A list of thousands of bound values cost a compile per query and had to be
    cut into chunks; and PostgreSQL's planner, without statistics yet for the rows this transaction wrote,
    scans the creditor's rows once per query, whatever the list's length (it hashes the array)."""
    values = list(values)
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(select(func.json_each(bindparam(None, json.dumps(values))).table_valued("value").c.value))


def _numbered(conn: Connection, creditor_id: str, numbers: Sequence[str]):
    """The creditor's documents of these numbers. Naming every document type lets SQLite search the unique index
    (creditor, type, number) for each number instead of scanning all the creditor's documents."""
    return and_(invoices.c.creditor_id == creditor_id, invoices.c.document_type.in_(DOCUMENT_TYPES),
                _one_of(conn, invoices.c.invoice_number, numbers))


def known_invoices(conn: Connection, creditor_id: str, numbers: Sequence[str]) -> pd.DataFrame:
    """The ledger's documents among ``numbers`` with what DUPLICATE/CONFLICT and credit notes need."""
    return fetch_frame(conn, select(
        invoices.c.invoice_number, invoices.c.id.label("invoice_id"), invoices.c.content_sha, invoices.c.file_id,
        invoices.c.line.label("known_line"), invoices.c.case_id, invoices.c.debtor_id,
        invoices.c.currency.label("known_currency"), invoices.c.document_type.label("known_type"),
        ingested_files.c.file_name.label("known_file"))
        .join(ingested_files, ingested_files.c.id == invoices.c.file_id).where(_numbered(conn, creditor_id, numbers)))


def upsert_debtors(conn: Connection, creditor_id: str, **columns) -> pd.DataFrame:
    """Insert new debtors, refresh known ones with the latest details; return each debtor ref's ``id`` and
    whether it is ``new`` (indexed by ref). The known debtors' details are read and compared here, in columns,
    and only those whose details changed are written."""
    latest = pd.DataFrame({name: _as_list(values) for name, values in columns.items()})
    if latest.empty:
        return pd.DataFrame({"id": pd.Series([], dtype="int64"), "new": pd.Series([], dtype=bool)})
    known = fetch_frame(conn, select(debtors.c.debtor_ref, debtors.c.id, *(debtors.c[name] for name in DEBTOR_FIELDS))
                        .where(debtors.c.creditor_id == creditor_id,
                               _one_of(conn, debtors.c.debtor_ref, latest["debtor_ref"].tolist())))
    at = pd.Index(known["debtor_ref"]).get_indexer(latest["debtor_ref"])
    old = at >= 0
    new = latest[~old]
    new_ids = reserve_ids(conn, debtors, len(new))
    insert_rows(conn, debtors, id=new_ids, creditor_id=creditor_id, **{name: new[name] for name in new.columns})
    _refresh_debtors(conn, latest[old].reset_index(drop=True), known.iloc[at[old]].reset_index(drop=True))
    return pd.DataFrame({"id": np.concatenate([known["id"].to_numpy(dtype=np.int64)[at[old]],
                                               np.asarray(new_ids, dtype=np.int64)]),
                         "new": np.repeat([False, True], [old.sum(), len(new)])},
                        index=pd.concat([latest.loc[old, "debtor_ref"], new["debtor_ref"]]))


def _refresh_debtors(conn: Connection, latest: pd.DataFrame, known: pd.DataFrame) -> None:
    """Known debtors take the latest details, but for those of `KEPT_WHEN_MISSING` a file leaves out."""
    changed = np.zeros(len(latest), dtype=bool)
    details = {}
    for name in DEBTOR_FIELDS:
        given, was = latest[name].to_numpy(dtype=object), known[name].to_numpy(dtype=object)
        if name in KEPT_WHEN_MISSING:
            given = np.where(pd.isna(given), was, given)
        details[name] = given
        changed |= given != was
    if changed.any():
        values = {f"new_{name}": details[name][changed].tolist() for name in DEBTOR_FIELDS}
        conn.execute(update(debtors).where(debtors.c.id == bindparam("debtor_pk"))
                     .values({name: bindparam(f"new_{name}") for name in DEBTOR_FIELDS}),
                     [dict(zip(values, row), debtor_pk=pk) for pk, *row in
                      zip(known["id"].to_numpy(dtype=np.int64)[changed].tolist(), *values.values())])


def open_cases(conn: Connection, creditor_id: str, debtor_ids: Sequence[int]) -> pd.DataFrame:
    return fetch_frame(conn, select(cases.c.debtor_id, cases.c.currency, cases.c.id.label("case_id"), cases.c.status,
                                    cases.c.status_before_dispute)
                       .where(cases.c.creditor_id == creditor_id, cases.c.closed_on.is_(None),
                              _one_of(conn, cases.c.debtor_id, [int(debtor) for debtor in debtor_ids])))


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """``count`` new ids for ``table``, so that bulk inserts need not read them back.

    PostgreSQL: the id column's own sequence (no lock held). SQLite: after the largest
    id; safe because a SQLite write transaction (BEGIN IMMEDIATE) has no rival writer.
    """
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        return list(conn.execute(text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                                      "FROM generate_series(1, :n)"), {"n": count}).scalars())
    largest = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(largest + 1, largest + 1 + count))


def case_number_for(case_id: int) -> str:
    return str(CASE_NUMBER_BASE + case_id)


def columns(rows: Sequence[dict]) -> dict[str, list]:
    """Rows of the same keys as the columns `insert_rows` and `post` take."""
    return {name: [row[name] for row in rows] for name in rows[0]}


def insert_rows(conn: Connection, table: Table, **columns) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany on SQLite. Columns are Series, arrays, lists or scalars,
    made Python rows `INSERT_ROWS` at a time: a million rows of tuples at once would take gigabytes."""
    for start in range(0, _length(columns), INSERT_ROWS):
        part = slice(start, start + INSERT_ROWS)
        _insert_prepared(conn, table, *_rows({name: _part(values, part) for name, values in columns.items()}))


def _part(values, part: slice):
    if isinstance(values, pd.Series):
        return values.iloc[part]
    return values[part] if isinstance(values, COLUMN_TYPES) else values


def _insert_prepared(conn: Connection, table: Table, names: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
    names = [table.c[name].name for name in names]  # only our own column names reach the SQL text
    if conn.dialect.name == "postgresql":
        with conn.connection.driver_connection.cursor() as cursor:
            with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        marks = ", ".join("?" * len(names))
        _executemany(conn, f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", rows)


def post(conn: Connection, **columns) -> None:
    """Bulk-write postings after checking each against the money vocabulary (kind, sign, what it settles)."""
    names, rows = _rows(columns)
    kind_at, amount_at = names.index("kind"), names.index("amount_minor")
    settles_at = names.index("settles") if "settles" in names else None
    examples = {}  # one amount of each (kind, sign, settles): the check is the same for all of them
    for row in rows:
        settles = None if settles_at is None else row[settles_at]
        amount = row[amount_at]
        examples.setdefault((row[kind_at], (amount > 0) - (amount < 0), settles), amount)
    for (kind_name, _, settles), amount in examples.items():
        postings_vocabulary.check(kind_name, amount, settles)
    _insert_prepared(conn, postings, names, rows)


def insert_invoices(conn: Connection, **columns) -> list[int]:
    """Insert claims (and credit notes); return their ids, in the order of the rows."""
    ids = reserve_ids(conn, invoices, len(columns["invoice_number"]))
    insert_rows(conn, invoices, id=ids, **columns)
    return ids


def _executemany(conn: Connection, sql: str, rows: list[tuple]) -> None:
    """``sql`` (our own names, a ``?`` per value) run by the driver's cursor for each row: no SQLAlchemy per row."""
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql.replace("?", "%s") if conn.dialect.name == "postgresql" else sql, rows)
    finally:
        cursor.close()


def _rows(columns: dict) -> tuple[list[str], list[tuple]]:
    """Columns (Series, arrays, lists or scalars) to plain-Python row tuples: no numpy types, no NaT."""
    length = _length(columns)
    values = [_as_list(v) if isinstance(v, COLUMN_TYPES) else [_scalar(v)] * length for v in columns.values()]
    return list(columns), list(zip(*values))


def _length(columns: dict) -> int:
    """The rows of the columns: the length of the first that is not a scalar (0 when all are)."""
    return next((len(v) for v in columns.values() if isinstance(v, COLUMN_TYPES)), 0)


def _as_list(values) -> list:
    if isinstance(values, list):
        return values
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):   # few distinct days: each made text once
        codes, days = pd.factorize(series.to_numpy(dtype="datetime64[D]"))
        return np.append(np.datetime_as_string(days).astype(object), None)[codes].tolist()   # NaT: code -1
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=bool).tolist()
    if pd.api.types.is_integer_dtype(series.dtype) and not series.hasnans:
        return series.to_numpy(dtype=np.int64).tolist()
    if isinstance(series.dtype, pd.StringDtype):   # text holds no numpy scalars: no check per value
        return series.to_numpy(dtype=object, na_value=None).tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in series.to_numpy(dtype=object, na_value=None)]


def _scalar(value):
    return value.isoformat() if isinstance(value, date) else value


def close_cases(conn: Connection, case_ids: Sequence[int], status: str, on: date) -> list[int]:
    """Close the cases among ``case_ids`` that are still open; return those it closed."""
    closed: list[int] = []
    for chunk in _chunks(list(case_ids)):
        still_open = list(conn.execute(select(cases.c.id).where(cases.c.id.in_(chunk), cases.c.closed_on.is_(None))
                                       .order_by(cases.c.id)).scalars())
        conn.execute(update(cases).where(cases.c.id.in_(still_open)).values(status=status, closed_on=on))
        closed += still_open
    return closed


def invoice_cases(conn: Connection, creditor_id: str, numbers: Sequence[str]) -> dict[str, tuple[int, int]]:
    """The creditor's documents among ``numbers``: number -> (claim id, case id).

    A credit note names the claim it credits. Where an invoice and a credit note share a number, the
    invoice is the one named."""
    return {number: (credited or invoice, case) for number, invoice, credited, case in conn.execute(
        select(invoices.c.invoice_number, invoices.c.id, invoices.c.credited_invoice_id, invoices.c.case_id)
        .where(_numbered(conn, creditor_id, numbers)).order_by(invoices.c.document_type == "invoice")).all()}


def creditor_cases(conn: Connection, creditor_id: str, case_ids: Sequence[int], case_numbers: Sequence[str]) -> list:
    """The creditor's cases named by id or by case number, with their state."""
    query = (select(cases.c.id, cases.c.case_number, cases.c.currency, cases.c.status,
                    cases.c.status_before_dispute, cases.c.closed_on)
             .where(cases.c.creditor_id == creditor_id,
                    or_(cases.c.id.in_(list(case_ids)), cases.c.case_number.in_(list(case_numbers))))
             .order_by(cases.c.id))
    return conn.execute(query).all()


def case_claims(conn: Connection, case_ids: Sequence[int]) -> list:
    """The claims (invoices, not credit notes) of the cases: case id, id, number, due date, disputed since; by id."""
    claims = []
    for chunk in _chunks(list(case_ids)):
        claims += conn.execute(select(invoices.c.case_id, invoices.c.id, invoices.c.invoice_number,
                                      invoices.c.due_date, invoices.c.disputed_since)
                               .where(invoices.c.case_id.in_(chunk), invoices.c.document_type == "invoice")
                               .order_by(invoices.c.id)).all()
    return claims


def update_claim_disputes(conn: Connection, disputes: Sequence[dict]) -> None:
    """``disputes``: dicts of claim_pk, new_disputed_since (None lifts the dispute)."""
    if disputes:
        conn.execute(update(invoices).where(invoices.c.id == bindparam("claim_pk")).values(
            disputed_since=bindparam("new_disputed_since")), list(disputes))


def update_case_states(conn: Connection, states: Sequence[dict]) -> None:
    """``states``: dicts of case_pk, new_status, new_before_dispute, new_closed_on."""
    if states:
        conn.execute(update(cases).where(cases.c.id == bindparam("case_pk")).values(
            status=bindparam("new_status"), status_before_dispute=bindparam("new_before_dispute"),
            closed_on=bindparam("new_closed_on")), list(states))


def receipt_of(conn: Connection, file_id: int) -> Iterator[list[tuple]]:
    """The receipt lines of a file in order, streamed (a file of ten million rows has as many), as lists of
    `STREAM_ROWS` of the driver's tuples: a million lines made rows one by one cost seconds."""
    with _driver_cursor(conn, select(receipt_lines.c.line, receipt_lines.c.invoice_number, receipt_lines.c.outcome,
                                     receipt_lines.c.message, cases.c.case_number, cases.c.payment_reference)
                        .select_from(receipt_lines.outerjoin(cases, cases.c.id == receipt_lines.c.case_id))
                        .where(receipt_lines.c.file_id == file_id).order_by(receipt_lines.c.seq),
                        streamed=True) as cursor:
        while part := cursor.fetchmany(STREAM_ROWS):
            yield part


def receipt_numbers(conn: Connection, file_id: int, lines: Sequence[int]) -> dict[int, str]:
    """The invoice number on each of these lines of a file's receipt, by its key (file, line)."""
    with _driver_cursor(conn, select(receipt_lines.c.seq, receipt_lines.c.invoice_number).where(
            receipt_lines.c.file_id == file_id, _one_of(conn, receipt_lines.c.seq, lines))) as cursor:
        return dict(cursor.fetchall())


def lock_export(conn: Connection, kind: str, natural_key: str):
    """The export's record, locked to the end of the transaction (SQLite: BEGIN IMMEDIATE locks it all)."""
    return conn.execute(select(exports).where(exports.c.kind == kind, exports.c.natural_key == natural_key)
                        .with_for_update()).first()


def export_owed(conn: Connection, kind: str, natural_key: str):
    """The export's record, or None when it is not owed."""
    return conn.execute(select(exports).where(exports.c.kind == kind, exports.c.natural_key == natural_key)).first()


def undelivered_exports(conn: Connection, kind: str, folder: str | None = None) -> list[str]:
    """The natural keys of the exports of ``kind`` owed and not delivered, into ``folder`` (None: any)."""
    query = select(exports.c.natural_key).where(exports.c.kind == kind, exports.c.delivered_at.is_(None))
    if folder is not None:
        query = query.where(exports.c.folder == folder)
    return list(conn.execute(query.order_by(exports.c.id)).scalars())


def insert_export(conn: Connection, **values) -> None:
    """Record an export owed; one recorded before under the same key stays as it was."""
    conn.execute(dialect_insert(conn, exports).values(**values).on_conflict_do_nothing(
        index_elements=[exports.c.kind, exports.c.natural_key]))


def mark_delivered(conn: Connection, export_id: int, sha256: str, size_bytes: int, delivered_at) -> None:
    conn.execute(update(exports).where(exports.c.id == export_id).values(
        sha256=sha256, size_bytes=size_bytes, delivered_at=delivered_at))


def last_lifecycle_day(conn: Connection, creditor_id: str) -> date | None:
    return conn.execute(select(func.max(lifecycle_runs.c.as_of))
                        .where(lifecycle_runs.c.creditor_id == creditor_id)).scalar()


def record_lifecycle_day(conn: Connection, creditor_id: str, as_of: date, run_id: str) -> None:
    conn.execute(lifecycle_runs.insert().values(creditor_id=creditor_id, as_of=as_of, run_id=run_id))


def lifecycle_claims(conn: Connection, creditor_id: str) -> list:
    """The claims (not credit notes) of the creditor's open cases, with what the lifecycle needs of their case,
    debtor and the file that brought them (the day they were taken)."""
    return conn.execute(_claims_query().where(cases.c.creditor_id == creditor_id, cases.c.closed_on.is_(None))).all()


def claims_of_cases(conn: Connection, case_ids: Sequence[int]) -> list:
    """The claims (not credit notes) of the given cases, with what an allocation needs of their case; each
    case's oldest first."""
    query = (select(invoices.c.id, invoices.c.invoice_number, invoices.c.case_id, invoices.c.due_date,
                    invoices.c.disputed_since, invoices.c.time_barred_on, cases.c.status, cases.c.country,
                    cases.c.currency)
             .join(cases, cases.c.id == invoices.c.case_id).where(invoices.c.document_type == "invoice")
             .order_by(invoices.c.case_id, invoices.c.due_date, invoices.c.id))
    rows = []
    for chunk in _chunks(list(case_ids)):
        rows += conn.execute(query.where(invoices.c.case_id.in_(chunk))).all()
    return rows


def _claims_query():
    return (select(invoices.c.id, invoices.c.invoice_number, invoices.c.case_id, invoices.c.invoice_date,
                   invoices.c.due_date, invoices.c.disputed_since, invoices.c.time_barred_on,
                   invoices.c.last_reminder_date, cases.c.case_number, cases.c.status, cases.c.country,
                   cases.c.currency, cases.c.payment_reference, cases.c.creditor_id, debtors.c.debtor_type,
                   debtors.c.name.label("debtor_name"), debtors.c.address_line1, debtors.c.address_line2,
                   debtors.c.postcode, debtors.c.city, debtors.c.country.label("debtor_country"), debtors.c.email,
                   ingested_files.c.as_of.label("taken_on"))
            .join(cases, cases.c.id == invoices.c.case_id).join(debtors, debtors.c.id == cases.c.debtor_id)
            .join(ingested_files, ingested_files.c.id == invoices.c.file_id)
            .where(invoices.c.document_type == "invoice")
            .order_by(invoices.c.case_id, invoices.c.due_date, invoices.c.id))


def claim_history(conn: Connection, claim_ids: Sequence[int]) -> list:
    """The steps the claims took, in the order they took them."""
    rows = []
    for chunk in _chunks(list(claim_ids)):
        rows += conn.execute(select(claim_steps).where(claim_steps.c.invoice_id.in_(chunk))
                             .order_by(claim_steps.c.invoice_id, claim_steps.c.taken_on)).all()
    return rows


def claims_with_event(conn: Connection, claim_ids: Sequence[int], kind: str) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(list(claim_ids)):
        found.update(conn.execute(select(case_events.c.invoice_id).where(
            case_events.c.invoice_id.in_(chunk), case_events.c.kind == kind)).scalars())
    return found


def letter_counts(conn: Connection, case_ids: Sequence[int]) -> dict[int, int]:
    """How many letters each case has had."""
    found: dict[int, int] = {}
    for chunk in _chunks(list(case_ids)):
        found.update(conn.execute(select(letters.c.case_id, func.max(letters.c.sequence))
                                  .where(letters.c.case_id.in_(chunk)).group_by(letters.c.case_id)).all())
    return found


def insert_letters(conn: Connection, creditor_id: str, day: date, **columns) -> dict[tuple[int, int], int]:
    """Bulk-write a creditor's letters of ``day``; their ids by (case id, sequence), for what refers to them."""
    insert_rows(conn, letters, **columns)
    query = (select(letters.c.case_id, letters.c.sequence, letters.c.id).join(cases, cases.c.id == letters.c.case_id)
             .where(letters.c.sent_on == day, cases.c.creditor_id == creditor_id))
    return {(case_id, sequence): letter_id for case_id, sequence, letter_id in conn.execute(query)}


def store_payments(conn: Connection, scheme: str, account: str, source: str, found: Sequence, file_id: int,
                   run_id: str) -> int:
    """Store the payments (`parsers.payments.Payment`) not stored before under their (scheme, account, bank
    key); how many were new. Runs under the bank's lock, so no other writer adds the same keys meanwhile."""
    keys = [payment.key for payment in found]
    known: set[str] = set()
    for chunk in _chunks(keys):
        known.update(conn.execute(select(payments.c.bank_key).where(
            payments.c.scheme == scheme, payments.c.account == account, payments.c.bank_key.in_(chunk))).scalars())
    new = [payment for payment in found if payment.key not in known]
    if new:
        insert_rows(conn, payments, scheme=scheme, account=account, bank_key=[p.key for p in new], source=source,
                    amount_minor=[p.amount_minor for p in new], currency=[p.currency for p in new],
                    value_date=[p.value_date for p in new], booking_date=[p.booking_date for p in new],
                    reference=[p.reference for p in new], remittance_text=[p.text for p in new],
                    payer_name=[p.payer_name for p in new], payer_address=[p.payer_address for p in new],
                    payer_id=[p.payer_id for p in new], reversal=[p.reversal for p in new],
                    position=[p.position for p in new], file_id=file_id, run_id=run_id)
    return len(new)


def unjudged_payments(conn: Connection) -> pd.DataFrame:
    """The stored payments reconciliation has not judged yet, oldest value date first."""
    query = (select(payments.c.id, payments.c.amount_minor, payments.c.currency, payments.c.value_date,
                    payments.c.reference, payments.c.remittance_text, payments.c.payer_name, payments.c.reversal)
             .where(payments.c.judged_on.is_(None)).order_by(payments.c.value_date, payments.c.id))
    frame = fetch_frame(conn, query, dates=["value_date"])
    return frame.assign(value_date=frame["value_date"].dt.date.astype(object), reversal=frame["reversal"].astype(bool))


def cases_by_number(conn: Connection, numbers: Sequence[str]) -> pd.DataFrame:
    return fetch_frame(conn, select(cases.c.id.label("case_id"), cases.c.case_number, cases.c.status, cases.c.currency,
                                    cases.c.creditor_id, debtors.c.name.label("debtor_name"))
                       .join(debtors, debtors.c.id == cases.c.debtor_id)
                       .where(_one_of(conn, cases.c.case_number, numbers)))


def collecting_case_totals(conn: Connection, day: date, states: Sequence[str]) -> pd.DataFrame:
    """What each case in ``states`` owes on ``day`` (postings with that value date or earlier), with its
    debtor's name: one grouped query."""
    debtors_kinds = [name for name, posting_kind in postings_vocabulary.KINDS.items()
                     if postings_vocabulary.is_debtors(posting_kind)]
    query = (select(cases.c.id.label("case_id"), cases.c.currency,
                    func.sum(postings.c.amount_minor).label("total_minor"), debtors.c.name.label("debtor_name"))
             .join(postings, postings.c.case_id == cases.c.id).join(debtors, debtors.c.id == cases.c.debtor_id)
             .where(cases.c.status.in_(list(states)), postings.c.value_date <= day,
                    postings.c.kind.in_(debtors_kinds))
             .group_by(cases.c.id, cases.c.currency, debtors.c.name))
    frame = fetch_frame(conn, query)
    frame["total_minor"] = frame["total_minor"].astype("int64")
    return frame


def judge_payments(conn: Connection, judged: Sequence[dict]) -> None:
    """``judged``: dicts of payment, day, judged_rule, case, reason, refund, reverses. The payment a reversal
    took back is set apart, for the reversals alone: on SQLite, a foreign key in the ``SET`` list is checked
    even when it is set to nothing (1.4 s of 3.8 s for 200,000 payments)."""
    if judged:
        _executemany(conn, "UPDATE payments SET judged_on = ?, rule = ?, case_id = ?, parked_reason = ?, "
                           "refund_due_minor = ? WHERE id = ?",
                     [(one["day"], one["judged_rule"], one["case"], one["reason"], one["refund"], one["payment"])
                      for one in judged])
        _executemany(conn, "UPDATE payments SET reverses_id = ? WHERE id = ?",
                     [(one["reverses"], one["payment"]) for one in judged if one["reverses"] is not None])


def unjudged_ids(conn: Connection, payment_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(list(payment_ids)):
        found.update(conn.execute(select(payments.c.id).where(payments.c.id.in_(chunk),
                                                              payments.c.judged_on.is_(None))).scalars())
    return found


def payment_to_reverse(conn: Connection, case_id: int, amount_minor: int, taken_back: Collection[int] = ()):
    """The latest payment allocated on the case with that amount that no reversal has taken back yet (nor one
    of ``taken_back``, taken back by reversals not written yet)."""
    reversed_ids = select(payments.c.reverses_id).where(payments.c.reverses_id.is_not(None))
    return conn.execute(select(payments).where(
        payments.c.case_id == case_id, payments.c.amount_minor == amount_minor, payments.c.rule.is_not(None),
        payments.c.id.not_in(reversed_ids), payments.c.id.not_in(sorted(taken_back)))
        .order_by(payments.c.value_date.desc(), payments.c.id.desc())).first()


def postings_of_payment(conn: Connection, payment_id: int) -> list:
    return conn.execute(select(postings.c.invoice_id, postings.c.settles, postings.c.amount_minor).where(
        postings.c.payment_id == payment_id, postings.c.kind == "payment").order_by(postings.c.id)).all()


REPORTED_PAYMENT_COLUMNS = ("id", "source", "bank_key", "value_date", "amount_minor", "currency", "payer_name",
                            "reference", "rule", "parked_reason", "refund_due_minor", "resolved_case_id",
                            "resolved_refund_minor")


def reconciliation_frames(conn: Connection, day: date) -> Iterator[pd.DataFrame]:
    """The report lines of ``day`` as columns, streamed: the payments judged that day, in id order, then those
    an operator resolved that day (``manual`` true); each with its case number and, per component it settled,
    what its allocation paid (positive; a reversal's negative). A parked payment's judged line has no
    allocation."""
    allocated = postings.c.kind.in_(["payment", "payment_reversal"])
    settled = [func.coalesce(func.sum(when((postings.c.settles == component, -postings.c.amount_minor), else_=0)),
                             0).label(component) for component in postings_vocabulary.SETTLEABLE]
    for manual, case_column, day_column, allocation in (
            (False, payments.c.case_id, payments.c.judged_on, payments.c.rule.is_not(None)),
            (True, payments.c.resolved_case_id, payments.c.resolved_on, payments.c.resolved_on.is_not(None))):
        query = (select(*[payments.c[name] for name in REPORTED_PAYMENT_COLUMNS], cases.c.case_number,
                        literal(manual).label("manual"), *settled)
                 .select_from(payments.outerjoin(cases, cases.c.id == case_column)
                              .outerjoin(postings, (postings.c.payment_id == payments.c.id) & allocated & allocation))
                 .where(day_column == day).group_by(payments.c.id, cases.c.case_number).order_by(payments.c.id))
        yield from fetch_frames(conn, query, dates=("value_date",))


def fetch_frame(conn: Connection, query: Select, dates: Sequence[str] = ()) -> pd.DataFrame:
    """The query's rows as a frame, fetched by the driver's cursor (``dates``: columns made datetime64), a
    part at a time: a million rows held as Python tuples would take gigabytes before they became columns."""
    with _driver_cursor(conn, query) as cursor:
        parts = list(_frames(cursor, dates, FETCH_ROWS))
    filled = [part for part in parts if len(part)] or parts[:1]
    return filled[0] if len(filled) == 1 else pd.concat(filled, ignore_index=True)


def fetch_frames(conn: Connection, query: Select, dates: Sequence[str] = (),
                 size: int = FRAME_ROWS) -> Iterator[pd.DataFrame]:
    """The same, streamed: frames of at most ``size`` rows (the first one maybe empty, never none)."""
    with _driver_cursor(conn, query, streamed=True) as cursor:
        yield from _frames(cursor, dates, size)


def _frames(cursor, dates: Sequence[str], size: int) -> Iterator[pd.DataFrame]:
    while True:
        rows = cursor.fetchmany(size)
        yield _frame(rows, cursor, dates)
        if len(rows) < size:
            return


@contextmanager
def _driver_cursor(conn: Connection, query: Select, streamed: bool = False) -> Iterator:
    """A cursor of the driver's on the query. Streamed on PostgreSQL, a server-side one: the driver's own
    cursor fetches every row into memory at once (SQLite's steps through them as they are asked for)."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if conn.dialect.paramstyle == "qmark":
        params = [_sqlite_value(params[name]) for name in compiled.positiontup]
    driver = conn.connection.driver_connection
    server_side = streamed and conn.dialect.name == "postgresql"
    cursor = driver.cursor(name=f"frames_{next(_CURSOR_NAMES)}") if server_side else driver.cursor()
    try:
        if conn.dialect.name == "postgresql" and not server_side:
            # never prepared: the generic plan of a prepared statement does not hash a large array of values
            cursor.execute(str(compiled), params, prepare=False)
        else:
            cursor.execute(str(compiled), params)
        yield cursor
    finally:
        cursor.close()


def _frame(rows: list[tuple], cursor, dates: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=[d[0] for d in cursor.description])
    for name in dates:
        frame[name] = pd.to_datetime(frame[name])
    return frame


def _sqlite_value(value):
    return value.isoformat() if isinstance(value, date) else value


def cases_by_id(conn: Connection, case_ids: Sequence[int]) -> dict[int, str]:
    """The creditor of each case."""
    found = fetch_frame(conn, select(cases.c.id, cases.c.creditor_id).where(
        _one_of(conn, cases.c.id, [int(case_id) for case_id in case_ids])))
    return dict(zip(found["id"].tolist(), found["creditor_id"].tolist()))


def payment_row(conn: Connection, payment_id: int):
    return conn.execute(select(payments).where(payments.c.id == payment_id)).first()


def in_suspense():
    """The condition of a payment in suspense: parked, and no operator has worked it yet."""
    return and_(payments.c.parked_reason.is_not(None), payments.c.resolved_at.is_(None))


def parked_payments(conn: Connection) -> list:
    """The payments in suspense, oldest first."""
    return conn.execute(select(payments.c.id, payments.c.value_date, payments.c.amount_minor, payments.c.currency,
                               payments.c.payer_name, payments.c.reference, payments.c.remittance_text,
                               payments.c.parked_reason)
                        .where(in_suspense()).order_by(payments.c.value_date, payments.c.id)).all()


def resolve_payment(conn: Connection, payment_id: int, day: date, case_id: int | None, refund_minor: int, by: str,
                    at) -> None:
    conn.execute(update(payments).where(payments.c.id == payment_id).values(
        resolved_on=day, resolved_case_id=case_id, resolved_refund_minor=refund_minor, resolved_by=by, resolved_at=at))


def payment_id(conn: Connection, scheme: str, account: str, key: str) -> int:
    return conn.execute(select(payments.c.id).where(payments.c.scheme == scheme, payments.c.account == account,
                                                    payments.c.bank_key == key)).scalar_one()


def record_commission(conn: Connection, payment_id: int, commission_minor: int) -> None:
    conn.execute(update(payments).where(payments.c.id == payment_id).values(partner_commission_minor=commission_minor))


def set_time_barred(conn: Connection, claims: Sequence[tuple[int, date]]) -> None:
    """``claims``: (claim id, the day its time bar fell)."""
    if claims:
        conn.execute(update(invoices).where(invoices.c.id == bindparam("claim")).values(
            time_barred_on=bindparam("barred_on")), [dict(claim=claim, barred_on=on) for claim, on in claims])


def letters_of_day(conn: Connection, day: date) -> Iterator[tuple]:
    """Every letter sent on ``day``, with its case number, in case number and sequence order, streamed."""
    query = (select(letters, cases.c.case_number).join(cases, cases.c.id == letters.c.case_id)
             .where(letters.c.sent_on == day).order_by(cases.c.case_number, letters.c.sequence))
    for batch in conn.execute(query.execution_options(yield_per=STREAM_ROWS)).partitions():
        yield from batch


def day_events(conn: Connection, creditor_id: str, day: date, kinds: Sequence[str]) -> list[tuple]:
    """(case number, kind, detail) of the creditor's case events of ``kinds`` on ``day``, in the order written."""
    return conn.execute(select(cases.c.case_number, case_events.c.kind, case_events.c.detail)
                        .join(cases, cases.c.id == case_events.c.case_id)
                        .where(cases.c.creditor_id == creditor_id, case_events.c.on_date == day,
                               case_events.c.kind.in_(list(kinds)))
                        .order_by(case_events.c.id)).all()


def record_handoff_week(conn: Connection, week: str, run_id: str) -> bool:
    """Mark the week's cases as chosen; False when they were chosen before."""
    if conn.execute(select(handoff_weeks.c.iso_week).where(handoff_weeks.c.iso_week == week)).first():
        return False
    conn.execute(handoff_weeks.insert().values(iso_week=week, run_id=run_id))
    return True


def approved_claims(conn: Connection) -> list:
    """The claims of the cases approved for court and not handed over, with their case, debtor, creditor
    approval date and the name of the file that brought them, oldest due date first."""
    approved = (select(case_events.c.case_id, func.max(case_events.c.on_date).label("approved_on"))
                .where(case_events.c.kind == "court_approved").group_by(case_events.c.case_id).subquery())
    query = (select(invoices.c.id, invoices.c.case_id, invoices.c.invoice_number, invoices.c.invoice_date,
                    invoices.c.due_date, invoices.c.disputed_since, invoices.c.time_barred_on,
                    invoices.c.last_reminder_date, invoices.c.amount_minor.label("principal_original"),
                    cases.c.case_number,
                    cases.c.payment_reference, cases.c.creditor_id, cases.c.country, cases.c.currency,
                    debtors.c.debtor_type, debtors.c.name.label("debtor_name"), debtors.c.national_id,
                    debtors.c.address_line1, debtors.c.address_line2, debtors.c.postcode, debtors.c.city,
                    debtors.c.country.label("debtor_country"), debtors.c.email, debtors.c.phone,
                    approved.c.approved_on, ingested_files.c.file_name)
             .join(cases, cases.c.id == invoices.c.case_id).join(debtors, debtors.c.id == cases.c.debtor_id)
             .join(ingested_files, ingested_files.c.id == invoices.c.file_id)
             .outerjoin(approved, approved.c.case_id == cases.c.id)
             .where(cases.c.status == "COURT_APPROVED", invoices.c.document_type == "invoice",
                    cases.c.id.not_in(select(handoff_cases.c.case_id)))
             .order_by(cases.c.case_number, invoices.c.due_date, invoices.c.id))
    return conn.execute(query).all()


def letter_steps(conn: Connection, claim_ids: Sequence[int]) -> dict[int, list]:
    """Each claim's steps that sent a letter (taken_on, deadline), first first: the first is the DK warning
    or the SE demand."""
    found: dict[int, list] = {}
    for row in claim_history(conn, claim_ids):
        if row.deadline is not None:
            found.setdefault(row.invoice_id, []).append(row)
    return found


def record_handoff(conn: Connection, partner_id: str, week: str, day: date, run_id: str,
                   lines: Sequence[tuple[int, str]]) -> None:
    """A partner's batch of the week: its lines ((case id, line JSON), in order) and its cases, each once."""
    handoff_id = conn.execute(handoffs.insert().values(partner_id=partner_id, iso_week=week, handoff_date=day,
                                                       run_id=run_id).returning(handoffs.c.id)).scalar_one()
    insert_rows(conn, handoff_lines, handoff_id=handoff_id, seq=list(range(1, len(lines) + 1)),
                case_id=[case_id for case_id, _ in lines], line=[line for _, line in lines])
    case_ids = list(dict.fromkeys(case_id for case_id, _ in lines))
    insert_rows(conn, handoff_cases, case_id=case_ids, handoff_id=handoff_id)


def handoff_lines_of(conn: Connection, partner_id: str, week: str) -> list[str]:
    return conn.execute(select(handoff_lines.c.line).join(handoffs, handoffs.c.id == handoff_lines.c.handoff_id)
                        .where(handoffs.c.partner_id == partner_id, handoffs.c.iso_week == week)
                        .order_by(handoff_lines.c.seq)).scalars().all()


def handoff_refusals_of(conn: Connection, creditor_id: str, week: str) -> list[tuple]:
    return [tuple(row) for row in conn.execute(
        select(cases.c.case_number, handoff_refusals.c.reasons).join(cases, cases.c.id == handoff_refusals.c.case_id)
        .where(handoff_refusals.c.creditor_id == creditor_id, handoff_refusals.c.iso_week == week)
        .order_by(cases.c.case_number))]


def handoff_partners(conn: Connection, week: str) -> list[str]:
    return conn.execute(select(handoffs.c.partner_id).where(handoffs.c.iso_week == week)
                        .order_by(handoffs.c.partner_id)).scalars().all()


def handoff_refused_creditors(conn: Connection, week: str) -> list[str]:
    return conn.execute(select(handoff_refusals.c.creditor_id).where(handoff_refusals.c.iso_week == week)
                        .distinct().order_by(handoff_refusals.c.creditor_id)).scalars().all()


def mark_handed_over(conn: Connection, week: str, partner_ids: Sequence[str], state: str, event: str,
                     run_id: str) -> int:
    """The cases of the week's batches whose files are out take ``state`` (closed) on the handoff day, once."""
    marked = 0
    for batch in conn.execute(select(handoffs).where(handoffs.c.iso_week == week, handoffs.c.marked_on.is_(None),
                                                     handoffs.c.partner_id.in_(list(partner_ids)))).all():
        case_ids = conn.execute(select(handoff_cases.c.case_id).where(handoff_cases.c.handoff_id == batch.id)
                                ).scalars().all()
        update_case_states(conn, [dict(case_pk=case_id, new_status=state, new_before_dispute=None,
                                       new_closed_on=batch.handoff_date) for case_id in case_ids])
        insert_rows(conn, case_events, case_id=case_ids, invoice_id=None, kind=event,
                    on_date=batch.handoff_date, file_id=None, run_id=run_id,
                    detail=f"COURT_APPROVED -> {state}: to {batch.partner_id} in {week}")
        conn.execute(update(handoffs).where(handoffs.c.id == batch.id).values(marked_on=batch.handoff_date))
        marked += len(case_ids)
    return marked
