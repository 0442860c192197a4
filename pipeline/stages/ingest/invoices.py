"""Invoice files (formats.md §1.1 CSV, §1.2 UBL XML): every row judged, the taken ones written as claims.

`InvoiceFiles` is the intake's handler for a creditor's invoice files. Inside the file's one transaction
it reads the file batch by batch (the parser of its kind), judges each row (`pipeline.rules.admission`,
then against the ledger: DUPLICATE_IN_FILE, DUPLICATE, CONFLICT), and writes debtors, cases, claims, their
postings and events, and a receipt line per row. Credit notes are applied after the file's invoices, so
they may name an invoice on a later line.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from pipeline.case_states import CLOSED, DISPUTED, OPEN
from pipeline.config import Creditor, Registry
from pipeline.exporters.columns import amount_texts
from pipeline.intake import Context, Handled
from pipeline.ledger import repository as repo
from pipeline.ledger.balances import case_balances, claim_balances
from pipeline.ledger.postings import Component
from pipeline.ledger.schema import case_events, cases, receipt_lines
from pipeline.money import format_minor
from pipeline.references import references_for
from pipeline.stages.ingest.reading import Reading, judged_batches

TAKEN = ("ACCEPTED", "BELOW_MINIMUM")
REMEMBERED = 500_000     # debtors and open cases a file remembers (SeenDebtors, SeenCases): about 65 MB each
CURRENCY_CODES = 1_024   # more than the currencies of ISO 4217 (`SeenCases.keys`)
NOT_SEEN = (-1, 0)       # SeenDebtors: the id and details hash of a debtor not seen (its id -1 whatever the hash)


class InvoiceFiles:
    """The handler of a creditor's invoice files of one kind: ``invoice_csv`` or ``invoice_xml``."""

    def __init__(self, kind: str, registry: Registry, creditor: Creditor):
        self.kind = kind
        self.registry = registry
        self.creditor = creditor

    def handle(self, conn: Connection, path: Path, context: Context) -> Handled:
        return InvoiceFile(conn, self, context).load(path)


class JudgedKeys:
    """The (document type, number) keys of the rows a file judged DUPLICATE or CONFLICT, with their lines: a
    later row of the file with the same key is DUPLICATE_IN_FILE. Held as 64-bit hashes in sorted runs, merged
    as they grow (16 bytes a key: a re-sent file of ten million rows keeps 160 MB, not gigabytes of Python
    tuples); a hash found is checked against the number on that line's receipt line, so a collision of two
    hashes can never make a claim a duplicate."""

    def __init__(self, conn: Connection, file_id: int):
        self.conn = conn
        self.file_id = file_id
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, keys: pd.DataFrame, lines: np.ndarray) -> None:
        if keys.empty:
            return
        self.runs.append(_sorted_run(_key_hashes(keys), np.asarray(lines, dtype=np.int64)))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (older, older_lines), (newer, newer_lines) = self.runs.pop(-2), self.runs.pop()
            self.runs.append(_sorted_run(np.concatenate([older, newer]), np.concatenate([older_lines, newer_lines])))

    def lines_of(self, keys: pd.DataFrame) -> pd.Series:
        """The line each key was judged on (same index), NA for a key not judged before."""
        if keys.empty or not self.runs:
            return pd.Series(pd.NA, index=keys.index, dtype="Int64")
        hashes = _key_hashes(keys)
        found = np.full(len(keys), -1, dtype=np.int64)
        for run, lines in self.runs:
            at = np.searchsorted(run, hashes).clip(max=len(run) - 1)
            hit = (run[at] == hashes) & (found < 0)
            found[hit] = lines[at[hit]]
        if (found >= 0).any():
            numbers = repo.receipt_numbers(self.conn, self.file_id, np.unique(found[found >= 0]).tolist())
            same = keys["invoice_number"].to_numpy(dtype=object) == np.array(
                [numbers.get(line) for line in found.tolist()], dtype=object)
            found[~same] = -1
        return pd.Series(found, index=keys.index).where(found >= 0).astype("Int64")


def _sorted_run(hashes: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(hashes, kind="stable")
    return hashes[order], lines[order]


def _key_hashes(keys: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(keys[["document_type", "invoice_number"]], index=False).to_numpy()


class Remembered(dict):
    """What a file has seen on its batches so far, forgotten whole when it would hold more than `REMEMBERED`
    entries: memory stays bounded whatever the file's size (what was forgotten is read from the ledger again)."""

    def remember(self, keys: list, values: Iterable) -> None:
        if len(self) + len(keys) > REMEMBERED:
            self.clear()
        self.update(zip(keys, values))


class SeenDebtors:
    """The debtors a file has written or found so far, so that a debtor on many of its batches is read from the
    ledger once, not once a batch: by ref, with a 64-bit hash of the details last given. The same details again
    need nothing; other ones go to the ledger, which compares them."""

    def __init__(self):
        self.debtors = Remembered()   # ref: (id, details hash)

    def ids(self, refs: list[str], details: np.ndarray) -> np.ndarray:
        """The id of each debtor given before with the same details, -1 for the others."""
        if not refs:
            return np.zeros(0, dtype=np.int64)
        ids, hashes = zip(*map(self.debtors.get, refs, repeat(NOT_SEEN)))
        return np.where(np.array(hashes, dtype=np.uint64) == details, np.array(ids, dtype=np.int64), -1)

    def remember(self, refs: list[str], ids: list[int], details: list[int]) -> None:
        self.debtors.remember(refs, zip(ids, details))


class SeenCases:
    """The open case of each (debtor, currency) a file has found or opened so far, so that a debtor on many of
    its batches has its case looked up once. Nothing in a file's transaction closes a case before its last batch
    (credit notes are applied after it), and a DISPUTED one found was resumed, so what is remembered holds."""

    def __init__(self):
        self.cases = Remembered()                # debtor id * CURRENCY_CODES + currency code: case id
        self.currency_codes: dict[str, int] = {}

    def keys(self, debtors: pd.Series, currencies: pd.Series) -> np.ndarray:
        """The key of each (debtor, currency) pair: one integer, the debtor's id times `CURRENCY_CODES` plus the
        currency's code in this file."""
        for currency in currencies.unique():
            self.currency_codes.setdefault(currency, len(self.currency_codes))
        codes = currencies.map(self.currency_codes).to_numpy(dtype=np.int64)
        return debtors.to_numpy(dtype=np.int64) * CURRENCY_CODES + codes

    def ids(self, keys: np.ndarray) -> np.ndarray:
        """The case of each key found or opened before, -1 for the others."""
        return np.fromiter(map(self.cases.get, keys.tolist(), repeat(-1)), dtype=np.int64, count=len(keys))

    def remember(self, keys: np.ndarray, case_ids: np.ndarray) -> None:
        self.cases.remember(keys.tolist(), case_ids.tolist())


class InvoiceFile:
    """One invoice file's rows written to the ledger, batch by batch, inside the caller's transaction.

    Rows are judged in file order: a number already on an earlier line of this file
    that passed validation is DUPLICATE_IN_FILE; otherwise one the ledger has from an earlier
    file is DUPLICATE (same content) or CONFLICT (different content).
    """

    def __init__(self, conn: Connection, files: InvoiceFiles, context: Context):
        self.conn = conn
        self.kind = files.kind
        self.registry = files.registry
        self.creditor = files.creditor
        self.context = context
        self.as_of = context.as_of
        self.run_id = context.run_id
        self.file_id = context.file_id
        self.outcomes: Counter = Counter()
        self.cases_opened = 0
        self.credit_notes: list[pd.DataFrame] = []
        self.deferred_lines: dict[tuple, int] = {}   # (type, number) of the credit notes held to the file's end
        self.judged_keys = JudgedKeys(self.conn, self.file_id)
        self.seen_debtors = SeenDebtors()
        self.seen_cases = SeenCases()

    def load(self, path: Path) -> Handled:
        rows = 0
        self.context.progress(rows)
        with repo.bulk_writes(self.conn):
            for frame in judged_batches(self._reading(path)):
                frame["case_id"] = pd.array([None] * len(frame), dtype=object)
                self._batch(frame)
                self.context.checkpoint("batch_written")
                rows += len(frame)
                self.context.progress(rows)
            self._apply_credit_notes()
        self.context.checkpoint("credit_notes_applied")
        taken = sum(self.outcomes[code] for code in TAKEN)
        return Handled(rows=sum(self.outcomes.values()), taken=taken, cases_opened=self.cases_opened)

    def _reading(self, path: Path) -> Reading:
        registry = self.registry
        return Reading(self.kind, path, self.creditor, self.as_of, registry.supported_countries,
                       registry.max_file_bytes, registry.max_xml_document_bytes)

    def _batch(self, frame: pd.DataFrame) -> None:
        valid = frame["outcome"].isna().to_numpy()
        self._against_ledger(frame, valid)
        fresh = frame["outcome"].isna().to_numpy()
        is_credit = (frame["document_type"] == "credit_note").to_numpy()
        if (fresh & ~is_credit).any():
            self._accept_invoices(frame, fresh & ~is_credit)
        deferred = fresh & is_credit
        if deferred.any():
            self.credit_notes.append(frame.loc[deferred].copy())
            self.deferred_lines.update(zip(zip(frame.loc[deferred, "document_type"],
                                               frame.loc[deferred, "invoice_number"]), frame.loc[deferred, "line"]))
        self._receipt_lines(frame.loc[~deferred])

    def _against_ledger(self, frame: pd.DataFrame, valid: np.ndarray) -> None:
        """DUPLICATE_IN_FILE, DUPLICATE or CONFLICT by the natural key (document type, number)."""
        rows = frame.loc[valid, ["document_type", "invoice_number", "line", "content_sha", "case_id"]]
        known = repo.known_invoices(self.conn, self.creditor.id, rows["invoice_number"].unique().tolist())
        known = known.set_index(["known_type", "invoice_number"])
        joined = rows.join(known, on=["document_type", "invoice_number"], rsuffix="_known")
        in_ledger = joined["invoice_id"].notna().to_numpy()
        from_this_file = in_ledger & (joined["file_id"] == self.file_id).to_numpy()
        first_line = joined.groupby(["document_type", "invoice_number"])["line"].transform("first").to_numpy()
        earlier_in_batch = joined.duplicated(["document_type", "invoice_number"], keep="first").to_numpy()
        earlier_batch = self._judged_before(joined)
        repeated = from_this_file | earlier_in_batch | earlier_batch.notna().to_numpy()
        earlier_line = np.where(from_this_file, joined["known_line"],
                                np.where(earlier_batch.notna(), earlier_batch, first_line))
        same = in_ledger & ~repeated & (joined["content_sha"] == joined["content_sha_known"]).to_numpy()
        conflict = in_ledger & ~repeated & ~same
        index = joined.index
        frame.loc[index[repeated], "outcome"] = "DUPLICATE_IN_FILE"
        frame.loc[index[repeated], "message"] = [
            f"{_document(kind)} {number} already on line {int(n)} of this file"
            for kind, number, n in zip(joined.loc[repeated, "document_type"].tolist(),
                                       joined.loc[repeated, "invoice_number"].tolist(), earlier_line[repeated])]
        for mask, code, text in ((same, "DUPLICATE", "received before in {} line {}; nothing changed"),
                                 (conflict, "CONFLICT", "received before in {} line {} with different content; "
                                                        "nothing changed (use a credit note to correct a claim)")):
            frame.loc[index[mask], "outcome"] = code
            frame.loc[index[mask], "message"] = [
                text.format(f, n) for f, n in zip(joined.loc[mask, "known_file"].tolist(),
                                                  joined.loc[mask, "known_line"].astype("int64").tolist())]
            # ints, not the float64 the join makes of a column with gaps: COPY into an integer column
            # rejects "8.0", and PostgreSQL failed every file that mixed new claims with ones sent before
            frame.loc[index[mask], "case_id"] = joined.loc[mask, "case_id_known"].astype("int64").tolist()
            self.judged_keys.add(joined.loc[mask], joined.loc[mask, "line"].to_numpy())

    def _judged_before(self, rows: pd.DataFrame) -> pd.Series:
        """The line of this file each row's key was judged on in an earlier batch (a credit note held to the
        file's end, or a DUPLICATE or CONFLICT), NaN where none."""
        judged = self.judged_keys.lines_of(rows).astype("float64")
        if not self.deferred_lines:
            return judged
        keys = pd.Series(list(zip(rows["document_type"].tolist(), rows["invoice_number"].tolist())), index=rows.index)
        return keys.map(self.deferred_lines).fillna(judged)

    def _accept_invoices(self, frame: pd.DataFrame, mask: np.ndarray) -> None:
        rows = frame.loc[mask]
        debtor_ids, new_debtors = self._debtors_of(rows)
        rows = rows.assign(debtor_pk=debtor_ids, new_debtor=new_debtors)
        rows = rows.assign(case_pk=self._cases_for(rows))
        invoice_ids = repo.insert_invoices(self.conn,
            creditor_id=self.creditor.id, invoice_number=rows["invoice_number"], document_type="invoice",
            credited_invoice_id=None, case_id=rows["case_pk"], debtor_id=rows["debtor_pk"],
            invoice_date=rows["invoice_date"], due_date=rows["due_date"], amount_minor=rows["amount_minor"],
            currency=rows["currency"], reminders_sent=rows["reminders_sent"].fillna(0),
            last_reminder_date=rows["last_reminder_date"], reminder_fees_minor=rows["reminder_fees_minor"],
            below_minimum=rows["below_minimum"], description=rows["description"].replace("", None),
            content_sha=rows["content_sha"], file_id=self.file_id, line=rows["line"])
        rows = rows.assign(invoice_pk=invoice_ids)
        fees = rows[rows["reminder_fees_minor"] > 0]
        for kind, part, amount in (("principal", rows, rows["amount_minor"]),
                                   ("creditor_fee", fees, fees["reminder_fees_minor"])):
            repo.post(self.conn,
                case_id=part["case_pk"], invoice_id=part["invoice_pk"], kind=kind, amount_minor=amount,
                currency=part["currency"], booked_on=self.as_of, value_date=part["invoice_date"],
                file_id=self.file_id, run_id=self.run_id)
        self._events(rows["case_pk"], rows["invoice_pk"], "claim_added", _claims_added(rows))
        below = rows["below_minimum"].to_numpy(dtype=bool)
        frame.loc[rows.index, "outcome"] = np.where(below, "BELOW_MINIMUM", "ACCEPTED")
        frame.loc[rows.index, "message"] = (rows["notes"] + np.where(
            below, "accepted, but below the recommended minimum claim for collection", "")).str.rstrip("; ").tolist()
        frame.loc[rows.index, "case_id"] = rows["case_pk"].tolist()

    def _debtors_of(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The debtor id of each row and whether the debtor is new: new debtors inserted, changed details written
        (a debtor this file gave before with the same details is neither read nor written again)."""
        latest = _debtor_frame(rows)
        refs = latest["debtor_ref"].tolist()
        details = pd.util.hash_pandas_object(latest[list(repo.DEBTOR_FIELDS)], index=False).to_numpy()
        ids = self.seen_debtors.ids(refs, details)
        new = np.zeros(len(refs), dtype=bool)
        unseen = ids < 0
        if unseen.any():
            changed = latest[unseen]
            written = repo.upsert_debtors(self.conn, self.creditor.id, **{name: changed[name] for name in changed})
            written = written.reindex(changed["debtor_ref"])
            ids[unseen], new[unseen] = written["id"].to_numpy(), written["new"].to_numpy()
            self.seen_debtors.remember(changed["debtor_ref"].tolist(), ids[unseen].tolist(), details[unseen].tolist())
        at = pd.Index(refs).get_indexer(rows["debtor_id"])
        return ids[at], new[at]

    def _cases_for(self, rows: pd.DataFrame) -> np.ndarray:
        """The open case of each row's (debtor, currency), opening the missing ones."""
        pairs = rows.drop_duplicates(["debtor_pk", "currency"])
        keys = self.seen_cases.keys(pairs["debtor_pk"], pairs["currency"])
        case_ids = self.seen_cases.ids(keys)
        unseen = case_ids < 0
        if unseen.any():
            case_ids[unseen] = self._open_cases_of(pairs[unseen], keys[unseen])
            self.seen_cases.remember(keys[unseen], case_ids[unseen])
        return _case_ids(self.seen_cases.keys(rows["debtor_pk"], rows["currency"]), keys, case_ids)

    def _open_cases_of(self, pairs: pd.DataFrame, keys: np.ndarray) -> np.ndarray:
        """The ledger's open case of each (debtor, currency) pair (``keys``: theirs, `SeenCases.keys`), a DISPUTED
        one resumed; the missing opened."""
        known = pairs.loc[~pairs["new_debtor"], "debtor_pk"]     # a debtor new in this batch has no case yet
        found = repo.open_cases(self.conn, self.creditor.id, known.unique().tolist())
        disputed = found[found["status"] == DISPUTED]
        if not disputed.empty:
            wanted = set(_pairs(pairs["debtor_pk"], pairs["currency"]))
            self._resume_disputed(disputed[[pair in wanted for pair in
                                            _pairs(disputed["debtor_id"], disputed["currency"])]])
        case_ids = _case_ids(keys, self.seen_cases.keys(found["debtor_id"], found["currency"]), found["case_id"])
        new = pairs[case_ids < 0]
        ids = repo.reserve_ids(self.conn, cases, len(new))
        numbers = [repo.case_number_for(i) for i in ids]
        repo.insert_rows(self.conn, cases,
            id=pd.Series(ids), case_number=pd.Series(numbers),
            payment_reference=pd.Series(references_for(new["debtor_country"].tolist(), numbers)),
            creditor_id=self.creditor.id, debtor_id=new["debtor_pk"].reset_index(drop=True),
            currency=new["currency"].reset_index(drop=True), country=new["debtor_country"].reset_index(drop=True),
            status=OPEN, opened_on=self.as_of, closed_on=None, file_id=self.file_id)
        self._events(pd.Series(ids), pd.Series([None] * len(ids), dtype=object), "case_opened",
                     [f"case {n} opened" for n in numbers])
        self.cases_opened += len(ids)
        case_ids[case_ids < 0] = ids
        return case_ids

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
            amount_minor=-rows["amount_minor"], currency=rows["currency"], booked_on=self.as_of,
            value_date=rows["invoice_date"], file_id=self.file_id, run_id=self.run_id)
        self._events(target["case_id"], pd.Series(ids), "credit_note",
                     [f"credit note {n} reduces invoice {t} by {format_minor(a, c)} {c}" for n, t, a, c in
                      zip(rows["invoice_number"], rows["credited_invoice_number"], rows["amount_minor"],
                          rows["currency"])])
        affected = target["case_id"].astype(int).unique().tolist()
        settled = [case for case, left in case_balances(self.conn, affected).items() if left.total == 0]
        settled = repo.close_cases(self.conn, settled, CLOSED, self.as_of)
        self._events(pd.Series(settled), pd.Series([None] * len(settled), dtype=object), "case_closed",
                     ["every claim credited in full"] * len(settled))

    def _events(self, case_ids: pd.Series, invoice_ids: pd.Series, kind: str, details: list[str]) -> None:
        repo.insert_rows(self.conn, case_events,
            case_id=case_ids.reset_index(drop=True), invoice_id=invoice_ids.reset_index(drop=True), kind=kind,
            on_date=self.as_of, file_id=self.file_id, run_id=self.run_id, detail=pd.Series(details))

    def _receipt_lines(self, frame: pd.DataFrame) -> None:
        self.outcomes.update(frame["outcome"].value_counts().to_dict())
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


def _pairs(debtors: pd.Series, currencies: pd.Series) -> list[tuple[int, str]]:
    """(debtor id, currency): the key of a debtor's open case, as plain Python values."""
    return list(zip(debtors.astype("int64").tolist(), currencies.tolist()))


def _case_ids(wanted: np.ndarray, case_keys: np.ndarray, case_ids) -> np.ndarray:
    """The case of each wanted (debtor, currency) key among the cases of ``case_keys``, -1 where none."""
    at = pd.Index(case_keys).get_indexer(wanted)
    return np.append(np.asarray(case_ids, dtype=np.int64), -1)[at]   # -1 (not found) takes the -1 appended


def _claims_added(rows: pd.DataFrame) -> list[str]:
    """The claim_added event's text of each row: ``invoice INV-1: 1234.50 DKK``."""
    currencies = rows["currency"].to_numpy(dtype=object)
    amounts = amount_texts(rows["amount_minor"].to_numpy(dtype=np.int64), currencies)
    currency = pa.array(currencies, pa.string())
    return pc.binary_join_element_wise("invoice ", pa.array(rows["invoice_number"].to_numpy(dtype=object), pa.string()),
                                       ": ", amounts, " ", currency, "").to_pylist()


def _document(document_type: str) -> str:
    return "credit note" if document_type == "credit_note" else "invoice"


def _debtor_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The debtors of the rows, with the ledger's column names; a debtor on several rows gets the details of its
    last row."""
    latest = rows.drop_duplicates("debtor_id", keep="last")
    return pd.DataFrame(dict(
        debtor_ref=latest["debtor_id"], debtor_type=latest["debtor_type"], name=latest["debtor_name"],
        national_id=latest["debtor_national_id"].replace("", None), address_line1=latest["debtor_address_line1"],
        address_line2=latest["debtor_address_line2"].replace("", None), postcode=latest["debtor_postcode"],
        city=latest["debtor_city"], country=latest["debtor_country"], email=latest["debtor_email"].replace("", None),
        phone=latest["debtor_phone"].replace("", None))).reset_index(drop=True)
