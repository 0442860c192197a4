"""The daily case lifecycle (mission.md; rules.md "The collection process", "Interest", "Time bar watch").

Once a day, per creditor, in one transaction under the creditor's lock (its files wait meanwhile), for
every claim of its open cases:

1. the time bar (`pipeline.rules.time_bar`), renewed by payments and, where the law counts them, by our
   letters and the creditor's own reminder: past it, the claim is time-barred (``time_barred_on``) and
   takes nothing more; within 90 days of it, ``time_bar_near`` once;
2. interest (`pipeline.rules.interest`): the whole to the day (or to the time bar) less what is posted, so
   a payment with an earlier value date posts a correction; a disputed claim gets none until the dispute is
   lifted, and then all of it;
3. the next step of the process (`pipeline.rules.process`), unless the claim is disputed, time-barred or
   paid: the claims of a case that take a step with a letter on the same day share one letter, whose
   deadline falls on the debtor's next banking day; the step's charges are posted on the claims it charges;
   the last step, ``ready_for_court``, sends no letter;
4. a case with nothing left to pay closes as PAID; one whose every unpaid claim is time-barred, as
   TIME_BARRED.

A day runs once per creditor (``lifecycle_runs``): running it again changes nothing, and a day before the
last one is refused (runs go forward; a replay starts from a copy). What the day did is owed as exports: the
letters of the day (formats.md §3.0, one file for every creditor, delivered once every creditor has run) and
each creditor's ``status_<date>.csv`` of the cases that changed.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import BinaryIO

from sqlalchemy import Connection

from pipeline import case_states, exports
from pipeline.config import Registry, Settings
from pipeline.exporters.letters import letter_id as letter_id_of
from pipeline.exporters.letters import write_letters_csv
from pipeline.exporters.letters_pdf import write_letters_pdf
from pipeline.exporters.status import CHANGES as STATUS_CHANGES
from pipeline.exporters.status import status_name, write_status
from pipeline.home import Home
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.ledger.balances import Balance, Movements, claim_ledgers
from pipeline.ledger.listings import LedgerListings
from pipeline.ledger.postings import Component
from pipeline.ledger.schema import case_events, claim_steps
from pipeline.money import format_minor, to_minor
from pipeline.rules import calendar, interest, process, time_bar
from pipeline.rules.collection_costs import collection_costs
from pipeline.runs import StageRefused
from pipeline.transport.parties import open_party_files

LANGUAGE = {"DK": "da", "SE": "sv"}
LETTERS_OUTBOX = "letters/outbox"
COLLECTING = (case_states.OPEN, case_states.COURT_APPROVED)


class RunsGoForward(StageRefused):
    """A lifecycle day before the last one a creditor ran: the ledger is never rolled back to replay it."""


@dataclass
class LifecycleCounts:
    """What a day did, for XCom: no personal data."""

    creditors: int = 0
    days_run_before: int = 0
    claims: int = 0
    interest_postings: int = 0
    letters: int = 0
    charges: int = 0
    ready_for_court: int = 0
    time_bar_near: int = 0
    time_barred: int = 0
    cases_closed: int = 0

    def add(self, other: "LifecycleCounts") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_result(self) -> dict:
        return asdict(self)


@dataclass
class Claim:
    """A claim as the day sees it: ``row`` is its `repository.lifecycle_claims` row."""

    row: object
    balance: Balance
    movements: Movements
    history: list[process.Taken] = field(default_factory=list)
    time_barred_on: date | None = None

    def __getattr__(self, name: str):
        return getattr(self.row, name)

    @property
    def disputed(self) -> bool:
        return self.row.disputed_since is not None or self.row.status == case_states.DISPUTED

    @property
    def owed(self) -> int:
        return self.balance.total


class Letters:
    """The day's letters (formats.md §3.0), for every creditor at once: owed by each creditor's day that sent
    one, delivered when every creditor has run (`deliver_letters`)."""

    kind = "letters"

    @staticmethod
    def owed(day: date, run_id: str) -> exports.Owed:
        return exports.Owed(Letters.kind, day.isoformat(), "letters", LETTERS_OUTBOX, f"letters_{day.isoformat()}.csv",
                            day, run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        write_letters_csv(sink, repo.letters_of_day(conn, date.fromisoformat(export.natural_key)))


class LettersPdf(Letters):
    """The same letters typeset, one to a page (``letters_<date>.pdf``)."""

    kind = "letters_pdf"

    @staticmethod
    def owed(day: date, run_id: str) -> exports.Owed:
        return exports.Owed(LettersPdf.kind, day.isoformat(), "letters", LETTERS_OUTBOX,
                            f"letters_{day.isoformat()}.pdf", day, run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        day = date.fromisoformat(export.natural_key)
        write_letters_pdf(sink, day, repo.letters_of_day(conn, day))


class Statuses:
    """A creditor's ``status_<date>.csv``: its cases that changed that day."""

    kind = "status"

    @staticmethod
    def owed(creditor_id: str, day: date, run_id: str) -> exports.Owed:
        return exports.Owed(Statuses.kind, f"{creditor_id}:{day.isoformat()}", "creditors",
                            f"creditors/{creditor_id}/outbox", status_name(day), day, run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        creditor_id, day = export.natural_key.rsplit(":", 1)
        write_status(sink, repo.day_events(conn, creditor_id, date.fromisoformat(day), list(STATUS_CHANGES)))


def creditors(settings: Settings) -> list[str]:
    """Prepare the day once (the migrated ledger; the reference rates read, so a missing file fails here) and
    list the creditors, each of whose day is one mapped task."""
    registry = settings.load_registry()
    interest.ReferenceRates.for_home(settings.home)
    open_ledger(settings).dispose()
    return list(registry.creditors)


def run(settings: Settings, as_of: date, run_id: str, creditor_id: str | None = None) -> dict:
    """The whole day, as `inkasso lifecycle` runs it: every creditor's (or one's), then the day's letters."""
    ids = [settings.load_registry().creditor(creditor_id).id] if creditor_id else creditors(settings)
    counts = LifecycleCounts()
    for cid in ids:
        counts.add(LifecycleCounts(**run_creditor(settings, as_of, run_id, cid)))
    result = counts.as_result()
    if creditor_id is None:
        result["letter_files"] = deliver_letters(settings, as_of)
    return result


def run_creditor(settings: Settings, as_of: date, run_id: str, creditor_id: str) -> dict:
    """One creditor's day in one transaction, then its status file (a mapped task of the DAG)."""
    registry = settings.load_registry()
    registry.creditor(creditor_id)
    rates = interest.ReferenceRates.for_home(settings.home)
    engine = open_ledger(settings)
    try:
        with engine.begin() as conn:
            counts = CreditorDay(conn, registry, creditor_id, as_of, run_id, rates).run()
        _deliver(settings, registry, engine, "creditors", Statuses(), [f"{creditor_id}:{as_of.isoformat()}"])
    finally:
        engine.dispose()
    return counts.as_result()


def deliver_letters(settings: Settings, as_of: date) -> list[str]:
    """Put the day's letters into the letters outbox, once every creditor's day is done (the DAG's last task)."""
    registry = settings.load_registry()
    engine = open_ledger(settings)
    try:
        return (_deliver(settings, registry, engine, "letters", Letters(), [as_of.isoformat()])
                + _deliver(settings, registry, engine, "letters", LettersPdf(), [as_of.isoformat()]))
    finally:
        engine.dispose()


def _deliver(settings: Settings, registry: Registry, engine, party: str, renderer, keys: list[str]) -> list[str]:
    """Deliver those of ``keys`` that are owed (a day without letters or changes owes nothing)."""
    with engine.connect() as conn:
        owed = [export for key in keys if (export := repo.export_owed(conn, renderer.kind, key)) is not None]
    if not owed:
        return []
    with open_party_files(settings.home, registry, party, LedgerListings(engine)) as files:
        return [exports.deliver(engine, export.kind, export.natural_key, renderer, files.outbox(export.folder),
                                Home(settings.home).scratch) for export in owed]


class CreditorDay:
    def __init__(self, conn: Connection, registry: Registry, creditor_id: str, as_of: date, run_id: str,
                 rates: interest.ReferenceRates):
        self.conn = conn
        self.registry = registry
        self.creditor_id = creditor_id
        self.as_of = as_of
        self.run_id = run_id
        self.rates = rates
        self.sender = sender(registry)
        self.counts = LifecycleCounts(creditors=1)
        # what the day writes, in bulk at its end; steps and postings name their letter by (case id, sequence)
        self.time_barred: list[tuple[int, date]] = []
        self.letters: list[dict] = []
        self.steps: list[dict] = []
        self.postings: list[dict] = []
        self.events: list[dict] = []
        self.closed: list[dict] = []

    def run(self) -> LifecycleCounts:
        repo.lock_party(self.conn, "creditor", self.creditor_id)
        last = repo.last_lifecycle_day(self.conn, self.creditor_id)
        if last is not None and self.as_of < last:
            raise RunsGoForward(f"the lifecycle of {self.creditor_id} ran for {last} already; {self.as_of} is "
                                "earlier (runs go forward: replay a day on a copy of the ledger)")
        if last == self.as_of:
            self.counts.days_run_before = 1
            return self.counts
        sent = repo.export_owed(self.conn, Letters.kind, self.as_of.isoformat())
        if sent is not None and sent.delivered_at is not None:
            raise RunsGoForward(f"the letters of {self.as_of} went out before the lifecycle of {self.creditor_id} "
                                "ran for that day; run it for a later day")
        repo.record_lifecycle_day(self.conn, self.creditor_id, self.as_of, self.run_id)
        claims = self._claims()
        self.counts.claims = len(claims)
        due_steps = []
        for claim in claims:
            if self._time_bar(claim):
                continue
            self._interest(claim)
            step = self._next_step(claim)
            if step is not None:
                due_steps.append((claim, step))
        self._take_steps(due_steps)
        self._close_settled_cases(claims)
        self._write()
        self._owe_exports()
        return self.counts

    def _owe_exports(self) -> None:
        if self.counts.letters:
            exports.owe(self.conn, Letters.owed(self.as_of, self.run_id))
            exports.owe(self.conn, LettersPdf.owed(self.as_of, self.run_id))
        if repo.day_events(self.conn, self.creditor_id, self.as_of, list(STATUS_CHANGES)):
            exports.owe(self.conn, Statuses.owed(self.creditor_id, self.as_of, self.run_id))

    def _claims(self) -> list[Claim]:
        rows = repo.lifecycle_claims(self.conn, self.creditor_id)
        ids = [row.id for row in rows]
        balances, movements = claim_ledgers(self.conn, ids, on=self.as_of)
        claims = {row.id: Claim(row, balances[row.id], movements[row.id], time_barred_on=row.time_barred_on)
                  for row in rows}
        for step in repo.claim_history(self.conn, ids):
            claims[step.invoice_id].history.append(process.Taken(step.step, step.repeat, step.taken_on,
                                                                 step.deadline))
        self.flagged_near = repo.claims_with_event(self.conn, ids, "time_bar_near")
        return list(claims.values())

    def _time_bar(self, claim: Claim) -> bool:
        """Whether the claim is (now) time-barred; flags it near its time bar once."""
        if claim.time_barred_on is not None:
            return True
        barred_on = time_bar.claim_time_bar(claim.country, claim.debtor_type, claim.invoice_date, claim.due_date,
                                            claim.movements.payments,
                                            [step.taken_on for step in claim.history if step.deadline is not None],
                                            claim.last_reminder_date)
        claim.time_barred_on = barred_on if self.as_of >= barred_on else None
        if claim.time_barred_on is not None:
            self._interest(claim, to=barred_on)
            self.time_barred.append((claim.id, barred_on))
            self._event(claim, "time_barred", f"invoice {claim.invoice_number} is time-barred since {barred_on}: "
                                              "no more letters, interest or fees")
            self.counts.time_barred += 1
            return True
        if (barred_on - self.as_of).days <= time_bar.NEAR_DAYS and claim.id not in self.flagged_near:
            self._event(claim, "time_bar_near", f"invoice {claim.invoice_number} will be time-barred on {barred_on}")
            self.counts.time_bar_near += 1
        return False

    def _interest(self, claim: Claim, to: date | None = None) -> None:
        if claim.disputed or not claim.movements.principal:
            return
        whole = interest.accrued(interest.InterestClaim(claim.country, claim.due_date,
                                                        tuple(claim.movements.principal)),
                                 min(to or self.as_of, self.as_of), self.rates)
        change = whole - claim.balance.components[Component.INTEREST]
        if change:
            self._post(claim, "interest" if change > 0 else "interest_correction", change)
            claim.balance.add("interest" if change > 0 else "interest_correction", None, change)
            self.counts.interest_postings += 1

    def _next_step(self, claim: Claim) -> tuple[str, int] | None:
        if claim.disputed or claim.status not in COLLECTING or claim.owed <= 0:
            return None
        steps = process.steps_for(claim.country, self.as_of)
        return process.next_step(steps, claim.history, claim.taken_on, self.as_of)

    def _take_steps(self, due: list[tuple[Claim, tuple[str, int]]]) -> None:
        """One letter per case and letter type; ready_for_court is an event of each claim."""
        grouped: dict[tuple[int, str], list[tuple[Claim, str, int]]] = defaultdict(list)
        for claim, (name, repeat) in due:
            step = self._step(claim.country, name)
            if step.letter_type is None:
                self._record_step(claim, name, repeat, None, None)
                self._event(claim, "ready_for_court", f"invoice {claim.invoice_number}: the last deadline passed "
                                                      "unpaid; ready for court when you approve it")
                self.counts.ready_for_court += 1
            else:
                grouped[(claim.case_id, step.letter_type)].append((claim, name, repeat))
        sequences = repo.letter_counts(self.conn, sorted({case for case, _ in grouped}))
        for (case_id, letter_type), members in sorted(grouped.items()):
            sequences[case_id] = sequences.get(case_id, 0) + 1
            self._letter(case_id, letter_type, members, sequences[case_id])

    def _letter(self, case_id: int, letter_type: str, members: list, sequence: int) -> None:
        members.sort(key=lambda member: (member[0].due_date, member[0].id))
        first = members[0][0]
        step = self._step(first.country, members[0][1])
        deadline = calendar.deadline(self.as_of, step.deadline_days, first.country)
        claims = [member[0] for member in members]
        key = (case_id, sequence)
        numbers = ", ".join(claim.invoice_number for claim in claims)
        self._event(first, "letter_sent", f"{letter_type} {letter_id_of(first.case_number, sequence)} for "
                                          f"{numbers}, deadline {deadline}", claim_level=False)
        for index, (claim, name, repeat) in enumerate(members):
            self._record_step(claim, name, repeat, key, deadline)
            self._charge(claim, name, key, claims)
        rate = interest.rate_pct(interest.InterestClaim(first.country, first.due_date, ()), self.as_of, self.rates)
        self.letters.append(dict(
            case_id=case_id, sequence=sequence, letter_type=letter_type,
            language=LANGUAGE.get(first.country, "en"), sent_on=self.as_of, deadline=deadline,
            currency=first.currency, interest_rate_pct=str(rate), debtor_name=first.debtor_name,
            debtor_address_line1=first.address_line1, debtor_address_line2=first.address_line2,
            debtor_postcode=first.postcode, debtor_city=first.city, debtor_country=first.debtor_country,
            debtor_email=first.email, creditor_name=self.registry.creditors[self.creditor_id].name,
            claims="|".join(claim.invoice_number for claim in claims), payment_reference=first.payment_reference,
            pay_to_iban=self.registry.agency.iban, sender=self.sender, posted_from=self.registry.agency.country,
            run_id=self.run_id, **letter_amounts(claims)))
        self.counts.letters += 1

    def _charge(self, claim: Claim, step: str, letter: tuple[int, int], letter_claims: list[Claim]) -> None:
        """Post the step's charges on the claim. A charge per letter, and the collection costs when the
        deployment takes them on the total of the letter's claims (``collection_cost_basis = "case_total"``),
        go on the letter's first claim only."""
        first_of_letter = claim is letter_claims[0]
        for charge in process.charges_for(claim.country, claim.debtor_type, step, claim.invoice_date):
            what = charge.kind.replace("_", " ")
            on_total = charge.amount is None and self.registry.collection_cost_basis == "case_total"
            if (charge.per == "letter" or on_total) and not first_of_letter:
                continue
            if charge.currency != claim.currency:
                self._event(claim, "fee_not_charged", f"no {what} on invoice {claim.invoice_number}: the law sets it "
                                                      f"in {charge.currency}, the claim is in {claim.currency}")
                continue
            creditor_fees = claim.balance.components[Component.REMINDER_FEES]
            if charge.waived_at_creditor_fees is not None and creditor_fees >= to_minor(
                    charge.waived_at_creditor_fees, claim.currency):
                continue
            amount = self._amount(charge, letter_claims if on_total else [claim])
            self._post(claim, charge.kind, amount, letter)
            claim.balance.add(charge.kind, None, amount)
            self._event(claim, "fee_charged", f"{what} {format_minor(amount, claim.currency)} {claim.currency} on "
                                              f"invoice {claim.invoice_number}")
            self.counts.charges += 1

    @staticmethod
    def _amount(charge: process.Charge, claims: list[Claim]) -> int:
        """A fixed charge, or Bilag 1 on what the claims owe of principal and the creditor's fees, in the
        version in force when the first of them arose."""
        first = claims[0]
        if charge.amount is not None:
            return to_minor(charge.amount, first.currency)
        basis = sum(claim.balance.outstanding[Component.PRINCIPAL] + claim.balance.outstanding[Component.REMINDER_FEES]
                    for claim in claims)
        return collection_costs(basis, first.currency, min(claim.invoice_date for claim in claims))

    def _step(self, country: str, name: str) -> process.Step:
        return next(step for step in process.steps_for(country, self.as_of) if step.name == name)

    def _record_step(self, claim: Claim, name: str, repeat: int, letter: tuple[int, int] | None,
                     deadline: date | None) -> None:
        self.steps.append(dict(invoice_id=claim.id, step=name, repeat=repeat, letter=letter, deadline=deadline))
        claim.history.append(process.Taken(name, repeat, self.as_of, deadline))

    def _post(self, claim: Claim, kind: str, amount: int, letter: tuple[int, int] | None = None) -> None:
        self.postings.append(dict(case_id=claim.case_id, invoice_id=claim.id, kind=kind, amount_minor=amount,
                                  currency=claim.currency, letter=letter))

    def _event(self, claim: Claim, kind: str, detail: str, claim_level: bool = True) -> None:
        self.events.append(dict(case_id=claim.case_id, invoice_id=claim.id if claim_level else None, kind=kind,
                                detail=detail))

    def _write(self) -> None:
        """Everything the day did, in bulk: letters first, so that steps and charges can name theirs."""
        repo.set_time_barred(self.conn, self.time_barred)
        letter_ids = (repo.insert_letters(self.conn, self.creditor_id, self.as_of, **repo.columns(self.letters))
                      if self.letters else {})
        for row in self.steps + self.postings:
            letter = row.pop("letter")
            row["letter_id"] = None if letter is None else letter_ids[letter]
        if self.steps:
            repo.insert_rows(self.conn, claim_steps, **repo.columns(self.steps), taken_on=self.as_of,
                             run_id=self.run_id)
        if self.postings:
            repo.post(self.conn, **repo.columns(self.postings), booked_on=self.as_of, value_date=self.as_of,
                      settles=None, file_id=None, run_id=self.run_id)
        if self.events:
            repo.insert_rows(self.conn, case_events, **repo.columns(self.events), on_date=self.as_of, file_id=None,
                             run_id=self.run_id)
        repo.update_case_states(self.conn, self.closed)

    def _close_settled_cases(self, claims: list[Claim]) -> None:
        by_case: dict[int, list[Claim]] = defaultdict(list)
        for claim in claims:
            by_case[claim.case_id].append(claim)
        for case_id, members in by_case.items():
            if members[0].status not in COLLECTING:
                continue
            unpaid = [claim for claim in members if claim.owed > 0]
            if not unpaid:
                self._close(members[0], case_states.PAID, "paid", "nothing is left to pay")
            elif all(claim.time_barred_on is not None for claim in unpaid):
                self._close(members[0], case_states.TIME_BARRED, "case_time_barred", "every unpaid claim is "
                                                                                      "time-barred")

    def _close(self, claim: Claim, status: str, event: str, why: str) -> None:
        self.closed.append(dict(case_pk=claim.case_id, new_status=status, new_before_dispute=None,
                                new_closed_on=self.as_of))
        self._event(claim, event, f"{claim.status} -> {status}: {why}", claim_level=False)
        self.counts.cases_closed += 1


LETTER_AMOUNTS = ("principal_minor", "interest_minor", "reminder_fees_minor", "collection_fees_minor",
                  "compensation_minor", "payments_minor", "total_minor")


def sender(registry: Registry) -> str:
    """The agency as its letters are signed: name, address, VAT id."""
    agency = registry.agency
    return f"{agency.name}\n{agency.address}\nCVR/VAT {agency.vat_id}"


def letter_amounts(claims: list[Claim]) -> dict[str, int]:
    """What the letter's claims owe on the day it is sent, by component (formats.md §3.0)."""
    parts = {Component.PRINCIPAL: "principal_minor", Component.INTEREST: "interest_minor",
             Component.REMINDER_FEES: "reminder_fees_minor", Component.COLLECTION_FEES: "collection_fees_minor",
             Component.COMPENSATION: "compensation_minor"}
    amounts = dict.fromkeys(LETTER_AMOUNTS, 0)
    for claim in claims:
        for component, name in parts.items():
            amounts[name] += claim.balance.components[component]
        amounts["payments_minor"] += claim.balance.payments
        amounts["total_minor"] += claim.balance.total
    return amounts
