"""The local transport: the party folders of formats.md §0 under INKASSO_HOME."""
from __future__ import annotations

import glob
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from pipeline.transport import DONE_SUFFIX, InboxFile, is_candidate, is_ready

log = logging.getLogger(__name__)
COPY_CHUNK = 1 << 20


def copy_atomically(source: BinaryIO, path: Path) -> None:
    """Stream ``source`` into a temporary file beside ``path``, fsync, then rename: whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            shutil.copyfileobj(source, fh, COPY_CHUNK)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalInbox:
    def __init__(self, folder: Path):
        self.folder = folder

    def list_ready(self, settle_seconds: int, now: float) -> list[InboxFile]:
        if not self.folder.is_dir():
            return []
        names = {entry.name: entry for entry in os.scandir(self.folder) if entry.is_file(follow_symlinks=False)}
        files = []
        for name, entry in names.items():
            if not is_candidate(name):
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # taken and removed by another worker since the scan
                continue
            file = InboxFile(name, stat.st_size, stat.st_mtime, name + DONE_SUFFIX in names)
            if is_ready(file, settle_seconds, now):
                files.append(file)
        return sorted(files, key=lambda f: (f.mtime, f.name))

    def fetch(self, file: InboxFile, destination: Path) -> None:
        source = self.folder / file.name
        shutil.copyfile(source, destination)
        size = destination.stat().st_size
        if size != file.size:
            raise OSError(f"{file.name} changed while it was read ({file.size} bytes listed, {size} read)")
        if not _unchanged(source, file):
            raise OSError(f"{file.name} changed while it was read (rewritten since it was listed)")

    def remove(self, file: InboxFile) -> None:
        """Remove the file taken and its sidecar, but never a newer upload that replaced it meanwhile."""
        path = self.folder / file.name
        if path.exists() and not _unchanged(path, file):
            log.warning("%s was replaced while it was being taken; the new upload is left for the next pass", path)
            return
        # the sidecar first: a crash between the two leaves the file (taken again: seen before, removed),
        # never a stale sidecar that would mark the next upload of that name complete while it is written
        (self.folder / (file.name + DONE_SUFFIX)).unlink(missing_ok=True)
        path.unlink(missing_ok=True)


def _unchanged(path: Path, file: InboxFile) -> bool:
    """Whether ``path`` still has the size and mtime it was listed with (False when it is gone)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    return stat.st_size == file.size and stat.st_mtime == file.mtime


class LocalOutbox:
    def __init__(self, folder: Path):
        self.folder = folder

    def exists(self, name: str) -> bool:
        return (self.folder / name).exists()

    def put(self, name: str, source: BinaryIO) -> None:
        """Write atomically; then sweep the temporary files an earlier try of this name left when its
        process was killed mid-write (they are dot-named, so nobody took them for a receipt)."""
        copy_atomically(source, self.folder / name)
        for leftover in self.folder.glob(f".{glob.escape(name)}.*.tmp"):
            leftover.unlink(missing_ok=True)
