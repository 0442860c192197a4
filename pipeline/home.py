"""The home folder of formats.md §0: the registry, the database and the party folders."""
from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.config import Registry
from pipeline.registry_text import EXAMPLE



STALE_SCRATCH_SECONDS = 24 * 3600


class Home:
    def __init__(self, root: Path):
        self.root = root

    def archive_path(self, sha256: str) -> Path:
        return self.root / "archive" / sha256[:2] / sha256

    def quarantine_path(self, party_folder: str, sha256: str, file_name: str) -> Path:
        """A rejected file's bytes, under its party's folder: quarantine/creditors/acme/<sha>_<name>."""
        return self.root / "quarantine" / party_folder / f"{sha256[:12]}_{file_name}"

    @property
    def scratch(self) -> Path:
        return self.root / "tmp"

    def remove_stale_scratch(self, now: float, max_age_seconds: int = STALE_SCRATCH_SECONDS) -> None:
        """Remove scratch copies left by a killed process (they hold creditors' raw files)."""
        if not self.scratch.is_dir():
            return
        for entry in self.scratch.iterdir():
            if now - entry.stat().st_mtime > max_age_seconds:
                shutil.rmtree(entry, ignore_errors=True)

    def create(self) -> None:
        """Make the shared folders of §0; an existing registry is kept, a missing one gets the example."""
        for folder in ("bank/inbox", "finance/outbox", "letters/outbox", "archive", "quarantine", "tmp"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        registry = self.root / "inkasso.toml"
        if not registry.exists():
            registry.write_text(EXAMPLE, encoding="utf-8")

    def create_party_folders(self, registry: Registry) -> None:
        """The local folders of the parties whose files travel locally (SFTP parties' live on their servers)."""
        local = {party for party, choice in registry.transport.items() if choice.kind == "local"}
        folders = [f"creditors/{c}/{box}" for c in registry.creditors for box in ("inbox", "outbox")
                   if "creditors" in local]
        folders += [f"partners/{p}/{box}" for p in registry.partners for box in ("inbox", "outbox")
                    if "partner" in local]
        for folder in folders:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
