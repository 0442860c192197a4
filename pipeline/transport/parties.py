"""Each party's files, where ``[transport]`` in inkasso.toml says they travel (formats.md §0).

`open_party_files` gives one pass the inboxes and outboxes of a party (creditors, bank, partner, finance)
under their relative folders, e.g. ``creditors/acme/inbox``: local folders under INKASSO_HOME, or the same
paths on the SFTP server of the party's Airflow connection, over one connection for the whole pass.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pipeline import logs
from pipeline.config import Registry, TransportChoice
from pipeline.transport import Inbox, ListingStore, Outbox, TransportError
from pipeline.transport.local import LocalInbox, LocalOutbox
from pipeline.transport.sftp import SftpEndpoint, SftpInbox, SftpOutbox, SftpSession, Sightings, remote_join


class LocalFiles:
    def __init__(self, root: Path):
        self.root = root

    def inbox(self, folder: str) -> Inbox:
        return LocalInbox(self.root / folder)

    def outbox(self, folder: str) -> Outbox:
        return LocalOutbox(self.root / folder)


class SftpFiles:
    """A party's folders on its SFTP server; ``listings`` keeps what listings of its inboxes saw."""

    def __init__(self, session: SftpSession, choice: TransportChoice, listings: ListingStore):
        self.session = session
        self.choice = choice
        self.listings = listings

    def inbox(self, folder: str) -> Inbox:
        remote = remote_join(self.choice.base_path, folder)
        return SftpInbox(self.session, remote, Sightings(self.listings, f"{self.choice.connection}:{remote}"))

    def outbox(self, folder: str) -> Outbox:
        return SftpOutbox(self.session, remote_join(self.choice.base_path, folder))


PartyFiles = LocalFiles | SftpFiles


@contextmanager
def open_party_files(home: Path, registry: Registry, party: str, listings: ListingStore) -> Iterator[PartyFiles]:
    """The party's files for one pass; an SFTP connection opens on first use and closes at the end."""
    choice = registry.transport.get(party, TransportChoice())
    if choice.kind == "local":
        yield LocalFiles(home)
        return
    with SftpSession(sftp_endpoint(choice)) as session:
        yield SftpFiles(session, choice, listings)


def sftp_endpoint(choice: TransportChoice) -> SftpEndpoint:
    """The SFTP endpoint of the choice's Airflow connection: from Airflow's secrets backends and database
    in a task, from ``AIRFLOW_CONN_<ID>`` (URI or JSON) in the environment when run from the command line.

    The connection: host, port, login, password (or a key); extra ``host_key`` (required: the server's
    public key as in known_hosts), ``private_key`` or ``key_file``, ``private_key_passphrase``, and
    optionally ``conn_timeout`` (seconds), ``keepalive_interval``, ``attempts``, ``backoff_seconds`` (the
    names of Airflow's SSH hook where it has one)."""
    with logs.kept():  # imported here: Airflow takes seconds to import, and takes over the logging of a process
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(choice.connection)
    except AirflowNotFoundException:
        raise TransportError(f"Airflow connection {choice.connection!r} is not defined (add it in Airflow, or set "
                             f"AIRFLOW_CONN_{choice.connection.upper()} in the environment)", transient=False) from None
    extra = connection.extra_dejson
    if str(extra.get("no_host_key_check", "")).lower() == "true":
        raise TransportError(f"connection {choice.connection!r}: no_host_key_check is refused; give the server's "
                             "host_key instead", transient=False)
    if not extra.get("host_key"):
        raise TransportError(f"connection {choice.connection!r} has no extra host_key: the server's public key "
                             "(as in known_hosts) is required, unknown hosts are never trusted", transient=False)
    if not (connection.password or extra.get("private_key") or extra.get("key_file")):
        raise TransportError(f"connection {choice.connection!r} has neither a password nor a private_key or "
                             "key_file", transient=False)
    try:
        endpoint = SftpEndpoint(
            host=connection.host or "", port=int(connection.port or 22), username=connection.login or "",
            host_key=extra["host_key"], password=connection.password or None,
            private_key=extra.get("private_key") or None, key_file=extra.get("key_file") or None,
            passphrase=extra.get("private_key_passphrase") or None, base_path=choice.base_path,
            timeout=float(extra.get("conn_timeout", extra.get("timeout", 30))), keepalive_seconds=int(extra.get("keepalive_interval", 30)),
            attempts=int(extra.get("attempts", 4)), backoff_seconds=float(extra.get("backoff_seconds", 2)))
    except (TypeError, ValueError) as exc:
        raise TransportError(f"connection {choice.connection!r}: a number in its extra is not a number ({exc})",
                             transient=False) from None
    if endpoint.attempts < 1 or endpoint.timeout <= 0:
        raise TransportError(f"connection {choice.connection!r}: attempts must be at least 1 and conn_timeout "
                             "above 0", transient=False)
    return endpoint
