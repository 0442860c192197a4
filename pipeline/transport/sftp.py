"""The SFTP transport on paramiko: the same Inbox/Outbox as `local`, on a party's SFTP server.

One `SftpSession` per pass holds one connection (opened on first use, kept alive, reopened after a
transient fault). The server is trusted only by the host key configured for it (`RejectPolicy`: an unknown
or changed key is refused, never learnt). Every operation is retried with back-off when the fault is
transient (refused or dropped connection, timeout); a permanent one (authentication, host key, permission)
fails at once with a `TransportError` that says which. None leaves a half-written file under its final
name: downloads go to a local scratch file and are checked against the listing, uploads go to a dot-named
``.tmp`` file that is renamed when whole.

Completeness: the modification times of a remote server come from its clock, not ours, so a file is
complete when it carries a ``.done`` sidecar or when two listings at least ``settle_seconds`` apart saw the
same size and mtime (`Sightings` remembers listings in the `ListingStore` the caller gives, the ledger in
the stages; ``settle_seconds = 0`` takes at once).
"""
from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import io
import logging
import posixpath
import socket
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

import paramiko
from paramiko.ssh_exception import NoValidConnectionsError

from pipeline.transport import DONE_SUFFIX, InboxFile, ListingStore, TransportError, is_candidate

log = logging.getLogger(__name__)

COPY_CHUNK = 1 << 20
PREFETCH_REQUESTS = 64  # read-ahead of a download: 64 requests of 32 KiB in flight, not the whole file
KEY_TYPES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
TRANSIENT_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
                    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN}


@dataclass(frozen=True)
class SftpEndpoint:
    """Where and how to log in; built from an Airflow connection (`parties.sftp_endpoint`)."""

    host: str
    port: int
    username: str
    host_key: str                                       # "ssh-ed25519 AAAA…", as in known_hosts
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)   # the key's text (OpenSSH or PEM)
    key_file: str | None = None
    passphrase: str | None = field(default=None, repr=False)
    base_path: str = ""                                 # the folder holding the party folders; "" = login folder
    timeout: float = 30.0
    keepalive_seconds: int = 30
    attempts: int = 4                                   # tries of one operation when faults are transient
    backoff_seconds: float = 2.0                        # first wait; doubles each time

    @property
    def address(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"


class LocalFileError(OSError):
    """Our own side of a transfer failed (the scratch disk is full or not writable): not the server's fault,
    and nothing a reconnect mends."""


class SftpSession:
    """One connection to one server for a whole pass; `call` runs an operation with retries."""

    def __init__(self, endpoint: SftpEndpoint):
        self.endpoint = endpoint
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    def call(self, what: str, operation: Callable[[paramiko.SFTPClient], object]):
        """``operation(sftp)``; a transient fault reconnects and tries again (``endpoint.attempts`` in all).

        ``what`` names the operation in errors, e.g. "download creditors/acme/inbox/a.csv"."""
        delay = self.endpoint.backoff_seconds
        for attempt in range(1, self.endpoint.attempts + 1):
            try:
                return operation(self._connected())
            except (FileNotFoundError, TransportError, LocalFileError):
                raise
            except PermissionError as exc:
                raise TransportError(f"{what}: permission denied on {self.endpoint.address}",
                                     transient=False) from exc
            except Exception as exc:  # classified below: transient faults retry, the rest are permanent
                error = classify(exc, what, self.endpoint)
                self.close()
                if not error.transient or attempt == self.endpoint.attempts:
                    raise error from exc
                log.warning("%s (try %d of %d); retrying in %.0f s", error, attempt, self.endpoint.attempts, delay)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _connected(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._client, self._sftp = _connect(self.endpoint)
        return self._sftp

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    def __enter__(self) -> "SftpSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _connect(endpoint: SftpEndpoint) -> tuple[paramiko.SSHClient, paramiko.SFTPClient]:
    client = paramiko.SSHClient()
    key = host_key_of(endpoint.host_key)
    for name in (endpoint.host, f"[{endpoint.host}]:{endpoint.port}"):  # paramiko's name on port 22, elsewhere
        client.get_host_keys().add(name, key.get_name(), key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())  # an unknown host is refused, never learnt
    try:
        client.connect(endpoint.host, endpoint.port, username=endpoint.username, password=endpoint.password,
                       pkey=_private_key(endpoint), key_filename=None, look_for_keys=False, allow_agent=False,
                       timeout=endpoint.timeout, banner_timeout=endpoint.timeout, auth_timeout=endpoint.timeout,
                       channel_timeout=endpoint.timeout)
        client.get_transport().set_keepalive(endpoint.keepalive_seconds)
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(endpoint.timeout)
        return client, sftp
    except BaseException:
        client.close()
        raise


def host_key_of(entry: str) -> paramiko.PKey:
    """The public key of a known-hosts entry: "ssh-ed25519 AAAA…" (a leading host name is allowed)."""
    tokens = entry.split()
    if tokens and tokens[0].startswith("@"):
        raise TransportError(f"host_key must be a plain known-hosts key, not a {tokens[0]} line", transient=False)
    for index, token in enumerate(tokens[:-1]):
        if token.startswith(("ssh-", "ecdsa-", "rsa-")):
            try:
                return paramiko.PKey.from_type_string(token, base64.b64decode(tokens[index + 1]))
            except (binascii.Error, paramiko.SSHException, ValueError) as exc:
                raise TransportError(f"host_key {entry[:40]!r}… is not a public key ({exc})", transient=False)
    raise TransportError("host_key must be the server's public key as in known_hosts, e.g. "
                         "\"ssh-ed25519 AAAA…\"", transient=False)


def _private_key(endpoint: SftpEndpoint) -> paramiko.PKey | None:
    if endpoint.key_file:
        try:
            return paramiko.PKey.from_path(endpoint.key_file, endpoint.passphrase)
        except (OSError, paramiko.SSHException) as exc:
            raise TransportError(f"cannot read key_file {endpoint.key_file}: {exc}", transient=False) from None
    if not endpoint.private_key:
        return None
    for key_type in KEY_TYPES:
        try:
            return key_type.from_private_key(io.StringIO(endpoint.private_key), endpoint.passphrase)
        except (paramiko.SSHException, ValueError):
            continue
    raise TransportError("private_key is not an Ed25519, ECDSA or RSA private key (or its passphrase is wrong)",
                         transient=False)


def classify(exc: BaseException, what: str, endpoint: SftpEndpoint) -> TransportError:
    """A specific, secret-free TransportError for a fault; transient ones are worth another try."""
    where = endpoint.address
    if isinstance(exc, paramiko.AuthenticationException) or "No authentication methods" in str(exc):
        return TransportError(f"{what}: authentication failed for {where} ({exc})", transient=False)
    if isinstance(exc, paramiko.ChannelException):
        return TransportError(f"{what}: {where} refused the SFTP channel ({exc})", transient=False)
    if isinstance(exc, paramiko.BadHostKeyException):
        return TransportError(f"{what}: host key of {endpoint.host}:{endpoint.port} does not match the configured one "
                              f"(server offered {exc.key.get_name()} {exc.key.fingerprint})", transient=False)
    if isinstance(exc, NoValidConnectionsError):  # paramiko's: every address of the host failed; judge the cause
        causes = list(exc.errors.values())
        exc = causes[0] if len({type(cause) for cause in causes}) == 1 else exc
    if isinstance(exc, ConnectionRefusedError):
        return TransportError(f"{what}: connection refused by {where}", transient=True)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return TransportError(f"{what}: {where} did not answer in time", transient=True)
    if isinstance(exc, socket.gaierror):
        return TransportError(f"{what}: cannot resolve host {endpoint.host} ({exc})", transient=True)
    if isinstance(exc, (EOFError, paramiko.SSHException, ConnectionError)) or (
            isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS):
        return TransportError(f"{what}: connection to {where} failed or dropped ({type(exc).__name__}: {exc})",
                              transient=True)
    if isinstance(exc, OSError) and "Socket is closed" in str(exc):
        return TransportError(f"{what}: connection to {where} dropped ({exc})", transient=True)
    return TransportError(f"{what}: {type(exc).__name__}: {exc}", transient=False)


def remote_join(*parts: str) -> str:
    """Join remote path parts; refuses ``..``, empty and absolute parts (an absolute base is allowed first)."""
    base, *rest = parts
    for part in rest:
        if not all(is_safe_name(piece) for piece in part.split("/")):
            raise TransportError(f"unsafe remote path part {part!r}", transient=False)
    if ".." in base.split("/"):
        raise TransportError(f"unsafe remote base path {base!r}", transient=False)
    return posixpath.join(base, *rest) if base else posixpath.join(*rest)


def is_safe_name(name: str) -> bool:
    """A name from a listing that is one plain file name (no separators, no parent, no NUL)."""
    return name not in ("", ".", "..") and not any(c in name for c in "/\\\x00")


class Sightings:
    """What earlier listings of one remote folder saw, kept in a `ListingStore` shared by every worker, so
    that two passes, or the DAG's listing task and its ingest task on another worker, are the "two
    listings" that prove a file complete."""

    def __init__(self, store: ListingStore, location: str):
        self.store = store
        self.location = location

    def ready(self, listed: dict[str, tuple[int, int]], done: set[str], settle_seconds: int, now: float) -> set[str]:
        """Names complete now; remembers this listing for the next one."""
        seen = self.store.recall(self.location)
        fresh = {name: (size, mtime, now) for name, (size, mtime) in listed.items()
                 if seen.get(name, (None, None, None))[:2] != (size, mtime)}
        self.store.remember(self.location, fresh, [n for n in seen if n not in listed or n in fresh])
        first_seen = {name: seen[name][2] for name in listed if name not in fresh} | {n: now for n in fresh}
        return {name for name in listed
                if name in done or settle_seconds == 0 or now - first_seen[name] >= settle_seconds}


class SftpInbox:
    def __init__(self, session: SftpSession, folder: str, sightings: Sightings):
        self.session = session
        self.folder = folder
        self.sightings = sightings

    def list_ready(self, settle_seconds: int, now: float) -> list[InboxFile]:
        entries = self.session.call(f"list {self.folder}", self._list)
        names = {entry.filename for entry in entries}
        files = {}
        for entry in entries:
            name = entry.filename
            if not is_safe_name(name):
                log.warning("%s: skipped a listed name that is not a plain file name: %r", self.folder, name)
            elif is_candidate(name) and stat.S_ISREG(entry.st_mode or 0):
                files[name] = InboxFile(name, entry.st_size, float(entry.st_mtime), name + DONE_SUFFIX in names)
        ready = self.sightings.ready({n: (f.size, int(f.mtime)) for n, f in files.items()},
                                     {n for n, f in files.items() if f.done_marker}, settle_seconds, now)
        return sorted((f for n, f in files.items() if n in ready), key=lambda f: (f.mtime, f.name))

    def _list(self, sftp: paramiko.SFTPClient) -> list[paramiko.SFTPAttributes]:
        try:
            return sftp.listdir_attr(self.folder)
        except FileNotFoundError:
            return []

    def fetch(self, file: InboxFile, destination: Path) -> None:
        path = remote_join(self.folder, file.name)
        self.session.call(f"download {path}", lambda sftp: self._download(sftp, path, file, destination))

    @staticmethod
    def _download(sftp: paramiko.SFTPClient, path: str, file: InboxFile, destination: Path) -> None:
        with sftp.open(path, "rb") as remote, _LocalCopy(destination) as local:
            remote.prefetch(file.size, max_concurrent_requests=PREFETCH_REQUESTS)
            copy(remote, local)
        size = destination.stat().st_size
        if size != file.size or not _as_listed(sftp.stat(path), file):
            raise OSError(f"{path} changed while it was read ({file.size} bytes listed, {size} read)")

    def remove(self, file: InboxFile) -> None:
        path = remote_join(self.folder, file.name)
        self.session.call(f"remove {path}", lambda sftp: self._remove(sftp, path, file))

    @staticmethod
    def _remove(sftp: paramiko.SFTPClient, path: str, file: InboxFile) -> None:
        try:
            attrs = sftp.stat(path)
        except FileNotFoundError:
            attrs = None
        if attrs is not None and not _as_listed(attrs, file):
            log.warning("%s was replaced while it was being taken; the new upload is left for the next pass", path)
            return
        for name in (path + DONE_SUFFIX, path):  # the sidecar first, as in the local inbox
            try:
                sftp.remove(name)
            except FileNotFoundError:
                pass


class _LocalCopy:
    """The local scratch file a download writes, whose own failures are LocalFileError."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> "_LocalCopy":
        self.file = self._guarded(lambda: self.path.open("wb"))
        return self

    def write(self, data: bytes) -> None:
        self._guarded(lambda: self.file.write(data))

    def __exit__(self, *exc) -> None:
        self._guarded(self.file.close)

    def _guarded(self, action):
        try:
            return action()
        except OSError as exc:
            raise LocalFileError(f"cannot write the local copy {self.path}: {exc}") from exc


class SftpOutbox:
    def __init__(self, session: SftpSession, folder: str):
        self.session = session
        self.folder = folder

    def exists(self, name: str) -> bool:
        path = remote_join(self.folder, name)
        return self.session.call(f"stat {path}", lambda sftp: _exists(sftp, path))

    def put(self, name: str, source: BinaryIO) -> None:
        """Upload to a dot-named ``.tmp`` file, check its size, rename it. The temporary name comes from the
        content, so a later put of the same bytes (a retry, or the next pass delivering the same receipt)
        overwrites what a try cut off midway left, and nothing stays behind once one succeeds. ``source`` is
        read twice (hashed, then sent; a retry sends it again): it must be seekable."""
        path = remote_join(self.folder, name)
        start = source.tell()
        digest = hashlib.sha256()
        for chunk in iter(lambda: source.read(COPY_CHUNK), b""):
            digest.update(chunk)
        size = source.tell() - start
        temporary = remote_join(self.folder, f".{name}.{digest.hexdigest()[:12]}.tmp")

        def upload(sftp: paramiko.SFTPClient) -> None:
            source.seek(start)
            self._upload(sftp, temporary, path, source, size)
        self.session.call(f"upload {path}", upload)

    def _upload(self, sftp: paramiko.SFTPClient, temporary: str, path: str, source: BinaryIO, size: int) -> None:
        _make_folders(sftp, self.folder)
        try:
            with sftp.open(temporary, "wb") as remote:
                remote.set_pipelined(True)
                copy(source, remote)
            if sftp.stat(temporary).st_size != size:
                raise OSError(f"{temporary}: the server holds a different size than was sent")
            _rename(sftp, temporary, path)
        except BaseException:
            _remove_quietly(sftp, temporary)
            raise


def _as_listed(attrs: paramiko.SFTPAttributes, file: InboxFile) -> bool:
    """Whether the remote file still has the size and mtime it was listed with."""
    return attrs.st_size == file.size and float(attrs.st_mtime) == file.mtime


def copy(source, target) -> None:
    """Stream ``source`` to ``target`` in chunks (a seam the fault tests use to cut a transfer midway)."""
    for chunk in iter(lambda: source.read(COPY_CHUNK), b""):
        target.write(chunk)


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
        return True
    except FileNotFoundError:
        return False


def _make_folders(sftp: paramiko.SFTPClient, folder: str) -> None:
    if _exists(sftp, folder):
        return
    parent = posixpath.dirname(folder)
    if parent and parent != folder:
        _make_folders(sftp, parent)
    try:
        sftp.mkdir(folder)
    except OSError:
        if not _exists(sftp, folder):  # made meanwhile by another worker is fine
            raise


def _rename(sftp: paramiko.SFTPClient, source: str, target: str) -> None:
    """posix-rename@openssh.com (atomic, replaces) where the server has it, else plain SFTP rename.

    The source gone while the target is there: another worker put the same bytes first."""
    try:
        sftp.posix_rename(source, target)
    except FileNotFoundError:
        if not _exists(sftp, target):
            raise
    except PermissionError:
        raise
    except IOError:
        sftp.rename(source, target)


def _remove_quietly(sftp: paramiko.SFTPClient, path: str) -> None:
    try:
        sftp.remove(path)
    except Exception:  # the connection may be gone: a dot-named .tmp is never taken; the next put overwrites it
        pass
