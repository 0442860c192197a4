"""Payment reconciliation (mission.md; formats.md §2, §3.3), as `inkasso reconcile` and the
``payment_reconciliation`` DAG run it:

1. the bank's files taken exactly once through the intake (`bank_files.BankFiles`), each payment stored
   once by the bank's own key; the court-stage partners' remittances likewise (`remittances`), matched by
   case number and allocated by the parts they report, each file answered with a receipt;
2. every payment not judged yet matched to a case by the ordered rules of `matching` (a join of all of
   them against the cases), or parked with its reason;
3. the matched ones allocated (`allocating`), per creditor under its lock, in transactions of about
   `ALLOCATION_BATCH` payments, a case's all in one (a run holds one batch's claims and postings in memory);
4. the day's report (`reconciliation_<date>.csv` in finance's outbox) owed, and delivered when the day is
   closed: by ``close_day`` (the command line, the DAG's daily run), or by any run of a later day.

A payment belongs to the report of its reconciliation day: the first day, from the run's business date on,
whose report has not gone out. So a payment judged after a day's report left is on the next day's, and
every payment is on exactly one report; each line adds up, and a report that does not is never written."""
from __future__ import annotations

from collections import namedtuple
from contextlib import closing
from datetime import date, timedelta
from time import time
from typing import BinaryIO

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from pipeline import exports
from pipeline.config import Settings
from pipeline.exporters.reconciliation import report_parts, write_reconciliation
from pipeline.home import Home
from pipeline.intake import Intake, Party, Taken, no_checkpoint
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.ledger.listings import LedgerListings
from pipeline.ledger.postings import SETTLEABLE
from pipeline.rules.interest import ReferenceRates
from pipeline.stages.reconcile.allocating import CreditorPayments
from pipeline.stages.ingest import Receipts
from pipeline.stages.reconcile.bank_files import BankFiles
from pipeline.stages.reconcile.remittances import RemittanceFiles
from pipeline.stages.reconcile.matching import COLLECTING, MANUAL, match
from pipeline.transport.parties import open_party_files

BANK = Party("bank", "bank", "bank", "bank")
ALLOCATION_BATCH = 10_000   # payments allocated in one transaction (a case's all in one)
ALLOCATED = ["id", "case_id", "rule", "amount_minor", "value_date", "remittance_text", "reversal"]


def take_bank_files(settings: Settings, as_of: date, run_id: str, settle_seconds: int | None = None,
                    checkpoint=no_checkpoint) -> list[Taken]:
    """One pass over the bank's inbox: each complete file taken once, its payments stored once. The bank is
    owed no answer per file: the reconciliation report answers for the day."""
    registry = settings.load_registry()
    settle = registry.settle_seconds if settle_seconds is None else settle_seconds
    engine = open_ledger(settings)
    try:
        with open_party_files(settings.home, registry, BANK.transport, LedgerListings(engine)) as files:
            inbox = files.inbox(BANK.inbox)
            intake = Intake(engine, Home(settings.home), BANK, inbox, None,
                            lambda name: BankFiles(registry.max_file_bytes), None, as_of, run_id, checkpoint)
            return intake.run(inbox.list_ready(settle, time()))
    finally:
        engine.dispose()


class Report:
    """``reconciliation_<date>.csv``: the payments of a reconciliation day (formats.md §3.3)."""

    kind = "reconciliation"

    @staticmethod
    def owed(day: date, run_id: str) -> exports.Owed:
        return exports.Owed(Report.kind, day.isoformat(), "finance", "finance/outbox",
                            f"reconciliation_{day.isoformat()}.csv", day, run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        # closed here, while the connection is open, also when a line that does not add up stops the writer
        with closing(repo.reconciliation_frames(conn, date.fromisoformat(export.natural_key))) as frames:
            write_reconciliation(sink, (_report_lines(rows) for rows in frames))


def _report_lines(rows: pd.DataFrame) -> pd.DataFrame:
    """The report's columns of a batch of payments. A payment worked out of suspense (``manual``) gets a line of
    its own: nothing comes in, what was parked goes to a case or back to the payer."""
    manual = rows["manual"].astype(bool)
    amount = rows["amount_minor"].astype("int64")
    settled = {name: rows[name].astype("int64") for name in SETTLEABLE}
    parts = report_parts(amount, settled, rows["refund_due_minor"].fillna(0).astype("int64"),
                         rows["parked_reason"].notna())
    parts["refund_due"] = parts["refund_due"].where(~manual, rows["resolved_refund_minor"].fillna(0).astype("int64"))
    parts["parked"] = parts["parked"].where(~manual, -amount)
    rule = rows["rule"].fillna("").where(~manual, rows["resolved_case_id"].notna().map({True: MANUAL, False: ""}))
    return pd.DataFrame(dict(payment_id=rows["id"], source=rows["source"].where(~manual, "manual"),
                             source_key=rows["bank_key"], value_date=rows["value_date"].dt.strftime("%Y-%m-%d"),
                             amount=amount.where(~manual, 0), currency=rows["currency"], payer_name=rows["payer_name"],
                             reference=rows["reference"], rule=rule, case_number=rows["case_number"],
                             parked_reason=rows["parked_reason"], **parts))


def run(settings: Settings, as_of: date, run_id: str, close_day: bool = True, settle_seconds: int | None = None,
        checkpoint=no_checkpoint) -> dict:
    """One pass (`inkasso reconcile`): the bank's files, the payments judged, the reports of the closed days
    delivered (with ``close_day``, the business date's too)."""
    files = take_bank_files(settings, as_of, run_id, settle_seconds, checkpoint)
    files += take_partner_files(settings, as_of, run_id, settle_seconds)
    counts = dict(files=sum(taken.record is not None and not taken.seen_before for taken in files))
    counts.update(judge_payments(settings, as_of, run_id))
    counts["reports"] = send_reports(settings, as_of if close_day else as_of - timedelta(days=1))
    return counts


def take_partner_files(settings: Settings, as_of: date, run_id: str, settle_seconds: int | None = None) -> list[Taken]:
    """One pass over every partner's inbox: each remittance taken once, answered with its receipt."""
    registry = settings.load_registry()
    settle = registry.settle_seconds if settle_seconds is None else settle_seconds
    taken: list[Taken] = []
    engine = open_ledger(settings)
    try:
        with open_party_files(settings.home, registry, "partner", LedgerListings(engine)) as files:
            for partner_id in registry.partners:
                party = Party("partner", partner_id, "partner", f"partners/{partner_id}")
                handler = RemittanceFiles(partner_id, registry.max_file_bytes, report_day_owed)
                intake = Intake(engine, Home(settings.home), party, files.inbox(party.inbox),
                                files.outbox(party.outbox), lambda name, handler=handler: handler, Receipts(), as_of,
                                run_id)
                taken += intake.run(intake.inbox.list_ready(settle, time()))
    finally:
        engine.dispose()
    return taken


def report_day_owed(conn: Connection, as_of: date, run_id: str) -> date:
    """The reconciliation day of what is judged now, its report owed."""
    day = report_day(conn, as_of)
    exports.owe(conn, Report.owed(day, run_id))
    return day


def judge_payments(settings: Settings, as_of: date, run_id: str) -> dict:
    engine = open_ledger(settings)
    try:
        return judge(engine, ReferenceRates.for_home(settings.home), as_of, run_id)
    finally:
        engine.dispose()


def send_reports(settings: Settings, through: date) -> list[str]:
    engine = open_ledger(settings)
    try:
        return deliver_reports(settings, engine, through)
    finally:
        engine.dispose()


def judge(engine: Engine, rates: ReferenceRates, as_of: date, run_id: str) -> dict:
    """Every payment not judged yet: matched and allocated, or parked. The parked in one transaction, the
    matched in one per creditor and batch (`allocation_batches`); each payment is judged once, whichever
    worker comes first."""
    with engine.connect() as conn:
        waiting = repo.unjudged_payments(conn)
        if waiting.empty:
            return dict(payments=0, matched=0, parked=0)
        judged = match(waiting, lambda numbers: repo.cases_by_number(conn, numbers),
                       lambda day: repo.collecting_case_totals(conn, day, COLLECTING))
        day = report_day(conn, as_of)
        creditor_of = repo.cases_by_id(conn, judged["case_id"].dropna().unique().tolist())
    rows = waiting.merge(judged, on="id")
    matched = rows[rows["rule"].notna()]
    with engine.begin() as conn:
        repo.lock_party(conn, "bank", "bank")
        parked = rows[rows["rule"].isna()]
        still = repo.unjudged_ids(conn, parked["id"].tolist())
        repo.judge_payments(conn, [dict(payment=row.id, day=day, judged_rule=None, case=row.case_id,
                                        reason=row.parked_reason, refund=0, reverses=None)
                                   for row in _rows(parked, ["id", "case_id", "parked_reason"]) if row.id in still])
        exports.owe(conn, Report.owed(day, run_id))
    late_parked = 0
    with engine.connect() as conn, repo.bulk_writes(conn):
        for creditor_id, payments in matched.groupby(matched["case_id"].map(creditor_of)):
            for batch in allocation_batches(payments):
                with conn.begin():
                    done = CreditorPayments(conn, creditor_id, day, run_id, rates).run(_rows(batch, ALLOCATED))
                    late_parked += sum(one.reason is not None for one in done)
                    exports.owe(conn, Report.owed(day, run_id))
    return dict(payments=len(rows), matched=len(matched) - late_parked, parked=len(rows) - len(matched) + late_parked)


def _rows(frame: pd.DataFrame, names: list[str]) -> list:
    """The frame's rows as named tuples of those columns, made from each column's Python values at once (pandas'
    ``itertuples`` takes a text column's values one by one from Arrow)."""
    row = namedtuple("Row", names)
    return list(map(row._make, zip(*(frame[name].tolist() for name in names))))


def allocation_batches(payments: pd.DataFrame) -> list[pd.DataFrame]:
    """The payments in batches of about `ALLOCATION_BATCH`, each case's payments all in one batch (so what
    becomes of a case's payments never depends on where a batch ends), each batch in the payments' order."""
    codes, _ = pd.factorize(payments["case_id"])        # the cases numbered in the order of their first payment
    per_case = np.bincount(codes)
    batch_of = (np.cumsum(per_case) - per_case) // ALLOCATION_BATCH
    return [batch for _, batch in payments.groupby(batch_of[codes], sort=True)]


def report_day(conn: Connection, as_of: date) -> date:
    """The first day from ``as_of`` on whose report has not gone out."""
    day = as_of
    while (export := repo.export_owed(conn, Report.kind, day.isoformat())) is not None and export.delivered_at:
        day += timedelta(days=1)
    return day


def deliver_reports(settings: Settings, engine: Engine, through: date) -> list[str]:
    """Deliver the reports owed for days up to ``through``."""
    keys = [key for key in exports.pending(engine, Report.kind, "finance/outbox") if date.fromisoformat(key) <= through]
    if not keys:
        return []
    registry = settings.load_registry()
    with open_party_files(settings.home, registry, "finance", LedgerListings(engine)) as files:
        return [exports.deliver(engine, Report.kind, key, Report(), files.outbox("finance/outbox"),
                                Home(settings.home).scratch) for key in sorted(keys)]
