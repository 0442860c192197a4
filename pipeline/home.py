"""The home folder of formats.md §0: the registry, the database and the party folders."""
from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.config import Registry

EXAMPLE_REGISTRY = '''# inkasso.toml: the agency, its creditors, fee plans and partners (formats.md §0).
[agency]
name = "Nordisk Inkasso ApS"
vat_id = "DK12345674"
country = "DK"
iban = "DK5000400440116243"
bic = "NDEADKKK"
supported_countries = ["DK", "SE"]

[ingest]
settle_seconds = 30            # a file unchanged this long (or with a .done sidecar) is complete
max_file_bytes = 2147483648

# [transport]                  # where each party's files travel: "local" (these folders) unless set
# creditors = { kind = "sftp", connection = "creditors_sftp" }   # an Airflow connection (README)

[[creditor]]
id = "acme"                    # [a-z0-9_-], 1-40 chars; the folder name
name = "Acme ApS"
vat_id = "DK13585628"
country = "DK"
currency = "DKK"
iban = "DK5000400440116243"
bic = "NDEADKKK"
fee_plan = "standard"
  [creditor.csv]
  encoding = "utf-8"           # or "cp1252"
  decimal = "."                # or ","
  date_format = "YYYY-MM-DD"   # or DD-MM-YYYY, DD.MM.YYYY, DD/MM/YYYY
  columns = { }                # their header -> canonical name

[fee_plan.standard]
success_fee_pct = { DK = "10", SE = "10", default = "15" }
aged_surcharge_pct = "4"
aged_threshold_days = 180
agency_keeps_interest_and_fees = true
withdrawal_fee = "250.00"
court_withdrawal_fee = "750.00"

[[partner]]
id = "alektum"
name = "Alektum A/S"
equal_terms_months = 6
commission_after_pct = "25"
'''


STALE_SCRATCH_SECONDS = 24 * 3600


class Home:
    def __init__(self, root: Path):
        self.root = root

    def archive_path(self, sha256: str) -> Path:
        return self.root / "archive" / sha256[:2] / sha256

    def quarantine_path(self, creditor_id: str, sha256: str, file_name: str) -> Path:
        return self.root / "quarantine" / creditor_id / f"{sha256[:12]}_{file_name}"

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
        for folder in ("bank/inbox", "finance/outbox", "archive", "quarantine", "tmp"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        registry = self.root / "inkasso.toml"
        if not registry.exists():
            registry.write_text(EXAMPLE_REGISTRY, encoding="utf-8")

    def create_party_folders(self, registry: Registry) -> None:
        """The local folders of the parties whose files travel locally (SFTP parties' live on their servers)."""
        local = {party for party, choice in registry.transport.items() if choice.kind == "local"}
        folders = [f"creditors/{c}/{box}" for c in registry.creditors for box in ("inbox", "outbox")
                   if "creditors" in local]
        folders += [f"partners/{p}/{box}" for p in registry.partners for box in ("inbox", "outbox")
                    if "partner" in local]
        for folder in folders:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
