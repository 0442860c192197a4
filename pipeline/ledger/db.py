"""Engine creation and migrations: SQLite by default, PostgreSQL when the URL says so."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from time import monotonic, sleep

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, text

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_SECONDS = 60
MIGRATION_LOCK_KEY = 0x696E6B61  # "inka": the advisory lock that makes concurrent migrations queue


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
    cursor = dbapi_connection.cursor()
    _journal_mode_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _journal_mode_wal(cursor) -> None:
    """Switch a new database to WAL (the mode is kept in the file, so this happens once per database).

    Switching needs the database to itself, and SQLite answers "database is locked" at once,
    without its busy timeout, while another connection holds it: so several first runs at once
    on a new database failed. Only the switch is retried; a database in WAL mode needs no lock."""
    deadline = monotonic() + SQLITE_BUSY_SECONDS
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or monotonic() > deadline:
                raise
            sleep(0.05)


def _sqlite_begin_immediate(conn) -> None:
    """Take SQLite's write lock at BEGIN, so two writers queue instead of failing mid-transaction."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already."""
    run_migration(engine, lambda config: command.upgrade(config, "head"))


def run_migration(engine: Engine, alembic_command) -> None:
    """Run ``alembic_command(config)`` in one transaction on ``engine``.

    SQLite changes a table by copying it (Alembic's batch mode) and dropping the old one, which rows of
    other tables still reference: its foreign-key checks are off for the migration (they can only be
    switched outside a transaction) and the whole database is checked before the commit instead, when a
    revision was applied: the check reads every row, seconds on a large ledger that every stage opens."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # on the driver's connection: SQLAlchemy's would begin a transaction first
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    # two first runs at once would both create the tables; the loser fails on a duplicate
                    # pg_type. The lock is held to the end of this transaction, so the second one then finds
                    # the schema at head. (SQLite: BEGIN IMMEDIATE already makes migrations queue.)
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                config.attributes["connection"] = connection
                before = _revision(connection)
                alembic_command(config)
                if sqlite and _revision(connection) != before and \
                        connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("the migration left rows whose foreign keys point nowhere; rolled back")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def _revision(connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
