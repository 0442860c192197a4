"""Exactly once for every file we write: a receipt, the day's letters, a partner's week, a settlement.

1. `owe`: in the transaction that makes the ledger owe a file, record it in ``exports`` by its natural
   key (the receipt of a file; the letters of a day; a partner and ISO week; a creditor and period), with
   its outbox and its name. A key recorded before keeps its record.
2. `deliver`: render it from the ledger into a scratch file (streamed: a million lines are never one
   ``bytes`` in memory), put it through the party's outbox under a temporary name and rename it, then
   record it delivered with the SHA-256 of its bytes.

Rendering is a pure function of the ledger, so a re-run renders the same bytes: an export already in its
outbox is left alone, one the outbox lost is rendered again and must come out byte for byte as first
delivered (else the run stops: the ledger changed under a file we sent). A new stage adds a `Renderer`;
this protocol does not change.
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
    """Put the export into its outbox unless it is there; return its name."""
    with engine.connect() as conn:
        export = repo.find_export(conn, kind, natural_key)
    if export is None:
        raise LookupError(f"no {kind} export {natural_key!r} is owed")
    if export.delivered_at is not None and outbox.exists(export.file_name):
        return export.file_name
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=scratch) as rendered:
        with engine.connect() as conn:
            renderer.render(conn, export, rendered)
        sha256, size = _digest(rendered)
        if export.sha256 is not None and export.sha256 != sha256:
            raise ExportChanged(f"{kind} {export.file_name} renders differently from the bytes delivered before "
                                f"(sha256 {export.sha256[:12]}…, now {sha256[:12]}…): the ledger changed under it")
        rendered.seek(0)
        outbox.put(export.file_name, rendered)
    with engine.begin() as conn:
        repo.mark_delivered(conn, export.id, sha256, size, datetime.now(timezone.utc).replace(tzinfo=None))
    return export.file_name


def _digest(stream: BinaryIO) -> tuple[str, int]:
    stream.seek(0)
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: stream.read(COPY_CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
