"""`make bench`: the stages against their limits (quality.md), on generated, seeded data.

For N and 2N rows of the canonical layout (2 % bad rows) it times the ingest stage as
`inkasso ingest` runs it (SQLite), the re-ingest of the same rows (all duplicates), and
`pyarrow.csv.read_csv` of the same file; then one daily lifecycle run (`inkasso lifecycle`)
over the claims taken, beside reading those claims from the ledger; then a camt.053 statement with a
credit for every open case reconciled (`inkasso reconcile`), beside DuckDB joining the same payments and
cases on the reference. It prints rows/s, peak RSS and each ratio to its limit.
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

from sqlalchemy import text

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
        results.append(reconciliation(inkasso, env, work))
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


def reconciliation(inkasso: str, env: dict, work: Path) -> tuple:
    """One camt.053 statement with a credit for every open case (90 % by reference, 5 % by amount and name,
    5 % with nothing to go by), reconciled by `inkasso reconcile`, beside DuckDB joining the same payments
    and cases on the reference."""
    from pipeline.config import Settings
    from pipeline.ledger import open_ledger
    from pipeline.ledger.repository import collecting_case_totals

    settings = Settings(work / "home", f"sqlite:///{work / 'home' / 'inkasso.db'}")
    engine = open_ledger(settings)
    with engine.connect() as conn:
        owed = collecting_case_totals(conn, AS_OF, ["OPEN"])
        references = dict(conn.execute(text("SELECT id, payment_reference FROM cases")).all())
    engine.dispose()
    rng = random.Random(11)
    statement = work / "home" / "bank" / "inbox" / "camt053.xml"
    keys = work / "payment_references.csv"
    with statement.open("w", encoding="utf-8") as xml, keys.open("w", encoding="utf-8") as csv_out:
        xml.write('<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:'
                  'camt.053.001.02"><BkToCstmrStmt><GrpHdr><MsgId>B</MsgId><CreDtTm>2026-11-26T06:00:00</CreDtTm>'
                  '</GrpHdr><Stmt><Id>B</Id><CreDtTm>2026-11-26T06:00:00</CreDtTm><Acct><Id><IBAN>'
                  'DK5000400440116243</IBAN></Id></Acct>')
        csv_out.write("reference\n")
        for n, (case_id, total, name) in enumerate(zip(owed["case_id"], owed["total_minor"], owed["debtor_name"])):
            draw = rng.random()
            reference = references[case_id] if draw < 0.90 else ""
            amount = total if draw < 0.95 else rng.randint(100, 99_999)
            payer = name if draw < 0.95 else "Unknown Payer"
            xml.write(f'<Ntry><Amt Ccy="DKK">{amount // 100}.{amount % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
                      f'<Sts>BOOK</Sts><BookgDt><Dt>{AS_OF}</Dt></BookgDt><ValDt><Dt>{AS_OF}</Dt></ValDt>'
                      f'<AcctSvcrRef>B{n}</AcctSvcrRef><BkTxCd/><NtryDtls><TxDtls><RltdPties><Dbtr><Nm>{payer}</Nm>'
                      f'</Dbtr></RltdPties><RmtInf><Strd><CdtrRefInf><Ref>{reference}</Ref></CdtrRefInf></Strd>'
                      '</RmtInf></TxDtls></NtryDtls></Ntry>')
            csv_out.write(f"{reference}\n")
        xml.write("</Stmt></BkToCstmrStmt></Document>")
    database = work / "home" / "inkasso.db"
    join = ("import duckdb, sqlite3, pyarrow as pa; "
            f"rows = sqlite3.connect({str(database)!r}).execute('SELECT case_number, payment_reference FROM cases')"
            ".fetchall(); cases = pa.table({'case_number': [r[0] for r in rows], 'reference': [r[1] for r in rows]}); "
            f"payments = duckdb.read_csv({str(keys)!r}, dtype={{'reference': 'VARCHAR'}}); "
            "print(duckdb.sql('SELECT count(*) FROM payments JOIN cases USING (reference)').fetchall())")
    limit, _ = timed([sys.executable, "-c", join], env)
    seconds, rss = timed([inkasso, "reconcile", "--settle-seconds", "0", "--as-of", AS_OF.isoformat()], env)
    return "reconcile", len(owed), seconds, rss, seconds / limit, "DuckDB join"


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
