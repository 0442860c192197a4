"""A large invoice file read ahead by a reader process (`pipeline.stages.ingest.reading`): the writer gets the
batches it would have read itself, a problem the reader meets arrives as it was raised there, and a reader
that dies fails the file with nothing written. The tests imported at the end run again here with every file
read ahead (READ_AHEAD_BYTES = 0)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from pipeline.ledger import open_ledger
from pipeline.ledger.schema import ingested_files, invoices
from pipeline.parsers import FileRejected
from pipeline.stages.ingest import reading
from tests.conftest import AS_OF, DATA, drop, only_receipt, receipts, run_ingest
from tests.integration.test_outcomes import (  # noqa: F401  (run again here, every file read ahead)
    test_a_file_level_problem_rejects_the_whole_file_with_one_receipt_line,
    test_credit_notes_reduce_close_and_are_rejected_when_they_cannot_apply)
from tests.integration.test_ubl_ingest import test_a_wrapper_is_judged_document_by_document  # noqa: F401

BENCH = Path(__file__).parents[2] / "bench"


@pytest.fixture(autouse=True)
def every_file_read_ahead(monkeypatch):
    monkeypatch.setattr(reading, "READ_AHEAD_BYTES", 0)


def a_reading(settings, path: Path, kind: str = "invoice_csv", creditor: str = "acme") -> reading.Reading:
    registry = settings.load_registry()
    return reading.Reading(kind, path, registry.creditor(creditor), AS_OF, registry.supported_countries,
                           registry.max_file_bytes, registry.max_xml_document_bytes)


def generated(path: Path, rows: int) -> Path:
    """The benchmark's rows (2 % with a bad amount): more than one batch of the CSV reader at 100,000."""
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(BENCH.parent)!r}); "
                    f"from bench.bench_ingest import generate; from pathlib import Path; "
                    f"generate(Path({str(path)!r}), {rows})"], check=True)
    return path


def test_the_batches_read_ahead_are_the_batches_read_in_process(settings, tmp_path):
    data = generated(tmp_path / "invoices.csv", 100_000)
    ahead = list(reading.judged_batches(a_reading(settings, data)))
    in_process = list(a_reading(settings, data).batches())
    assert [len(frame) for frame in ahead] == [len(frame) for frame in in_process]
    assert len(ahead) > 1 and sum(map(len, ahead)) == 100_000
    for read_ahead, read_here in zip(ahead, in_process):
        pd.testing.assert_frame_equal(read_ahead, read_here)
    rejected = pd.concat(ahead)["outcome"].value_counts().to_dict()
    assert rejected == pd.concat(in_process)["outcome"].value_counts().to_dict()
    assert set(rejected) == {"BAD_AMOUNT"} and 1_500 < rejected["BAD_AMOUNT"] < 2_500


def test_an_xml_file_read_ahead_gives_the_documents_read_in_process(settings):
    path = DATA / "ubl" / "peppol-bis3" / "examples" / "base-example.xml"
    [ahead] = reading.judged_batches(a_reading(settings, path, kind="invoice_xml"))
    [in_process] = a_reading(settings, path, kind="invoice_xml").batches()
    pd.testing.assert_frame_equal(ahead, in_process)
    assert ahead["invoice_number"].tolist() == ["Snippet1"]


def test_a_problem_the_reader_meets_is_raised_as_it_was_raised_there(settings, tmp_path):
    """A byte that is not UTF-8 on the last line, in the reader's batches (the first is judged here)."""
    data = generated(tmp_path / "invoices.csv", 100_000)
    with data.open("ab") as fh:
        fh.write(b"INV-X,2026-01-01,2026-01-31,10.00,DKK,D1,consumer,Debtor \xff,Vej 1,1000,By,DK,\n")
    with pytest.raises(FileRejected) as raised:
        list(reading.judged_batches(a_reading(settings, data)))
    assert (raised.value.code, raised.value.message) == (
        "BAD_ENCODING", 'line 100002 is not valid utf-8 (if the file is Windows-1252, set encoding = "cp1252" '
                        'in [creditor.csv])')


def test_a_reader_that_dies_fails_the_file_which_stays_in_the_inbox_with_nothing_written(settings, monkeypatch):
    program = reading.READER
    monkeypatch.setattr(reading, "READER", "import sys; sys.stdin.buffer.read(); sys.exit(3)")
    content = (DATA / "outcome_accepted.csv").read_bytes()
    drop(settings, "acme", "invoices.csv", content)
    with pytest.raises(RuntimeError, match=r"the reader process ended before the end of the file "
                                           r"\(exit status 3\)"):
        run_ingest(settings, AS_OF, "run-1")
    assert (settings.home / "creditors" / "acme" / "inbox" / "invoices.csv").read_bytes() == content
    assert receipts(settings, "acme") == []
    engine = open_ledger(settings)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(invoices)).scalar_one() == 0
            assert conn.execute(select(func.count()).select_from(ingested_files)).scalar_one() == 0
    finally:
        engine.dispose()
    monkeypatch.setattr(reading, "READER", program)
    again = run_ingest(settings, AS_OF, "run-2")
    assert (again.files, again.rows, again.rows_taken) == (1, 3, 3)
    assert [line["outcome"] for line in only_receipt(settings, "acme")] == ["ACCEPTED"] * 3 + ["SUMMARY"]
