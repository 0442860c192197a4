"""The ledger: schema, migrations, the money vocabulary, balances, bulk writes and locks.

Every stage starts with `open_ledger`."""
from __future__ import annotations

from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.ledger.db import make_engine, migrate


def open_ledger(settings: Settings) -> Engine:
    """The ledger's engine, migrated to the newest schema."""
    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine
