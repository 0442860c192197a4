"""Which inbox files are taken and when (formats.md §1 intro; quality.md "Half-written files").

Unit tests of the local transport (LocalInbox, LocalOutbox, copy_atomically) on plain folders,
then the same rules seen through the ingest stage, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

import pipeline.transport.local as local
from pipeline.transport import InboxFile
from pipeline.transport.local import LocalInbox, LocalOutbox, copy_atomically
from tests.conftest import AS_OF, drop, read_receipt, receipts, run_ingest
from tests.integration.test_exactly_once import (HEADER, Crash, _row, assert_ledger_empty, fail_at, on_step,
                                                 file_row, folder_files, inbox, ledger_state, outbox, sha256_of)

NOW = 1_800_000_000.0  # a fixed "now" for listings (2027-01-15)


def put(folder: Path, name: str, data: bytes = b"x", age: float = 3600, now: float = NOW) -> Path:
    """A file whose mtime is ``age`` seconds before ``now``."""
    path = folder / name
    path.write_bytes(data)
    os.utime(path, (now - age, now - age))
    return path


# ---------------------------------------------------------------------------------------------
# LocalInbox.list_ready


def test_partial_uploads_dot_files_and_sidecars_are_never_taken(tmp_path):
    for name in ("a.csv", ".hidden.csv", ".a.csv.swp", "b.csv.part", "c.csv.tmp", "a.csv.done", "d.csv.part.done",
                 ".e.csv", ".e.csv.done", "f.csv.tmp.done", "orphan.csv.done"):
        put(tmp_path, name)
    (tmp_path / "subfolder.csv").mkdir()
    os.symlink(tmp_path / "a.csv", tmp_path / "link.csv")
    listed = LocalInbox(tmp_path).list_ready(settle_seconds=30, now=NOW)
    assert listed == [InboxFile("a.csv", 1, NOW - 3600, True)]
    assert LocalInbox(tmp_path).list_ready(settle_seconds=0, now=NOW) == listed


def test_a_done_sidecar_makes_a_fresh_file_ready_else_it_must_be_settle_seconds_old(tmp_path):
    put(tmp_path, "fresh_marked.csv", b"12", age=0)
    put(tmp_path, "fresh_marked.csv.done", b"", age=0)
    put(tmp_path, "fresh.csv", age=0)
    put(tmp_path, "young.csv", age=29.5)
    put(tmp_path, "settled.csv", b"123", age=30)
    put(tmp_path, "old.csv", b"1234", age=3600)
    box = LocalInbox(tmp_path)
    assert box.list_ready(settle_seconds=30, now=NOW) == [  # oldest first
        InboxFile("old.csv", 4, NOW - 3600, False),
        InboxFile("settled.csv", 3, NOW - 30, False),
        InboxFile("fresh_marked.csv", 2, NOW, True),
    ]
    assert [f.name for f in box.list_ready(settle_seconds=0, now=NOW)] == [
        "old.csv", "settled.csv", "young.csv", "fresh.csv", "fresh_marked.csv"]
    # a file still being written gets a new mtime with every write: never settled while it grows
    with (tmp_path / "old.csv").open("ab") as fh:
        fh.write(b"5")
    os.utime(tmp_path / "old.csv", (NOW - 1, NOW - 1))
    assert "old.csv" not in [f.name for f in box.list_ready(settle_seconds=30, now=NOW)]


def test_a_missing_inbox_lists_nothing(tmp_path):
    assert LocalInbox(tmp_path / "nope").list_ready(0, NOW) == []


def test_a_file_removed_between_the_scan_and_its_stat_is_skipped(tmp_path, monkeypatch):
    """Another worker took and removed the file meanwhile: the listing goes on without it."""
    put(tmp_path, "gone.csv")
    put(tmp_path, "stays.csv")
    real_scandir = os.scandir

    def scandir(path):
        entries = list(real_scandir(path))
        (tmp_path / "gone.csv").unlink()
        return iter(entries)

    monkeypatch.setattr(local.os, "scandir", scandir)
    assert [f.name for f in LocalInbox(tmp_path).list_ready(0, NOW)] == ["stays.csv"]


# ---------------------------------------------------------------------------------------------
# LocalInbox.fetch and remove


def test_fetch_copies_the_listed_bytes(tmp_path):
    put(tmp_path, "a.csv", b"abc")
    [file] = LocalInbox(tmp_path).list_ready(0, NOW)
    LocalInbox(tmp_path).fetch(file, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == b"abc"


def test_fetch_raises_when_the_file_grew_since_the_listing_and_leaves_it(tmp_path):
    put(tmp_path, "a.csv", b"abc")
    box = LocalInbox(tmp_path)
    [file] = box.list_ready(0, NOW)
    with (tmp_path / "a.csv").open("ab") as fh:
        fh.write(b"def")
    with pytest.raises(OSError, match=r"a.csv changed while it was read \(3 bytes listed, 6 read\)"):
        box.fetch(file, tmp_path / "copy")
    assert (tmp_path / "a.csv").read_bytes() == b"abcdef"


def test_fetch_raises_when_the_file_was_rewritten_in_place_since_the_listing(tmp_path):
    put(tmp_path, "a.csv", b"abc")
    box = LocalInbox(tmp_path)
    [file] = box.list_ready(0, NOW)
    put(tmp_path, "a.csv", b"xyz", age=10)  # same size, new content, new mtime
    with pytest.raises(OSError, match="a.csv changed while it was read"):
        box.fetch(file, tmp_path / "copy")
    assert (tmp_path / "a.csv").read_bytes() == b"xyz"


def test_fetch_of_a_file_gone_since_the_listing_raises_file_not_found(tmp_path):
    put(tmp_path, "a.csv")
    box = LocalInbox(tmp_path)
    [file] = box.list_ready(0, NOW)
    (tmp_path / "a.csv").unlink()
    with pytest.raises(FileNotFoundError):
        box.fetch(file, tmp_path / "copy")


def test_remove_takes_the_file_and_its_sidecar(tmp_path):
    put(tmp_path, "a.csv")
    put(tmp_path, "a.csv.done", b"")
    put(tmp_path, "b.csv")
    box = LocalInbox(tmp_path)
    [a, b] = box.list_ready(0, NOW)
    box.remove(a)
    assert folder_files(tmp_path) == ["b.csv"]
    box.remove(a)  # again: nothing left to remove, no error
    assert folder_files(tmp_path) == ["b.csv"]


def test_remove_leaves_a_new_upload_that_replaced_the_file_taken(tmp_path):
    put(tmp_path, "a.csv", b"old")
    box = LocalInbox(tmp_path)
    [file] = box.list_ready(0, NOW)
    put(tmp_path, "a.csv", b"newer content", age=5)
    put(tmp_path, "a.csv.done", b"", age=5)
    box.remove(file)
    assert folder_files(tmp_path) == ["a.csv", "a.csv.done"]
    assert (tmp_path / "a.csv").read_bytes() == b"newer content"


# ---------------------------------------------------------------------------------------------
# Atomic writes (receipts, archive)


def test_an_atomic_copy_leaves_only_the_final_file(tmp_path):
    copy_atomically(io.BytesIO(b"one"), tmp_path / "out" / "receipt.csv")
    copy_atomically(io.BytesIO(b"two"), tmp_path / "out" / "receipt.csv")
    assert folder_files(tmp_path / "out") == ["receipt.csv"]
    assert (tmp_path / "out" / "receipt.csv").read_bytes() == b"two"


def test_a_put_sweeps_what_a_killed_earlier_try_of_that_name_left(tmp_path):
    (tmp_path / ".receipt_a.csv_20261126T090000Z.csv.k3j2h1.tmp").write_bytes(b"half")
    (tmp_path / ".receipt_b.csv_20261126T090000Z.csv.x9y8z7.tmp").write_bytes(b"another's")
    LocalOutbox(tmp_path).put("receipt_a.csv_20261126T090000Z.csv", io.BytesIO(b"whole"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".receipt_b.csv_20261126T090000Z.csv.x9y8z7.tmp",
                                                         "receipt_a.csv_20261126T090000Z.csv"]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_a_failed_atomic_write_leaves_neither_a_partial_file_nor_a_temporary_one(tmp_path, monkeypatch, failing):
    box = LocalOutbox(tmp_path)
    box.put("kept.csv", io.BytesIO(b"complete"))

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local.os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        box.put("receipt.csv", io.BytesIO(b"line 1\r\nline 2\r\n"))
    with pytest.raises(OSError, match="No space left"):
        box.put("kept.csv", io.BytesIO(b"replacement"))
    monkeypatch.undo()
    assert folder_files(tmp_path) == ["kept.csv"]
    assert not box.exists("receipt.csv")
    assert (tmp_path / "kept.csv").read_bytes() == b"complete"


# ---------------------------------------------------------------------------------------------
# The same rules through the ingest stage (SQLite and PostgreSQL)

ONE = HEADER + _row("INV-1", "2000.00", 1)
TWO = HEADER + _row("INV-1", "2000.00", 1) + _row("INV-2", "3000.00", 2)


def test_the_stage_takes_marked_or_settled_files_and_leaves_the_rest(settings):
    box = inbox(settings)
    now = time.time()
    for name in ("young.csv", "marked.csv", "aged.csv", "upload.csv.part", ".hidden.csv", "x.csv.tmp"):
        drop(settings, "acme", name, HEADER + _row(f"INV-{name[:3]}", "2000.00", 1))
    drop(settings, "acme", "marked.csv.done", b"")
    for name in ("aged.csv", "upload.csv.part", ".hidden.csv", "x.csv.tmp"):
        os.utime(box / name, (now - 60, now - 60))

    counts = run_ingest(settings, AS_OF, "run-1", settle_seconds=30)
    assert (counts.files, counts.rows, counts.rows_taken) == (2, 2, 2)
    assert folder_files(box) == [".hidden.csv", "upload.csv.part", "x.csv.tmp", "young.csv"]
    assert sorted(p.name.rsplit("_", 1)[0] for p in receipts(settings, "acme")) == [
        "receipt_aged.csv", "receipt_marked.csv"]
    assert [f[1] for f in ledger_state(settings.database_url)["files"]] == ["aged.csv", "marked.csv"]

    (box / "upload.csv.part").rename(box / "upload.csv")  # the upload completes: renamed, mtime kept
    counts = run_ingest(settings, AS_OF, "run-2", settle_seconds=30)
    assert (counts.files, counts.rows_taken) == (1, 1)
    assert folder_files(box) == [".hidden.csv", "x.csv.tmp", "young.csv"]
    assert ledger_state(settings.database_url)["invoices"] == 3


def test_a_file_and_its_sidecar_leave_the_inbox_only_after_the_commit(settings, monkeypatch):
    drop(settings, "acme", "a.csv", TWO)
    drop(settings, "acme", "a.csv.done", b"")
    with pytest.raises(Crash):
        run_ingest(settings, AS_OF, "run-1", settle_seconds=30, checkpoint=fail_at("handled"))
    assert folder_files(inbox(settings)) == ["a.csv", "a.csv.done"]
    assert_ledger_empty(settings.database_url)

    seen = {}
    real_remove = LocalInbox.remove

    def remove(self, file):
        # at this moment the results are committed (visible to another connection), archived and receipted
        row = file_row(settings.database_url, file.name)
        seen["committed"] = (row.status, row.rows_total, row.rows_accepted)
        seen["archived"] = (settings.home / "archive" / row.sha256[:2] / row.sha256).exists()
        seen["receipts"] = len(receipts(settings, "acme"))
        seen["inbox"] = folder_files(inbox(settings))
        return real_remove(self, file)

    monkeypatch.setattr(LocalInbox, "remove", remove)
    run_ingest(settings, AS_OF, "run-2", settle_seconds=30)
    assert seen == dict(committed=("PROCESSED", 2, 2), archived=True, receipts=1, inbox=["a.csv", "a.csv.done"])
    assert folder_files(inbox(settings)) == []


def test_a_file_that_grows_after_the_listing_is_not_taken_and_stays(settings, monkeypatch):
    path = drop(settings, "acme", "growing.csv", ONE)
    real_list = LocalInbox.list_ready

    def list_then_grow(self, settle_seconds, now):
        listed = real_list(self, settle_seconds, now)
        if self.folder == path.parent:
            with path.open("a", encoding="utf-8") as fh:  # the upload goes on
                fh.write(_row("INV-2", "3000.00", 2))
        return listed

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LocalInbox, "list_ready", list_then_grow)
        with pytest.raises(OSError, match="growing.csv changed while it was read"):
            run_ingest(settings, AS_OF, "run-1")
    assert path.read_text(encoding="utf-8") == TWO
    assert_ledger_empty(settings.database_url)
    assert folder_files(outbox(settings)) == [] and folder_files(settings.home / "tmp") == []

    counts = run_ingest(settings, AS_OF, "run-2")  # complete now: taken whole
    assert (counts.files, counts.rows, counts.rows_taken) == (1, 2, 2)
    assert folder_files(inbox(settings)) == []
    assert ledger_state(settings.database_url)["postings_by_kind"] == {"principal": 500000}


def test_a_file_gone_after_the_listing_is_skipped_without_failing_the_pass(settings, monkeypatch):
    """What a second worker sees when the first one took the file and removed it after listing it."""
    drop(settings, "acme", "a.csv", ONE)
    drop(settings, "acme", "b.csv", TWO.replace("INV-", "B-"))
    os.utime(inbox(settings) / "a.csv", (time.time() - 10, time.time() - 10))  # listed first
    real_list = LocalInbox.list_ready

    def list_then_vanish(self, settle_seconds, now):
        listed = real_list(self, settle_seconds, now)
        (self.folder / "a.csv").unlink(missing_ok=True)
        return listed

    monkeypatch.setattr(LocalInbox, "list_ready", list_then_vanish)
    counts = run_ingest(settings, AS_OF, "run-1")
    assert (counts.files, counts.rows, counts.rows_taken) == (1, 2, 2)
    assert [f[1] for f in ledger_state(settings.database_url)["files"]] == ["b.csv"]
    assert [p.name.startswith("receipt_b.csv_") for p in receipts(settings, "acme")] == [True]
    assert folder_files(settings.home / "tmp") == []


def test_a_new_upload_under_the_same_name_during_the_pass_is_not_deleted(settings, monkeypatch):
    drop(settings, "acme", "daily.csv", ONE)
    newer = HEADER + _row("INV-7", "7000.00", 7)
    def the_creditor_uploads_again():
        upload = inbox(settings) / "daily.csv"
        upload.write_text(newer, encoding="utf-8")
        os.utime(upload, (time.time() - 100, time.time() - 100))  # an mtime other than the one listed

    first = run_ingest(settings, AS_OF, "run-1", checkpoint=on_step("kept", the_creditor_uploads_again))
    assert (first.files, first.rows_taken) == (1, 1)
    assert (inbox(settings) / "daily.csv").read_text(encoding="utf-8") == newer

    second = run_ingest(settings, AS_OF, "run-2")
    assert (second.files, second.rows_taken) == (1, 1)
    assert folder_files(inbox(settings)) == []
    found = receipts(settings, "acme")
    assert len(found) == 2
    assert sorted(read_receipt(p)[0]["invoice_number"] for p in found) == ["INV-1", "INV-7"]
    assert ledger_state(settings.database_url)["postings_by_kind"] == {"principal": 900000}


def test_a_receipt_that_cannot_be_renamed_never_appears_half_written(settings, monkeypatch):
    drop(settings, "acme", "a.csv", TWO)
    real_replace = os.replace
    attempts = []

    def replace(src, dst, *args, **kwargs):
        if Path(dst).parent == outbox(settings):
            attempts.append((Path(src).name, Path(dst).name, Path(src).stat().st_size))
            raise OSError(28, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(local.os, "replace", replace)
        with pytest.raises(OSError, match="No space left"):
            run_ingest(settings, AS_OF, "run-1")
    [(temporary, final, size)] = attempts
    assert temporary.startswith(f".{final}.") and temporary.endswith(".tmp") and size > 0
    assert folder_files(outbox(settings)) == []  # neither the final name nor the temporary file
    assert folder_files(inbox(settings)) == ["a.csv"]
    sha = sha256_of(TWO.encode())
    assert folder_files(settings.home / "archive") == [f"{sha[:2]}/{sha}"]

    counts = run_ingest(settings, AS_OF, "run-2")
    assert counts.files_seen_before == 1 and counts.receipts == [final]
    assert [p.name for p in outbox(settings).iterdir()] == [final]
    assert [(r["invoice_number"], r["outcome"]) for r in read_receipt(outbox(settings) / final)] == [
        ("INV-1", "ACCEPTED"), ("INV-2", "ACCEPTED"), ("", "SUMMARY")]
    assert folder_files(inbox(settings)) == []


def test_partial_upload_suffixes_are_ignored_in_any_case(tmp_path):
    for name in ("A.CSV.PART", "b.csv.Tmp", "c.csv.DONE", "d.csv"):
        put(tmp_path, name)
    assert [f.name for f in LocalInbox(tmp_path).list_ready(0, NOW)] == ["d.csv"]


def test_a_crash_while_removing_never_leaves_a_sidecar_without_its_file(tmp_path, monkeypatch):
    """A stale `a.csv.done` would mark the next upload of a.csv complete while it is still being written."""
    put(tmp_path, "a.csv")
    put(tmp_path, "a.csv.done", b"")
    box = LocalInbox(tmp_path)
    [file] = box.list_ready(0, NOW)
    real_unlink = Path.unlink
    calls = []

    def unlink(self, missing_ok=False):
        calls.append(self.name)
        if len(calls) == 2:
            raise Crash("killed between the two unlinks")
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(Crash):
        box.remove(file)
    monkeypatch.undo()
    assert folder_files(tmp_path) == ["a.csv"]
    # the next upload of that name is judged by its age again, not by a stale marker
    put(tmp_path, "a.csv", b"a new upload, still being written", age=0)
    assert box.list_ready(30, NOW) == []


def test_scratch_copies_left_by_a_killed_process_are_removed_after_a_day(tmp_path):
    from pipeline.home import STALE_SCRATCH_SECONDS, Home

    home = Home(tmp_path)
    stale = home.scratch / "tmpkilled"
    fresh = home.scratch / "tmpworking"
    for folder in (stale, fresh):
        folder.mkdir(parents=True)
        (folder / "data").write_bytes(b"invoice_number\n")
    now = time.time()
    os.utime(stale, (now - STALE_SCRATCH_SECONDS - 60, now - STALE_SCRATCH_SECONDS - 60))
    home.remove_stale_scratch(now)
    assert not stale.exists()
    assert (fresh / "data").read_bytes() == b"invoice_number\n"
