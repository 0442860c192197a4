"""The creditor ingest stage (mission.md, formats.md §1): each creditor's inbox through the intake.

A creditor's inbox is a party of `pipeline.intake`; its files are handled by kind (`handler_for`):
instruction files (`instructions.InstructionFiles`), invoice CSV and UBL XML (`invoices.InvoiceFiles`),
anything else rejected whole as UNSUPPORTED_FILE. Each file is answered with its receipt, an export
rendered from the ledger (`Receipts`).

`prepare` runs once per pass (per DAG run): the migrated ledger, the party folders, the scratch folder,
the creditors' master data in the ledger. `creditors_with_files` lists who has files waiting (the DAG maps over them),
`run_creditor` takes one creditor's files (one mapped task), `run` does all of it (`inkasso ingest`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from time import time
from typing import BinaryIO

from sqlalchemy import Connection, Engine

from pipeline import exports
from pipeline.config import Creditor, Registry, Settings
from pipeline.exporters.receipt import receipt_name, write_receipt, write_rejection
from pipeline.home import Home
from pipeline.intake import FileRecord, Handler, Intake, Party, Taken, no_checkpoint
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.ledger.listings import LedgerListings
from pipeline.parsers import FileRejected
from pipeline.stages.ingest.instructions import InstructionFiles
from pipeline.stages.ingest.invoices import InvoiceFiles
from pipeline.transport import TransportError
from pipeline.transport.parties import PartyFiles, open_party_files

log = logging.getLogger(__name__)


@dataclass
class IngestCounts:
    """What a pass did: small enough for an Airflow XCom, and free of personal data."""

    files: int = 0
    files_rejected: int = 0
    files_seen_before: int = 0
    rows: int = 0
    rows_taken: int = 0
    rows_rejected: int = 0
    cases_opened: int = 0
    receipts: list[str] = field(default_factory=list)

    def add(self, taken: Taken) -> None:
        if taken.answer is not None:
            self.receipts.append(taken.answer)
        if taken.seen_before:
            self.files_seen_before += 1
        elif taken.record is not None:
            record = taken.record
            self.files += 1
            self.files_rejected += record.status == "REJECTED"
            self.rows += record.rows_total
            self.rows_taken += record.rows_accepted
            self.rows_rejected += record.rows_total - record.rows_accepted
            self.cases_opened += record.cases_opened

    def as_result(self) -> dict:
        return asdict(self)


def creditor_party(creditor_id: str) -> Party:
    return Party("creditor", creditor_id, "creditors", f"creditors/{creditor_id}")


class Unsupported:
    kind = "unsupported"

    def handle(self, conn, path, context):
        raise FileRejected("UNSUPPORTED_FILE", "only invoice files (.csv, UBL .xml) and instruction files "
                                               '(names starting with "instructions") are taken here')


def handler_for(name: str, registry: Registry, creditor: Creditor) -> Handler:
    """The handler of a creditor's file, by its name: instructions*, *.csv, *.xml; anything else is refused."""
    lower = name.lower()
    if lower.startswith("instructions"):
        return InstructionFiles(registry, creditor)
    if lower.endswith(".csv"):
        return InvoiceFiles("invoice_csv", registry, creditor)
    if lower.endswith(".xml"):
        return InvoiceFiles("invoice_xml", registry, creditor)
    return Unsupported()


class Receipts:
    """Each creditor file's answer: its receipt (formats.md §1.4), rendered from the ledger."""

    kind = "receipt"

    def owed(self, file: FileRecord, party: Party, as_of: date, run_id: str) -> exports.Owed:
        return exports.Owed(self.kind, str(file.id), party.transport, party.outbox,
                            receipt_name(file.file_name, file.received_at), as_of, run_id, file_id=file.id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        record = repo.file_record(conn, export.file_id)
        if record.status == "REJECTED":
            write_rejection(sink, record.rejection_code, record.rejection_message)
        else:
            write_receipt(sink, repo.receipt_of(conn, record.id), instructions=record.kind == "instructions")


def prepare(settings: Settings) -> tuple[Registry, Engine]:
    """Once a pass, before any inbox: the migrated ledger, the party folders, the scratch folder without what
    killed processes left there, and the creditors of the registry in the ledger."""
    registry = settings.load_registry()
    engine = open_ledger(settings)
    home = Home(settings.home)
    home.create_party_folders(registry)
    home.scratch.mkdir(parents=True, exist_ok=True)
    home.remove_stale_scratch(time())
    with engine.begin() as conn:
        repo.sync_creditors(conn, registry)
    return registry, engine


def creditors_with_files(settings: Settings, now: float | None = None) -> list[str]:
    """Prepare the pass, then the ids of the creditors whose inbox holds complete files."""
    registry, engine = prepare(settings)
    now = time() if now is None else now
    try:
        with open_party_files(settings.home, registry, "creditors", LedgerListings(engine)) as files:
            return [cid for cid in registry.creditors if _has_files(files, cid, registry.settle_seconds, now)]
    finally:
        engine.dispose()


def _has_files(files: PartyFiles, creditor_id: str, settle_seconds: int, now: float) -> bool:
    """Whether the creditor's inbox has complete files; an inbox that cannot be listed for a lasting reason
    counts as having some, so that the creditor's own task fails and says why, and the others go on."""
    try:
        return bool(files.inbox(creditor_party(creditor_id).inbox).list_ready(settle_seconds, now))
    except TransportError as error:
        if error.transient:
            raise
        log.error("%s: inbox cannot be listed: %s", creditor_id, error)
        return True


def run(settings: Settings, as_of: date, run_id: str, creditor_id: str | None = None,
        settle_seconds: int | None = None, on_file: Callable[[str, Taken], None] | None = None,
        checkpoint: Callable[[str], None] = no_checkpoint,
        on_progress: Callable[[str, str, int], None] | None = None) -> dict:
    """One whole pass, as `inkasso ingest` runs it: prepare, then every creditor's inbox (or one's).

    ``on_file(creditor, taken)`` hears of each file taken, ``on_progress(creditor, file name, rows)`` of each
    batch of rows handled inside a file."""
    if creditor_id is not None:
        settings.load_registry().creditor(creditor_id)  # an unknown id changes nothing, not even the folders
    registry, engine = prepare(settings)
    engine.dispose()
    ids = [creditor_id] if creditor_id else list(registry.creditors)
    return _ingest(settings, registry, as_of, run_id, ids, settle_seconds, on_file, checkpoint, on_progress)


def run_creditor(settings: Settings, as_of: date, run_id: str, creditor_id: str) -> dict:
    """One creditor's inbox, once the pass is prepared (a mapped task of the DAG)."""
    return _ingest(settings, settings.load_registry(), as_of, run_id, [creditor_id], None, None, no_checkpoint,
                   None)


def _ingest(settings: Settings, registry: Registry, as_of: date, run_id: str, creditor_ids: list[str],
            settle_seconds: int | None, on_file, checkpoint, on_progress) -> dict:
    for cid in creditor_ids:
        registry.creditor(cid)
    settle = registry.settle_seconds if settle_seconds is None else settle_seconds
    counts = IngestCounts()
    failures = []
    engine = open_ledger(settings)
    try:
        with open_party_files(settings.home, registry, "creditors", LedgerListings(engine)) as files:
            for cid in creditor_ids:
                party = creditor_party(cid)
                creditor = registry.creditors[cid]
                intake = Intake(engine, Home(settings.home), party, files.inbox(party.inbox),
                                files.outbox(party.outbox), lambda name: handler_for(name, registry, creditor),
                                Receipts(), as_of, run_id, checkpoint, on_progress)
                try:
                    intake.run(intake.inbox.list_ready(settle, time()),
                               on_file=lambda taken: _count(counts, cid, taken, on_file))
                except TransportError as error:  # a lasting fault of one creditor's files: the others go on
                    if error.transient:
                        raise
                    failures.append(str(error))
    finally:
        engine.dispose()
    if failures:
        raise TransportError("; ".join(failures), transient=False)
    return counts.as_result()


def _count(counts: IngestCounts, creditor_id: str, taken: Taken, on_file) -> None:
    counts.add(taken)
    if on_file is not None:
        on_file(creditor_id, taken)
