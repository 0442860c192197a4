"""Exactly once for any party's file: the protocol every stage that reads an inbox uses.

For each complete file of one party's inbox, in this order (each name is a checkpoint, see below):

1. ``fetched``: the file is copied to scratch and hashed; (party, SHA-256) is its natural key. A key seen
   before goes straight to 3: the file was taken already, only its delivery may be unfinished.
2. ONE transaction: ``locked`` (the party's lock: its files are judged one after the other), ``recorded``
   (the file's record), ``handled`` (the `Handler` of its kind wrote what the file says), the answer the
   file is owed (an export), and ``kept``: the raw bytes stay, in archive/ (by SHA-256, so a rolled back
   try leaves nothing wrong). A `FileRejected` from the handler rolls all of it back; the file is then
   recorded as rejected with its code and message (``rejected``), kept in quarantine/, and owed its answer
   all the same. A rival worker that recorded the key first wins by the unique key: this one steps aside.
   ``committed``.
3. ``answered``: the answer goes out through the export protocol (a party may be owed none: the bank).
4. ``removed``: the file leaves the inbox.

A crash before the commit leaves the ledger and the inbox as they were; a crash after it makes the next
pass find the key and redo 3-4, which write the same bytes. The bytes are kept before the commit, so that
a sender who takes the file away after it is taken takes nothing from us; and every pass first delivers
the answers an earlier pass owed and did not deliver. The protocol calls ``checkpoint`` with each
step's name once the step is done, and hands it to the handler, which calls it inside the transaction
(`Context.checkpoint`): tests stop the protocol there, between any two steps.
"""
from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from time import monotonic
from typing import Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from pipeline import exports
from pipeline.exports import utc_now
from pipeline.home import Home
from pipeline.ledger import repository as repo
from pipeline.parsers import FileRejected
from pipeline.transport import Inbox, InboxFile, Outbox, TransportError
from pipeline.transport.local import copy_atomically

log = logging.getLogger(__name__)
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Party:
    """Whose inbox: ``kind`` and ``id`` key its files; ``transport`` is its ``[transport]`` key; ``folder``
    holds its inbox and outbox (``creditors/acme``, ``bank``, ``partners/alektum``)."""

    kind: str
    id: str
    transport: str
    folder: str

    @property
    def inbox(self) -> str:
        return f"{self.folder}/inbox"

    @property
    def outbox(self) -> str:
        return f"{self.folder}/outbox"

    def __str__(self) -> str:
        return self.folder


def no_checkpoint(step: str) -> None:
    """Production runs straight through."""


def no_progress(rows: int) -> None:
    """Nobody is watching."""


@dataclass(frozen=True)
class Context:
    """What a handler is told about the file it handles."""

    party: Party
    file_id: int
    file_name: str
    as_of: date
    run_id: str
    checkpoint: Callable[[str], None] = no_checkpoint
    progress: Callable[[int], None] = no_progress   # told the rows handled so far, batch by batch


@dataclass(frozen=True)
class Handled:
    rows: int
    taken: int
    cases_opened: int = 0


class Handler(Protocol):
    kind: str   # recorded as the file's kind

    def handle(self, conn: Connection, path: Path, context: Context) -> Handled:
        """Write what the file says inside the caller's transaction; raise FileRejected to refuse it whole."""


@dataclass(frozen=True)
class FileRecord:
    id: int
    file_name: str
    received_at: datetime
    status: str


class Answer(exports.Renderer, Protocol):
    """The export a party is owed for each of its files (a creditor's receipt), and how it is rendered."""

    def owed(self, file: FileRecord, party: Party, as_of: date, run_id: str) -> exports.Owed: ...


@dataclass(frozen=True)
class Taken:
    """What a pass did with one file: ``record`` is None when another worker holds it."""

    name: str
    record: object | None = None
    seen_before: bool = False
    answer: str | None = None


class Intake:
    """One pass over one party's inbox."""

    def __init__(self, engine: Engine, home: Home, party: Party, inbox: Inbox, outbox: Outbox | None,
                 handler_for: Callable[[str], Handler], answer: Answer | None, as_of: date, run_id: str,
                 checkpoint: Callable[[str], None] = no_checkpoint,
                 on_progress: Callable[[str, str, int], None] | None = None):
        self.engine = engine
        self.home = home
        self.party = party
        self.inbox = inbox
        self.outbox = outbox
        self.handler_for = handler_for
        self.answer = answer
        self.as_of = as_of
        self.run_id = run_id
        self.checkpoint = checkpoint
        self.on_progress = on_progress

    def run(self, files: list[InboxFile], on_file: Callable[[Taken], None] | None = None) -> list[Taken]:
        """Take ``files`` (from `Inbox.list_ready`). A file that cannot be read or answered for a reason
        that will not pass by itself (permission denied, say) is left in the inbox, the others are taken,
        and the pass then fails naming it; a transient fault that outlasts the retries fails at once."""
        taken, failures = [], []
        if self.answer is not None:
            for key in exports.pending(self.engine, self.answer.kind, self.party.outbox):
                exports.deliver(self.engine, self.answer.kind, key, self.answer, self.outbox, self.home.scratch)
        for file in files:
            try:
                result = self.take(file)
            except TransportError as error:
                if error.transient:
                    raise
                log.error("%s/%s: left in the inbox: %s", self.party, file.name, error)
                failures.append(str(error))
                continue
            taken.append(result)
            if on_file is not None:
                on_file(result)
        if failures:
            raise TransportError(f"{self.party.kind} {self.party.id}: {len(failures)} file(s) left in the inbox: "
                                 + "; ".join(failures), transient=False)
        return taken

    def take(self, file: InboxFile) -> Taken:
        self.home.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.home.scratch) as scratch:
            local = Path(scratch) / "data"
            try:
                self.inbox.fetch(file, local)
            except FileNotFoundError:
                # gone since the listing: another worker took it (and removed it after its commit), or its
                # sender withdrew it before it was taken; either way there is nothing to take here
                log.info("%s/%s: no longer in the inbox; left to whoever took it", self.party, file.name)
                return Taken(file.name)
            sha256 = _sha256(local)
            self.checkpoint("fetched")
            with self.engine.connect() as conn:
                record = repo.find_file(conn, self.party.kind, self.party.id, sha256)
            seen_before = record is not None
            if seen_before:
                log.info("%s/%s: already taken as file %s; finishing its delivery", self.party, file.name, record.id)
                self._keep(local, record.sha256, record.file_name, rejected=record.status == "REJECTED")
            else:
                started = monotonic()
                record = self._record(local, file, sha256)
                if record is None:
                    return Taken(file.name)  # another worker holds this file; it will finish it
                log.info("%s/%s: %s as file %s, %d rows, %d taken, in %.1f s", self.party, file.name,
                         record.status.lower(), record.id, record.rows_total, record.rows_accepted,
                         monotonic() - started)
        answer = self._answer(record)
        self.inbox.remove(file)
        self.checkpoint("removed")
        return Taken(file.name, record, seen_before, answer)

    def _progress_of(self, name: str) -> Callable[[int], None]:
        on_progress = self.on_progress
        return no_progress if on_progress is None else lambda rows: on_progress(self.party.id, name, rows)

    def _record(self, local: Path, file: InboxFile, sha256: str):
        """Steps 2: the file's transaction (or its rejection's); None when a rival worker won the key."""
        handler = self.handler_for(file.name)
        values = dict(party_kind=self.party.kind, party_id=self.party.id, sha256=sha256, file_name=file.name,
                      size_bytes=file.size, kind=handler.kind, as_of=self.as_of, run_id=self.run_id)
        try:
            try:
                with self.engine.begin() as conn:
                    file_id = self._open_record(conn, values, status="PROCESSED")
                    context = Context(self.party, file_id, file.name, self.as_of, self.run_id, self.checkpoint,
                                      self._progress_of(file.name))
                    handled = handler.handle(conn, local, context)
                    repo.finish_file(conn, file_id, rows_total=handled.rows, rows_accepted=handled.taken,
                                     cases_opened=handled.cases_opened)
                    self.checkpoint("handled")
                    self._owe_answer(conn, file_id)
                    self._keep(local, sha256, file.name, rejected=False)
            except FileRejected as rejection:
                log.warning("%s/%s: file rejected, %s: %s", self.party, file.name, rejection.code, rejection.message)
                with self.engine.begin() as conn:
                    file_id = self._open_record(conn, values, status="REJECTED", rejection_code=rejection.code,
                                                rejection_message=rejection.message)
                    self.checkpoint("rejected")
                    self._owe_answer(conn, file_id)
                    self._keep(local, sha256, file.name, rejected=True)
        except IntegrityError:
            with self.engine.connect() as conn:
                if repo.find_file(conn, self.party.kind, self.party.id, sha256) is None:
                    raise
            log.info("%s/%s: taken by another worker", self.party, file.name)
            return None
        self.checkpoint("committed")
        with self.engine.connect() as conn:
            return repo.find_file(conn, self.party.kind, self.party.id, sha256)

    def _open_record(self, conn: Connection, values: dict, **status) -> int:
        repo.lock_party(conn, self.party.kind, self.party.id)
        self.checkpoint("locked")
        file_id = repo.insert_file(conn, received_at=self._received_at(conn, values["file_name"]), **values,
                                   **status)
        self.checkpoint("recorded")
        return file_id

    def _received_at(self, conn: Connection, file_name: str) -> datetime:
        """Now, in whole seconds; later than any earlier file of the same name (it may name the answer, and
        an earlier file of that name taken in the same second would otherwise own that name)."""
        received_at = utc_now()
        latest = repo.latest_received_at(conn, self.party.kind, self.party.id, file_name)
        if latest is not None and latest >= received_at:
            received_at = latest + timedelta(seconds=1)
        return received_at

    def _owe_answer(self, conn: Connection, file_id: int) -> None:
        if self.answer is None:
            return
        record = repo.file_record(conn, file_id)
        exports.owe(conn, self.answer.owed(FileRecord(record.id, record.file_name, record.received_at,
                                                      record.status), self.party, self.as_of, self.run_id))

    def _keep(self, local: Path, sha256: str, file_name: str, rejected: bool) -> None:
        if rejected:
            target = self.home.quarantine_path(self.party.folder, sha256, file_name)
        else:
            target = self.home.archive_path(sha256)
        if not target.exists():
            with local.open("rb") as raw:
                copy_atomically(raw, target)
        self.checkpoint("kept")

    def _answer(self, record) -> str | None:
        if self.answer is None:
            return None
        owed = self.answer.owed(FileRecord(record.id, record.file_name, record.received_at, record.status),
                                self.party, self.as_of, self.run_id)
        name = exports.deliver(self.engine, owed.kind, owed.natural_key, self.answer, self.outbox, self.home.scratch)
        self.checkpoint("answered")
        return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
