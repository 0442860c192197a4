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


def test_a_ledger_with_data_migrates_and_its_disputed_cases_keep_their_claims_disputed(settings):
    """A ledger at 0002 (made by migrating a used ledger down) upgrades in place: nothing is lost, the
    foreign keys hold, and the claims of a case that was DISPUTED as a whole are disputed since then."""
    from datetime import date

    from alembic import command
    from sqlalchemy import func, select

    from pipeline.ingest import run_ingest
    from pipeline.ledger.db import run_migration
    from pipeline.ledger.schema import case_events, cases, invoices, postings
    from tests.conftest import AS_OF, DATA, drop

    drop(settings, "acme", "cases.csv", DATA / "instructions" / "cases_acme.csv")
    drop(settings, "acme", "instructions.csv", "instruction,invoice_number,amount,date,note\n"
                                               "DISPUTE,A-3,,2026-11-20,\n")
    run_ingest(settings, AS_OF, "before")
    engine = make_engine(settings.database_url)
    tables = (invoices, cases, postings, case_events)

    def counts():
        with engine.connect() as conn:
            return [conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables]

    before = counts()
    run_migration(engine, lambda config: command.downgrade(config, "0002"))
    migrate(engine)
    assert counts() == before
    with engine.connect() as conn:
        disputed = dict(conn.execute(select(invoices.c.invoice_number, invoices.c.disputed_since)).all())
    engine.dispose()
    assert disputed == {"A-1": None, "A-2": None, "A-3": date(2026, 11, 20), "A-4": None, "A-5": None}
