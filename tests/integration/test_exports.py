"""The export protocol (`pipeline.exports`): every file we write is recorded by its natural key, rendered from
the ledger, streamed through the outbox, and rendered to the same bytes again when the outbox lost it; on
SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from pipeline import exports
from pipeline.exports import ExportChanged
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.ledger.db import make_engine
from pipeline.ledger.schema import exports as exports_table
from pipeline.ledger.schema import receipt_lines
from pipeline.stages import ingest
from tests.conftest import AS_OF, drop, receipts, run_ingest
from pipeline.transport.local import LocalOutbox
from tests.integration.test_exactly_once import Crash, crash_file, fail_at, fail_on_call, folder_files, outbox

ROOT = Path(__file__).parents[2]


def export_record(settings, file_name: str):
    engine = open_ledger(settings)
    with engine.connect() as conn:
        record = conn.execute(select(exports_table).where(exports_table.c.file_name == file_name)).one()
    engine.dispose()
    return record


def test_a_receipt_the_outbox_lost_is_rendered_again_byte_for_byte_from_its_export_record(settings):
    drop(settings, "acme", "invoices.csv", crash_file())
    first = run_ingest(settings, AS_OF, "run-1")
    [receipt] = receipts(settings, "acme")
    delivered = receipt.read_bytes()
    record = export_record(settings, receipt.name)
    assert (record.kind, record.party, record.folder, record.file_id is not None) == (
        "receipt", "creditors", "creditors/acme/outbox", True)
    assert (record.sha256, record.size_bytes) == (hashlib.sha256(delivered).hexdigest(), len(delivered))
    assert first.receipts == [receipt.name]

    receipt.unlink()                                    # the outbox lost it (or the creditor took it away)
    drop(settings, "acme", "invoices.csv", crash_file())  # and sends the same file again
    again = run_ingest(settings, AS_OF, "run-2")
    assert (again.files, again.files_seen_before, again.receipts) == (0, 1, [receipt.name])
    assert receipt.read_bytes() == delivered
    assert folder_files(outbox(settings)) == [receipt.name]
    assert export_record(settings, receipt.name).sha256 == record.sha256


def test_a_receipt_that_would_render_differently_stops_the_delivery(settings):
    drop(settings, "acme", "invoices.csv", crash_file())
    run_ingest(settings, AS_OF, "run-1")
    [receipt] = receipts(settings, "acme")
    engine = open_ledger(settings)
    with engine.begin() as conn:
        conn.execute(update(receipt_lines).where(receipt_lines.c.seq == 2).values(message="changed afterwards"))
    engine.dispose()
    receipt.unlink()
    drop(settings, "acme", "invoices.csv", crash_file())
    with pytest.raises(ExportChanged, match=rf"^receipt {receipt.name} renders differently from the bytes "
                                            r"delivered before \(sha256 [0-9a-f]{12}…, now [0-9a-f]{12}…\)"):
        run_ingest(settings, AS_OF, "run-2")
    assert not receipt.exists()


MILLION = 1_000_000

MEASURE = textwrap.dedent('''
    import sys
    from pathlib import Path
    from pipeline import exports
    from pipeline.ledger.db import make_engine
    from pipeline.stages.ingest import Receipts
    from pipeline.transport.local import LocalOutbox

    def peak_bytes():
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) * 1024

    url, key, folder, scratch = sys.argv[1:]
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from what the process holds now
    before = peak_bytes()
    name = exports.deliver(engine, "receipt", key, Receipts(), LocalOutbox(Path(folder)), Path(scratch))
    print(before, peak_bytes(), name)
''')


def test_an_export_of_a_million_lines_is_streamed_with_peak_memory_well_below_its_size(settings, tmp_path):
    """A receipt of a million lines, rendered and put by a process of its own, whose peak memory may grow by a
    quarter of the file at most: the lines are streamed from the ledger to a scratch file to the outbox."""
    registry, engine = ingest.prepare(settings)
    with engine.begin() as conn:
        file_id = repo.insert_file(conn, party_kind="creditor", party_id="acme", sha256="0" * 64,
                                   file_name="huge.csv", size_bytes=1, kind="invoice_csv", status="PROCESSED",
                                   received_at=datetime(2026, 11, 26), as_of=AS_OF, run_id="t", rows_total=MILLION,
                                   rows_accepted=MILLION)
        numbers = list(range(2, MILLION + 2))
        repo.insert_rows(conn, receipt_lines, file_id=file_id, seq=numbers, line=numbers,
                         invoice_number=[f"INV-{n:09d}" for n in numbers], outcome="ACCEPTED",
                         message="taken for collection", case_id=None)
        exports.owe(conn, exports.Owed("receipt", str(file_id), "creditors", "creditors/acme/outbox",
                                       "receipt_huge.csv_20261126T000000Z.csv", AS_OF, "t", file_id=file_id))
    engine.dispose()
    result = subprocess.run([sys.executable, "-c", MEASURE, settings.database_url, str(file_id),
                             str(outbox(settings)), str(tmp_path / "scratch")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    before, after, name = result.stdout.split()
    written = outbox(settings) / name
    size = written.stat().st_size
    with written.open("rb") as fh:
        assert fh.readline() == b"line,invoice_number,outcome,message,case_number,payment_reference\r\n"
        assert fh.readline() == b"2,INV-000000002,ACCEPTED,taken for collection,,\r\n"
    assert size > 50 * 1024 * 1024
    assert written.read_bytes().endswith(b',,SUMMARY,"1000000 rows: 1000000 taken for collection, 0 not taken '
                                         b'(ACCEPTED 1000000)",,\r\n')
    assert int(after) - int(before) < size / 4, (int(before), int(after), size)


def test_a_receipt_owed_by_a_stopped_pass_is_delivered_by_the_next_even_when_the_file_is_gone(settings):
    """The pass stopped right after the commit; the creditor then took its file away. The next pass delivers
    the receipt the ledger owes; the raw bytes were archived before the commit."""
    content = crash_file().encode()
    drop(settings, "acme", "invoices.csv", content)
    with pytest.raises(Crash):
        run_ingest(settings, AS_OF, "run-1", checkpoint=fail_at("committed"))
    (settings.home / "creditors" / "acme" / "inbox" / "invoices.csv").unlink()
    assert receipts(settings, "acme") == []
    again = run_ingest(settings, AS_OF, "run-2")
    assert (again.files, again.files_seen_before, again.receipts) == (0, 0, [])
    [receipt] = receipts(settings, "acme")
    assert receipt.name.startswith("receipt_invoices.csv_") and export_record(settings, receipt.name).delivered_at
    sha = hashlib.sha256(content).hexdigest()
    assert (settings.home / "archive" / sha[:2] / sha).read_bytes() == content


def test_a_receipt_put_by_a_pass_that_stopped_before_recording_it_is_not_put_again(settings, monkeypatch):
    drop(settings, "acme", "invoices.csv", crash_file())
    real_put = LocalOutbox.put
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LocalOutbox, "put", fail_on_call(real_put, after=True))
        with pytest.raises(Crash):
            run_ingest(settings, AS_OF, "run-1")
    [receipt] = receipts(settings, "acme")
    first = (receipt.read_bytes(), receipt.stat().st_mtime_ns)
    assert export_record(settings, receipt.name).delivered_at is None
    puts = []
    monkeypatch.setattr(LocalOutbox, "put", lambda self, name, source: puts.append(name))
    again = run_ingest(settings, AS_OF, "run-2")
    assert (again.files_seen_before, again.receipts, puts) == (1, [receipt.name], [])
    assert (receipt.read_bytes(), receipt.stat().st_mtime_ns) == first
    record = export_record(settings, receipt.name)
    assert record.delivered_at is not None and record.sha256 is None  # its bytes were never rendered here


def test_two_workers_delivering_the_same_export_put_it_once(settings):
    """B asks for the receipt while A is rendering it: B waits for A's delivery and finds it there."""
    drop(settings, "acme", "invoices.csv", crash_file())
    with pytest.raises(Crash):
        run_ingest(settings, AS_OF, "run-1", checkpoint=fail_at("committed"))
    engine = open_ledger(settings)
    with engine.connect() as conn:
        [key] = repo.undelivered_exports(conn, "receipt", "creditors/acme/outbox")
    engine.dispose()
    rendering, puts = threading.Event(), []

    class SlowReceipts(ingest.Receipts):
        def render(self, conn, export, sink):
            if threading.current_thread().name == "A":
                rendering.set()
                time.sleep(1.0)
            super().render(conn, export, sink)

    class CountingOutbox(LocalOutbox):
        def put(self, name, source):
            puts.append(threading.current_thread().name)
            super().put(name, source)

    def take(name, checkpoint):
        worker_engine = make_engine(settings.database_url)
        try:
            if name == "B":
                assert rendering.wait(timeout=60)
            return exports.deliver(worker_engine, "receipt", key, SlowReceipts(), CountingOutbox(outbox(settings)),
                                   settings.home / "tmp")
        finally:
            worker_engine.dispose()

    threads = {name: threading.Thread(target=lambda n=name: results.__setitem__(n, take(n, None)), name=name)
               for name in ("A", "B")}
    results = {}
    for thread in threads.values():
        thread.start()
    for thread in threads.values():
        thread.join(timeout=120)
    [receipt] = receipts(settings, "acme")
    assert results == {"A": receipt.name, "B": receipt.name}
    assert puts == ["A"]
    assert folder_files(outbox(settings)) == [receipt.name]
