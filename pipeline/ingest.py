"""The creditor ingest stage (mission.md, formats.md §1): inbox files become cases and receipts.

For each complete file in a creditor's inbox, exactly once:

1. fetch it to a scratch file and take its SHA-256: (creditor, SHA-256) is the file's key;
2. in ONE transaction: record the file, parse and judge every row, write debtors,
   cases, claims, postings, events and the receipt lines; a file-level problem rolls
   it all back and records the file as rejected with its one receipt line instead;
3. keep the raw bytes (``archive/`` when processed, ``quarantine/`` when rejected);
4. write the receipt to the outbox (temporary name, then rename), built from the ledger;
5. remove the file from the inbox.

A crash anywhere before 2 commits leaves the file in the inbox untouched; a crash
after it makes the retry find the key and only redo 3-5, which write the same bytes.
"""
from __future__ import annotations

import hashlib
import logging
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from time import time
from typing import Callable

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from pipeline.case_states import CLOSED, DISPUTED, OPEN
from pipeline.config import Creditor, Registry, Settings
from pipeline.exporters.receipt import receipt_name, render_receipt
from pipeline.home import Home
from pipeline.instructions import InstructionApplier
from pipeline.ledger import repository as repo
from pipeline.ledger.balances import case_balances, claim_balances
from pipeline.ledger.db import make_engine, migrate
from pipeline.ledger.postings import Component
from pipeline.ledger.schema import case_events, cases, postings, receipt_lines
from pipeline.money import format_minor
from pipeline.parsers import FileRejected
from pipeline.parsers.invoice_csv import read_invoice_csv
from pipeline.parsers.ubl import read_ubl_invoices
from pipeline.references import reference_for
from pipeline.rules.admission import judge
from pipeline.transport import InboxFile, TransportError
from pipeline.transport.local import copy_atomically
from pipeline.transport.parties import PartyFiles, open_party_files

log = logging.getLogger(__name__)

TAKEN = ("ACCEPTED", "BELOW_MINIMUM")
HASHED_FIELDS = ("document_type", "credited_invoice_number", "invoice_date", "due_date", "amount_minor", "currency",
                 "debtor_id", "debtor_type", "debtor_name", "debtor_national_id", "debtor_address_line1",
                 "debtor_address_line2", "debtor_postcode", "debtor_city", "debtor_country", "debtor_email",
                 "debtor_phone", "reminders_sent", "last_reminder_date", "reminder_fees_minor", "description")


@dataclass
class IngestCounts:
    """What one pass did; small enough for an Airflow XCom and free of personal data."""

    files: int = 0
    files_rejected: int = 0
    files_seen_before: int = 0
    files_waiting: int = 0
    rows: int = 0
    rows_taken: int = 0
    rows_rejected: int = 0
    cases_opened: int = 0
    receipts: list[str] = field(default_factory=list)

    def add(self, other: "IngestCounts") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def to_dict(self) -> dict:
        return asdict(self)


def open_ledger(settings: Settings) -> Engine:
    """The ledger's engine, migrated to the newest schema (every stage starts here)."""
    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine


def creditors_with_files(settings: Settings, now: float | None = None) -> list[str]:
    """Ids of the creditors whose inbox holds at least one complete file (the DAG maps over them)."""
    registry = settings.load_registry()
    now = time() if now is None else now
    engine = open_ledger(settings)
    try:
        with open_party_files(settings.home, registry, "creditors", engine) as files:
            return [cid for cid in registry.creditors if _has_files(files, cid, registry.settle_seconds, now)]
    finally:
        engine.dispose()


def _has_files(files: PartyFiles, creditor_id: str, settle_seconds: int, now: float) -> bool:
    """Whether the creditor's inbox has complete files; an inbox that cannot be listed for a lasting reason
    counts as having some, so that the creditor's own task fails and says why, and the others go on."""
    try:
        return bool(files.inbox(creditor_folder(creditor_id, "inbox")).list_ready(settle_seconds, now))
    except TransportError as error:
        if error.transient:
            raise
        log.error("%s: inbox cannot be listed: %s", creditor_id, error)
        return True


def creditor_folder(creditor_id: str, box: str) -> str:
    """A creditor's inbox or outbox, relative to the home folder or the creditors' SFTP base path."""
    return f"creditors/{creditor_id}/{box}"


def run_ingest(settings: Settings, as_of: date, run_id: str, creditor_id: str | None = None,
               settle_seconds: int | None = None,
               on_file: Callable[[str, str, IngestCounts], None] | None = None) -> IngestCounts:
    """One pass over every creditor's inbox (or one creditor's), as `inkasso ingest` runs it.

    ``on_file(creditor id, file name, counts)`` is called after each file (the CLI shows progress with it).
    """
    registry = settings.load_registry()
    if creditor_id is not None and creditor_id not in registry.creditors:
        raise KeyError(f"unknown creditor {creditor_id!r}")
    engine = open_ledger(settings)
    total = IngestCounts()
    failures = []
    try:
        _prepare_pass(engine, settings, registry)
        with open_party_files(settings.home, registry, "creditors", engine) as files:
            for cid in [creditor_id] if creditor_id else list(registry.creditors):
                stage = CreditorIngest(engine, settings, registry, registry.creditors[cid], as_of, run_id, files)
                try:
                    total.add(stage.run(settle_seconds, on_file))
                except TransportError as error:  # a lasting fault of one creditor's files: the others go on
                    if error.transient:
                        raise
                    failures.append(str(error))
    finally:
        engine.dispose()
    if failures:
        raise TransportError("; ".join(failures), transient=False)
    return total


def _prepare_pass(engine: Engine, settings: Settings, registry: Registry) -> None:
    """Once a pass, before any inbox: the party folders, a clean scratch folder, the creditors in the ledger."""
    home = Home(settings.home)
    home.create_party_folders(registry)
    home.scratch.mkdir(parents=True, exist_ok=True)
    home.remove_stale_scratch(time())
    with engine.begin() as conn:
        repo.sync_creditors(conn, registry)


class CreditorIngest:
    """One pass over one creditor's inbox."""

    def __init__(self, engine: Engine, settings: Settings, registry: Registry, creditor: Creditor,
                 as_of: date, run_id: str, files: PartyFiles):
        self.engine = engine
        self.registry = registry
        self.creditor = creditor
        self.as_of = as_of
        self.run_id = run_id
        self.home = Home(settings.home)
        self.inbox = files.inbox(creditor_folder(creditor.id, "inbox"))
        self.outbox = files.outbox(creditor_folder(creditor.id, "outbox"))

    def run(self, settle_seconds: int | None = None,
            on_file: Callable[[str, str, IngestCounts], None] | None = None) -> IngestCounts:
        """Take every complete file. A file that cannot be read or answered for a reason that will not pass
        by itself (permission denied, say) is left in the inbox, the others are taken, and the pass then
        fails naming it; a transient fault that outlasts the retries fails the pass at once."""
        settle = self.registry.settle_seconds if settle_seconds is None else settle_seconds
        counts = IngestCounts()
        failures = []
        for file in self.inbox.list_ready(settle, time()):
            try:
                taken = self.take(file)
            except TransportError as error:
                if error.transient:
                    raise
                log.error("%s/%s: left in the inbox: %s", self.creditor.id, file.name, error)
                failures.append(str(error))
                continue
            counts.add(taken)
            if on_file is not None:
                on_file(self.creditor.id, file.name, taken)
        if failures:
            raise TransportError(f"creditor {self.creditor.id}: {len(failures)} file(s) left in the inbox: "
                                 + "; ".join(failures), transient=False)
        return counts

    def take(self, file: InboxFile) -> IngestCounts:
        counts = IngestCounts()
        kind = file_kind(file.name)
        if kind is None:
            log.info("%s/%s: no handler for this kind of file yet; left in the inbox", self.creditor.id, file.name)
            counts.files_waiting = 1
            return counts
        with tempfile.TemporaryDirectory(dir=self.home.scratch) as scratch:
            local = Path(scratch) / "data"
            try:
                self.inbox.fetch(file, local)
            except FileNotFoundError:
                # gone since the listing: another worker took it (and removed it after its commit), or the
                # creditor withdrew it before it was taken; either way there is nothing to take here
                log.info("%s/%s: no longer in the inbox; left to whoever took it", self.creditor.id, file.name)
                return counts
            sha256 = _sha256(local)
            with self.engine.connect() as conn:
                known = repo.find_file(conn, self.creditor.id, sha256)
            if known is None:
                known = self._process(local, file, kind, sha256)
                if known is None:
                    return counts  # another worker holds this file; it will finish it
                counts = _counts_of(known)
            else:
                log.info("%s/%s: already processed as file %s; finishing its delivery",
                         self.creditor.id, file.name, known.id)
                counts.files_seen_before = 1
            self._keep_raw_bytes(local, known)
        counts.receipts = [self._deliver_receipt(known)]
        self.inbox.remove(file)
        return counts

    def _process(self, local: Path, file: InboxFile, kind: str, sha256: str):
        record = dict(creditor_id=self.creditor.id, sha256=sha256, file_name=file.name, size_bytes=file.size,
                      kind=kind, as_of=self.as_of, run_id=self.run_id)
        try:
            try:
                with self.engine.begin() as conn:
                    # one file transaction per creditor at a time: a file is judged against every claim of
                    # the files committed before it (DUPLICATE, CONFLICT), which a concurrent transaction
                    # cannot see; without this two workers on two files repeating a claim failed on its key
                    repo.lock_creditor(conn, self.creditor.id)
                    record["received_at"] = self._received_at(conn, file.name)
                    file_id = repo.insert_file(conn, status="PROCESSED", **record)
                    if kind == "unsupported":
                        raise FileRejected("UNSUPPORTED_FILE", "only invoice files (.csv, UBL .xml) are taken here")
                    if kind == "instructions":
                        totals = InstructionApplier(conn, self, file_id).load(local)
                    else:
                        totals = InvoiceFileLoader(conn, self, file_id).load(local, kind)
                    repo.finish_file(conn, file_id, **totals)
            except FileRejected as rejection:
                log.warning("%s/%s: file rejected, %s: %s", self.creditor.id, file.name, rejection.code,
                            rejection.message)
                with self.engine.begin() as conn:
                    repo.lock_creditor(conn, self.creditor.id)
                    file_id = repo.insert_file(conn, status="REJECTED", **record)
                    repo.insert_rows(conn, receipt_lines, file_id=file_id, seq=[0], line=None, invoice_number="",
                                     outcome=rejection.code, message=rejection.message)
        except IntegrityError:
            with self.engine.connect() as conn:
                if repo.find_file(conn, self.creditor.id, sha256) is None:
                    raise
            log.info("%s/%s: taken by another worker", self.creditor.id, file.name)
            return None
        with self.engine.connect() as conn:
            return repo.find_file(conn, self.creditor.id, sha256)

    def _received_at(self, conn: Connection, file_name: str) -> datetime:
        """Now, in whole seconds; later than any earlier file of the same name (it names the receipt).

        The receipt is named by the file's name and this time: an earlier file of the same name taken
        in the same second would otherwise own that receipt name, and this file would get no receipt."""
        received_at = _utc_now()
        latest = repo.latest_received_at(conn, self.creditor.id, file_name)
        if latest is not None and latest >= received_at:
            received_at = latest + timedelta(seconds=1)
        return received_at

    def _keep_raw_bytes(self, local: Path, known) -> None:
        if known.status == "REJECTED":
            target = self.home.quarantine_path(self.creditor.id, known.sha256, known.file_name)
        else:
            target = self.home.archive_path(known.sha256)
        if not target.exists():
            with local.open("rb") as raw:
                copy_atomically(raw, target)

    def _deliver_receipt(self, known) -> str:
        name = receipt_name(known.file_name, known.received_at)
        if not self.outbox.exists(name):
            with self.engine.connect() as conn:
                lines = repo.receipt_of(conn, known.id)
            self.outbox.put(name, render_receipt(lines, file_rejected=known.status == "REJECTED",
                                                 instructions=known.kind == "instructions"))
        return name


def file_kind(name: str) -> str | None:
    """instructions, invoice_csv, invoice_xml, or unsupported (None: a kind a later stage will handle)."""
    lower = name.lower()
    if lower.startswith("instructions"):
        return "instructions"
    if lower.endswith(".csv"):
        return "invoice_csv"
    return "invoice_xml" if lower.endswith(".xml") else "unsupported"


def _counts_of(known) -> IngestCounts:
    rejected = known.status == "REJECTED"
    return IngestCounts(files=1, files_rejected=int(rejected), rows=known.rows_total, rows_taken=known.rows_accepted,
                        rows_rejected=known.rows_total - known.rows_accepted, cases_opened=known.cases_opened)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


class InvoiceFileLoader:
    """Writes one invoice file's rows to the ledger, batch by batch, inside the caller's transaction.

    Rows are judged in file order: a number already on an earlier line of this file
    that passed validation is DUPLICATE_IN_FILE; otherwise one the ledger has from an earlier
    file is DUPLICATE (same content) or CONFLICT (different content). Credit
    notes are applied after the file's invoices, so they may name an invoice on a
    later line.
    """

    def __init__(self, conn: Connection, stage: CreditorIngest, file_id: int):
        self.conn = conn
        self.stage = stage
        self.creditor = stage.creditor
        self.file_id = file_id
        self.outcomes: Counter = Counter()
        self.cases_opened = 0
        self.credit_notes: list[pd.DataFrame] = []
        self.judged_lines: dict[tuple, int] = {}  # (type, number) judged on earlier lines, not (yet) in the ledger

    def load(self, path: Path, kind: str) -> dict:
        for frame in self._frames(path, kind):
            judge(frame, self.stage.as_of, self.stage.registry.supported_countries,
                  drop_invalid_national_ids=kind == "invoice_xml")
            frame["case_id"] = pd.array([None] * len(frame), dtype=object)
            self._batch(frame)
        self._apply_credit_notes()
        taken = sum(self.outcomes[code] for code in TAKEN)
        return dict(rows_total=sum(self.outcomes.values()), rows_accepted=taken, cases_opened=self.cases_opened)

    def _frames(self, path: Path, kind: str):
        """The file's typed batches from the parser of its kind; every kind yields the same columns."""
        registry = self.stage.registry
        if kind == "invoice_xml":
            return read_ubl_invoices(path, self.creditor.legal_id, self.creditor.currency, registry.max_file_bytes,
                                     layout=self.creditor.xml, max_document_bytes=registry.max_xml_document_bytes)
        return read_invoice_csv(path, self.creditor.csv, self.creditor.currency, registry.max_file_bytes)

    def _batch(self, frame: pd.DataFrame) -> None:
        valid = frame["outcome"].isna().to_numpy()
        frame["content_sha"] = None
        frame.loc[valid, "content_sha"] = _content_hashes(frame.loc[valid])
        self._against_ledger(frame, valid)
        fresh = frame["outcome"].isna().to_numpy()
        is_credit = (frame["document_type"] == "credit_note").to_numpy()
        if (fresh & ~is_credit).any():
            self._accept_invoices(frame, fresh & ~is_credit)
        deferred = fresh & is_credit
        if deferred.any():
            self.credit_notes.append(frame.loc[deferred].copy())
            self.judged_lines.update(zip(zip(frame.loc[deferred, "document_type"], frame.loc[deferred, "invoice_number"]),
                                         frame.loc[deferred, "line"]))
        self._receipt_lines(frame.loc[~deferred])

    def _against_ledger(self, frame: pd.DataFrame, valid: np.ndarray) -> None:
        """DUPLICATE_IN_FILE, DUPLICATE or CONFLICT by the natural key (document type, number)."""
        rows = frame.loc[valid]
        known = repo.known_invoices(self.conn, self.creditor.id, rows["invoice_number"].unique().tolist())
        known = known.set_index(["known_type", "invoice_number"])
        joined = rows.join(known, on=["document_type", "invoice_number"], rsuffix="_known")
        keys = pd.Series(list(zip(joined["document_type"], joined["invoice_number"])), index=joined.index)
        in_ledger = joined["invoice_id"].notna().to_numpy()
        from_this_file = in_ledger & (joined["file_id"] == self.file_id).to_numpy()
        first_line = joined.groupby(["document_type", "invoice_number"])["line"].transform("first").to_numpy()
        earlier_in_batch = keys.duplicated(keep="first").to_numpy()
        earlier_batch = keys.map(self.judged_lines)
        repeated = from_this_file | earlier_in_batch | earlier_batch.notna().to_numpy()
        earlier_line = np.where(from_this_file, joined["known_line"],
                                np.where(earlier_batch.notna(), earlier_batch, first_line))
        same = in_ledger & ~repeated & (joined["content_sha"] == joined["content_sha_known"]).to_numpy()
        conflict = in_ledger & ~repeated & ~same
        index = joined.index
        frame.loc[index[repeated], "outcome"] = "DUPLICATE_IN_FILE"
        frame.loc[index[repeated], "message"] = [
            f"{_document(kind)} {number} already on line {int(n)} of this file"
            for kind, number, n in zip(joined.loc[repeated, "document_type"], joined.loc[repeated, "invoice_number"],
                                       earlier_line[repeated])]
        for mask, code, text in ((same, "DUPLICATE", "received before in {} line {}; nothing changed"),
                                 (conflict, "CONFLICT", "received before in {} line {} with different content; "
                                                        "nothing changed (use a credit note to correct a claim)")):
            frame.loc[index[mask], "outcome"] = code
            frame.loc[index[mask], "message"] = [text.format(f, int(n)) for f, n in
                                                 zip(joined.loc[mask, "known_file"], joined.loc[mask, "known_line"])]
            # ints, not the float64 the join makes of a column with gaps: COPY into an integer column
            # rejects "8.0", and PostgreSQL failed every file that mixed new claims with ones sent before
            frame.loc[index[mask], "case_id"] = [int(case) for case in joined.loc[mask, "case_id_known"]]
            self.judged_lines.update(zip(keys[mask], joined.loc[mask, "line"]))

    def _accept_invoices(self, frame: pd.DataFrame, mask: np.ndarray) -> None:
        rows = frame.loc[mask]
        debtor_ids = repo.upsert_debtors(self.conn, self.creditor.id, **_debtor_columns(rows))
        rows = rows.assign(debtor_pk=rows["debtor_id"].map(debtor_ids))
        case_of = self._cases_for(rows)
        rows = rows.assign(case_pk=[case_of[key] for key in zip(rows["debtor_pk"], rows["currency"])])
        invoice_ids = repo.insert_invoices(self.conn,
            creditor_id=self.creditor.id, invoice_number=rows["invoice_number"], document_type="invoice",
            credited_invoice_id=None, case_id=rows["case_pk"], debtor_id=rows["debtor_pk"],
            invoice_date=rows["invoice_date"], due_date=rows["due_date"], amount_minor=rows["amount_minor"],
            currency=rows["currency"], reminders_sent=rows["reminders_sent"].fillna(0),
            last_reminder_date=rows["last_reminder_date"], reminder_fees_minor=rows["reminder_fees_minor"],
            below_minimum=rows["below_minimum"], description=rows["description"].replace("", None),
            content_sha=rows["content_sha"], file_id=self.file_id, line=rows["line"])
        rows = rows.assign(invoice_pk=rows["invoice_number"].map(invoice_ids))
        fees = rows[rows["reminder_fees_minor"] > 0]
        for kind, part, amount in (("principal", rows, rows["amount_minor"]),
                                   ("creditor_fee", fees, fees["reminder_fees_minor"])):
            repo.post(self.conn,
                case_id=part["case_pk"], invoice_id=part["invoice_pk"], kind=kind, amount_minor=amount,
                currency=part["currency"], booked_on=self.stage.as_of, value_date=part["invoice_date"],
                file_id=self.file_id, run_id=self.stage.run_id)
        self._events(rows["case_pk"], rows["invoice_pk"], "claim_added",
                     [f"invoice {n}: {format_minor(a, c)} {c}" for n, a, c in
                      zip(rows["invoice_number"], rows["amount_minor"], rows["currency"])])
        below = rows["below_minimum"].to_numpy(dtype=bool)
        frame.loc[rows.index, "outcome"] = np.where(below, "BELOW_MINIMUM", "ACCEPTED")
        frame.loc[rows.index, "message"] = (rows["notes"] + np.where(
            below, "accepted, but below the recommended minimum claim for collection", "")).str.rstrip("; ").tolist()
        frame.loc[rows.index, "case_id"] = rows["case_pk"].tolist()

    def _cases_for(self, rows: pd.DataFrame) -> dict[tuple, int]:
        """(debtor, currency) -> the open case, opening the missing ones."""
        found = repo.open_cases(self.conn, self.creditor.id, rows["debtor_pk"].unique().tolist())
        case_of = {(int(d), c): int(i) for d, c, i in zip(found["debtor_id"], found["currency"], found["case_id"])}
        pairs = rows.drop_duplicates(["debtor_pk", "currency"])
        wanted = set(zip(pairs["debtor_pk"].astype(int), pairs["currency"]))
        disputed = found[found["status"] == DISPUTED]
        self._resume_disputed(disputed[[(int(d), c) in wanted for d, c in zip(disputed["debtor_id"],
                                                                                disputed["currency"])]])
        new = pairs[[(d, c) not in case_of for d, c in zip(pairs["debtor_pk"], pairs["currency"])]]
        ids = repo.reserve_ids(self.conn, cases, len(new))
        numbers = [repo.case_number_for(i) for i in ids]
        repo.insert_rows(self.conn, cases,
            id=pd.Series(ids), case_number=pd.Series(numbers),
            payment_reference=pd.Series([reference_for(c, n) for c, n in zip(new["debtor_country"], numbers)]),
            creditor_id=self.creditor.id, debtor_id=new["debtor_pk"].reset_index(drop=True),
            currency=new["currency"].reset_index(drop=True), country=new["debtor_country"].reset_index(drop=True),
            status=OPEN, opened_on=self.stage.as_of, closed_on=None, file_id=self.file_id)
        self._events(pd.Series(ids), pd.Series([None] * len(ids), dtype=object), "case_opened",
                     [f"case {n} opened" for n in numbers])
        self.cases_opened += len(ids)
        case_of.update(zip(zip(new["debtor_pk"], new["currency"]), ids))
        return case_of

    def _resume_disputed(self, joined: pd.DataFrame) -> None:
        """A DISPUTED case has every claim disputed; a new claim joining it is not, so collection resumes:
        the case returns to the state before the dispute (its disputed claims stay disputed)."""
        if joined.empty:
            return
        states = [state or OPEN for state in joined["status_before_dispute"]]
        repo.update_case_states(self.conn, [
            dict(case_pk=int(case), new_status=state, new_before_dispute=None, new_closed_on=None)
            for case, state in zip(joined["case_id"], states)])
        self._events(joined["case_id"].astype(int), pd.Series([None] * len(joined), dtype=object), "resumed",
                     [f"DISPUTED -> {state}: a new claim of this file is not disputed" for state in states])

    def _apply_credit_notes(self) -> None:
        if not self.credit_notes:
            return
        notes = pd.concat(self.credit_notes)
        targets = repo.known_invoices(self.conn, self.creditor.id, notes["credited_invoice_number"].unique().tolist())
        targets = targets[targets["known_type"] == "invoice"].set_index("invoice_number")
        balance = {claim: owed.outstanding[Component.PRINCIPAL] for claim, owed in
                   claim_balances(self.conn, targets["invoice_id"].astype(int).tolist()).items()}
        applied = []
        for index, note in notes.iterrows():
            target = targets.loc[note.credited_invoice_number] if note.credited_invoice_number in targets.index else None
            outcome, message = _judge_credit_note(note, target, balance)
            notes.loc[index, ["outcome", "message"]] = [outcome, message]
            if outcome == "ACCEPTED":
                balance[int(target.invoice_id)] -= note.amount_minor
                notes.loc[index, "case_id"] = int(target.case_id)
                applied.append((index, target))
        if applied:
            self._book_credit_notes(notes, applied)
        self._receipt_lines(notes)

    def _book_credit_notes(self, notes: pd.DataFrame, applied: list) -> None:
        rows = notes.loc[[index for index, _ in applied]]
        target = pd.DataFrame([t for _, t in applied]).reset_index(drop=True)
        rows = rows.reset_index(drop=True)
        ids = repo.insert_invoices(self.conn,
            creditor_id=self.creditor.id, invoice_number=rows["invoice_number"], document_type="credit_note",
            credited_invoice_id=target["invoice_id"], case_id=target["case_id"], debtor_id=target["debtor_id"],
            invoice_date=rows["invoice_date"], due_date=rows["due_date"], amount_minor=rows["amount_minor"],
            currency=rows["currency"], reminders_sent=0, last_reminder_date=None, reminder_fees_minor=0,
            below_minimum=False, description=rows["description"].replace("", None), content_sha=rows["content_sha"],
            file_id=self.file_id, line=rows["line"])
        repo.post(self.conn,
            case_id=target["case_id"], invoice_id=target["invoice_id"], kind="credit_note",
            amount_minor=-rows["amount_minor"], currency=rows["currency"], booked_on=self.stage.as_of,
            value_date=rows["invoice_date"], file_id=self.file_id, run_id=self.stage.run_id)
        self._events(target["case_id"], rows["invoice_number"].map(ids), "credit_note",
                     [f"credit note {n} reduces invoice {t} by {format_minor(a, c)} {c}" for n, t, a, c in
                      zip(rows["invoice_number"], rows["credited_invoice_number"], rows["amount_minor"],
                          rows["currency"])])
        affected = target["case_id"].astype(int).unique().tolist()
        settled = [case for case, left in case_balances(self.conn, affected).items() if left.total == 0]
        settled = repo.close_cases(self.conn, settled, CLOSED, self.stage.as_of)
        self._events(pd.Series(settled), pd.Series([None] * len(settled), dtype=object), "case_closed",
                     ["every claim credited in full"] * len(settled))

    def _events(self, case_ids: pd.Series, invoice_ids: pd.Series, kind: str, details: list[str]) -> None:
        repo.insert_rows(self.conn, case_events,
            case_id=case_ids.reset_index(drop=True), invoice_id=invoice_ids.reset_index(drop=True), kind=kind,
            on_date=self.stage.as_of, file_id=self.file_id, run_id=self.stage.run_id, detail=pd.Series(details))

    def _receipt_lines(self, frame: pd.DataFrame) -> None:
        self.outcomes.update(frame["outcome"])
        repo.insert_rows(self.conn, receipt_lines,
            file_id=self.file_id, seq=frame["line"], line=frame["line"], invoice_number=frame["invoice_number"],
            outcome=frame["outcome"], message=frame["message"].fillna(""), case_id=frame["case_id"])


def _judge_credit_note(note, target, balance: dict[int, int]) -> tuple[str, str]:
    credited = note.credited_invoice_number
    if target is None:
        return "UNKNOWN_CREDITED_INVOICE", f"credited invoice {credited} is not a claim of yours on file"
    if target.known_currency != note.currency:
        return "BAD_CURRENCY", f"currency {note.currency} differs from invoice {credited}'s {target.known_currency}"
    left = balance.get(int(target.invoice_id), 0)
    if note.amount_minor > left:
        return "BAD_AMOUNT", (f"credit note {format_minor(note.amount_minor, note.currency)} exceeds the "
                              f"{format_minor(left, note.currency)} {note.currency} outstanding on invoice {credited}")
    return "ACCEPTED", f"reduces invoice {credited} by {format_minor(note.amount_minor, note.currency)} {note.currency}"


def _document(document_type: str) -> str:
    return "credit note" if document_type == "credit_note" else "invoice"


def _content_hashes(rows: pd.DataFrame) -> list[str]:
    """SHA-256 of the row's normalised content: equal hashes mean the same claim sent again."""
    text = rows[list(HASHED_FIELDS)].astype("string").fillna("").to_numpy(dtype=object)
    joined = ["\x1f".join(values) for values in text]
    return [hashlib.sha256(value.encode()).hexdigest() for value in joined]


def _debtor_columns(rows: pd.DataFrame) -> dict:
    """The debtors of the rows; a debtor on several rows gets the details of its last row."""
    latest = rows.drop_duplicates("debtor_id", keep="last")
    return dict(debtor_ref=latest["debtor_id"], debtor_type=latest["debtor_type"], name=latest["debtor_name"],
                national_id=latest["debtor_national_id"].replace("", None),
                address_line1=latest["debtor_address_line1"],
                address_line2=latest["debtor_address_line2"].replace("", None),
                postcode=latest["debtor_postcode"], city=latest["debtor_city"], country=latest["debtor_country"],
                email=latest["debtor_email"].replace("", None), phone=latest["debtor_phone"].replace("", None))
