"""Bytes in and out: an Inbox to take complete files from, an Outbox to put files into atomically.

`local` implements them on folders under INKASSO_HOME, `sftp` on a party's SFTP server; `parties` picks
one per party as ``[transport]`` in inkasso.toml says, so the stages never know where a file lives.
Transport moves bytes only: it knows no ledger. What an SFTP inbox must remember between listings it keeps
in a `ListingStore` its caller gives it (the ledger implements one).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

IGNORED_SUFFIXES = (".part", ".tmp", ".done")
DONE_SUFFIX = ".done"


class TransportError(Exception):
    """A file could not be listed, read or written; ``transient`` faults may pass if tried again."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class InboxFile:
    name: str
    size: int
    mtime: float
    done_marker: bool       # a `<name>.done` sidecar says the upload is complete


class Inbox(Protocol):
    def list_ready(self, settle_seconds: int, now: float) -> list[InboxFile]:
        """Complete files, oldest first: a `.done` sidecar, or unchanged for ``settle_seconds``."""

    def fetch(self, file: InboxFile, destination: Path) -> None:
        """Copy the file's bytes to a local path; size and mtime must still match the listing (else OSError).

        FileNotFoundError when the file is gone since the listing (another worker took it)."""

    def remove(self, file: InboxFile) -> None:
        """Remove the file and its sidecar; called only after its results are committed.

        A file of that name that no longer matches the listing (a new upload replaced it) is left."""


class Outbox(Protocol):
    def exists(self, name: str) -> bool: ...

    def put(self, name: str, source: BinaryIO) -> None:
        """Stream ``source`` (an open file, read from where it stands) under a temporary name, then rename:
        the file appears whole or not at all, and is never held in memory whole."""


Seen = dict[str, tuple[int, int, float]]  # name -> (size, mtime, when this size and mtime were first seen)


class ListingStore(Protocol):
    """Remembers what listings of a folder saw, so that two listings at different times (and on different
    workers) can prove a file unchanged."""

    def recall(self, location: str) -> Seen: ...

    def remember(self, location: str, seen: Seen, forget: list[str]) -> None:
        """Forget the names in ``forget``, then remember ``seen`` (a name remembered meanwhile by a concurrent
        listing is kept: that only makes its file wait a little longer)."""


def is_candidate(name: str) -> bool:
    """Names that may be taken: no dot files, no partial uploads, no sidecars (suffixes in any case)."""
    return bool(name) and not name.startswith(".") and not name.lower().endswith(IGNORED_SUFFIXES)


def is_ready(file: InboxFile, settle_seconds: int, now: float) -> bool:
    return file.done_marker or now - file.mtime >= settle_seconds
