"""Exactly once (quality.md "Reliability"; formats.md §1 and §1.4), on SQLite and on PostgreSQL.

1. a failure injected between each pair of steps of the stage, then a retry: the end state is
   exactly that of one clean run of the same file on a fresh home and a fresh database;
2. a real SIGKILL of `inkasso ingest` in a subprocess: 1 s into the work, at a random point, and
   right after the commit; then a rerun ingests the file exactly once;
3. the same bytes dropped again (same name, other name), claims re-sent among new ones: nothing
   changes, no second receipt;
4. two `inkasso ingest` processes at once on one home and one database (fresh and migrated), first
   runs migrating at once, two workers on two files of one creditor;
6. rejected files: quarantined, one receipt line, never a second receipt.
(5, the inbox rules, are in test_inbox.py.)
"""
from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

import pipeline.intake as intake
import pipeline.parsers.invoice_csv as invoice_csv
from pipeline.config import Settings
from pipeline.exporters.receipt import receipt_name
from pipeline.home import Home
from pipeline.intake import Intake, no_checkpoint
from pipeline.ledger import open_ledger
from pipeline.ledger.db import MIGRATIONS, make_engine, migrate
from pipeline.ledger.schema import (case_events, cases, debtors, exports, ingested_files, invoices, postings,
                                    receipt_lines)
from pipeline.references import case_number_from_reference
from pipeline.stats import ledger_stats
from pipeline.stages import ingest
from pipeline.transport.local import LocalInbox, LocalOutbox
from pipeline.transport.parties import LocalFiles
from tests.conftest import AS_OF, PG_URL, REGISTRY, Pass, drop, read_receipt, receipts, run_ingest

INKASSO = Path(sys.executable).with_name("inkasso")
HEADER = ("invoice_number,document_type,credited_invoice_number,invoice_date,due_date,amount,currency,debtor_id,"
          "debtor_type,debtor_name,debtor_address_line1,debtor_postcode,debtor_city,debtor_country,reminder_fees\n")
UNSUPPORTED = ('only invoice files (.csv, UBL .xml) and instruction files (names starting with "instructions") are '
               'taken here')
SMALL_BLOCK = 1024  # bytes per Arrow batch: the crash file below spans six batches
HEAD_REVISION = ScriptDirectory(str(MIGRATIONS)).get_current_head()
LEDGER_TABLES = (debtors, cases, invoices, postings, case_events, receipt_lines, ingested_files, exports)


class Crash(Exception):
    """The injected failure."""


# ---------------------------------------------------------------------------------------------
# The file used by the crash tests: 52 rows over six batches, every kind of outcome the stage
# writes in one transaction (cases shared by debtors, reminder fees, a credit note applied after
# the invoices, row-level rejections, a duplicate two batches later).


def _row(number: str, amount: str, debtor: int, *, kind: str = "invoice", credited: str = "",
         invoice_date: str = "2026-05-01", due_date: str = "2026-06-01", name: str | None = None,
         fee: str = "") -> str:
    name = f"Kunde {debtor}" if name is None else name
    return (f"{number},{kind},{credited},{invoice_date},{due_date},{amount},DKK,D{debtor:02d},consumer,{name},"
            f"Vej {debtor},2100,København,DK,{fee}\n")


def crash_file() -> str:
    rows = []
    for i in range(1, 49):
        special = {}
        if i == 6:
            special = dict(due_date="2026-02-30")          # BAD_DATE
        elif i == 11:
            special = dict(due_date="2026-12-31")          # NOT_OVERDUE on 2026-11-26
        elif i == 16:
            special = dict(name="")                        # MISSING_FIELD
        rows.append(_row(f"INV-{i:04d}", f"{2000 + 37 * i}.{i % 100:02d}", i % 12,
                         fee="100.00" if i % 7 == 0 else "", **special))
        if i == 2:
            rows.append(_row("CN-0001", "200.00", 40 % 12, kind="credit_note", credited="INV-0040", due_date=""))
        if i == 30:
            rows.append(_row("INV-0003", "2111.03", 3))    # DUPLICATE_IN_FILE (first seen 3 batches earlier)
        if i == 35:
            rows.append(_row("INV-0100", "150.00", 7))     # BELOW_MINIMUM (accepted, flagged)
        if i == 45:
            rows.append(_row("CN-0002", "99999.00", 1, kind="credit_note", credited="INV-0001", due_date=""))
    return HEADER + "".join(rows)


# ---------------------------------------------------------------------------------------------
# Helpers


def ledger_state(url: str) -> dict:
    """Everything the stage writes to the ledger, without ids, timestamps or run ids."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            state = ledger_stats(conn)
            state["rows"] = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                             for t in LEDGER_TABLES}
            state["postings_by_kind"] = {kind: int(total) for kind, total in conn.execute(
                select(postings.c.kind, func.sum(postings.c.amount_minor)).group_by(postings.c.kind)).all()}
            state["files"] = sorted(tuple(r) for r in conn.execute(select(
                ingested_files.c.party_id, ingested_files.c.file_name, ingested_files.c.sha256,
                ingested_files.c.status, ingested_files.c.size_bytes, ingested_files.c.kind,
                ingested_files.c.rows_total, ingested_files.c.rows_accepted, ingested_files.c.cases_opened)))
            state["claims"] = sorted(tuple(r) for r in conn.execute(select(
                invoices.c.invoice_number, invoices.c.document_type, invoices.c.amount_minor,
                invoices.c.reminder_fees_minor, invoices.c.line)))
            state["receipt_lines"] = sorted(tuple(r) for r in conn.execute(select(
                receipt_lines.c.seq, receipt_lines.c.line, receipt_lines.c.invoice_number,
                receipt_lines.c.outcome, receipt_lines.c.message)))
            state["events"] = dict(Counter(conn.execute(select(case_events.c.kind)).scalars()))
    finally:
        engine.dispose()
    return state


def assert_ledger_empty(url: str) -> None:
    state = ledger_state(url)
    assert state["rows"] == {t.name: 0 for t in LEDGER_TABLES}
    assert state["files"] == [] and state["open_balance"] == {} and state["cases"] == {"total": 0, "by_status": {}}
    assert state["creditors"] == 3  # the registry copy, committed before any file is taken


def file_row(url: str, name: str):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(ingested_files).where(ingested_files.c.file_name == name)).first()
    finally:
        engine.dispose()


def folder_files(folder: Path) -> list[str]:
    """Every file under ``folder`` (dot files and temporary files included), relative, sorted."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def inbox(settings: Settings, creditor: str = "acme") -> Path:
    return settings.home / "creditors" / creditor / "inbox"


def outbox(settings: Settings, creditor: str = "acme") -> Path:
    return settings.home / "creditors" / creditor / "outbox"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_receipt_bytes(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def normalised(receipt: bytes) -> list[dict]:
    """Receipt rows with case numbers and references replaced by their order of first appearance.

    On PostgreSQL case ids come from a sequence, which a rolled-back attempt advances (gaps are
    normal there); the structure (which lines share a case) must still be that of a clean run.
    """
    rows = list(csv.DictReader(io.StringIO(receipt.decode("utf-8"))))
    cases_seen: dict[str, str] = {}
    refs_seen: dict[str, str] = {}
    for row in rows:
        if row["case_number"]:
            assert case_number_from_reference(row["payment_reference"]) == row["case_number"]
            row["case_number"] = cases_seen.setdefault(row["case_number"], f"case-{len(cases_seen) + 1}")
            row["payment_reference"] = refs_seen.setdefault(row["payment_reference"], f"ref-{len(refs_seen) + 1}")
    assert len(cases_seen) == len(refs_seen)
    return rows


@dataclass
class Reference:
    """One clean run of a file on a fresh home and a fresh database of the same kind."""

    state: dict
    receipt: bytes
    counts: Pass


@pytest.fixture
def clean_run(settings, tmp_path):
    created: list[str] = []
    admin = None

    def run(name: str, content: bytes | str, creditor: str = "acme", checkpoint=no_checkpoint) -> Reference:
        nonlocal admin
        home = tmp_path / f"clean{len(created)}_{uuid.uuid4().hex[:6]}"
        if settings.database_url.startswith("sqlite"):
            url = f"sqlite:///{home / 'inkasso.db'}"
        else:
            database = f"inkasso_test_{uuid.uuid4().hex[:12]}"
            admin = admin or create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{database}"'))
            created.append(database)
            url = make_url(settings.database_url).set(database=database).render_as_string(hide_password=False)
        clean = Settings(home=home, database_url=url)
        Home(home).create()
        clean.registry_path.write_text(REGISTRY, encoding="utf-8")
        Home(home).create_party_folders(clean.load_registry())
        drop(clean, creditor, name, content)
        counts = run_ingest(clean, AS_OF, "clean-run", checkpoint=checkpoint)
        [receipt] = receipts(clean, creditor)
        return Reference(ledger_state(url), receipt.read_bytes(), counts)

    yield run
    if admin is not None:
        with admin.connect() as conn:
            for database in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def assert_delivered_exactly_once(settings: Settings, name: str, content: bytes, reference: Reference,
                                  exact_case_numbers: bool = True) -> Path:
    """The end state of one clean run: same ledger, one receipt with the same content, archived, inbox empty."""
    assert ledger_state(settings.database_url) == reference.state
    found = receipts(settings, "acme")
    assert len(found) == 1, found
    row = file_row(settings.database_url, name)
    assert found[0].name == receipt_name(name, row.received_at)
    data = found[0].read_bytes()
    assert normalised(data) == normalised(reference.receipt)
    if exact_case_numbers:
        assert data == reference.receipt
    assert [p.name for p in outbox(settings).iterdir()] == [found[0].name]  # no temporary files left
    sha = sha256_of(content)
    assert folder_files(settings.home / "archive") == [f"{sha[:2]}/{sha}"]
    assert (settings.home / "archive" / sha[:2] / sha).read_bytes() == content
    assert folder_files(inbox(settings)) == []
    assert folder_files(settings.home / "quarantine") == []
    assert folder_files(settings.home / "tmp") == []  # scratch copies cleaned up
    return found[0]


def fail_on_call(original, call: int = 1, after: bool = False):
    """``original`` that raises Crash on its ``call``-th call (after doing its work when ``after``)."""
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] != call:
            return original(*args, **kwargs)
        if after:
            original(*args, **kwargs)
        raise Crash(f"injected failure in {original.__qualname__}")

    return wrapper


def on_step(step: str, action, call: int = 1):
    """A checkpoint (`pipeline.intake`) that runs ``action()`` when the ``call``-th ``step`` is done."""
    calls = {"n": 0}

    def checkpoint(name: str) -> None:
        if name == step:
            calls["n"] += 1
            if calls["n"] == call:
                action()

    return checkpoint


def fail_at(step: str, call: int = 1):
    """A checkpoint that fails right after the ``call``-th ``step`` of the intake."""
    def crash():
        raise Crash(f"injected failure after {step}")
    return on_step(step, crash, call)


# ---------------------------------------------------------------------------------------------
# 1. A failure between each pair of steps, then a retry

# step -> (committed before the failure, archive written before the failure, receipt delivered before it)
# Most are the intake's checkpoints (`pipeline.intake`, and the invoice handler's inside the transaction);
# the rest make the transport fail: the inbox's fetch and remove, the outbox's put, the renames.
STEPS = {
    "fetch": (False, False, False),                 # copying the inbox file to scratch
    "fetched": (False, False, False),               # copied and hashed, before the ledger is asked
    "locked": (False, False, False),                # the creditor's turn taken, first in the file's transaction
    "recorded": (False, False, False),              # the file's record, the first write of the transaction
    "batch_written": (False, False, False),         # the first batch of rows written
    "batch_written#2": (False, False, False),       # the second batch written
    "credit_notes_applied": (False, False, False),  # after every batch and the credit notes
    "handled": (False, False, False),               # the file's counts written, its answer owed next
    "archive_rename": (False, False, False),        # the archive's temporary file cannot be renamed
    "kept": (False, True, False),                   # archived, the last step before the commit
    "committed": (True, True, False),               # right after the commit, before the receipt
    "outbox_put": (True, True, False),              # writing the receipt
    "receipt_rename": (True, True, False),          # the receipt's temporary file cannot be renamed
    "answered": (True, True, True),                 # the receipt delivered, the file still in the inbox
    "inbox_remove": (True, True, True),             # removing the file from the inbox
}
# steps after which PostgreSQL's case id sequence has moved on in the rolled-back attempt
CASE_IDS_CONSUMED = {"batch_written", "batch_written#2", "credit_notes_applied", "handled", "archive_rename",
                     "kept"}


def inject(step: str, mp: pytest.MonkeyPatch, settings: Settings) -> tuple[dict, object]:
    """Make ``step`` fail; returns what the failing attempt saw (the receipt name it tried to write) and the
    checkpoint to run the pass with."""
    seen: dict = {}
    real_replace = os.replace

    def failing_replace_under(folder: Path):
        def replace(src, dst, *args, **kwargs):
            if Path(dst).parent == folder or folder in Path(dst).parents:
                seen["name"] = Path(dst).name
                seen["temporary"] = Path(src).name
                raise Crash(f"injected failure renaming {src} to {dst}")
            return real_replace(src, dst, *args, **kwargs)
        return replace

    name, _, call = step.partition("#")
    if step == "fetch":
        mp.setattr(LocalInbox, "fetch", fail_on_call(LocalInbox.fetch))
    elif step == "archive_rename":
        mp.setattr(os, "replace", failing_replace_under(settings.home / "archive"))
    elif step == "outbox_put":
        real_put = LocalOutbox.put

        def put(self, name, source):
            seen["name"] = name
            return fail_on_call(real_put)(self, name, source)
        mp.setattr(LocalOutbox, "put", put)
    elif step == "receipt_rename":
        mp.setattr(os, "replace", failing_replace_under(outbox(settings)))
    elif step == "inbox_remove":
        mp.setattr(LocalInbox, "remove", fail_on_call(LocalInbox.remove))
    else:
        return seen, fail_at(name, int(call or 1))
    return seen, no_checkpoint


@pytest.mark.parametrize("step", list(STEPS))
def test_a_failure_between_any_two_steps_then_a_retry_ends_as_one_clean_run(settings, clean_run, monkeypatch, step):
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", SMALL_BLOCK)
    content = crash_file().encode("utf-8")
    reference = clean_run("invoices.csv", content)
    committed, archived, answered = STEPS[step]
    drop(settings, "acme", "invoices.csv", content)

    with pytest.MonkeyPatch.context() as mp:
        seen, checkpoint = inject(step, mp, settings)
        with pytest.raises(Crash):
            run_ingest(settings, AS_OF, "failing-run", checkpoint=checkpoint)

    # the state the failure left behind
    assert folder_files(inbox(settings)) == ["invoices.csv"]
    assert (inbox(settings) / "invoices.csv").read_bytes() == content
    assert folder_files(settings.home / "tmp") == []
    sha = sha256_of(content)
    assert folder_files(settings.home / "archive") == ([f"{sha[:2]}/{sha}"] if archived else [])
    if committed:
        assert ledger_state(settings.database_url) == reference.state
        row = file_row(settings.database_url, "invoices.csv")
        expected_name = receipt_name("invoices.csv", row.received_at)
        if "name" in seen and step != "archive_rename":
            assert seen["name"] == expected_name
    else:
        assert_ledger_empty(settings.database_url)
        assert folder_files(outbox(settings)) == []
    if answered:
        first_receipts = [(p.name, p.read_bytes(), p.stat().st_mtime_ns) for p in receipts(settings, "acme")]
        assert [name for name, _, _ in first_receipts] == [expected_name]
    else:
        assert folder_files(outbox(settings)) == []  # no receipt, and no temporary file either

    # the retry
    counts = run_ingest(settings, AS_OF, "retry-run")
    if committed:
        assert (counts.files, counts.files_seen_before, counts.rows, counts.cases_opened) == (0, 1, 0, 0)
    else:
        assert (counts.files, counts.files_seen_before, counts.rows, counts.rows_taken, counts.cases_opened) == (
            1, 0, reference.counts.rows, reference.counts.rows_taken, reference.counts.cases_opened)
    exact = not (settings.database_url.startswith("postgresql") and step in CASE_IDS_CONSUMED)
    delivered = assert_delivered_exactly_once(settings, "invoices.csv", content, reference, exact_case_numbers=exact)
    assert counts.receipts == [delivered.name]
    if committed:
        assert delivered.name == expected_name  # the name chosen at commit, unchanged by the retry
    if answered:  # the receipt written before the failure was not written again
        assert [(p.name, p.read_bytes(), p.stat().st_mtime_ns) for p in receipts(settings, "acme")] == first_receipts

    # and one more pass finds nothing to do
    again = run_ingest(settings, AS_OF, "third-run")
    assert (again.files, again.files_seen_before, again.receipts) == (0, 0, [])
    assert ledger_state(settings.database_url) == reference.state


def test_the_crash_file_spans_batches_and_has_every_outcome(settings, clean_run, monkeypatch):
    """The reference the crash tests compare with, pinned to exact values."""
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", SMALL_BLOCK)
    batches = []
    reference = clean_run("invoices.csv", crash_file(),
                          checkpoint=lambda step: batches.append(step) if step == "batch_written" else None)
    assert len(batches) >= 5, batches
    rows = read_receipt_bytes(reference.receipt)
    outcomes = Counter(row["outcome"] for row in rows[:-1])
    assert outcomes == {"ACCEPTED": 46, "BELOW_MINIMUM": 1, "BAD_DATE": 1, "NOT_OVERDUE": 1, "MISSING_FIELD": 1,
                        "DUPLICATE_IN_FILE": 1, "BAD_AMOUNT": 1}
    assert rows[-1]["message"] == ("52 rows: 47 taken for collection, 5 not taken (ACCEPTED 46, BAD_AMOUNT 1, "
                                   "BAD_DATE 1, BELOW_MINIMUM 1, DUPLICATE_IN_FILE 1, MISSING_FIELD 1, NOT_OVERDUE 1)")
    by_number = {row["invoice_number"]: row for row in rows if row["outcome"] in ("ACCEPTED", "BELOW_MINIMUM")}
    assert by_number["CN-0001"]["message"] == "reduces invoice INV-0040 by 200.00 DKK"
    state = reference.state
    principal = sum(200000 + 3700 * i + i % 100 for i in range(1, 49) if i not in (6, 11, 16)) + 15000
    fees = 10000 * len([i for i in range(7, 49, 7) if i not in (6, 11, 16)])
    assert state["postings_by_kind"] == {"principal": principal, "creditor_fee": fees, "credit_note": -20000}
    assert state["invoices"] == 46 and state["credit_notes"] == 1
    assert state["cases"] == {"total": 12, "by_status": {"OPEN": 12}}
    assert state["rows"]["receipt_lines"] == 52
    assert state["files"][0][3:] == ("PROCESSED", len(crash_file().encode()), "invoice_csv", 52, 47, 12)


def test_batch_size_does_not_change_the_outcome(settings, clean_run, monkeypatch):
    """A retry may read the file in other batches than the failed attempt: the result must not depend on them."""
    small = clean_run("invoices.csv", crash_file())
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", SMALL_BLOCK)
    large = clean_run("invoices.csv", crash_file())
    assert normalised(small.receipt) == normalised(large.receipt)
    assert small.state == large.state


# ---------------------------------------------------------------------------------------------
# 6 (and 1 for the rejection path). Rejected files

@pytest.mark.parametrize("name, content, code, message", [
    ("empty.csv", b"", "EMPTY_FILE", "the file is empty"),
    ("header_only.csv", HEADER.encode(), "EMPTY_FILE", "the file has a header but no data rows"),
    ("scan.pdf", b"%PDF-1.4 not an invoice file", "UNSUPPORTED_FILE", UNSUPPORTED),
])
def test_a_rejected_file_is_quarantined_with_one_receipt_line_and_never_receipted_twice(
        settings, name, content, code, message):
    drop(settings, "acme", name, content)
    counts = run_ingest(settings, AS_OF, "run-1")
    assert (counts.files, counts.files_rejected, counts.rows, counts.rows_taken) == (1, 1, 0, 0)
    [receipt] = receipts(settings, "acme")
    assert receipt.name == counts.receipts[0]
    assert read_receipt(receipt) == [dict(line="", invoice_number="", outcome=code, message=message,
                                          case_number="", payment_reference="")]
    sha = sha256_of(content)
    assert folder_files(settings.home / "quarantine") == [f"creditors/acme/{sha[:12]}_{name}"]
    assert (settings.home / "quarantine" / "creditors" / "acme" / f"{sha[:12]}_{name}").read_bytes() == content
    assert folder_files(settings.home / "archive") == []
    assert folder_files(inbox(settings)) == []
    state = ledger_state(settings.database_url)
    assert state["files"] == [("acme", name, sha, "REJECTED", len(content),
                               "unsupported" if name.endswith(".pdf") else "invoice_csv", 0, 0, 0)]
    assert state["rows"] == dict({t.name: 0 for t in LEDGER_TABLES}, ingested_files=1, exports=1)
    first = (receipt.name, receipt.read_bytes())

    for again in (name, "again_" + name):  # the same bytes, under the same and under another name
        drop(settings, "acme", again, content)
        counts = run_ingest(settings, AS_OF, "run-2")
        assert (counts.files, counts.files_rejected, counts.files_seen_before) == (0, 0, 1)
        assert counts.receipts == [first[0]]
        assert [(p.name, p.read_bytes()) for p in receipts(settings, "acme")] == [first]
        assert folder_files(settings.home / "quarantine") == [f"creditors/acme/{sha[:12]}_{name}"]
        assert folder_files(inbox(settings)) == []
        assert ledger_state(settings.database_url) == state


@pytest.mark.parametrize("step, committed, quarantined", [
    ("recorded", False, False), ("rejected", False, False), ("kept", False, True), ("committed", True, True),
    ("outbox_put", True, True), ("answered", True, True), ("inbox_remove", True, True)])
def test_a_failure_while_rejecting_a_file_then_a_retry(settings, step, committed, quarantined):
    """The rejection's own steps: the first record rolled back, the rejection recorded in its own transaction."""
    drop(settings, "acme", "empty.csv", b"")
    with pytest.MonkeyPatch.context() as mp:
        _, checkpoint = inject(step, mp, settings)
        with pytest.raises(Crash):
            run_ingest(settings, AS_OF, "failing-run", checkpoint=checkpoint)
    assert folder_files(inbox(settings)) == ["empty.csv"]
    kept = [f"creditors/acme/{sha256_of(b'')[:12]}_empty.csv"]
    assert folder_files(settings.home / "quarantine") == (kept if quarantined else [])
    if committed:
        assert ledger_state(settings.database_url)["files"][0][3] == "REJECTED"
    else:
        assert_ledger_empty(settings.database_url)
        assert folder_files(outbox(settings)) == []
    run_ingest(settings, AS_OF, "retry")
    [receipt] = receipts(settings, "acme")
    assert [r["outcome"] for r in read_receipt(receipt)] == ["EMPTY_FILE"]
    assert folder_files(settings.home / "quarantine") == kept
    assert folder_files(inbox(settings)) == []
    assert ledger_state(settings.database_url)["rows"]["ingested_files"] == 1


def test_a_file_level_error_in_a_later_batch_rolls_back_the_batches_already_written(settings, monkeypatch):
    """Bad bytes in the 4th batch: the rows of batches 1-3 were written in the transaction and must vanish."""
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", SMALL_BLOCK)
    lines = crash_file().encode("utf-8").split(b"\n")
    lines[40] = lines[40].replace(b"Kunde", b"Kunde \xff")
    content = b"\n".join(lines)
    drop(settings, "acme", "bad_bytes.csv", content)
    counts = run_ingest(settings, AS_OF, "run-1")
    assert (counts.files, counts.files_rejected, counts.rows) == (1, 1, 0)
    [receipt] = receipts(settings, "acme")
    [line] = read_receipt(receipt)
    assert line["outcome"] == "BAD_ENCODING"
    state = ledger_state(settings.database_url)
    assert state["rows"] == dict({t.name: 0 for t in LEDGER_TABLES}, ingested_files=1, exports=1)
    assert state["open_balance"] == {}


# ---------------------------------------------------------------------------------------------
# 3. The same bytes again after success


def test_the_same_bytes_dropped_again_change_nothing_and_get_no_second_receipt(settings):
    content = crash_file().encode("utf-8")
    drop(settings, "acme", "invoices.csv", content)
    first = run_ingest(settings, AS_OF, "run-1")
    assert (first.files, first.rows, first.rows_taken, first.cases_opened) == (1, 52, 47, 12)
    state = ledger_state(settings.database_url)
    before = [(p.name, p.read_bytes(), p.stat().st_mtime_ns) for p in receipts(settings, "acme")]
    assert len(before) == 1
    sha = sha256_of(content)

    for name in ("invoices.csv", "invoices_copy.csv", "invoices.csv"):
        drop(settings, "acme", name, content)
        counts = run_ingest(settings, AS_OF, "run-again")
        assert (counts.files, counts.files_seen_before, counts.rows, counts.rows_taken, counts.cases_opened) == (
            0, 1, 0, 0, 0)
        assert counts.receipts == [before[0][0]]
        assert ledger_state(settings.database_url) == state
        assert [(p.name, p.read_bytes(), p.stat().st_mtime_ns) for p in receipts(settings, "acme")] == before
        assert folder_files(settings.home / "archive") == [f"{sha[:2]}/{sha}"]
        assert folder_files(inbox(settings)) == []


def test_a_new_file_under_a_name_already_receipted_in_the_same_second_gets_its_own_receipt(settings, monkeypatch):
    """Receipt names carry a timestamp in seconds: two different files of one name must not share one."""
    monkeypatch.setattr(intake, "utc_now", lambda: datetime(2026, 11, 26, 9, 0, 0))
    drop(settings, "acme", "daily.csv", HEADER + _row("INV-1", "2000.00", 1))
    run_ingest(settings, AS_OF, "run-1")
    drop(settings, "acme", "daily.csv", HEADER + _row("INV-2", "3000.00", 2))
    counts = run_ingest(settings, AS_OF, "run-2")
    found = receipts(settings, "acme")
    assert len(found) == 2
    assert counts.receipts == [found[1].name]
    assert [[(r["invoice_number"], r["outcome"]) for r in read_receipt(p)[:-1]] for p in found] == [
        [("INV-1", "ACCEPTED")], [("INV-2", "ACCEPTED")]]


def test_claims_sent_again_among_new_ones_change_nothing_and_the_new_ones_are_taken(settings):
    """A creditor's next export repeats claims already taken (one changed) between new ones."""
    first = HEADER + "".join(_row(f"INV-{i}", f"{2000 + i}.00", i) for i in range(1, 5))
    drop(settings, "acme", "monday.csv", first)
    run_ingest(settings, AS_OF, "run-1")
    second = (HEADER + _row("NEW-1", "3000.00", 1) + _row("INV-2", "2002.00", 2) + _row("NEW-2", "3100.00", 9)
              + _row("INV-3", "9999.00", 3) + _row("INV-4", "2004.00", 4))
    drop(settings, "acme", "tuesday.csv", second)
    counts = run_ingest(settings, AS_OF, "run-2")
    assert (counts.files, counts.rows, counts.rows_taken, counts.cases_opened) == (1, 5, 2, 1)
    [receipt] = [p for p in receipts(settings, "acme") if p.name.startswith("receipt_tuesday.csv_")]
    lines = read_receipt(receipt)
    assert [(l["invoice_number"], l["outcome"]) for l in lines[:-1]] == [
        ("NEW-1", "ACCEPTED"), ("INV-2", "DUPLICATE"), ("NEW-2", "ACCEPTED"), ("INV-3", "CONFLICT"),
        ("INV-4", "DUPLICATE")]
    monday = {l["invoice_number"]: l for l in read_receipt(
        next(p for p in receipts(settings, "acme") if p.name.startswith("receipt_monday.csv_")))}
    for line in lines[1], lines[3], lines[4]:  # the case the claim already is in
        assert (line["case_number"], line["payment_reference"]) == (
            monday[line["invoice_number"]]["case_number"], monday[line["invoice_number"]]["payment_reference"])
    assert lines[0]["case_number"] == monday["INV-1"]["case_number"]  # the debtor's open case
    state = ledger_state(settings.database_url)
    assert state["invoices"] == 6
    assert state["postings_by_kind"] == {"principal": sum((2000 + i) * 100 for i in range(1, 5)) + 610000}


# ---------------------------------------------------------------------------------------------
# 2. A real SIGKILL in a subprocess

# rows per dialect: enough for a few seconds of work after start-up, but the whole test stays under ~30 s
KILL_ROWS = {"sqlite": 60_000, "postgresql": 40_000}


def big_file(rows: int) -> tuple[bytes, int, int, int]:
    """A generated invoice file; returns (bytes, accepted rows, sum of accepted amounts, distinct debtors)."""
    out = [HEADER]
    accepted = total = 0
    debtors_taken = set()
    for i in range(rows):
        amount = 200000 + (i * 7919) % 1_000_000
        invoice_date = "2026-13-01" if i % 50 == 7 else "2026-05-01"  # 2 % BAD_DATE
        debtor = i % 5000
        out.append(f"B{i:07d},invoice,,{invoice_date},2026-06-01,{amount // 100}.{amount % 100:02d},DKK,"
                   f"D{debtor:05d},consumer,Kunde {debtor},Vej {debtor % 97},2100,København,DK,\n")
        if i % 50 != 7:
            accepted += 1
            total += amount
            debtors_taken.add(debtor)
    return "".join(out).encode("utf-8"), accepted, total, len(debtors_taken)


def start_ingest(settings: Settings) -> subprocess.Popen:
    env = dict(os.environ, INKASSO_HOME=str(settings.home), INKASSO_DATABASE_URL=settings.database_url)
    return subprocess.Popen([str(INKASSO), "ingest", "--as-of", AS_OF.isoformat()], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def committed(url: str, name: str) -> bool:
    """Whether the file's record is committed, read without waiting for any writer (SQLite WAL reader)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(ingested_files)
                                .where(ingested_files.c.file_name == name)).scalar_one() > 0
    except Exception:  # the ledger is not migrated yet
        return False
    finally:
        engine.dispose()


def kill_once_working(settings: Settings, delay: float | None, name: str = "big.csv") -> bool:
    """Start a pass and SIGKILL it ``delay`` seconds after it copied the file to scratch, or (``delay`` None)
    as soon as the file's transaction is seen committed. False when the pass ended before."""
    before = set((settings.home / "tmp").glob("*/data"))  # scratch copies left by earlier killed passes
    proc = start_ingest(settings)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if delay is None and committed(settings.database_url, name):
            break
        if delay is not None and set((settings.home / "tmp").glob("*/data")) - before:
            time.sleep(delay)
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        proc.communicate()
        return False
    proc.send_signal(signal.SIGKILL)  # does nothing when the pass ended since the poll above
    proc.communicate()
    assert proc.returncode in (0, -signal.SIGKILL)
    return proc.returncode == -signal.SIGKILL


def assert_all_or_nothing(settings: Settings, name: str, content: bytes, accepted: int) -> None:
    row = file_row(settings.database_url, name)
    state = ledger_state(settings.database_url)
    if row is None:
        assert state["rows"] == {t.name: 0 for t in LEDGER_TABLES}
        assert (inbox(settings) / name).read_bytes() == content
        assert receipts(settings, "acme") == []
    else:
        assert state["invoices"] == accepted and row.rows_accepted == accepted
    for receipt in receipts(settings, "acme"):  # a receipt, if any, is whole
        lines = read_receipt(receipt)
        assert lines[-1]["outcome"] == "SUMMARY" and len(lines) == row.rows_total + 1


def test_sigkill_at_a_fixed_and_at_a_random_point_then_a_rerun_ingests_exactly_once(settings):
    dialect = make_url(settings.database_url).get_backend_name()
    content, accepted, total, debtors_taken = big_file(KILL_ROWS[dialect])
    rows = KILL_ROWS[dialect]
    drop(settings, "acme", "big.csv", content)
    seed = random.randrange(1 << 30)
    # 1 s into the work (inside the file's transaction), at a random point, and right after the commit
    killed = []
    for delay in (1.0, random.Random(seed).uniform(0.0, 3.0), None):
        if delay is None and file_row(settings.database_url, "big.csv") is not None:
            break  # the random kill came after the commit already
        killed.append(kill_once_working(settings, delay))
        assert_all_or_nothing(settings, "big.csv", content, accepted)
    assert killed[0], "the first run ended within 1 s of taking the file: make the file bigger"

    proc = start_ingest(settings)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (seed, err.decode()[-2000:])
    state = ledger_state(settings.database_url)
    assert state["invoices"] == accepted, seed
    assert state["postings_by_kind"] == {"principal": total}
    assert state["cases"]["total"] == debtors_taken
    assert state["rows"]["receipt_lines"] == rows
    assert [f[3:] for f in state["files"]] == [("PROCESSED", len(content), "invoice_csv", rows, accepted,
                                                debtors_taken)]
    [receipt] = receipts(settings, "acme")
    lines = read_receipt(receipt)
    assert len(lines) == rows + 1
    assert Counter(line["outcome"] for line in lines[:-1]) == {"ACCEPTED": accepted, "BAD_DATE": rows - accepted}
    assert lines[-1]["message"] == (f"{rows} rows: {accepted} taken for collection, {rows - accepted} not taken "
                                    f"(ACCEPTED {accepted}, BAD_DATE {rows - accepted})")
    assert folder_files(inbox(settings)) == []
    sha = sha256_of(content)
    assert (settings.home / "archive" / sha[:2] / sha).read_bytes() == content
    assert [p for p in folder_files(outbox(settings)) if not p.startswith(".")] == [receipt.name]


# ---------------------------------------------------------------------------------------------
# 4. Two passes at once on one home and one database


def test_two_concurrent_passes_take_the_file_once(settings):
    for round_, rows in enumerate((3000, 3000)):  # round 0: the database is not even migrated yet
        content, accepted, total, debtors_taken = big_file(rows)
        content = content.replace(b"\nB", f"\nR{round_}".encode())
        name = f"concurrent_{round_}.csv"
        drop(settings, "acme", name, content)
        procs = [start_ingest(settings), start_ingest(settings)]
        results = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [err.decode()[-2000:] for _, err in results]
        taken = [int(out.decode().split(" files", 1)[0]) for out, _ in results]
        assert sorted(taken) == [0, 1], [out.decode() for out, _ in results]
        state = ledger_state(settings.database_url)
        assert [f[1] for f in state["files"]].count(name) == 1
        assert state["invoices"] == accepted * (round_ + 1)
        assert state["postings_by_kind"]["principal"] == total * (round_ + 1)
        mine = [p for p in receipts(settings, "acme") if p.name.startswith(f"receipt_{name}_")]
        assert len(mine) == 1
        assert len(read_receipt(mine[0])) == rows + 1
        assert folder_files(inbox(settings)) == []
        assert [p for p in folder_files(outbox(settings)) if p.startswith(".")] == []


def _migrate_when_released(url: str, barrier, errors) -> None:
    engine = make_engine(url)
    try:
        barrier.wait(timeout=60)
        migrate(engine)
    except BaseException as exc:  # reported to the parent
        errors.put(f"{type(exc).__name__}: {str(exc)[:300]}")
        raise SystemExit(1)
    finally:
        engine.dispose()


def test_first_runs_at_once_on_a_fresh_database_migrate_it_once(settings):
    """Four workers (processes) open a ledger nobody migrated yet, at the same moment: none fails."""
    context = multiprocessing.get_context("fork")  # children start at once, the imports already done
    barrier, errors = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_migrate_when_released, args=(settings.database_url, barrier, errors))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    failures = [errors.get(timeout=5) for worker in workers if worker.exitcode != 0]
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0], failures
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD_REVISION]
        assert conn.execute(select(func.count()).select_from(ingested_files)).scalar_one() == 0
    engine.dispose()


def test_two_concurrent_passes_over_several_files_of_shared_debtors_end_as_one_pass(settings):
    """Two runs of the DAG at once over four files whose rows share debtors (and one invoice number):
    both succeed, and the ledger is that of one pass (each claim once, the repeated number a DUPLICATE)."""
    names = []
    for n in range(4):
        body = HEADER + "".join(_row(f"F{n}-{i:04d}", f"{2000 + i}.00", i % 50) for i in range(400))
        body += _row("SHARED-1", "5000.00", 7)  # the same claim in every file
        names.append(f"part_{n}.csv")
        drop(settings, "acme", names[-1], body)
        os.utime(inbox(settings) / names[-1], (time.time() - 100 + n, time.time() - 100 + n))
    open_ledger(settings).dispose()  # migrated up front: this is about taking files
    procs = [start_ingest(settings), start_ingest(settings)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err.decode()[-3000:] for _, err in results]
    state = ledger_state(settings.database_url)
    assert sorted(f[1] for f in state["files"]) == names
    assert state["invoices"] == 4 * 400 + 1
    assert state["cases"]["total"] == 50
    assert state["postings_by_kind"] == {"principal": 4 * sum((2000 + i) * 100 for i in range(400)) + 500000}
    outcomes = Counter()
    for receipt in receipts(settings, "acme"):
        outcomes.update(line["outcome"] for line in read_receipt(receipt)[:-1])
    assert outcomes == {"ACCEPTED": 4 * 400 + 1, "DUPLICATE": 3}
    assert len(receipts(settings, "acme")) == 4
    assert folder_files(inbox(settings)) == []


def race(take) -> dict:
    """Two workers on threads of their own, A and B, each running ``take(name, checkpoint)``: A pauses inside
    its file's transaction (once its record is written) and B starts meanwhile. Returns what each took; fails
    on any worker's error."""
    a_inside = threading.Event()
    results, errors = {}, []

    def pause():
        if threading.current_thread().name == "A":
            a_inside.set()
            time.sleep(1.0)  # B starts meanwhile

    def work(name: str) -> None:
        try:
            results[name] = take(name, on_step("recorded", pause))
        except Exception as exc:  # collected and asserted below
            errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")

    a = threading.Thread(target=work, args=("A",), name="A")
    b = threading.Thread(target=work, args=("B",), name="B")
    a.start()
    assert a_inside.wait(timeout=60)
    b.start()
    a.join(timeout=120)
    b.join(timeout=120)
    assert errors == []
    return results


def two_workers(settings: Settings, file_of: dict[str, str]) -> dict:
    """Worker A takes ``file_of["A"]`` and pauses inside its file's transaction; meanwhile worker B (own
    thread, own engine) takes ``file_of["B"]``. Returns each worker's counts."""
    registry, engine = ingest.prepare(settings)
    engine.dispose()
    files = {f.name: f for f in LocalInbox(inbox(settings)).list_ready(0, time.time())}

    def take(name, checkpoint) -> Pass:
        worker_engine = make_engine(settings.database_url)
        try:
            party, local = ingest.creditor_party("acme"), LocalFiles(settings.home)
            worker = Intake(worker_engine, Home(settings.home), party, local.inbox(party.inbox),
                            local.outbox(party.outbox),
                            lambda file_name: ingest.handler_for(file_name, registry, registry.creditors["acme"]),
                            ingest.Receipts(), AS_OF, name, checkpoint)
            tally = ingest.IngestCounts()
            tally.add(worker.take(files[file_of[name]]))
            return Pass(**tally.as_result())
        finally:
            worker_engine.dispose()

    return race(take)


def test_two_workers_on_the_same_file_take_it_once(settings):
    """B takes the file while A is inside its transaction: B finds it taken (or finishes A's delivery)."""
    content = HEADER + _row("A-1", "2000.00", 1) + _row("A-2", "5000.00", 7)
    drop(settings, "acme", "a.csv", content)
    counts = two_workers(settings, {"A": "a.csv", "B": "a.csv"})
    assert (counts["A"].files, counts["A"].rows_taken, counts["A"].cases_opened) == (1, 2, 2)
    assert (counts["B"].files, counts["B"].rows, counts["B"].cases_opened) == (0, 0, 0)
    # PostgreSQL: B waits for A's commit at the creditor lock, then loses on the file's key;
    # SQLite: B's first read waits for A's commit (BEGIN IMMEDIATE), then finds the file done
    assert counts["B"].files_seen_before == (0 if settings.database_url.startswith("postgresql") else 1)
    [receipt] = receipts(settings, "acme")
    assert counts["A"].receipts == [receipt.name]
    assert [(l["invoice_number"], l["outcome"]) for l in read_receipt(receipt)[:-1]] == [
        ("A-1", "ACCEPTED"), ("A-2", "ACCEPTED")]
    state = ledger_state(settings.database_url)
    assert len(state["files"]) == 1 and state["invoices"] == 2
    assert state["postings_by_kind"] == {"principal": 700000}
    assert folder_files(inbox(settings)) == []
    sha = sha256_of(content.encode())
    assert folder_files(settings.home / "archive") == [f"{sha[:2]}/{sha}"]


def test_two_workers_on_different_files_of_one_creditor_judge_them_one_after_the_other(settings):
    """B takes another file of the same creditor that repeats a claim of A's file while A is inside its
    transaction: B must see A's claim (DUPLICATE), not fail on the claim's unique key after A commits."""
    drop(settings, "acme", "a.csv", HEADER + _row("A-1", "2000.00", 1) + _row("SHARED-1", "5000.00", 7))
    drop(settings, "acme", "b.csv", HEADER + _row("B-1", "2100.00", 2) + _row("SHARED-1", "5000.00", 7))
    counts = two_workers(settings, {"A": "a.csv", "B": "b.csv"})
    assert (counts["A"].rows_taken, counts["B"].rows_taken) == (2, 1)
    outcomes = {p.name.split("_")[1]: [(l["invoice_number"], l["outcome"]) for l in read_receipt(p)[:-1]]
                for p in receipts(settings, "acme")}
    assert outcomes == {"a.csv": [("A-1", "ACCEPTED"), ("SHARED-1", "ACCEPTED")],
                        "b.csv": [("B-1", "ACCEPTED"), ("SHARED-1", "DUPLICATE")]}
    state = ledger_state(settings.database_url)
    assert state["invoices"] == 3 and state["postings_by_kind"] == {"principal": 910000}
    assert folder_files(inbox(settings)) == []
