"""The keys a file judged DUPLICATE or CONFLICT, kept as hashes in sorted runs (bounded memory for a re-sent
file of millions of rows): every key found on its first line, through any number of merges; a key never
judged not found; and a hash that matches but names another number on that line's receipt not taken."""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from pipeline.config import Settings
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.ledger.schema import receipt_lines
from pipeline.stages.ingest import invoices
from tests.conftest import AS_OF


def judged_file(conn, numbers: list[str]) -> int:
    """A file whose receipt names ``numbers`` on lines 2, 3, …"""
    file_id = repo.insert_file(conn, party_kind="creditor", party_id="acme", sha256="0" * 64, file_name="again.csv",
                               size_bytes=1, kind="invoice_csv", status="PROCESSED", received_at=datetime(2026, 11, 26),
                               as_of=AS_OF, run_id="t", rows_total=len(numbers), rows_accepted=0)
    lines = list(range(2, len(numbers) + 2))
    repo.insert_rows(conn, receipt_lines, file_id=file_id, seq=lines, line=lines, invoice_number=numbers,
                     outcome="DUPLICATE", message="received before", case_id=None)
    return file_id


def keys(numbers: list[str], kind: str = "invoice") -> pd.DataFrame:
    return pd.DataFrame({"document_type": kind, "invoice_number": pd.Series(numbers, dtype="str")})


def test_judged_keys_are_found_on_their_lines_through_every_merge(tmp_path, database_url):
    numbers = [f"INV-{n}" for n in range(1, 1001)]
    engine = open_ledger(Settings(tmp_path, database_url))
    try:
        with engine.begin() as conn:
            judged = invoices.JudgedKeys(conn, judged_file(conn, numbers))
            for start, size in ((0, 500), (500, 1), (501, 99), (600, 300), (900, 100)):   # runs merged as they grow
                judged.add(keys(numbers[start:start + size]), np.arange(start + 2, start + size + 2))
            asked = keys(["INV-7", "INV-1000", "INV-501", "INV-0", "INV-7"]).set_index(pd.Index([10, 11, 12, 13, 14]))
            found = judged.lines_of(asked)
            as_credit_note = judged.lines_of(keys(["INV-7"], kind="credit_note"))
    finally:
        engine.dispose()
    assert len(judged.runs) < 5
    assert found.index.tolist() == [10, 11, 12, 13, 14]
    assert found.tolist() == [8, 1001, 502, pd.NA, 8]
    assert as_credit_note.isna().all()


def test_a_hash_that_matches_another_number_is_not_taken_for_it(tmp_path, database_url, monkeypatch):
    """Two keys whose 64-bit hashes collide (made to here): the receipt line tells them apart."""
    monkeypatch.setattr(invoices, "_key_hashes", lambda frame: np.zeros(len(frame), dtype=np.uint64))
    engine = open_ledger(Settings(tmp_path, database_url))
    try:
        with engine.begin() as conn:
            judged = invoices.JudgedKeys(conn, judged_file(conn, ["INV-1"]))
            judged.add(keys(["INV-1"]), np.array([2]))
            found = judged.lines_of(keys(["INV-1", "INV-2"]))
    finally:
        engine.dispose()
    assert found.tolist() == [2, pd.NA]
