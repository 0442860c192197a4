"""`make bench`: the stages against their limits (quality.md), on generated, seeded data.

For N and 2N rows of the canonical layout (2 % bad rows) it times the ingest stage as
`inkasso ingest` runs it (SQLite), beside `pyarrow.csv.read_csv` of the same file and beside its floor (the rows
it wrote inserted into the ledger as it was, alone); then the re-ingest of the same rows in a file of other
bytes (all duplicates), beside the first ingest; then one daily lifecycle run (`inkasso lifecycle`)
over the claims taken, beside reading those claims from the ledger; then a camt.053 statement with a
credit for every open case reconciled (`inkasso reconcile`), beside DuckDB joining the same payments and
cases on the reference (and beside its floor: the statement read by lxml and the rows it wrote inserted, each
alone). Last, on a home of its own, a week of 100,000 eligible cases (ingested with
national ids, approved for court by an instruction file, warned by the lifecycle) handed over by
`inkasso handoff`, beside `pyarrow.csv.write_csv` writing the same lines. It prints rows/s, peak RSS and
each ratio to its limit.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from pipeline import registry_text

AS_OF = date(2026, 11, 26)
HANDOFF_CASES = 100_000   # the week of the handoff row (issue 18), whatever --rows
SETTLEMENT_ALLOCATIONS, SETTLEMENT_CREDITORS = 1_000_000, 1_000   # the settlement row's week (issue 19)
# what each run writes, parents first: the floors insert these rows alone
INGEST_TABLES = ("creditors", "ingested_files", "debtors", "cases", "invoices", "postings", "case_events",
                 "receipt_lines")
RECONCILE_TABLES = ("ingested_files", "payments", "postings", "case_events")
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


PEAK_RSS = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def timed(command: list[str], env: dict) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of a child process, the peak taken by a wrapper of its own: each stage's,
    not the largest of the children so far."""
    started = time.perf_counter()
    peak = subprocess.run([sys.executable, "-c", PEAK_RSS, *command], env=env, check=True, capture_output=True,
                          text=True).stdout
    return time.perf_counter() - started, int(peak)


def bench(rows: int) -> list[tuple]:
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-"))
    try:
        data = work / "invoices.csv"
        generate(data, rows)
        inkasso, env = fresh_home(work / "home")
        (work / "home" / "inkasso.toml").write_text(REGISTRY)
        limit, _ = timed([sys.executable, "-c", f"import pyarrow.csv as c; c.read_csv({str(data)!r})"], env)
        inbox = work / "home" / "creditors" / "bench" / "inbox"
        results = []
        database, before = work / "home" / "inkasso.db", work / "ledger-before-ingest.db"
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copy(data, inbox / "first.csv")
        _copy_ledger(database, before)
        first, rss = timed([inkasso, "ingest", "--as-of", AS_OF.isoformat()], env)
        floor = _insert_seconds(before, database, INGEST_TABLES, env)
        results.append(("CSV ingest", rows, first, rss, first / limit,
                        f"read_csv; {first / floor:.1f}x its floor, {floor:.1f} s (SQLite inserts alone)"))
        # the same rows again in a file of other bytes (CRLF line ends): the same file again would be
        # recognised by its SHA-256 and not read at all
        (inbox / "again.csv").write_bytes(data.read_bytes().replace(b"\n", b"\r\n"))
        seconds, rss = timed([inkasso, "ingest", "--as-of", AS_OF.isoformat()], env)
        results.append(("re-ingest", rows, seconds, rss, seconds / limit,
                        f"read_csv; {seconds / first:.2f}x the first ingest"))
        results.append(lifecycle(inkasso, env, work / "home"))
        results.append(reconciliation(inkasso, env, work))
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fresh_home(home: Path) -> tuple[str, dict]:
    """`inkasso init` on ``home`` with its own SQLite ledger: the command and the environment it runs in."""
    env = dict(os.environ, INKASSO_HOME=str(home))
    env.pop("INKASSO_DATABASE_URL", None)
    inkasso = str(Path(sys.executable).parent / "inkasso")
    subprocess.run([inkasso, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    return inkasso, env


def handoff(cases: int = HANDOFF_CASES) -> tuple:
    """A week of ``cases`` eligible cases (one claim each, a Danish consumer with a CPR number), taken by
    `inkasso ingest`, approved for court by an instruction file and warned by `inkasso lifecycle`, then
    handed over by `inkasso handoff` on the first Monday after the warnings' deadline; beside
    `pyarrow.csv.write_csv` writing the lines of the handoff file (read back, the write timed alone)."""
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-handoff-"))
    try:
        home = work / "home"
        inkasso, env = fresh_home(home)
        (home / "inkasso.toml").write_text(REGISTRY)
        (home / "rates.csv").write_text("country,valid_from,rate_pct,source\nDK,2026-07-01,1.60,bench\n")
        inbox = home / "creditors" / "bench" / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        with (inbox / "approved.csv").open("w", encoding="utf-8") as fh:
            fh.write("invoice_number,invoice_date,due_date,amount,currency,debtor_id,debtor_type,debtor_name,"
                     "debtor_national_id,debtor_address_line1,debtor_postcode,debtor_city,debtor_country\n")
            for i in range(cases):
                birthday = i % 13_440   # 28 days x 12 months x 40 years, then the serial: every CPR distinct
                cpr = f"{1 + birthday % 28:02d}{1 + birthday // 28 % 12:02d}{60 + birthday // 336:02d}{i // 13_440:04d}"
                fh.write(f"C-{i},2026-08-01,2026-09-01,{1000 + i % 90_000}.{i % 100:02d},DKK,P{i},consumer,"
                         f"Debtor {i},{cpr},Vej {i % 200},{1000 + i % 8000},By,DK\n")
        subprocess.run([inkasso, "ingest", "--as-of", AS_OF.isoformat()], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        (inbox / "instructions_court.csv").write_text("instruction,invoice_number,amount,date,note\n" + "".join(
            f"APPROVE_COURT,C-{i},,{AS_OF},\n" for i in range(cases)))
        for command in (["ingest"], ["lifecycle"]):
            subprocess.run([inkasso, *command, "--as-of", AS_OF.isoformat()], env=env, check=True,
                           stdout=subprocess.DEVNULL)
        monday = AS_OF + timedelta(days=21 - AS_OF.weekday())
        seconds, rss = timed([inkasso, "handoff", "--as-of", monday.isoformat()], env)
        (written,) = (home / "partners" / "alektum" / "outbox").glob("court_handoff_*.csv")
        limit = _write_csv_seconds(written, work / "written.csv", env)
        lines = sum(1 for _ in written.open(encoding="utf-8")) - 1
        return "handoff", lines, seconds, rss, seconds / limit, "write_csv"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def settlement(allocations: int = SETTLEMENT_ALLOCATIONS, creditors: int = SETTLEMENT_CREDITORS) -> tuple:
    """A week of ``allocations`` payments' allocations (each a principal and an interest posting) on 100 cases
    of each of ``creditors`` creditors, written straight into a fresh ledger in bulk (reconciling a million
    payments is the reconcile row's work), settled by `inkasso settle` (lines, summary, pain.001 and a
    statement per creditor); beside `pyarrow.csv.write_csv` writing the lines file's lines (the write alone)."""
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-settle-"))
    try:
        home = work / "home"
        inkasso, env = fresh_home(home)
        (home / "inkasso.toml").write_text(registry_text.registry(
            [registry_text.creditor(f"c{n:04d}", f"Creditor {n} ApS", "DK13585628", "DK", "Vej 1, 2100 København Ø",
                                    "DKK", "DK5000400440116243", "NDEADKKK") for n in range(creditors)],
            settle_seconds=0, title="# the settlement bench's home"))
        _settlement_ledger(home, allocations, creditors)
        seconds, rss = timed([inkasso, "settle", "--as-of", (AS_OF + timedelta(days=5)).isoformat()], env)
        (written,) = (home / "finance" / "outbox").glob("settlement_lines_*.csv")
        limit = _write_csv_seconds(written, work / "written.csv", env)
        return "settlement", allocations, seconds, rss, seconds / limit, "write_csv"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _settlement_ledger(home: Path, allocations: int, creditors: int) -> None:
    """The bench's ledger: cases, claims and payments of ``creditors`` creditors, booked on AS_OF."""
    from pipeline.config import Settings
    from pipeline.ledger import open_ledger
    from pipeline.ledger.repository import case_number_for, insert_rows, sync_creditors
    from pipeline.ledger.schema import cases, debtors, ingested_files, invoices, payments, postings

    settings = Settings(home, f"sqlite:///{home / 'inkasso.db'}")
    engine = open_ledger(settings)
    count = creditors * 100
    ids = list(range(1, count + 1))
    with engine.begin() as conn:
        sync_creditors(conn, settings.load_registry())
        conn.execute(ingested_files.insert().values(id=1, party_kind="creditor", party_id="c0000", sha256="0" * 64,
                                                    file_name="bench.csv", size_bytes=0, kind="invoice_csv",
                                                    status="PROCESSED", received_at=datetime(2026, 11, 1),
                                                    as_of=AS_OF, run_id="bench"))
        owner = [f"c{(n - 1) // 100:04d}" for n in ids]
        insert_rows(conn, debtors, id=ids, creditor_id=owner, debtor_ref=[f"D{n}" for n in ids],
                    debtor_type="consumer", name=[f"Debtor {n}" for n in ids], address_line1="Vej 1", postcode="2100",
                    city="København", country="DK")
        insert_rows(conn, cases, id=ids, case_number=[case_number_for(n) for n in ids],
                    payment_reference=[f"{n:015d}" for n in ids], creditor_id=owner, debtor_id=ids, currency="DKK",
                    country="DK", status="OPEN", opened_on=AS_OF - timedelta(days=30), file_id=1)
        insert_rows(conn, invoices, id=ids, creditor_id=owner, invoice_number=[f"INV-{n}" for n in ids],
                    document_type="invoice", case_id=ids, debtor_id=ids, invoice_date=AS_OF - timedelta(days=90),
                    due_date=AS_OF - timedelta(days=60), amount_minor=100_000_000, currency="DKK", reminders_sent=0,
                    reminder_fees_minor=0, below_minimum=False, content_sha="0" * 64, file_id=1,
                    line=[n + 1 for n in ids])
        paid = list(range(1, allocations + 1))
        insert_rows(conn, payments, id=paid, scheme="iso20022", account="DK5000400440116243",
                    bank_key=[f"B{n}" for n in paid], source="camt.053",
                    amount_minor=[10_000 + n % 500 + n % 8_500 for n in paid],
                    currency="DKK", value_date=AS_OF, booking_date=AS_OF, reference="", remittance_text="",
                    payer_name="Payer", payer_address="", payer_id="", reversal=False, position="", file_id=1,
                    run_id="bench", judged_on=AS_OF, rule="REFERENCE", case_id=[1 + n % count for n in paid])
        claim = [1 + n % count for n in paid]
        for settles, share in (("interest", lambda n: 1_000 + n % 500), ("principal", lambda n: 9_000 + n % 8_500)):
            insert_rows(conn, postings, case_id=claim, invoice_id=claim, kind="payment",
                        amount_minor=[-share(n) for n in paid], currency="DKK", booked_on=AS_OF, value_date=AS_OF,
                        settles=settles, payment_id=paid, run_id="bench")
    engine.dispose()


def _write_csv_seconds(written: Path, copy: Path, env: dict) -> float:
    """Seconds `pyarrow.csv.write_csv` takes to write the lines of ``written`` (read back as text first)."""
    write = ("import time, pyarrow as pa, pyarrow.csv as c; "
             f"path = {str(written)!r}; header = open(path, encoding='utf-8').readline().strip().split(','); "
             "t = c.read_csv(path, convert_options=c.ConvertOptions(column_types=dict.fromkeys(header, "
             "pa.string()))); started = time.perf_counter(); "
             f"c.write_csv(t, {str(copy)!r}); print(time.perf_counter() - started)")
    return float(subprocess.run([sys.executable, "-c", write], env=env, check=True, capture_output=True,
                                text=True).stdout)


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
    and cases on the reference; and beside the run's floor: lxml reading the statement, and SQLite inserting
    the payments, postings and events the run wrote into the ledger as it was, each alone."""
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
    before = work / "ledger-before-reconcile.db"
    _copy_ledger(database, before)
    parse = _parse_seconds(statement, env)
    seconds, rss = timed([inkasso, "reconcile", "--settle-seconds", "0", "--as-of", AS_OF.isoformat()], env)
    floor = parse + _insert_seconds(before, database, RECONCILE_TABLES, env)
    return ("reconcile", len(owed), seconds, rss, seconds / limit,
            f"DuckDB join; {seconds / floor:.1f}x its floor, {floor:.1f} s (lxml parse, SQLite inserts, alone)")


def _copy_ledger(database: Path, copy: Path) -> None:
    """A consistent copy of a SQLite ledger in WAL mode (SQLite's backup, not a copy of the file)."""
    import sqlite3

    source, target = sqlite3.connect(database), sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()


def _parse_seconds(statement: Path, env: dict) -> float:
    """Seconds lxml takes to read a camt file entry by entry, with no Python per entry."""
    parse = ("import time; from lxml import etree; started = time.perf_counter()\n"
             f"for _, entry in etree.iterparse({str(statement)!r}, tag='{{*}}Ntry'):\n"
             "    entry.clear()\n"
             "print(time.perf_counter() - started)\n")
    return float(subprocess.run([sys.executable, "-c", parse], env=env, check=True, capture_output=True,
                                text=True).stdout)


def _insert_seconds(before: Path, after: Path, tables: tuple[str, ...], env: dict) -> float:
    """Seconds SQLite takes to insert the rows a run added to ``tables`` (parents first; the rows of ``after``
    that ``before`` has not) into ``before``, the ledger as it was: one transaction, the ledger's own settings
    (foreign keys, synchronous), no Python per row. The least a run that writes those rows can take."""
    insert = (
        "import sqlite3, time\n"
        f"after = sqlite3.connect({str(after)!r}); after.execute('ATTACH ? AS was', ({str(before)!r},))\n"
        "rows = {}\n"
        f"for table in {tables!r}:\n"
        "    columns = ', '.join(c[1] for c in after.execute(f'PRAGMA table_info({table})'))\n"
        "    rows[table] = (columns, after.execute(f'SELECT {columns} FROM main.{table} EXCEPT '\n"
        "                                          f'SELECT {columns} FROM was.{table}').fetchall())\n"
        "after.close()\n"
        f"before = sqlite3.connect({str(before)!r}, isolation_level=None)\n"
        "before.execute('PRAGMA foreign_keys=ON'); before.execute('PRAGMA synchronous=NORMAL')\n"
        "started = time.perf_counter()\n"
        "before.execute('BEGIN')\n"
        "for table, (columns, values) in rows.items():\n"
        "    if values:\n"
        "        marks = ', '.join('?' * len(values[0]))\n"
        "        before.executemany(f'INSERT INTO {table} ({columns}) VALUES ({marks})', values)\n"
        "before.execute('COMMIT')\n"
        "print(time.perf_counter() - started)\n")
    return float(subprocess.run([sys.executable, "-c", insert], env=env, check=True, capture_output=True,
                                text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    rows = parser.parse_args().rows
    print(f"{'stage':<12} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'peak MiB':>9} {'× limit':>8}  limit")
    for n in (rows, 2 * rows):
        for label, count, seconds, rss, ratio, limit in bench(n):
            show(label, count, seconds, rss, ratio, limit)
    show(*handoff())
    show(*settlement())


def show(label: str, count: int, seconds: float, rss: int, ratio: float, limit: str) -> None:
    print(f"{label:<12} {count:>9} {seconds:>8.1f} {count / seconds:>9.0f} {rss / 1024:>9.0f} {ratio:>8.1f}  {limit}")


if __name__ == "__main__":
    main()
