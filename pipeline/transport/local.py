"""The local transport: the party folders of formats.md §0 under INKASSO_HOME."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from pipeline.transport import DONE_SUFFIX, InboxFile, is_candidate, is_ready


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
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
            stat = entry.stat(follow_symlinks=False)
            file = InboxFile(name, stat.st_size, stat.st_mtime, name + DONE_SUFFIX in names)
            if is_ready(file, settle_seconds, now):
                files.append(file)
        return sorted(files, key=lambda f: (f.mtime, f.name))

    def fetch(self, file: InboxFile, destination: Path) -> None:
        shutil.copyfile(self.folder / file.name, destination)
        size = destination.stat().st_size
        if size != file.size:
            raise OSError(f"{file.name} changed while it was read ({file.size} bytes listed, {size} read)")

    def remove(self, file: InboxFile) -> None:
        (self.folder / file.name).unlink(missing_ok=True)
        (self.folder / (file.name + DONE_SUFFIX)).unlink(missing_ok=True)


class LocalOutbox:
    def __init__(self, folder: Path):
        self.folder = folder

    def exists(self, name: str) -> bool:
        return (self.folder / name).exists()

    def put(self, name: str, data: bytes) -> None:
        write_atomically(self.folder / name, data)
