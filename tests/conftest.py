"""Shared fixtures: a throwaway INKASSO_HOME, the ledger on SQLite and on a real PostgreSQL, Airflow's
metadata database, and a real OpenSSH server for the SFTP transport.

PostgreSQL is the server at INKASSO_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
each test gets a database of its own, dropped afterwards. Where no server answers, the
PostgreSQL variants skip and say so. Likewise the SFTP tests skip, saying so, where `sshd` is not installed.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import uuid
import warnings
from types import SimpleNamespace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipeline import registry_text
from pipeline.airflow_runner import airflow_environment
from pipeline.config import Settings
from pipeline.home import Home
from pipeline.intake import no_checkpoint
from pipeline.stages import ingest
from tests.sshd import MISSING, SSHD, SftpServer, remove_server, start_server

DATA = Path(__file__).parent / "data"
AS_OF = date(2026, 11, 26)
PG_URL = os.environ.get("INKASSO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

REGISTRY = registry_text.registry([
    registry_text.ACME,
    registry_text.creditor("dansk", "Dansk Varme A/S", "DK13585628", "DK", "Varmevej 2, 2100 København Ø", "DKK",
                           "DK5000400440116243", "NDEADKKK",
                           csv=dict(encoding="cp1252", decimal=",", date_format="DD.MM.YYYY",
                                    columns={"fakturanr": "invoice_number", "kundenr": "debtor_id",
                                             "beløb": "amount"})),
    registry_text.creditor("svea", "Svensk Handel AB", "SE5560360793", "SE", "Storgatan 9, 111 22 Stockholm",
                           "SEK", "SE4550000000058398257466", "ESSESESS"),
], settle_seconds=0, title="# the tests' home: acme (canonical CSV), dansk (Danish cp1252 layout), svea (Swedish)")


@pytest.fixture(autouse=True)
def _environment_kept():
    """A test that runs `inkasso` in this process may set variables (AIRFLOW_HOME): none outlives the test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


class Pass(SimpleNamespace):
    """What one ingest pass returned (`pipeline.stages.ingest.run`), with attributes for the assertions."""

    def add(self, other: "Pass") -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


def run_ingest(settings: Settings, as_of: date, run_id: str, creditor_id: str | None = None,
               settle_seconds: int | None = None, checkpoint=no_checkpoint) -> Pass:
    """One ingest pass as `inkasso ingest` runs it."""
    return Pass(**ingest.run(settings, as_of, run_id, creditor_id, settle_seconds, checkpoint=checkpoint))


def _postgres_available() -> str | None:
    try:
        engine = create_engine(PG_URL)
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: no server here
        return f"PostgreSQL not reachable at {make_url(PG_URL).render_as_string(hide_password=True)} ({type(exc).__name__})"


_PG_SKIP = _postgres_available()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """The ledger on SQLite, then on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'inkasso.db'}"
        return
    if _PG_SKIP:
        pytest.skip(f"PostgreSQL variant skipped: {_PG_SKIP}")
    name = f"inkasso_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(tmp_path, database_url, monkeypatch) -> Settings:
    """A home with three creditors (acme: canonical CSV; dansk: Danish cp1252 layout; svea: Swedish)."""
    home = tmp_path / "home"
    monkeypatch.setenv("INKASSO_HOME", str(home))
    monkeypatch.setenv("INKASSO_DATABASE_URL", database_url)
    settings = Settings.from_env()
    Home(home).create()
    settings.registry_path.write_text(REGISTRY, encoding="utf-8")
    Home(home).create_party_folders(settings.load_registry())
    return settings


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory):
    """One Airflow metadata database for the session: Airflow reads its configuration once, at import."""
    root = tmp_path_factory.mktemp("airflow-session")
    env = airflow_environment(Settings(home=root, database_url=f"sqlite:///{root / 'unused.db'}"))
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update({k: v for k, v in env.items() if k.startswith("AIRFLOW")})
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from airflow.utils.db import initdb

    initdb()
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def sftp_server() -> SftpServer:
    """A real sshd on a free loopback port with a throwaway host key and user key."""
    if SSHD is None:
        pytest.skip(MISSING)
    server = start_server()
    yield server
    remove_server(server)


SFTP_CONNECTION = "creditors_sftp"
FAST_RETRIES = {"attempts": 3, "backoff_seconds": 0.1, "timeout": 10}


@pytest.fixture
def sftp_settings(settings, sftp_server, airflow_home, monkeypatch) -> Settings:
    """The test home with the creditors' files on the SFTP server (connection given as AIRFLOW_CONN_…)."""
    settings.registry_path.write_text(REGISTRY + f'\n[transport]\ncreditors = {{ kind = "sftp", '
                                                 f'connection = "{SFTP_CONNECTION}" }}\n', encoding="utf-8")
    use_connection(monkeypatch, sftp_server.connection(**FAST_RETRIES))
    shutil.rmtree(settings.home / "creditors")  # the local folders the plain home had: unused now
    return settings


def use_connection(monkeypatch, connection: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{SFTP_CONNECTION.upper()}", json.dumps(connection))


def drop(settings: Settings, creditor: str, name: str, content: bytes | str | Path) -> Path:
    """Put a file into a creditor's inbox as a creditor would."""
    if isinstance(content, Path):
        content = content.read_bytes()
    if isinstance(content, str):
        content = content.encode("utf-8")
    path = settings.home / "creditors" / creditor / "inbox" / name
    path.write_bytes(content)
    return path


def receipts(settings: Settings, creditor: str) -> list[Path]:
    return sorted((settings.home / "creditors" / creditor / "outbox").glob("receipt_*.csv"))


def read_receipt(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def only_receipt(settings: Settings, creditor: str) -> list[dict]:
    found = receipts(settings, creditor)
    assert len(found) == 1, found
    return read_receipt(found[0])
