"""`make bench`: the stages against their limits (quality.md), on generated, seeded data.

For N and 2N rows of the canonical layout (2 % bad rows) it times the ingest stage as
`inkasso ingest` runs it (SQLite), the re-ingest of the same rows (all duplicates), and
`pyarrow.csv.read_csv` of the same file; then one daily lifecycle run (`inkasso lifecycle`)
over the claims taken, beside reading those claims from the ledger. It prints rows/s, peak RSS
and each ratio to its limit.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from pipeline import registry_text

AS_OF = date(2026, 11, 26)
HEADER = ("invoice_number,invoice_date,due_date,amount,currency,debtor_id,debtor_type,debtor_name,"
          "debtor_address_line1,debtor_postcode,debtor_city,debtor_country,reminder_fees\n")
REGISTRY = registry_text.registry([registry_text.creditor(
    "bench", "Bench ApS", "DK13585628", "DK", "Benchvej 1, 2100 København Ø", "DKK", "DK5000400440116243", "NDEADKKK")],
    settle_seconds=0, title="# the bench's home")


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER)
        for i in range(rows):
            due = AS_OF - timedelta(days=rng.randint(20, 700))
            amount = f"{rng.randint(100, 5_000_000) / 100:.2f}" if rng.random() > 0.02 else "n/a"
            debtor = rng.randint(1, rows // 3 + 1)
            fh.write(f"INV-{i},{due - timedelta(days=30)},{due},{amount},DKK,D{debtor},consumer,Debtor {debtor},"
                     f"Vej {debtor % 200},{1000 + debtor % 8000},By,DK,{rng.choice(['', '100.00'])}\n")


def timed(command: list[str], env: dict) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def bench(rows: int) -> list[tuple]:
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-"))
    try:
        data = work / "invoices.csv"
        generate(data, rows)
        env = dict(os.environ, INKASSO_HOME=str(work / "home"))
        env.pop("INKASSO_DATABASE_URL", None)
        inkasso = str(Path(sys.executable).parent / "inkasso")
        subprocess.run([inkasso, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        (work / "home" / "inkasso.toml").write_text(REGISTRY)
        limit, _ = timed([sys.executable, "-c", f"import pyarrow.csv as c; c.read_csv({str(data)!r})"], env)
        inbox = work / "home" / "creditors" / "bench" / "inbox"
        results = []
        for label in ("CSV ingest", "re-ingest"):
            inbox.mkdir(parents=True, exist_ok=True)
            shutil.copy(data, inbox / f"{label.replace(' ', '_')}.csv")
            seconds, rss = timed([inkasso, "ingest", "--as-of", AS_OF.isoformat()], env)
            results.append((label, rows, seconds, rss, seconds / limit, "read_csv"))
        results.append(lifecycle(inkasso, env, work / "home"))
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def lifecycle(inkasso: str, env: dict, home: Path) -> tuple:
    """One daily lifecycle run over every open claim, beside reading those claims from the ledger."""
    (home / "rates.csv").write_text("country,valid_from,rate_pct,source\nDK,2026-07-01,1.60,bench\n")
    read = ("from pipeline.config import Settings; from pipeline.ledger import open_ledger; "
            "from pipeline.ledger.repository import lifecycle_claims; "
            "engine = open_ledger(Settings.from_env()); conn = engine.connect(); "
            "print(len(lifecycle_claims(conn, 'bench')))")
    claims = int(subprocess.run([sys.executable, "-c", read], env=env, check=True, capture_output=True,
                                text=True).stdout)
    limit, _ = timed([sys.executable, "-c", read], env)
    seconds, rss = timed([inkasso, "lifecycle", "--as-of", AS_OF.isoformat()], env)
    return "lifecycle", claims, seconds, rss, seconds / limit, "read claims"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    rows = parser.parse_args().rows
    print(f"{'stage':<12} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'peak MiB':>9} {'× limit':>8}  limit")
    for n in (rows, 2 * rows):
        for label, count, seconds, rss, ratio, limit in bench(n):
            print(f"{label:<12} {count:>9} {seconds:>8.1f} {count / seconds:>9.0f} {rss / 1024:>9.0f} {ratio:>8.1f}  "
                  f"{limit}")


if __name__ == "__main__":
    main()
