"""What listings of remote inboxes saw (table ``inbox_sightings``): the ledger as the transport's
`ListingStore`, shared by every worker, so that the DAG's listing task and its ingest task may run on
different machines and still be the "two listings" that prove an SFTP file complete."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from pipeline.ledger.repository import CHUNK, dialect_insert
from pipeline.ledger.schema import inbox_sightings
from pipeline.transport import Seen


class LedgerListings:
    def __init__(self, engine: Engine):
        self.engine = engine

    def recall(self, location: str) -> Seen:
        with self.engine.connect() as conn:
            return {name: (size, mtime, first) for name, size, mtime, first in conn.execute(
                select(inbox_sightings.c.name, inbox_sightings.c.size_bytes, inbox_sightings.c.mtime,
                       inbox_sightings.c.first_seen).where(inbox_sightings.c.location == location)).all()}

    def remember(self, location: str, seen: Seen, forget: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            forget = list(forget)
            for start in range(0, len(forget), CHUNK):
                conn.execute(inbox_sightings.delete().where(inbox_sightings.c.location == location,
                                                            inbox_sightings.c.name.in_(forget[start:start + CHUNK])))
            if seen:
                conn.execute(dialect_insert(conn, inbox_sightings).on_conflict_do_nothing(), [
                    dict(location=location, name=name, size_bytes=size, mtime=mtime, first_seen=first)
                    for name, (size, mtime, first) in seen.items()])
