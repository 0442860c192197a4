"""The intake (`pipeline.intake`) for a party that is not a creditor: the bank's inbox with a test handler
(`tests/integration/bank_intake.py`), on SQLite and PostgreSQL.

Exactly once whatever happens: a failure between every two steps then a retry, a SIGKILL inside the file's
transaction and right after its commit, the same bytes dropped again, two passes at once. The failures are
injected at the protocol's own checkpoints and in the transport's public classes, never by a private name.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.config import Settings
from pipeline.home import Home
from pipeline.intake import Intake
from pipeline.ledger import open_ledger
from pipeline.ledger.db import make_engine
from pipeline.ledger.schema import exports, ingested_files
from pipeline.transport.local import LocalInbox
from tests.integration.bank_intake import AS_OF, BANK, HEADER, BankLines, bank_pass, lines
from tests.integration.test_exactly_once import Crash, fail_at, fail_on_call, folder_files, race

ROOT = Path(__file__).parents[2]


def statement(count: int, start: int = 0) -> bytes:
    return (HEADER + "\n" + "".join(f"RF{n:08d},{1000 + n}\n" for n in range(start, start + count))).encode()


def drop(settings: Settings, name: str, content: bytes) -> Path:
    path = settings.home / "bank" / "inbox" / name
    path.write_bytes(content)
    return path


def bank_state(settings: Settings) -> dict:
    engine = make_engine(settings.database_url)
    try:
        lines.create(engine, checkfirst=True)
        with engine.connect() as conn:
            return {
                "files": sorted(tuple(row) for row in conn.execute(select(
                    ingested_files.c.party_kind, ingested_files.c.party_id, ingested_files.c.file_name,
                    ingested_files.c.status, ingested_files.c.kind, ingested_files.c.rows_total,
                    ingested_files.c.rows_accepted, ingested_files.c.rejection_code))),
                "lines": conn.execute(select(func.count(), func.coalesce(func.sum(lines.c.amount_minor), 0))
                                      .select_from(lines)).one()._tuple(),
                "exports": conn.execute(select(func.count()).select_from(exports)).scalar_one(),
            }
    finally:
        engine.dispose()


def assert_taken_once(settings: Settings, name: str, content: bytes, rows: int) -> None:
    sha = hashlib.sha256(content).hexdigest()
    amounts = sum(int(line.split(b",")[1]) for line in content.splitlines()[1:])
    assert bank_state(settings) == {
        "files": [("bank", "bank", name, "PROCESSED", "bank_lines", rows, rows, None)],
        "lines": (rows, amounts), "exports": 0}
    assert folder_files(settings.home / "archive") == [f"{sha[:2]}/{sha}"]
    assert (settings.home / "archive" / sha[:2] / sha).read_bytes() == content
    assert folder_files(settings.home / "bank" / "inbox") == []
    assert folder_files(settings.home / "quarantine") == [] and folder_files(settings.home / "tmp") == []


def test_a_bank_file_is_taken_once_and_the_same_bytes_again_change_nothing(settings):
    content = statement(250)
    drop(settings, "camt053_1.xml", content)
    [taken] = bank_pass(settings)
    assert (taken.name, taken.record.party_kind, taken.seen_before, taken.answer) == (
        "camt053_1.xml", "bank", False, None)
    assert_taken_once(settings, "camt053_1.xml", content, 250)
    for again in ("camt053_1.xml", "camt053_1_copy.xml"):
        drop(settings, again, content)
        [taken] = bank_pass(settings)
        assert (taken.name, taken.seen_before) == (again, True)
        assert_taken_once(settings, "camt053_1.xml", content, 250)


def test_a_rejected_bank_file_is_quarantined_under_the_bank_and_owes_no_answer(settings):
    content = b"not a statement\n"
    drop(settings, "junk.txt", content)
    [taken] = bank_pass(settings)
    assert (taken.record.status, taken.record.rejection_code, taken.record.rejection_message) == (
        "REJECTED", "UNSUPPORTED_FILE", "not a bank line file (the first line must be reference,amount_minor)")
    assert bank_state(settings) == {"files": [("bank", "bank", "junk.txt", "REJECTED", "bank_lines", 0, 0,
                                               "UNSUPPORTED_FILE")], "lines": (0, 0), "exports": 0}
    sha = hashlib.sha256(content).hexdigest()
    assert folder_files(settings.home / "quarantine") == [f"bank/{sha[:12]}_junk.txt"]
    assert folder_files(settings.home / "bank" / "inbox") == []


# step -> (committed before the failure, archived before it)
STEPS = {
    "fetch": (False, False),             # the inbox cannot be read
    "fetched": (False, False),           # copied and hashed
    "locked": (False, False),            # the bank's turn taken, first in the file's transaction
    "recorded": (False, False),          # the file's record written
    "lines_written": (False, False),     # the handler's first batch
    "lines_written#3": (False, False),   # its third
    "handled": (False, False),           # the handler done, the counts written
    "archive_rename": (False, False),    # the archive copy cannot be renamed into place
    "kept": (False, True),               # archived, the last step before the commit
    "committed": (True, True),           # right after the commit, still in the inbox
    "inbox_remove": (True, True),        # the inbox cannot be cleaned
}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_failure_between_any_two_steps_then_a_retry_takes_the_file_exactly_once(settings, monkeypatch, step):
    content = statement(350)
    drop(settings, "statement.csv", content)
    committed, archived = STEPS[step]
    name, _, call = step.partition("#")
    checkpoint = fail_at(name, int(call or 1))
    with pytest.MonkeyPatch.context() as mp:
        real_replace = os.replace
        if step == "fetch":
            mp.setattr(LocalInbox, "fetch", fail_on_call(LocalInbox.fetch))
        elif step == "inbox_remove":
            mp.setattr(LocalInbox, "remove", fail_on_call(LocalInbox.remove))
        elif step == "archive_rename":
            def replace(src, dst, *args, **kwargs):
                if settings.home / "archive" in Path(dst).parents:
                    raise Crash(f"injected failure renaming {dst}")
                return real_replace(src, dst, *args, **kwargs)
            mp.setattr(os, "replace", replace)
        with pytest.raises(Crash):
            bank_pass(settings, checkpoint)  # the transport's steps are no checkpoints: those never fire
    assert folder_files(settings.home / "bank" / "inbox") == ["statement.csv"]
    assert folder_files(settings.home / "tmp") == []
    state = bank_state(settings)
    assert (len(state["files"]), state["lines"][0]) == ((1, 350) if committed else (0, 0))
    sha = hashlib.sha256(content).hexdigest()
    assert folder_files(settings.home / "archive") == ([f"{sha[:2]}/{sha}"] if archived else [])

    [taken] = bank_pass(settings, run_id="retry")
    assert taken.seen_before is committed
    assert_taken_once(settings, "statement.csv", content, 350)
    assert bank_pass(settings, run_id="third") == []


def _kill_at(settings: Settings, step: str, tmp_path: Path) -> None:
    """Start a bank pass in a process of its own, SIGKILL it when it reports having reached ``step``."""
    marker = tmp_path / f"reached_{step}"
    process = subprocess.Popen([sys.executable, "-m", "tests.integration.bank_intake", str(settings.home),
                                settings.database_url, step, str(marker)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, f"the pass never reached {step}"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL


def test_sigkill_inside_the_transaction_and_after_the_commit_then_a_rerun_takes_the_file_once(settings, tmp_path):
    content = statement(1200)
    drop(settings, "big.csv", content)
    _kill_at(settings, "lines_written", tmp_path)          # four batches written, uncommitted
    assert bank_state(settings)["files"] == [] and bank_state(settings)["lines"] == (0, 0)
    assert folder_files(settings.home / "bank" / "inbox") == ["big.csv"]
    _kill_at(settings, "committed", tmp_path)              # committed, still in the inbox
    assert bank_state(settings)["lines"][0] == 1200
    assert folder_files(settings.home / "bank" / "inbox") == ["big.csv"]
    result = subprocess.run([sys.executable, "-m", "tests.integration.bank_intake", str(settings.home),
                             settings.database_url], cwd=ROOT, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    Home(settings.home).remove_stale_scratch(time.time() + 2 * 24 * 3600)  # what the killed passes left
    assert_taken_once(settings, "big.csv", content, 1200)


def test_two_workers_on_the_same_bank_file_take_it_once(settings):
    """B takes the file while A holds its transaction open: B waits (PostgreSQL: the party's lock; SQLite:
    the write lock), then finds the key taken."""
    content = statement(300)
    drop(settings, "statement.csv", content)
    engine = open_ledger(settings)
    lines.create(engine, checkfirst=True)
    engine.dispose()
    [file] = LocalInbox(settings.home / BANK.inbox).list_ready(0, time.time())

    def take(name: str, checkpoint):
        worker_engine = make_engine(settings.database_url)
        try:
            intake = Intake(worker_engine, Home(settings.home), BANK, LocalInbox(settings.home / BANK.inbox), None,
                            lambda _: BankLines(), None, AS_OF, name, checkpoint)
            return intake.take(file)
        finally:
            worker_engine.dispose()

    results = race(take)
    assert (results["A"].record is not None, results["A"].seen_before) == (True, False)
    assert results["B"].seen_before or results["B"].record is None  # stepped aside, or finished A's delivery
    assert_taken_once(settings, "statement.csv", content, 300)


def test_two_passes_at_once_over_several_bank_files_take_each_once(settings):
    contents = {f"statement_{n}.csv": statement(400, start=1000 * n) for n in range(4)}
    for name, content in contents.items():
        drop(settings, name, content)
    engine = open_ledger(settings)
    lines.create(engine, checkfirst=True)
    engine.dispose()
    passes = [subprocess.Popen([sys.executable, "-m", "tests.integration.bank_intake", str(settings.home),
                                settings.database_url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in passes]
    assert [p.returncode for p in passes] == [0, 0], [err.decode()[-2000:] for _, err in outputs]
    state = bank_state(settings)
    assert [row[2:] for row in state["files"]] == [(name, "PROCESSED", "bank_lines", 400, 400, None)
                                                  for name in sorted(contents)]
    assert state["lines"] == (1600, sum(1000 + n for s in range(4) for n in range(1000 * s, 1000 * s + 400)))
    assert folder_files(settings.home / "bank" / "inbox") == []
