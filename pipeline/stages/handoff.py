"""The weekly court handoff (formats.md §3.1; mission.md), as `inkasso handoff` and the ``court_handoff`` DAG
run it, exactly once per case:

1. **choose** (once a week, in one transaction): every case its creditor approved for court and not handed
   over is judged (`rules.court_eligibility`). The eligible go into their partner's batch of the week: each
   claim's interest is brought to the handoff day (the week's Monday, by the lifecycle's code) and its line
   recorded as it will be written. The others stay, with their reasons, reported to their creditor
   (``handoff_report_<YYYY>W<WW>.csv``). The files are owed in the same transaction;
2. **deliver**: each batch's CSV, then its manifest, through the export protocol (rendered from the
   recorded lines, so the same week writes the same bytes);
3. **mark**: once both files of a batch are out, its cases become HANDED_OVER (closed here, on the handoff
   day): no more letters, interest or fees; their payments come in the partner's remittances.

A crash between any two steps leaves a state the next run of the week completes: the week is chosen once,
the exports are delivered once, and a batch is marked once.
"""
from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time
from typing import BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from pipeline import case_states, exports
from pipeline.config import Registry, Settings
from pipeline.exporters.court_handoff import file_stem, manifest, write_court_handoff
from pipeline.exporters.csv_safe import write_csv
from pipeline.home import Home
from pipeline.intake import no_checkpoint
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.ledger.balances import claim_ledgers
from pipeline.ledger.listings import LedgerListings
from pipeline.ledger.postings import Component
from pipeline.ledger.schema import handoff_refusals
from pipeline.rules import interest, time_bar
from pipeline.rules.court_eligibility import CaseFacts, ClaimFacts, judge
from pipeline.transport.parties import open_party_files

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def monday(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


class HandoffFile:
    """``court_handoff_<partner>_<YYYY>W<WW>.csv``, rendered from the batch's recorded lines."""

    kind = "court_handoff"

    @staticmethod
    def owed(partner_id: str, week: str, run_id: str) -> exports.Owed:
        return exports.Owed(HandoffFile.kind, f"{partner_id}:{week}", "partner", f"partners/{partner_id}/outbox",
                            f"{file_stem(partner_id, week)}.csv", monday(week), run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        write_court_handoff(sink, _lines(conn, export.natural_key))


class HandoffManifest:
    """Its manifest, delivered after it: counts, totals, and the SHA-256 of the CSV as delivered (recorded with
    its delivery; rendered again only when a run stopped between putting the CSV and recording it)."""

    kind = "handoff_manifest"

    @staticmethod
    def owed(partner_id: str, week: str, run_id: str) -> exports.Owed:
        return exports.Owed(HandoffManifest.kind, f"{partner_id}:{week}", "partner",
                            f"partners/{partner_id}/outbox", f"{file_stem(partner_id, week)}.manifest.json",
                            monday(week), run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        partner_id, week = export.natural_key.split(":")
        lines = _lines(conn, export.natural_key)
        csv_sha256 = repo.export_owed(conn, HandoffFile.kind, export.natural_key).sha256
        if csv_sha256 is None:
            rendered = io.BytesIO()
            write_court_handoff(rendered, lines)
            csv_sha256 = hashlib.sha256(rendered.getvalue()).hexdigest()
        created = datetime.combine(monday(week), time(6), COPENHAGEN).isoformat()
        sink.write(manifest(export.natural_key, partner_id, week, created, lines, csv_sha256))


class HandoffReport:
    """A creditor's ``handoff_report_<YYYY>W<WW>.csv``: its approved cases that stayed, and why."""

    kind = "handoff_report"

    @staticmethod
    def owed(creditor_id: str, week: str, run_id: str) -> exports.Owed:
        return exports.Owed(HandoffReport.kind, f"{creditor_id}:{week}", "creditors",
                            f"creditors/{creditor_id}/outbox", f"handoff_report_{week.replace('-', '')}.csv",
                            monday(week), run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        creditor_id, week = export.natural_key.split(":")
        write_csv(sink, ("case_number", "reasons"), repo.handoff_refusals_of(conn, creditor_id, week))


def _lines(conn: Connection, key: str) -> list[dict]:
    partner_id, week = key.split(":")
    lines = [json.loads(text) for text in repo.handoff_lines_of(conn, partner_id, week)]
    for line in lines:
        for name, value in line.items():
            if name.endswith(("_date", "deadline")) and value:
                line[name] = date.fromisoformat(value)
    return lines


def run(settings: Settings, as_of: date, run_id: str, week: str | None = None,
        checkpoint: Callable[[str], None] = no_checkpoint) -> dict:
    """The week of ``as_of`` (or ``week``, YYYY-Www): chosen once, delivered, marked. ``checkpoint`` is called
    after each step (``chosen``, ``delivered``), where the tests stop a run."""
    week = week or iso_week(as_of)
    registry = settings.load_registry()
    engine = open_ledger(settings)
    try:
        with engine.begin() as conn:
            chosen = Week(conn, registry, week, run_id, interest.ReferenceRates.for_home(settings.home)).choose()
        checkpoint("chosen")
        files = _deliver(settings, registry, engine, week, checkpoint)
        checkpoint("delivered")
        with engine.begin() as conn:
            handoff = case_states.TRANSITIONS[(case_states.COURT_APPROVED, case_states.HANDOFF)]
            marked = repo.mark_handed_over(conn, week, files.delivered_batches, handoff.target, handoff.event,
                                           run_id)
    finally:
        engine.dispose()
    return dict(week=week, chosen_before=chosen is None, **(chosen or {}), files=files.names, handed_over=marked)


class Delivered:
    def __init__(self):
        self.names: list[str] = []
        self.delivered_batches: list[str] = []   # partner ids whose CSV and manifest are both out


def _deliver(settings: Settings, registry: Registry, engine: Engine, week: str, checkpoint) -> Delivered:
    done = Delivered()
    with engine.connect() as conn:
        partners = repo.handoff_partners(conn, week)
        creditors = repo.handoff_refused_creditors(conn, week)
    home = Home(settings.home)
    if partners:
        with open_party_files(settings.home, registry, "partner", LedgerListings(engine)) as files:
            for partner_id in partners:
                outbox = files.outbox(f"partners/{partner_id}/outbox")
                for renderer in (HandoffFile(), HandoffManifest()):   # the manifest last
                    done.names.append(exports.deliver(engine, renderer.kind, f"{partner_id}:{week}", renderer,
                                                      outbox, home.scratch))
                    checkpoint(f"{renderer.kind}_delivered")
                done.delivered_batches.append(partner_id)
    if creditors:
        with open_party_files(settings.home, registry, "creditors", LedgerListings(engine)) as files:
            for creditor_id in creditors:
                done.names.append(exports.deliver(engine, HandoffReport.kind, f"{creditor_id}:{week}",
                                                  HandoffReport(), files.outbox(f"creditors/{creditor_id}/outbox"),
                                                  home.scratch))
    return done


class Week:
    def __init__(self, conn: Connection, registry: Registry, week: str, run_id: str, rates):
        self.conn = conn
        self.registry = registry
        self.week = week
        self.day = monday(week)
        self.run_id = run_id
        self.rates = rates

    def choose(self) -> dict | None:
        """None when the week was chosen before; else what was chosen."""
        repo.lock_party(self.conn, "handoff", "court")
        if not repo.record_handoff_week(self.conn, self.week, self.run_id):
            return None
        rows = repo.approved_claims(self.conn)
        claims_by_case: dict[int, list] = defaultdict(list)
        for row in rows:
            claims_by_case[row.case_id].append(row)
        ids = [row.id for row in rows]
        balances, movements = claim_ledgers(self.conn, ids)
        letters = repo.letter_steps(self.conn, ids)
        first_steps = {claim_id: steps[0] for claim_id, steps in letters.items()}
        batches: dict[str, list] = defaultdict(list)
        refused = []
        for case_id, claims in claims_by_case.items():
            facts = self._facts(claims, balances, movements, letters)
            judged = judge(facts, list(self.registry.partners.values()), self.day)
            if judged.eligible:
                chosen = {claim.claim_id for claim in judged.claims}
                batches[judged.partner.id].append([claim for claim in claims if claim.id in chosen])
            else:
                refused.append(dict(iso_week=self.week, case_id=case_id, creditor_id=claims[0].creditor_id,
                                    reasons="|".join(judged.reasons)))
        postings = []
        for partner_id, cases in sorted(batches.items()):
            lines = []
            for claims in cases:
                for claim in claims:
                    postings += self._interest_to_handoff(claim, balances[claim.id], movements[claim.id])
                    lines.append((claim.case_id, self._line(claim, balances[claim.id], first_steps.get(claim.id))))
            repo.record_handoff(self.conn, partner_id, self.week, self.day, self.run_id, lines)
            exports.owe(self.conn, HandoffFile.owed(partner_id, self.week, self.run_id))
            exports.owe(self.conn, HandoffManifest.owed(partner_id, self.week, self.run_id))
        if postings:
            repo.post(self.conn, **repo.columns(postings),
                      booked_on=self.day, value_date=self.day, settles=None, file_id=None, run_id=self.run_id)
        if refused:
            repo.insert_rows(self.conn, handoff_refusals, **repo.columns(refused))
            for creditor_id in sorted({row["creditor_id"] for row in refused}):
                exports.owe(self.conn, HandoffReport.owed(creditor_id, self.week, self.run_id))
        return dict(batches=len(batches), cases=sum(len(cases) for cases in batches.values()), refused=len(refused))

    def _facts(self, claims: list, balances: dict, movements: dict, letters: dict) -> CaseFacts:
        first = claims[0]
        return CaseFacts(first.country, first.currency, first.national_id or "", first.address_line1 or "",
                         first.postcode or "", first.city or "", tuple(
                             ClaimFacts(claim.id, claim.disputed_since is not None,
                                        letters[claim.id][0].deadline if claim.id in letters else None,
                                        self._time_barred(claim, movements[claim.id], letters.get(claim.id, [])),
                                        balances[claim.id].outstanding[Component.PRINCIPAL])
                             for claim in claims if balances[claim.id].total > 0))

    def _time_barred(self, claim, movements, letters: list) -> bool:
        """Past its time bar on the handoff day, whether or not a lifecycle run found it so yet."""
        return claim.time_barred_on is not None or self.day >= time_bar.claim_time_bar(
            claim.country, claim.debtor_type, claim.invoice_date, claim.due_date, movements.payments,
            [step.taken_on for step in letters], claim.last_reminder_date)

    def _interest_to_handoff(self, claim, balance, movements) -> list[dict]:
        """The claim's interest brought to the handoff day (none while disputed or past its time bar)."""
        if not movements.principal or claim.time_barred_on is not None:
            return []
        whole = interest.accrued(interest.InterestClaim(claim.country, claim.due_date, tuple(movements.principal)),
                                 self.day, self.rates)
        change = whole - balance.components[Component.INTEREST]
        if not change:
            return []
        kind = "interest" if change > 0 else "interest_correction"
        balance.add(kind, None, change)
        return [dict(case_id=claim.case_id, invoice_id=claim.id, kind=kind, amount_minor=change,
                     currency=claim.currency, letter_id=None)]

    def _line(self, claim, balance, first_step) -> str:
        creditor = self.registry.creditors[claim.creditor_id]
        margin = interest.margin_pct(claim.country, claim.due_date)
        parts = balance.components
        line = dict(
            case_number=claim.case_number, payment_reference=claim.payment_reference, creditor_name=creditor.name,
            creditor_vat_id=creditor.vat_id, creditor_address=creditor.address, creditor_bank_account=creditor.iban,
            debtor_type=claim.debtor_type, debtor_name=claim.debtor_name, debtor_national_id=claim.national_id,
            debtor_address_line1=claim.address_line1, debtor_address_line2=claim.address_line2,
            debtor_postcode=claim.postcode, debtor_city=claim.city, debtor_country=claim.debtor_country,
            debtor_email=claim.email, debtor_phone=claim.phone, invoice_number=claim.invoice_number,
            invoice_date=claim.invoice_date.isoformat(), due_date=claim.due_date.isoformat(),
            principal_original=claim.principal_original, principal_outstanding=balance.outstanding[Component.PRINCIPAL],
            interest_accrued=parts[Component.INTEREST], interest_rate_basis=f"reference+{margin.normalize()}pp",
            interest_from_date=claim.due_date.isoformat(), reminder_fees=parts[Component.REMINDER_FEES],
            collection_fees=parts[Component.COLLECTION_FEES], compensation_fee=parts[Component.COMPENSATION],
            other_costs=parts[Component.COSTS], payments_received=balance.payments, total_outstanding=balance.total,
            currency=claim.currency, inkassovarsel_date=first_step.taken_on.isoformat() if first_step else None,
            inkassovarsel_deadline=first_step.deadline.isoformat() if first_step else None,
            creditor_approval_date=claim.approved_on.isoformat() if claim.approved_on else None,
            documents=claim.file_name, notes="")
        return json.dumps(line, sort_keys=True, ensure_ascii=False)

