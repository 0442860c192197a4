"""Exactly once for every file we write: a receipt, the day's letters, a partner's week, a settlement.

1. `owe`: in the transaction that makes the ledger owe a file, record it in ``exports`` by its natural
   key (the receipt of a file; the letters of a day; a partner and ISO week; a creditor and period), with
   its outbox and its name. A key recorded before keeps its record.
2. `deliver`: render it from the ledger into a scratch file (streamed: a million lines are never one
   ``bytes`` in memory), put it through the party's outbox under a temporary name and rename it, then
   record it delivered with the SHA-256 of its bytes.

Rendering is a pure function of the ledger, so a re-run renders the same bytes: an export already in its
outbox is left alone (and recorded delivered, if its run stopped before it could say so); one the outbox
lost is rendered again and must come out byte for byte as first delivered (else the run stops: the
ledger changed under a file we sent). A new stage adds a `Renderer`; this protocol does not change.
"""
from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy import Connection, Engine

from pipeline.ledger import repository as repo
from pipeline.transport import Outbox

COPY_CHUNK = 1 << 20


class Renderer(Protocol):
    kind: str   # the exports' kind it renders, e.g. "receipt"

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        """Write the export's bytes to ``sink``, read from the ledger only."""


@dataclass(frozen=True)
class Owed:
    kind: str
    natural_key: str
    party: str          # the [transport] party whose outbox takes it: creditors, finance, letters, partner
    folder: str         # that outbox, relative: creditors/acme/outbox
    file_name: str
    as_of: date
    run_id: str
    file_id: int | None = None


class ExportChanged(RuntimeError):
    """An export rendered again differs from the bytes delivered before: the ledger changed under it."""


def owe(conn: Connection, owed: Owed) -> None:
    """Record the export inside the caller's transaction (a key recorded before is kept as it was)."""
    repo.insert_export(conn, kind=owed.kind, natural_key=owed.natural_key, party=owed.party, folder=owed.folder,
                       file_name=owed.file_name, file_id=owed.file_id, as_of=owed.as_of, run_id=owed.run_id)


def deliver(engine: Engine, kind: str, natural_key: str, renderer: Renderer, outbox: Outbox, scratch: Path) -> str:
    """Put the export into its outbox unless it is there; return its name.

    The export's record is locked for the delivery (PostgreSQL: its row; SQLite: the write lock), so that two
    workers never put the same file at once: the second finds it delivered."""
    with engine.begin() as conn:
        export = repo.lock_export(conn, kind, natural_key)
        if export is None:
            raise LookupError(f"no {kind} export {natural_key!r} is owed")
        if outbox.exists(export.file_name):
            if export.delivered_at is None:  # put by a run that stopped before it could record it
                repo.mark_delivered(conn, export.id, export.sha256, export.size_bytes, utc_now())
            return export.file_name
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=scratch) as rendered:
            renderer.render(conn, export, rendered)
            sha256, size = _digest(rendered)
            if export.sha256 is not None and export.sha256 != sha256:
                raise ExportChanged(f"{kind} {export.file_name} renders differently from the bytes delivered "
                                    f"before (sha256 {export.sha256[:12]}…, now {sha256[:12]}…): the ledger changed "
                                    "under it")
            rendered.seek(0)
            outbox.put(export.file_name, rendered)
        repo.mark_delivered(conn, export.id, sha256, size, utc_now())
    return export.file_name


def pending(engine: Engine, kind: str, folder: str) -> list[str]:
    """The natural keys of the exports of ``kind`` into ``folder`` that are owed and not delivered yet (their
    run stopped after the commit that owed them): every pass delivers them first."""
    with engine.connect() as conn:
        return repo.undelivered_exports(conn, kind, folder)


def utc_now() -> datetime:
    """The current UTC time in whole seconds, without a zone (as the ledger stores it)."""
    return datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)


def _digest(stream: BinaryIO) -> tuple[str, int]:
    stream.seek(0)
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: stream.read(COPY_CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
