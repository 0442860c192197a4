"""The Alembic migrations build exactly the tables `pipeline/ledger/schema.py` describes, on both databases."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pipeline.ledger.db import make_engine, migrate
from pipeline.ledger.schema import metadata


def test_the_migrated_ledger_matches_the_schema(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert [d for d in differences if not (isinstance(d, tuple) and d[0] == "remove_table"
                                           and d[1].name == "alembic_version")] == []
