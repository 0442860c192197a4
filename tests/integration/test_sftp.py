"""The ingest stage over SFTP against a real OpenSSH server (tests/sshd.py), faults included.

A paramiko client acting as the creditor uploads into ``creditors/<id>/inbox`` on the server and
downloads the receipt from ``creditors/<id>/outbox``; the stage reaches the server through the Airflow
connection given as ``AIRFLOW_CONN_CREDITORS_SFTP``. Faults are real: the server's session processes are
killed mid-transfer, permissions are changed on the server's files, the host key or user key is wrong.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import paramiko
import pytest
from sqlalchemy import func, select

import pipeline.transport.sftp as sftp_module
from pipeline.cli import main
from pipeline.stages.ingest import creditors_with_files
from pipeline.ledger.schema import ingested_files, invoices
from pipeline.transport import TransportError
from tests.conftest import AS_OF, FAST_RETRIES, read_receipt, run_ingest, use_connection
from tests.integration.test_outcomes import Ledger
from tests.sshd import MISSING, SSHD, alive, free_port, remove_server, start_server

HEADER = ("invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,debtor_name,debtor_address_line1,"
          "debtor_postcode,debtor_city,debtor_country\n")
INBOX, OUTBOX = "creditors/acme/inbox", "creditors/acme/outbox"
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def rows(count: int, prefix: str = "S") -> str:
    return HEADER + "".join(f"{prefix}-{n},2026-05-01,2026-05-31,{2000 + n}.00,K{n},consumer,Debtor {n},Vej {n},"
                            f"2100,København,DK\n" for n in range(1, count + 1))


def big_file(count: int = 16_000) -> str:
    """About 8 MB: more than the connection delivers before the cut lands (downloads read ahead)."""
    return (HEADER.rstrip("\n") + ",description\n" + "".join(
        f"B-{n},2026-05-01,2026-05-31,{2000 + n}.00,K{n},consumer,Debtor {n},Vej {n},2100,København,DK,{'x' * 480}\n"
        for n in range(1, count + 1)))


def receipt_on_server(server, name: str) -> list[dict]:
    found = [n for n in server.listdir(OUTBOX) if n.startswith(f"receipt_{name}_")]
    assert len(found) == 1, server.listdir(OUTBOX)
    path = server.folder / "receipt.csv"
    path.write_bytes(server.download(f"{OUTBOX}/{found[0]}"))
    return read_receipt(path)


def ledger_files(settings) -> int:
    with Ledger(settings) as ledger:
        return ledger.conn.execute(select(func.count()).select_from(ingested_files)).scalar_one()


def logins(server) -> int:
    return (server.folder / "sshd.log").read_text().count("Accepted publickey for")


def test_files_uploaded_by_a_creditor_are_ingested_and_the_receipt_is_on_the_server(sftp_settings, sftp_server):
    sftp_server.upload(f"{INBOX}/march.csv", rows(3))
    sftp_server.upload(f"{INBOX}/.hidden.csv", rows(1, "H"))
    sftp_server.upload(f"{INBOX}/upload.csv.part", rows(1, "P"))
    sftp_server.upload("creditors/svea/inbox/s.csv", rows(1, "SE").replace("DK\n", "SE\n"))
    before = logins(sftp_server)

    counts = run_ingest(sftp_settings, AS_OF, "sftp-1")

    assert logins(sftp_server) - before == 1  # one connection for the whole pass, every creditor
    assert (counts.files, counts.rows, counts.rows_taken, counts.cases_opened) == (2, 4, 4, 4)
    lines = receipt_on_server(sftp_server, "march.csv")
    assert [(l["invoice_number"], l["outcome"]) for l in lines] == [
        ("S-1", "ACCEPTED"), ("S-2", "ACCEPTED"), ("S-3", "ACCEPTED"), ("", "SUMMARY")]
    assert sftp_server.listdir(INBOX) == [".hidden.csv", "upload.csv.part"]  # taken and removed; the rest stays
    assert not any(name.endswith(".tmp") for name in sftp_server.listdir(OUTBOX))
    sha = hashlib.sha256(rows(3).encode()).hexdigest()
    assert (sftp_settings.home / "archive" / sha[:2] / sha).read_text() == rows(3)
    with Ledger(sftp_settings) as ledger:
        assert ledger.amounts("acme") == {"S-1": 200100, "S-2": 200200, "S-3": 200300}
    assert not (sftp_settings.home / "creditors").exists()  # nothing of the creditors' is kept locally

    again = run_ingest(sftp_settings, AS_OF, "sftp-2")
    assert (again.files, again.files_seen_before) == (0, 0)
    assert len([n for n in sftp_server.listdir(OUTBOX) if n.startswith("receipt_")]) == 1


@SQLITE_ONLY
def test_a_creditor_with_files_is_found_over_sftp(sftp_settings, sftp_server):
    assert creditors_with_files(sftp_settings) == []
    sftp_server.upload("creditors/svea/inbox/s.csv", rows(1))
    assert creditors_with_files(sftp_settings) == ["svea"]


@SQLITE_ONLY
def test_a_file_is_complete_after_two_listings_settle_seconds_apart_or_with_a_done_sidecar(sftp_settings,
                                                                                          sftp_server):
    sftp_server.upload(f"{INBOX}/slow.csv", rows(2))
    sftp_server.upload(f"{INBOX}/marked.csv", rows(1, "M"))
    sftp_server.upload(f"{INBOX}/marked.csv.done", "")
    first = run_ingest(sftp_settings, AS_OF, "sftp-1", settle_seconds=1)
    assert first.files == 1 and first.receipts[0].startswith("receipt_marked.csv_")
    assert sftp_server.listdir(INBOX) == ["slow.csv"]
    time.sleep(1.1)
    second = run_ingest(sftp_settings, AS_OF, "sftp-2", settle_seconds=1)
    assert (second.files, second.rows_taken) == (1, 2)
    assert sftp_server.listdir(INBOX) == []


@SQLITE_ONLY
def test_a_file_written_in_slices_while_the_stage_lists_is_taken_only_whole(sftp_settings, sftp_server):
    content = rows(30).encode()
    slices = [content[i:i + 150] for i in range(0, len(content), 150)]
    sftp_server.upload(f"{INBOX}/growing.csv", b"")

    def write_slowly():
        with sftp_server.client() as client:
            with client.open(f"{INBOX}/growing.csv", "ab") as remote:
                for piece in slices:
                    remote.write(piece)
                    remote.flush()
                    time.sleep(0.15)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    passes = []
    while writer.is_alive():
        passes.append(run_ingest(sftp_settings, AS_OF, f"sftp-{len(passes)}", settle_seconds=1).files)
    writer.join()
    assert len(passes) >= 3 and sum(passes) == 0  # listed again and again while it grew, never taken
    taken, deadline = [], time.monotonic() + 10
    while not taken and time.monotonic() < deadline:  # once unchanged for a second, it is taken whole
        time.sleep(0.5)
        counts = run_ingest(sftp_settings, AS_OF, f"sftp-{len(passes)}", settle_seconds=1)
        taken += [(counts.files, counts.rows, counts.rows_taken)] if counts.files else []
    assert taken == [(1, 30, 30)]
    assert len(receipt_on_server(sftp_server, "growing.csv")) == 31


@SQLITE_ONLY
def test_a_wrong_host_key_is_refused_and_nothing_is_taken(sftp_settings, sftp_server, monkeypatch):
    other_key = (sftp_server.folder / "user_key.pub").read_text().split()[:2]
    use_connection(monkeypatch, sftp_server.connection(**FAST_RETRIES, host_key=" ".join(other_key)))
    sftp_server.upload(f"{INBOX}/a.csv", rows(1))
    with pytest.raises(TransportError) as caught:
        run_ingest(sftp_settings, AS_OF, "sftp-1")
    assert caught.value.transient is False
    assert str(caught.value).startswith(f"list {INBOX}: host key of {sftp_server.host}:{sftp_server.port} does "
                                        "not match the configured one (server offered ssh-ed25519 SHA256:")
    assert sftp_server.listdir(INBOX) == ["a.csv"]
    assert ledger_files(sftp_settings) == 0


@SQLITE_ONLY
def test_a_pinned_key_of_a_type_the_server_does_not_offer_is_refused(sftp_settings, sftp_server, monkeypatch):
    rsa = paramiko.RSAKey.generate(2048)
    use_connection(monkeypatch, sftp_server.connection(**FAST_RETRIES, host_key=f"ssh-rsa {rsa.get_base64()}"))
    with pytest.raises(TransportError) as caught:
        run_ingest(sftp_settings, AS_OF, "sftp-1")
    assert caught.value.transient is False
    assert str(caught.value).startswith(f"list {INBOX}: host key of 127.0.0.1:{sftp_server.port} does not match "
                                        "the configured one (server offered ssh-ed25519 SHA256:")


@SQLITE_ONLY
def test_an_unknown_host_is_never_trusted(sftp_settings, sftp_server, monkeypatch):
    connection = sftp_server.connection(**FAST_RETRIES)
    del connection["extra"]["host_key"]
    use_connection(monkeypatch, connection)
    with pytest.raises(TransportError, match="has no extra host_key"):
        run_ingest(sftp_settings, AS_OF, "sftp-1")
    use_connection(monkeypatch, sftp_server.connection(**FAST_RETRIES, no_host_key_check=True))
    with pytest.raises(TransportError, match="no_host_key_check is refused"):
        run_ingest(sftp_settings, AS_OF, "sftp-1")


@SQLITE_ONLY
def test_authentication_failure_is_permanent_and_named(sftp_settings, sftp_server, monkeypatch):
    stranger = paramiko.RSAKey.generate(2048)
    text = sftp_server.folder / "stranger.pem"
    stranger.write_private_key_file(str(text))
    use_connection(monkeypatch, sftp_server.connection(**FAST_RETRIES, private_key=text.read_text()))
    sftp_server.upload(f"{INBOX}/a.csv", rows(1))
    with pytest.raises(TransportError) as caught:
        run_ingest(sftp_settings, AS_OF, "sftp-1")
    assert caught.value.transient is False
    assert str(caught.value).startswith(f"list {INBOX}: authentication failed for "
                                        f"{sftp_server.user}@{sftp_server.host}:{sftp_server.port}")
    assert sftp_server.listdir(INBOX) == ["a.csv"]


@SQLITE_ONLY
def test_password_authentication(sftp_settings, sftp_server, monkeypatch):
    if sftp_server.password is None:
        pytest.skip("password authentication needs sshd running as root (it reads the shadow file)")
    connection = sftp_server.connection(**FAST_RETRIES)
    del connection["extra"]["private_key"]
    use_connection(monkeypatch, dict(connection, password=sftp_server.password))
    sftp_server.upload(f"{INBOX}/a.csv", rows(1))
    assert run_ingest(sftp_settings, AS_OF, "sftp-1").rows_taken == 1
    use_connection(monkeypatch, dict(connection, password="wrong"))
    with pytest.raises(TransportError, match="authentication failed"):
        run_ingest(sftp_settings, AS_OF, "sftp-2")


@SQLITE_ONLY
def test_connection_refused_is_retried_with_back_off_then_fails(sftp_settings, sftp_server, monkeypatch, caplog):
    port = free_port()  # nothing listens there
    use_connection(monkeypatch, dict(sftp_server.connection(**FAST_RETRIES), port=port))
    with caplog.at_level(logging.WARNING, logger="pipeline.transport.sftp"):
        with pytest.raises(TransportError) as caught:
            run_ingest(sftp_settings, AS_OF, "sftp-1")
    assert caught.value.transient is True
    assert str(caught.value) == f"list {INBOX}: connection refused by {sftp_server.user}@127.0.0.1:{port}"
    assert [r.getMessage().split("(")[1] for r in caplog.records] == [
        "try 1 of 3); retrying in 0 s", "try 2 of 3); retrying in 0 s"]


def _cut_transfers(monkeypatch, server, direction: str, times: int) -> list[int]:
    """Cut the connection as the next ``times`` downloads or uploads (``direction``) start copying, as a dropped
    line would; the transfer then copies what had arrived and fails on the real, dead connection.

    Nothing here waits for the server: the cut is counted before anything that could block, and the server is
    stopped (a download reads ahead) and killed before the copy starts, so that on a busy machine too every
    try is cut exactly once."""
    real_copy = sftp_module.copy
    cuts = []

    def copy(source, target):
        downloading = isinstance(source, paramiko.SFTPFile)
        if (direction == "download") != downloading or len(cuts) >= times:
            return real_copy(source, target)
        server.freeze_sessions()              # nothing more leaves the server ...
        cuts.append(server.kill_sessions())   # ... and the connection is gone
        real_copy(source, target)

    monkeypatch.setattr(sftp_module, "COPY_CHUNK", 512)
    monkeypatch.setattr(sftp_module, "copy", copy)
    return cuts


# paramiko's read-ahead thread dies with the cut connection and says so; the download itself is retried
READ_AHEAD_DIES = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


@SQLITE_ONLY
@READ_AHEAD_DIES
@pytest.mark.parametrize("direction", ["download", "upload"])
def test_a_connection_dropped_midway_is_retried_and_the_file_taken_once(sftp_settings, sftp_server, monkeypatch,
                                                                       direction, caplog):
    sftp_server.upload(f"{INBOX}/big.csv", big_file())
    cuts = _cut_transfers(monkeypatch, sftp_server, direction, times=1)
    with caplog.at_level(logging.WARNING, logger="pipeline.transport.sftp"):
        counts = run_ingest(sftp_settings, AS_OF, "sftp-1")
    assert cuts == [1]
    (retry,) = [record.getMessage() for record in caplog.records if record.name == "pipeline.transport.sftp"]
    target = "inbox/big.csv: " if direction == "download" else "outbox/receipt_big.csv_"
    assert retry.startswith(f"{direction} creditors/acme/{target}") and "(try 1 of 3); retrying in 0 s" in retry
    assert (counts.files, counts.rows_taken) == (1, 16_000)
    assert len(receipt_on_server(sftp_server, "big.csv")) == 16_001
    assert sftp_server.listdir(INBOX) == []
    assert [n for n in sftp_server.listdir(OUTBOX) if not n.startswith("receipt_big.csv_")] == []
    with Ledger(sftp_settings) as ledger:
        assert ledger.count(invoices) == 16_000


@SQLITE_ONLY
@READ_AHEAD_DIES
def test_a_download_that_keeps_dropping_fails_and_leaves_the_file_untouched(sftp_settings, sftp_server,
                                                                            monkeypatch):
    sftp_server.upload(f"{INBOX}/big.csv", big_file())
    cuts = _cut_transfers(monkeypatch, sftp_server, "download", times=99)
    with pytest.raises(TransportError) as caught:
        run_ingest(sftp_settings, AS_OF, "sftp-1")
    assert len(cuts) == FAST_RETRIES["attempts"]
    assert caught.value.transient is True
    assert str(caught.value).startswith(f"download {INBOX}/big.csv: connection to ")
    assert sftp_server.listdir(INBOX) == ["big.csv"]
    assert ledger_files(sftp_settings) == 0
    assert list((sftp_settings.home / "tmp").iterdir()) == []  # the partial download is gone too


@SQLITE_ONLY
def test_an_upload_that_keeps_dropping_leaves_no_receipt_and_the_next_pass_delivers_it(sftp_settings,
                                                                                       sftp_server, monkeypatch):
    sftp_server.upload(f"{INBOX}/a.csv", rows(2))
    cuts = _cut_transfers(monkeypatch, sftp_server, "upload", times=99)
    with pytest.raises(TransportError, match=r"^upload creditors/acme/outbox/receipt_a\.csv_.*: connection to "):
        run_ingest(sftp_settings, AS_OF, "sftp-1")
    assert len(cuts) == FAST_RETRIES["attempts"]
    assert [n for n in sftp_server.listdir(OUTBOX) if not n.startswith(".")] == []  # no half receipt
    assert ledger_files(sftp_settings) == 1                                          # committed once
    monkeypatch.undo()
    use_connection(monkeypatch, sftp_server.connection(**FAST_RETRIES))
    monkeypatch.setenv("INKASSO_HOME", str(sftp_settings.home))
    monkeypatch.setenv("INKASSO_DATABASE_URL", sftp_settings.database_url)
    counts = run_ingest(sftp_settings, AS_OF, "sftp-2")
    assert (counts.files_seen_before, counts.files) == (1, 0)
    assert [l["invoice_number"] for l in receipt_on_server(sftp_server, "a.csv")] == ["S-1", "S-2", ""]
    assert [n[:14] for n in sftp_server.listdir(OUTBOX)] == ["receipt_a.csv_"]  # the cut-off temporary is gone
    assert sftp_server.listdir(INBOX) == []
    assert ledger_files(sftp_settings) == 1


@SQLITE_ONLY
def test_an_unreadable_file_is_left_named_and_the_others_are_taken(sftp_settings, sftp_server):
    sftp_server.upload(f"{INBOX}/a_locked.csv", rows(1, "L"))
    sftp_server.upload(f"{INBOX}/b_open.csv", rows(2))
    sftp_server.upload("creditors/svea/inbox/s.csv", rows(1, "SE").replace("DK\n", "SE\n"))
    locked = sftp_server.root / INBOX / "a_locked.csv"
    locked.chmod(0o000)  # the login user owns it (or, not root, is us): still unreadable over SFTP
    with pytest.raises(TransportError) as caught:
        run_ingest(sftp_settings, AS_OF, "sftp-1")
    assert str(caught.value) == (f"creditor acme: 1 file(s) left in the inbox: download {INBOX}/a_locked.csv: "
                                 f"permission denied on {sftp_server.user}@127.0.0.1:{sftp_server.port}")
    assert sftp_server.listdir(INBOX) == ["a_locked.csv"]
    assert len(receipt_on_server(sftp_server, "b_open.csv")) == 3
    assert sftp_server.listdir("creditors/svea/inbox") == []  # the next creditor was not held up
    locked.chmod(0o644)
    assert run_ingest(sftp_settings, AS_OF, "sftp-2").rows_taken == 1
    assert sftp_server.listdir(INBOX) == []


@SQLITE_ONLY
def test_an_outbox_we_may_not_write_keeps_the_file_until_its_receipt_is_delivered(sftp_settings, sftp_server):
    sftp_server.upload(f"{INBOX}/a.csv", rows(2))
    sftp_server.upload(f"{OUTBOX}/keep.txt", "")
    outbox = sftp_server.root / OUTBOX
    outbox.chmod(0o555)
    with pytest.raises(TransportError) as caught:
        run_ingest(sftp_settings, AS_OF, "sftp-1")
    assert "permission denied" in str(caught.value) and "upload creditors/acme/outbox/receipt_a.csv_" in str(
        caught.value)
    assert sftp_server.listdir(OUTBOX) == ["keep.txt"]
    assert sftp_server.listdir(INBOX) == ["a.csv"]
    assert ledger_files(sftp_settings) == 1
    outbox.chmod(0o755)
    counts = run_ingest(sftp_settings, AS_OF, "sftp-2")
    assert counts.files_seen_before == 1
    assert len(receipt_on_server(sftp_server, "a.csv")) == 3
    assert sftp_server.listdir(INBOX) == []


@SQLITE_ONLY
def test_a_file_that_vanishes_between_list_and_get_is_left_to_whoever_took_it(sftp_settings, sftp_server,
                                                                             monkeypatch):
    sftp_server.upload(f"{INBOX}/a.csv", rows(1))
    real_fetch = sftp_module.SftpInbox.fetch

    def fetch_after_it_vanished(self, file, destination):
        (sftp_server.root / INBOX / file.name).unlink()
        return real_fetch(self, file, destination)

    monkeypatch.setattr(sftp_module.SftpInbox, "fetch", fetch_after_it_vanished)
    counts = run_ingest(sftp_settings, AS_OF, "sftp-1")
    assert (counts.files, counts.files_seen_before) == (0, 0)
    assert ledger_files(sftp_settings) == 0
    assert sftp_server.listdir(OUTBOX) == []


@SQLITE_ONLY
def test_the_command_line_takes_its_connection_from_the_environment_and_fails_in_one_line(
        sftp_settings, sftp_server, monkeypatch, capsys):
    sftp_server.upload(f"{INBOX}/a.csv", rows(1))
    assert main(["ingest", "--as-of", AS_OF.isoformat()]) == 0
    assert capsys.readouterr().out.startswith("1 files (0 rejected, 0 seen before); 1 rows: 1 taken")
    secret = "Wrong-Secret-4711"
    connection = sftp_server.connection(**FAST_RETRIES)
    del connection["extra"]["private_key"]
    use_connection(monkeypatch, dict(connection, password=secret))
    assert main(["ingest", "--as-of", AS_OF.isoformat()]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"inkasso ingest: list {INBOX}: authentication failed for "
                                   f"{sftp_server.user}@127.0.0.1:{sftp_server.port}")
    assert captured.err.count("\n") == 1 and secret not in captured.err + captured.out


@SQLITE_ONLY
def test_a_pass_over_sftp_without_v_prints_only_its_summary_and_warnings_go_to_stderr(sftp_settings, sftp_server,
                                                                                     tmp_path):
    """A fresh `inkasso` process, as an operator runs it: importing Airflow for the connection must neither
    take over its logging (paramiko's "Connected", "Authentication successful") nor make ~/airflow."""
    sftp_server.upload(f"{INBOX}/a.csv", rows(2))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "INKASSO"))}
    env.update(HOME=str(tmp_path / "operator"), INKASSO_HOME=str(sftp_settings.home),
               INKASSO_DATABASE_URL=sftp_settings.database_url,
               AIRFLOW_CONN_CREDITORS_SFTP=json.dumps(sftp_server.connection(**FAST_RETRIES)))
    inkasso = [str(Path(sys.executable).with_name("inkasso")), "ingest", "--as-of", AS_OF.isoformat()]
    done = subprocess.run(inkasso, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [receipt] = [n for n in sftp_server.listdir(OUTBOX) if n.startswith("receipt_a.csv_")]
    assert done.stdout == (f"1 files (0 rejected, 0 seen before); 2 rows: 2 taken, 0 not taken; 2 cases opened\n"
                           f"  receipt {receipt}\n")
    assert done.stderr == ""
    assert not (tmp_path / "operator" / "airflow").exists()

    refused = dict(sftp_server.connection(**FAST_RETRIES), port=free_port())
    env["AIRFLOW_CONN_CREDITORS_SFTP"] = json.dumps(refused)
    failed = subprocess.run(inkasso, env=env, capture_output=True, text=True, timeout=300)
    assert (failed.returncode, failed.stdout) == (1, "")
    warnings, error = failed.stderr.splitlines()[:-1], failed.stderr.splitlines()[-1]
    assert [w.split(" (try ")[1] for w in warnings] == ["1 of 3); retrying in 0 s", "2 of 3); retrying in 0 s"]
    assert all(w.startswith(f"WARNING pipeline.transport.sftp: list {INBOX}: connection refused") for w in warnings)
    assert error == f"inkasso ingest: list {INBOX}: connection refused by {sftp_server.user}@127.0.0.1:{refused['port']}"


def test_a_removed_server_leaves_no_process_behind_even_frozen_sessions():
    if SSHD is None:
        pytest.skip(MISSING)
    server = start_server()
    with server.client() as client:
        client.listdir(".")
        server.freeze_sessions()
        frozen = server.sessions()
        assert frozen
        remove_server(server)
    assert [pid for pid in frozen + [server.process.pid] if alive(pid)] == []
