"""Allocating matched payments: one creditor's in one transaction, under its lock (ingest and the instructions
take the same lock, so that no balance goes negative under concurrency).

For each payment, oldest value date first: the interest of each of the case's claims is set to what has
accrued on the value date (a posting, or a correction when more was posted: the lifecycle posts the rest
again later, on what is then left); then the amount is spread (`rules.allocation.allocate_payment`): the
claims the text designates by invoice number first, then the undisputed claims oldest first, each costs →
fees → interest → principal. What is left over is due back to the payer. A case left owing nothing closes as
PAID. A reversal takes back the allocation of the payment it reverses (the latest one on its case of the
same amount not yet reversed), part by part, and reopens a case that payment closed.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection

from pipeline import case_states
from pipeline.ledger import repository as repo
from pipeline.ledger.balances import Balance, Movements, claim_ledgers
from pipeline.ledger.postings import Component
from pipeline.ledger.schema import case_events
from pipeline.money import format_minor
from pipeline.rules import interest
from pipeline.rules.allocation import Owed, allocate_payment
from pipeline.stages.reconcile.matching import UNKNOWN_REFERENCE

WORDS = re.compile(r"[^\s,;:]+")


@dataclass
class Claim:
    row: object
    balance: Balance
    movements: Movements

    @property
    def disputed(self) -> bool:
        return self.row.disputed_since is not None or self.row.status == case_states.DISPUTED


@dataclass(frozen=True)
class Original:
    """The payment a reversal takes back: its refund, value date and the parts (claim, component, amount) of
    its allocation."""

    id: int
    refund_due_minor: int
    value_date: date
    parts: list[tuple[int, str, int]]


@dataclass
class Judged:
    """What became of one payment: the ``payments`` row's new values, and its postings."""

    payment: int
    case: int | None
    judged_rule: str | None
    reason: str | None = None
    refund: int = 0
    reverses: int | None = None
    postings: list[dict] = field(default_factory=list)


class CreditorPayments:
    def __init__(self, conn: Connection, creditor_id: str, day: date, run_id: str, rates: interest.ReferenceRates):
        self.conn = conn
        self.creditor_id = creditor_id
        self.day = day
        self.run_id = run_id
        self.rates = rates
        self.claims: dict[int, list[Claim]] = defaultdict(list)
        self.events: list[dict] = []
        self.closed: dict[int, dict] = {}
        self.allocated: list[tuple[object, Judged]] = []   # this batch's payments, not written yet
        self.taken_back: set[int] = set()                  # payments this batch's reversals took back

    def run(self, matched: list, still_open=repo.unjudged_ids, record=None) -> list[Judged]:
        """``matched``: rows of id, case_id, rule, amount_minor, value_date, remittance_text, reversal; those
        ``still_open`` finds under the lock are allocated (judged once, whichever worker comes first), and
        what became of them written by ``record`` (default: as judged on the run's day)."""
        repo.lock_party(self.conn, "creditor", self.creditor_id)
        waiting = still_open(self.conn, [payment.id for payment in matched])
        matched = [payment for payment in matched if payment.id in waiting]
        self._load({payment.case_id for payment in matched})
        judged = [self._reverse(payment) if payment.reversal else self._allocate(payment) for payment in matched]
        self._write(judged, record or self._record_judged)
        return judged

    def _load(self, case_ids: set[int]) -> None:
        rows = repo.claims_of_cases(self.conn, sorted(case_ids))
        ids = [row.id for row in rows]
        balances, movements = claim_ledgers(self.conn, ids)
        for row in rows:
            self.claims[row.case_id].append(Claim(row, balances[row.id], movements[row.id]))

    def _allocate(self, payment) -> Judged:
        judged = Judged(payment.id, payment.case_id, payment.rule)
        claims = self.claims[payment.case_id]
        for claim in claims:
            self._interest_to(claim, payment.value_date, judged)
        owed = [Owed(claim.row.id, claim.row.due_date, dict(claim.balance.outstanding), claim.disputed)
                for claim in claims]
        named = set(WORDS.findall(payment.remittance_text or ""))
        designated = [claim.row.id for claim in claims if claim.row.invoice_number in named]
        parts, judged.refund = allocate_payment(payment.amount_minor, owed, designated)
        by_id = {claim.row.id: claim for claim in claims}
        for claim_id, settles, part in parts:
            self._post(judged, by_id[claim_id], "payment", -part, payment.value_date, settles)
            if settles == Component.PRINCIPAL:
                _reduce_principal(by_id[claim_id].movements, payment.value_date, part)
        currency = claims[0].row.currency
        back = f", {format_minor(judged.refund, currency)} due back to the payer" if judged.refund else ""
        self._event(claims[0], "payment", f"{format_minor(payment.amount_minor, currency)} {currency} paid "
                                          f"({payment.rule}), value date {payment.value_date}{back}")
        if sum(claim.balance.total for claim in claims) == 0 and claims[0].row.status != case_states.PAID:
            self._close(claims[0])
        self.allocated.append((payment, judged))
        return judged

    def _interest_to(self, claim: Claim, value_date: date, judged: Judged) -> None:
        """The claim's interest set to what has accrued on the value date (to its time bar, if earlier)."""
        if claim.disputed or not claim.movements.principal:
            return
        to = min(value_date, claim.row.time_barred_on or value_date)
        whole = interest.accrued(interest.InterestClaim(claim.row.country, claim.row.due_date,
                                                        tuple(claim.movements.principal)), to, self.rates)
        change = whole - claim.balance.components[Component.INTEREST]
        if change:
            self._post(judged, claim, "interest" if change > 0 else "interest_correction", change, value_date)

    def _reverse(self, payment) -> Judged:
        """The bank took a payment back: its allocation undone part by part, a case it closed reopened."""
        original = self._original_of(payment)
        if original is None:
            return Judged(payment.id, None, None, UNKNOWN_REFERENCE)
        self.taken_back.add(original.id)
        judged = Judged(payment.id, payment.case_id, payment.rule, refund=-original.refund_due_minor,
                        reverses=original.id)
        by_id = {claim.row.id: claim for claim in self.claims[payment.case_id]}
        for claim_id, settles, amount in original.parts:
            self._post(judged, by_id[claim_id], "payment_reversal", -amount, payment.value_date, settles)
        first = self.claims[payment.case_id][0]
        self._event(first, "payment_reversed", f"the bank took back the payment of "
                                               f"{format_minor(-payment.amount_minor, first.row.currency)} "
                                               f"{first.row.currency} of {original.value_date}")
        if first.row.status == case_states.PAID or payment.case_id in self.closed:
            self.closed[payment.case_id] = dict(case_pk=payment.case_id, new_status=case_states.OPEN,
                                                new_before_dispute=None, new_closed_on=None)
        return judged

    def _original_of(self, reversal) -> Original | None:
        """The latest payment on the reversal's case of its amount that no reversal has taken back yet: one of
        this batch (a statement may hold a payment and its reversal), else one of the ledger."""
        for payment, judged in reversed(self.allocated):
            if (payment.case_id, payment.amount_minor) == (reversal.case_id, -reversal.amount_minor) \
                    and payment.id not in self.taken_back:
                return Original(payment.id, judged.refund, payment.value_date,
                                [(posting["invoice_id"], posting["settles"], posting["amount_minor"])
                                 for posting in judged.postings if posting["kind"] == "payment"])
        row = repo.payment_to_reverse(self.conn, reversal.case_id, -reversal.amount_minor, self.taken_back)
        if row is None:
            return None
        return Original(row.id, row.refund_due_minor, row.value_date,
                        [tuple(posting) for posting in repo.postings_of_payment(self.conn, row.id)])

    def _post(self, judged: Judged, claim: Claim, kind: str, amount: int, value_date: date,
              settles: str | None = None) -> None:
        judged.postings.append(dict(case_id=claim.row.case_id, invoice_id=claim.row.id, kind=kind,
                                    amount_minor=amount, currency=claim.row.currency, value_date=value_date,
                                    settles=settles, payment_id=judged.payment))
        claim.balance.add(kind, settles, amount)

    def _event(self, claim: Claim, kind: str, detail: str) -> None:
        self.events.append(dict(case_id=claim.row.case_id, invoice_id=None, kind=kind, detail=detail))

    def _close(self, claim: Claim) -> None:
        self.closed[claim.row.case_id] = dict(case_pk=claim.row.case_id, new_status=case_states.PAID,
                                              new_before_dispute=None, new_closed_on=self.day)
        self._event(claim, "paid", f"{claim.row.status} -> {case_states.PAID}: nothing is left to pay")

    def _write(self, judged: list[Judged], record) -> None:
        rows = [posting for one in judged for posting in one.postings]
        if rows:
            repo.post(self.conn, **repo.columns(rows), booked_on=self.day, file_id=None, run_id=self.run_id)
        if self.events:
            repo.insert_rows(self.conn, case_events, **repo.columns(self.events), on_date=self.day, file_id=None,
                             run_id=self.run_id)
        repo.update_case_states(self.conn, list(self.closed.values()))
        record(self.conn, judged)

    def _record_judged(self, conn: Connection, judged: list[Judged]) -> None:
        repo.judge_payments(conn, [dict(payment=one.payment, day=self.day, judged_rule=one.judged_rule,
                                        case=one.case, reason=one.reason, refund=one.refund,
                                        reverses=one.reverses) for one in judged])


def _reduce_principal(movements: Movements, day: date, part: int) -> None:
    """The claim's outstanding principal steps after ``part`` of it was paid with value date ``day``."""
    steps = movements.principal
    before = 0
    for since, amount in steps:
        if since <= day:
            before = amount
    if not any(since == day for since, _ in steps):
        steps.append((day, before))
        steps.sort()
    movements.principal = [(since, amount - part if since >= day else amount) for since, amount in steps]
