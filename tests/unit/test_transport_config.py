"""The parts of the SFTP transport that need no server: `[transport]` in the registry, the connection's
fields, safe remote paths, host-key entries, fault classification and the listings that prove a file complete
(kept in a real SQLite ledger)."""
from __future__ import annotations

import errno
import json
import socket

import paramiko
import pytest
from sqlalchemy import select

from pipeline.config import TransportChoice
from pipeline.ledger.db import make_engine, migrate
from pipeline.ledger.listings import LedgerListings
from pipeline.ledger.schema import inbox_sightings
from pipeline.transport import TransportError
from pipeline.transport.parties import sftp_endpoint
from pipeline.transport.sftp import SftpEndpoint, Sightings, classify, host_key_of, is_safe_name, remote_join
from tests.unit.test_config import REGISTRY, load, problems

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
ENDPOINT = SftpEndpoint("sftp.example", 2222, "inkasso", HOST_KEY, password="s3cret")


def test_every_party_is_local_unless_configured(tmp_path):
    registry = load(tmp_path, REGISTRY)
    assert registry.transport == {party: TransportChoice() for party in ("creditors", "bank", "partner", "finance", "letters")}


def test_a_party_on_sftp_names_its_connection(tmp_path):
    registry = load(tmp_path, REGISTRY + '[transport]\ncreditors = { kind = "sftp", connection = "creditors_sftp", '
                                         'base_path = "/srv/inkasso/" }\nbank = "local"\n')
    assert registry.transport["creditors"] == TransportChoice("sftp", "creditors_sftp", "/srv/inkasso")
    assert registry.transport["bank"] == TransportChoice()


@pytest.mark.parametrize("block, problem", [
    ('creditors = "ftp"', "transport.creditors.kind: 'ftp' must be one of local, sftp"),
    ('creditors = "sftp"', "transport.creditors.connection: is required for sftp: the Airflow connection id of "
                           "the server"),
    ('debtors = "local"', "transport.debtors: unknown party (known: creditors, bank, partner, finance, letters)"),
    ('bank = { kind = "sftp", connection = "b", base_path = "in/../out" }',
     "transport.bank.base_path: 'in/../out' must not contain .."),
])
def test_transport_problems_name_their_key(tmp_path, block, problem):
    assert problems(tmp_path, REGISTRY + f"[transport]\n{block}\n") == problem


@pytest.fixture
def connection(airflow_home, monkeypatch):
    def define(**fields):
        monkeypatch.setenv("AIRFLOW_CONN_PARTNER_SFTP", json.dumps({"conn_type": "sftp", **fields}))
        return sftp_endpoint(TransportChoice("sftp", "partner_sftp", "/data"))
    return define


def test_the_endpoint_comes_from_the_airflow_connection(connection):
    endpoint = connection(host="sftp.example", port=2222, login="inkasso", password="s3cret",
                          extra={"host_key": HOST_KEY, "attempts": "5", "backoff_seconds": 0.5, "timeout": 7})
    assert endpoint == SftpEndpoint("sftp.example", 2222, "inkasso", HOST_KEY, password="s3cret", base_path="/data",
                                    timeout=7.0, attempts=5, backoff_seconds=0.5)
    assert "s3cret" not in repr(endpoint)


def test_a_connection_must_pin_the_host_key(connection):
    with pytest.raises(TransportError, match="has no extra host_key"):
        connection(host="sftp.example", login="inkasso", password="x")
    with pytest.raises(TransportError, match="no_host_key_check is refused"):
        connection(host="sftp.example", login="inkasso", extra={"host_key": HOST_KEY, "no_host_key_check": "true"})


def test_a_connection_needs_a_password_or_key_and_sane_numbers(connection):
    with pytest.raises(TransportError, match="has neither a password nor a private_key or key_file"):
        connection(host="sftp.example", login="inkasso", extra={"host_key": HOST_KEY})
    with pytest.raises(TransportError, match="attempts must be at least 1"):
        connection(host="sftp.example", login="inkasso", password="x", extra={"host_key": HOST_KEY, "attempts": 0})


def test_an_undefined_connection_says_how_to_define_it(airflow_home):
    with pytest.raises(TransportError) as caught:
        sftp_endpoint(TransportChoice("sftp", "nowhere", ""))
    assert str(caught.value) == ("Airflow connection 'nowhere' is not defined (add it in Airflow, or set "
                                 "AIRFLOW_CONN_NOWHERE in the environment)")


def test_remote_paths_are_joined_safely():
    assert remote_join("", "creditors/acme/inbox", "a.csv") == "creditors/acme/inbox/a.csv"
    assert remote_join("/srv/inkasso", "creditors/acme/outbox") == "/srv/inkasso/creditors/acme/outbox"
    for bad in ("../etc", "/etc/passwd", "a//b", "a/./b", "a\\b"):
        with pytest.raises(TransportError, match="unsafe remote path part"):
            remote_join("/srv", bad)
    assert [is_safe_name(n) for n in ("a.csv", "..", ".", "a/b", "", "x\x00y", "..a.csv")] == [
        True, False, False, False, False, False, True]


def test_host_key_entries():
    assert host_key_of(HOST_KEY).get_name() == "ssh-ed25519"
    assert host_key_of(f"[sftp.example]:2222 {HOST_KEY}").get_base64() == HOST_KEY.split()[1]
    with pytest.raises(TransportError, match="must be the server's public key"):
        host_key_of("AAAAC3NzaC1lZDI1NTE5")
    with pytest.raises(TransportError, match="is not a public key"):
        host_key_of("ssh-ed25519 not-base64!")
    with pytest.raises(TransportError, match="not a @revoked line"):
        host_key_of(f"@revoked sftp.example {HOST_KEY}")


@pytest.mark.parametrize("exc, transient, text", [
    (paramiko.AuthenticationException("bad key"), False, "authentication failed for inkasso@sftp.example:2222"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), True, "connection refused by inkasso@sftp.example:2222"),
    (socket.timeout("timed out"), True, "inkasso@sftp.example:2222 did not answer in time"),
    (EOFError(), True, "connection to inkasso@sftp.example:2222 failed or dropped (EOFError: )"),
    (paramiko.SSHException("Error reading SSH protocol banner"), True, "connection to inkasso@sftp.example:2222 "
                                                                       "failed or dropped"),
    (OSError("Socket is closed"), True, "connection to inkasso@sftp.example:2222 dropped"),
    (ValueError("odd"), False, "ValueError: odd"),
])
def test_faults_are_classified_without_secrets(exc, transient, text):
    error = classify(exc, "list x", ENDPOINT)
    assert error.transient is transient
    assert str(error).startswith(f"list x: {text}")
    assert "s3cret" not in str(error)


def test_a_file_is_complete_after_two_listings_settle_seconds_apart(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrate(engine)
    store = LedgerListings(engine)
    sightings, other = Sightings(store, "creditors_sftp:creditors/acme/inbox"), Sightings(store, "x:elsewhere")
    assert sightings.ready({"a.csv": (10, 100), "b.csv": (5, 100)}, {"b.csv"}, 30, now=1000.0) == {"b.csv"}
    assert other.ready({"a.csv": (10, 100)}, set(), 30, now=1040.0) == set()         # another folder's a.csv
    assert sightings.ready({"a.csv": (10, 100)}, set(), 30, now=1029.0) == set()
    assert sightings.ready({"a.csv": (10, 100)}, set(), 30, now=1030.0) == {"a.csv"}
    assert sightings.ready({"a.csv": (12, 131)}, set(), 30, now=1031.0) == set()       # it grew: start again
    assert sightings.ready({"a.csv": (12, 131)}, set(), 30, now=1061.0) == {"a.csv"}
    assert sightings.ready({"a.csv": (12, 131)}, set(), 0, now=0.0) == {"a.csv"}       # settle 0: at once
    with engine.connect() as conn:
        assert conn.execute(select(inbox_sightings.c.location, inbox_sightings.c.name, inbox_sightings.c.size_bytes,
                                   inbox_sightings.c.mtime, inbox_sightings.c.first_seen)
                            .order_by(inbox_sightings.c.location)).all() == [
            ("creditors_sftp:creditors/acme/inbox", "a.csv", 12, 131, 1031.0), ("x:elsewhere", "a.csv", 10, 100, 1040.0)]
    engine.dispose()
