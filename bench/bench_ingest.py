"""`make bench`: the stages against their limits (quality.md), on generated, seeded data.

For N and 2N rows of the canonical layout (2 % bad rows) it times the ingest stage as
`inkasso ingest` runs it (SQLite), beside `pyarrow.csv.read_csv` of the same file and beside its floor (the rows
it wrote inserted into the ledger as it was, alone), each of the three timed `TIMED_RUNS` times and the fastest
kept; then the re-ingest of the same rows in a file of other bytes (all duplicates), beside the first ingest;
then one daily lifecycle run (`inkasso lifecycle`) over the claims taken, beside reading those claims from the
ledger. On a home of its own, N (and 2N) open cases, one claim each, and a camt.053 statement with a credit for
every one of them reconciled (`inkasso reconcile`), beside DuckDB joining the same payments and cases on the
reference (and beside its floor: the statement read by lxml and the rows it wrote inserted, each alone).
Then 20,000 PEPPOL BIS 3 invoices, a file each, taken by `inkasso ingest` beside `lxml.etree.parse` of the same
files. Last, on homes of their own, a week of eligible cases (ingested
with national ids, approved for court by an instruction file, warned by the lifecycle) handed over by
`inkasso handoff`, beside `pyarrow.csv.write_csv` writing the same lines, and a week of allocations settled by
`inkasso settle`, beside `write_csv` of its lines (and beside its floor: the week's postings read and what the
run recorded inserted, each alone). ``--pg URL`` adds the ingest of N and 2N rows into a fresh
PostgreSQL database on that server, beside reading the file and COPYing its rows into an unindexed table
(and beside its floor, those rows COPYed alone into an empty ledger); ``--memory`` adds the ingest of
10,000,000 rows, held to its peak memory; ``--ingest-only`` leaves out the other stages. ``--quick`` is the
whole run on 50,000 rows (and 500 UBL invoices, a smaller handoff and settlement week), in a few minutes.

It prints rows/s, each stage's own peak memory and each ratio to its limit, how each stage's time grew from N
to 2N rows, and writes the same to ``bench/results.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from pipeline import registry_text
from pipeline.ledger.repository import BULK_WRITE_CACHE_KIB

AS_OF = date(2026, 11, 26)
ROWS, QUICK_ROWS, MEMORY_ROWS = 1_000_000, 50_000, 10_000_000
MEMORY_LIMIT_BYTES = 1_500_000_000   # quality.md: 10,000,000 rows within 1.5 GB
HANDOFF_CASES = 100_000   # the week of the handoff row (issue 18), whatever --rows
SETTLEMENT_ALLOCATIONS, SETTLEMENT_CREDITORS = 1_000_000, 1_000   # the settlement row's week (issue 19)
UBL_DOCUMENTS = 20_000     # the UBL row: as many invoice documents, a file each (quality.md)
QUICK_HANDOFF_CASES, QUICK_SETTLEMENT, QUICK_UBL_DOCUMENTS = 5_000, (50_000, 50), 500
UBL_TEMPLATE = Path(__file__).parents[1] / "tests" / "data" / "ubl" / "own" / "acme_invoice.xml"
RESULTS = Path(__file__).with_name("results.json")
RATES_CSV = "country,valid_from,rate_pct,source\nDK,2026-07-01,1.60,bench\n"   # the reference rate of the claims
# the SQLite ingest, its floor and read_csv are each timed this often (each ingest on a fresh home) and the
# fastest kept: alone, each of them varied by a quarter from one run to the next on a quiet machine
TIMED_RUNS = 2
# what each run writes, parents first: the floors insert these rows alone
INGEST_TABLES = ("creditors", "ingested_files", "debtors", "cases", "invoices", "postings", "case_events",
                 "receipt_lines")
RECONCILE_TABLES = ("ingested_files", "payments", "postings", "case_events")
SETTLEMENT_TABLES = ("settlement_weeks", "settlements", "settlement_lines", "settled_postings")
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


@dataclass
class Result:
    """One stage timed beside its limit: a line of the table and an entry of results.json."""

    stage: str
    database: str
    rows: int
    seconds: float
    peak_mib: float
    limit: str               # what the stage is measured against
    ratio: float             # its time over the limit's time (memory: its peak over the bound)
    target: str              # quality.md's bound on the ratio
    note: str = ""


PEAK_MEMORY = Path(__file__).with_name("peak_memory.py")


def timed(command: list[str], env: dict) -> tuple[float, int]:
    """Seconds and peak memory (KiB) of a child process and the processes it starts (the largest sum of their
    proportional set sizes), the peak taken by a wrapper of its own (`peak_memory`): each stage's, not the
    largest of the children so far."""
    started = time.perf_counter()
    peak = subprocess.run([sys.executable, str(PEAK_MEMORY), *command], env=env, check=True, capture_output=True,
                          text=True).stdout
    return time.perf_counter() - started, int(peak)


def sqlite_stages(rows: int, ingest_only: bool = False) -> list[Result]:
    """Ingest, re-ingest and lifecycle of ``rows`` generated invoice rows, on SQLite."""
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-"))
    try:
        data = work / "invoices.csv"
        generate(data, rows)
        homes = [work / f"home-{n}" for n in range(1, TIMED_RUNS)] + [work / "home"]   # the last one goes on
        timings = [_first_ingest(data, home, last=home == homes[-1]) for home in homes]
        inkasso, env = command_on(work / "home")
        limit = min(_read_csv_seconds(data, env) for _ in range(TIMED_RUNS))
        seconds, floor = min(t.seconds for t in timings), min(t.floor for t in timings)
        first = Result("CSV ingest", "sqlite", rows, seconds, max(t.kib for t in timings) / 1024, "read_csv",
                       seconds / limit, "≤ 8×", f"{seconds / floor:.1f}x its floor, {floor:.1f} s (SQLite inserts "
                       f"alone); each the fastest of {TIMED_RUNS}")
        # the same rows again in a file of other bytes (CRLF line ends): the same file again would be
        # recognised by its SHA-256 and not read at all
        inbox = bench_inbox(work / "home")
        (inbox / "again.csv").write_bytes(data.read_bytes().replace(b"\n", b"\r\n"))
        seconds, rss = timed([inkasso, "ingest", "--as-of", AS_OF.isoformat()], env)
        again = Result("re-ingest", "sqlite", rows, seconds, rss / 1024, "first ingest", seconds / first.seconds,
                       "≤ 0.5×")
        if ingest_only:
            return [first, again]
        return [first, again, lifecycle(inkasso, env, work / "home")]
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class Timing:
    seconds: float   # the ingest
    kib: int         # its peak memory
    floor: float     # the rows it wrote inserted alone


def _first_ingest(data: Path, home: Path, last: bool) -> Timing:
    """`inkasso ingest` of ``data`` on a fresh home, and its floor: the rows it wrote inserted alone into the
    ledger as it was before. The home is removed unless it is the ``last``, on which the bench goes on."""
    inkasso, env = fresh_home(home)
    database = home / "inkasso.db"
    before = home.with_name(f"{home.name}-ledger-before-ingest.db")
    shutil.copy(data, bench_inbox(home) / "first.csv")
    _copy_ledger(database, before)
    seconds, kib = timed([inkasso, "ingest", "--as-of", AS_OF.isoformat()], env)
    floor = _insert_seconds(before, database, INGEST_TABLES, env, cache_kib=BULK_WRITE_CACHE_KIB)
    before.unlink()
    if not last:
        shutil.rmtree(home)
    return Timing(seconds, kib, floor)


def postgres_ingest(rows: int, url: str) -> Result:
    """The ingest of ``rows`` generated rows into a fresh database on the PostgreSQL server of ``url``, beside
    `read_csv` of the file plus COPY of its rows into an unindexed table of text columns (quality.md), and beside
    its floor: the rows it wrote COPYed alone into another fresh ledger (the ledger's keys and indexes)."""
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-pg-"))
    name, empty = f"inkasso_bench_{os.getpid()}_{rows}", f"inkasso_bench_{os.getpid()}_{rows}_floor"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for database in (name, empty):
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    database_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    empty_url = make_url(url).set(database=empty).render_as_string(hide_password=False)
    try:
        data = work / "invoices.csv"
        generate(data, rows)
        inkasso, env = fresh_home(work / "home", database_url=database_url)
        inbox = bench_inbox(work / "home")
        shutil.copy(data, inbox / "first.csv")
        limit = _read_and_copy_seconds(data, database_url, env)
        seconds, rss = timed([inkasso, "ingest", "--as-of", AS_OF.isoformat()], env)
        fresh_home(work / "empty", database_url=empty_url)   # the same creditors, nothing else
        floor = _copy_seconds(database_url, empty_url, INGEST_TABLES[1:], env)
        return Result("CSV ingest", "postgresql", rows, seconds, rss / 1024, "read_csv + COPY", seconds / limit, "≤ 4×",
                      f"{seconds / floor:.1f}x its floor, {floor:.1f} s (COPY into the ledger alone)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with admin.connect() as conn:
            for database in (name, empty):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def memory(rows: int = MEMORY_ROWS) -> Result:
    """The ingest of ``rows`` generated rows (SQLite), held to quality.md's peak memory: the file is streamed in
    batches, so the peak must not grow with it. Its limit is the memory bound, not a time."""
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-memory-"))
    try:
        inkasso, env = fresh_home(work / "home")
        inbox = bench_inbox(work / "home")
        generate(inbox / "first.csv", rows)
        seconds, rss = timed([inkasso, "ingest", "--as-of", AS_OF.isoformat()], env)
        return Result("memory", "sqlite", rows, seconds, rss / 1024, "peak memory / 1.5 GB",
                      rss * 1024 / MEMORY_LIMIT_BYTES, "≤ 1×")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ubl_ingest(documents: int = UBL_DOCUMENTS) -> Result:
    """``documents`` PEPPOL BIS 3 invoices, a file each (the repository's own example, its number, debtor and amount
    varied), taken by `inkasso ingest`, beside `lxml.etree.parse` of the same files (quality.md)."""
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-ubl-"))
    try:
        inkasso, env = fresh_home(work / "home")
        inbox = bench_inbox(work / "home")
        template = UBL_TEMPLATE.read_text(encoding="utf-8")
        rng = random.Random(5)
        for n in range(documents):
            amount = rng.randint(10_000, 5_000_000)
            (inbox / f"invoice_{n:06d}.xml").write_text(
                template.replace("ACME-2026-0815", f"UBL-{n}").replace("K-4711", f"K-{n % (documents // 3 + 1)}")
                .replace(">12500.00<", f">{amount // 100}.{amount % 100:02d}<"), encoding="utf-8")
        parse = ("import sys, time; from pathlib import Path; from lxml import etree\n"
                 "files = sorted(Path(sys.argv[1]).iterdir())\n"
                 "started = time.perf_counter()\n"
                 "for path in files:\n"
                 "    etree.parse(str(path))\n"
                 "print(time.perf_counter() - started)\n")
        limit = float(subprocess.run([sys.executable, "-c", parse, str(inbox)], env=env, check=True,
                                     capture_output=True, text=True).stdout)
        seconds, rss = timed([inkasso, "ingest", "--as-of", AS_OF.isoformat()], env)
        return Result("UBL ingest", "sqlite", documents, seconds, rss / 1024, "lxml parse", seconds / limit, "≤ 3×")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _copy_seconds(source_url: str, target_url: str, tables: tuple[str, ...], env: dict) -> float:
    """Seconds PostgreSQL takes to COPY (binary) the rows of ``tables`` of one ledger into another, empty one (parents
    first; read out first, the COPY timed alone, in one transaction): the least a run that writes them can take."""
    source, target = (make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
                      for url in (source_url, target_url))
    copy = ("import sys, time, psycopg\n"
            "source, target, *tables = sys.argv[1:]\n"
            "rows = {}\n"
            "with psycopg.connect(source) as conn:\n"
            "    for table in tables:\n"
            "        columns = ', '.join(c.name for c in conn.execute(f'SELECT * FROM {table} LIMIT 0').description)\n"
            "        with conn.cursor().copy(f'COPY {table} ({columns}) TO STDOUT (FORMAT binary)') as out:\n"
            "            rows[table] = (columns, b''.join(bytes(block) for block in out))\n"
            "with psycopg.connect(target) as conn:\n"
            "    started = time.perf_counter()\n"
            "    for table, (columns, data) in rows.items():\n"
            "        with conn.cursor().copy(f'COPY {table} ({columns}) FROM STDIN (FORMAT binary)') as into:\n"
            "            into.write(data)\n"
            "    conn.commit()\n"
            "    print(time.perf_counter() - started)\n")
    return float(subprocess.run([sys.executable, "-c", copy, source, target, *tables], env=env, check=True,
                                capture_output=True, text=True).stdout)


def _read_csv_seconds(data: Path, env: dict) -> float:
    return timed([sys.executable, "-c", f"import pyarrow.csv as c; c.read_csv({str(data)!r})"], env)[0]


def _read_and_copy_seconds(data: Path, database_url: str, env: dict) -> float:
    """Seconds `read_csv` of the file plus COPY of its rows (as text) into a new, unindexed table take."""
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    copy = ("import sys, time, psycopg, pyarrow.csv as c\n"
            "path, url = sys.argv[1:]\n"
            "started = time.perf_counter()\n"
            "c.read_csv(path)\n"
            "header = open(path, encoding='utf-8').readline().strip().split(',')\n"
            "with psycopg.connect(url) as conn:\n"
            "    conn.execute('CREATE TABLE bench_copy (' + ', '.join(f'{name} text' for name in header) + ')')\n"
            "    with conn.cursor().copy('COPY bench_copy FROM STDIN (FORMAT csv, HEADER true)') as copy, "
            "open(path, 'rb') as fh:\n"
            "        while block := fh.read(1 << 20):\n"
            "            copy.write(block)\n"
            "print(time.perf_counter() - started)\n"
            "with psycopg.connect(url, autocommit=True) as conn:\n"
            "    conn.execute('DROP TABLE bench_copy')\n")
    return float(subprocess.run([sys.executable, "-c", copy, str(data), url], env=env, check=True,
                                capture_output=True, text=True).stdout)


def fresh_home(home: Path, registry: str = REGISTRY, database_url: str | None = None) -> tuple[str, dict]:
    """`inkasso init` on ``home`` with ``registry`` as its inkasso.toml and its own ledger (SQLite in the home,
    unless ``database_url``): the command and the environment it runs in."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "inkasso.toml").write_text(registry)
    inkasso, env = command_on(home, database_url)
    subprocess.run([inkasso, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    return inkasso, env


def command_on(home: Path, database_url: str | None = None) -> tuple[str, dict]:
    """The `inkasso` command and the environment it runs in on ``home``."""
    env = dict(os.environ, INKASSO_HOME=str(home))
    env.pop("INKASSO_DATABASE_URL", None)
    if database_url is not None:
        env["INKASSO_DATABASE_URL"] = database_url
    return str(Path(sys.executable).parent / "inkasso"), env


def bench_inbox(home: Path) -> Path:
    """The bench creditor's inbox in ``home``, made if it is not there."""
    inbox = home / "creditors" / "bench" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    return inbox


def _home_with_rates(home: Path) -> tuple[str, dict, Path]:
    """A fresh home with the bench's reference rates: the `inkasso` command, its environment and the bench
    creditor's inbox."""
    inkasso, env = fresh_home(home)
    (home / "rates.csv").write_text(RATES_CSV)
    return inkasso, env, bench_inbox(home)


def handoff(cases: int = HANDOFF_CASES) -> Result:
    """A week of ``cases`` eligible cases (one claim each, a Danish consumer with a CPR number), taken by
    `inkasso ingest`, approved for court by an instruction file and warned by `inkasso lifecycle`, then
    handed over by `inkasso handoff` on the first Monday after the warnings' deadline; beside
    `pyarrow.csv.write_csv` writing the lines of the handoff file (read back, the write timed alone)."""
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-handoff-"))
    try:
        home = work / "home"
        inkasso, env, inbox = _home_with_rates(home)
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
        return Result("handoff", "sqlite", lines, seconds, rss / 1024, "write_csv", seconds / limit, "no limit")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def settlement(allocations: int = SETTLEMENT_ALLOCATIONS, creditors: int = SETTLEMENT_CREDITORS) -> Result:
    """A week of ``allocations`` payments' allocations (each a principal and an interest posting) on 100 cases
    of each of ``creditors`` creditors, written straight into a fresh ledger in bulk (reconciling a million
    payments is the reconcile row's work), settled by `inkasso settle` (lines, summary, pain.001 and a
    statement per creditor); beside `pyarrow.csv.write_csv` writing the lines file's lines (the write alone),
    and beside its floor: SQLite reading the week's unsettled postings (the run's query) and inserting the
    settlements, lines and settled postings the run wrote, each alone."""
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-settle-"))
    try:
        home = work / "home"
        inkasso, env = fresh_home(home, registry_text.registry(
            [registry_text.creditor(f"c{n:04d}", f"Creditor {n} ApS", "DK13585628", "DK", "Vej 1, 2100 København Ø",
                                    "DKK", "DK5000400440116243", "NDEADKKK") for n in range(creditors)],
            settle_seconds=0, title="# the settlement bench's home"))
        _settlement_ledger(home, allocations, creditors)
        before = work / "ledger-before-settle.db"
        _copy_ledger(home / "inkasso.db", before)
        as_of = AS_OF + timedelta(days=5)
        seconds, rss = timed([inkasso, "settle", "--as-of", as_of.isoformat()], env)
        (written,) = (home / "finance" / "outbox").glob("settlement_lines_*.csv")
        limit = _write_csv_seconds(written, work / "written.csv", env)
        floor = (_read_unsettled_seconds(before, as_of, env)
                 + _insert_seconds(before, home / "inkasso.db", SETTLEMENT_TABLES, env))
        return Result("settlement", "sqlite", allocations, seconds, rss / 1024, "write_csv", seconds / limit, "≤ 5×",
                      f"{seconds / floor:.1f}x its floor, {floor:.1f} s (the postings read, SQLite inserts, alone)")
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


def _read_unsettled_seconds(database: Path, as_of: date, env: dict) -> float:
    """Seconds SQLite takes to read the rows of the settlement's query (its postings through the week's Sunday)
    into the driver's tuples: the least a run that settles them can take to read them."""
    read = ("import sqlite3, sys, time; from datetime import date, timedelta\n"
            "from sqlalchemy.dialects import sqlite\n"
            "from pipeline.ledger.settlements import unsettled_postings_query\n"
            "from pipeline.stages.settle import default_period, monday\n"
            "through = monday(default_period(date.fromisoformat(sys.argv[2]))) + timedelta(days=6)\n"
            "sql = str(unsettled_postings_query(through).compile(dialect=sqlite.dialect(), "
            "compile_kwargs={'literal_binds': True}))\n"
            "conn = sqlite3.connect(sys.argv[1])\n"
            "started = time.perf_counter()\n"
            "conn.execute(sql).fetchall()\n"
            "print(time.perf_counter() - started)\n")
    return float(subprocess.run([sys.executable, "-c", read, str(database), as_of.isoformat()], env=env,
                                check=True, capture_output=True, text=True).stdout)


def _write_csv_seconds(written: Path, copy: Path, env: dict) -> float:
    """Seconds `pyarrow.csv.write_csv` takes to write the lines of ``written`` (read back as text first)."""
    write = ("import time, pyarrow as pa, pyarrow.csv as c; "
             f"path = {str(written)!r}; header = open(path, encoding='utf-8').readline().strip().split(','); "
             "t = c.read_csv(path, convert_options=c.ConvertOptions(column_types=dict.fromkeys(header, "
             "pa.string()))); started = time.perf_counter(); "
             f"c.write_csv(t, {str(copy)!r}); print(time.perf_counter() - started)")
    return float(subprocess.run([sys.executable, "-c", write], env=env, check=True, capture_output=True,
                                text=True).stdout)


def lifecycle(inkasso: str, env: dict, home: Path) -> Result:
    """One daily lifecycle run over every open claim, beside reading those claims from the ledger."""
    (home / "rates.csv").write_text(RATES_CSV)
    read = ("from pipeline.config import Settings; from pipeline.ledger import open_ledger; "
            "from pipeline.ledger.repository import lifecycle_claims; "
            "engine = open_ledger(Settings.from_env()); conn = engine.connect(); "
            "print(len(lifecycle_claims(conn, 'bench')))")
    claims = int(subprocess.run([sys.executable, "-c", read], env=env, check=True, capture_output=True,
                                text=True).stdout)
    limit, _ = timed([sys.executable, "-c", read], env)
    seconds, rss = timed([inkasso, "lifecycle", "--as-of", AS_OF.isoformat()], env)
    return Result("lifecycle", "sqlite", claims, seconds, rss / 1024, "read claims", seconds / limit, "no limit")


def reconciliation(cases: int) -> Result:
    """``cases`` open cases of a home of their own, one claim each (taken by `inkasso ingest`), and one camt.053
    statement with a credit for every one of them (90 % by reference, 5 % by amount and name, 5 % with nothing
    to go by: quality.md), reconciled by `inkasso reconcile`, beside DuckDB joining the same payments and cases
    on the reference; and beside the run's floor: lxml reading the statement, and SQLite inserting the payments,
    postings and events the run wrote into the ledger as it was, each alone."""
    work = Path(tempfile.mkdtemp(prefix="inkasso-bench-reconcile-"))
    try:
        home = work / "home"
        inkasso, env, inbox = _home_with_rates(home)
        _one_claim_each(inbox / "cases.csv", cases)
        subprocess.run([inkasso, "ingest", "--as-of", AS_OF.isoformat()], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        statement, keys = home / "bank" / "inbox" / "camt053.xml", work / "payment_references.csv"
        payments = _statement_for_open_cases(home, statement, keys)
        database = home / "inkasso.db"
        join = ("import duckdb, sqlite3, pyarrow as pa; "
                f"rows = sqlite3.connect({str(database)!r}).execute('SELECT case_number, payment_reference "
                "FROM cases').fetchall(); cases = pa.table({'case_number': [r[0] for r in rows], "
                "'reference': [r[1] for r in rows]}); "
                f"payments = duckdb.read_csv({str(keys)!r}, dtype={{'reference': 'VARCHAR'}}); "
                "print(duckdb.sql('SELECT count(*) FROM payments JOIN cases USING (reference)').fetchall())")
        limit, _ = timed([sys.executable, "-c", join], env)
        before = work / "ledger-before-reconcile.db"
        _copy_ledger(database, before)
        parse = _parse_seconds(statement, env)
        seconds, rss = timed([inkasso, "reconcile", "--settle-seconds", "0", "--as-of", AS_OF.isoformat()], env)
        floor = parse + _insert_seconds(before, database, RECONCILE_TABLES, env, cache_kib=BULK_WRITE_CACHE_KIB)
        return Result("reconcile", "sqlite", payments, seconds, rss / 1024, "DuckDB join", seconds / limit, "≤ 5×",
                      f"{seconds / floor:.1f}x its floor, {floor:.1f} s (lxml parse, SQLite inserts, alone); "
                      f"{_judged(database)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _one_claim_each(path: Path, cases: int, seed: int = 13) -> None:
    """``cases`` invoices of the canonical layout, each of a debtor of its own: as many open cases."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER)
        for i in range(cases):
            due = AS_OF - timedelta(days=rng.randint(20, 700))
            amount = rng.randint(10_000, 5_000_000)
            fh.write(f"INV-{i},{due - timedelta(days=30)},{due},{amount // 100}.{amount % 100:02d},DKK,D{i},"
                     f"consumer,Debtor {i},Vej {i % 200},{1000 + i % 8000},By,DK,\n")


def _statement_for_open_cases(home: Path, statement: Path, keys: Path) -> int:
    """A camt.053 statement with a credit for every open case of the home's ledger, booked on AS_OF: 90 % by the
    case's reference and its balance, 5 % with its balance and its debtor's name alone, 5 % of an amount drawn
    at random from an unknown payer with no reference. ``keys`` gets each entry's reference (what DuckDB
    joins). Returns the number of entries."""
    from pipeline.config import Settings
    from pipeline.ledger import open_ledger
    from pipeline.ledger.repository import collecting_case_totals

    engine = open_ledger(Settings(home, f"sqlite:///{home / 'inkasso.db'}"))
    with engine.connect() as conn:
        owed = collecting_case_totals(conn, AS_OF, ["OPEN"])
        references = dict(conn.execute(text("SELECT id, payment_reference FROM cases")).all())
    engine.dispose()
    rng = random.Random(11)
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
    return len(owed)


def _judged(database: Path) -> str:
    """How the run judged the payments (the count of each matching rule and parked reason), and the postings and
    case events it wrote."""
    import sqlite3

    with sqlite3.connect(database) as conn:
        counts = conn.execute("SELECT coalesce(rule, parked_reason), count(*) FROM payments GROUP BY 1 "
                              "ORDER BY 2 DESC").fetchall()
        written = [conn.execute(f"SELECT count(*) FROM {table} WHERE run_id LIKE 'cli__reconcile__%'").fetchone()[0]
                   for table in ("postings", "case_events")]
    return ", ".join(f"{count:,} {how}" for how, count in counts) + (
        f"; {written[0]:,} postings and {written[1]:,} case events written")


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


def _insert_seconds(before: Path, after: Path, tables: tuple[str, ...], env: dict, cache_kib: int = 2_000) -> float:
    """Seconds SQLite takes to insert the rows a run added to ``tables`` (parents first; the rows of ``after``
    that ``before`` has not) into ``before``, the ledger as it was: one transaction, the settings the run
    writes with (foreign keys, synchronous, a page cache of ``cache_kib``), no Python per row. The least a run
    that writes those rows can take."""
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
        f"before.execute('PRAGMA cache_size=-{cache_kib}')\n"
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
    parser = argparse.ArgumentParser(description="Time the stages against their limits (quality.md).")
    parser.add_argument("--rows", type=int, default=ROWS, help="N: the stages run on N and 2N rows")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ROWS:,} rows and a smaller handoff and settlement week: a few minutes")
    parser.add_argument("--pg", metavar="URL", help="also ingest into PostgreSQL (a fresh database on that server)")
    parser.add_argument("--memory", action="store_true", help=f"also ingest {MEMORY_ROWS:,} rows for peak memory")
    parser.add_argument("--ingest-only", action="store_true", help="only the ingest rows (and --pg, --memory)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the results are written as JSON")
    args = parser.parse_args()
    rows = QUICK_ROWS if args.quick else args.rows
    print(f"{'stage':<12} {'database':<10} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'peak MiB':>9} "
          f"{'× limit':>8}  {'target':<8} limit")
    runs: dict[int, list[Result]] = {}
    for n in (rows, 2 * rows):
        runs[n] = [show(result) for result in sqlite_stages(n, args.ingest_only)]
        if not args.ingest_only:
            runs[n].append(show(reconciliation(n)))
        if args.pg:
            runs[n].append(show(postgres_ingest(n, args.pg)))
    once = [show(ubl_ingest(QUICK_UBL_DOCUMENTS if args.quick else UBL_DOCUMENTS))]
    if not args.ingest_only:
        week = QUICK_SETTLEMENT if args.quick else (SETTLEMENT_ALLOCATIONS, SETTLEMENT_CREDITORS)
        once += [show(handoff(QUICK_HANDOFF_CASES if args.quick else HANDOFF_CASES)), show(settlement(*week))]
    if args.memory:
        once.append(show(memory()))
    growth = {(single.stage, single.database): double.seconds / single.seconds
              for single, double in zip(runs[rows], runs[2 * rows])}
    for (stage, database), ratio in growth.items():
        print(f"{stage} ({database}): {2 * rows:,} rows took {ratio:.2f}x the time of {rows:,} (quality.md: ≤ 2.1×)")
    write_results(args.output, rows, runs[rows] + runs[2 * rows] + once, growth)


def write_results(path: Path, rows: int, results: list[Result], growth: dict) -> None:
    path.write_text(json.dumps({
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "rows": rows,
        "stages": [asdict(r) for r in results],
        "growth_2n_over_n": [{"stage": stage, "database": database, "ratio": round(ratio, 2)}
                             for (stage, database), ratio in growth.items()],
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {path}")


def show(r: Result) -> Result:
    print(f"{r.stage:<12} {r.database:<10} {r.rows:>10} {r.seconds:>8.1f} {r.rows / r.seconds:>9.0f} "
          f"{r.peak_mib:>9.0f} {r.ratio:>8.1f}  {r.target:<8} {r.limit}" + (f"; {r.note}" if r.note else ""),
          flush=True)
    return r


if __name__ == "__main__":
    main()
