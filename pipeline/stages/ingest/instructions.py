"""Creditor instruction files (formats.md §1.3): each line applied to the creditor's own case, in file order.

`InstructionFiles` is the intake's handler for them: it runs inside the file's one transaction, so an
instruction file is applied exactly once like an invoice file. What each instruction may do in each state is
`pipeline.case_states`; this module finds the case, asks `case_states.decide`, and writes the outcome:
receipt line, case event (the transition's kind; detail with the change and the creditor's note), postings
(direct payment, withdrawal fees charged to the creditor) and the case's new state.

A line names its case by ``invoice_number`` (any document of this creditor) or ``case_number``; a number
of another creditor is UNKNOWN_CASE, exactly like one that does not exist. Lines see the effect of the
lines before them (a DISPUTE then a RESUME in one file both apply). DISPUTE and RESUME naming an invoice
act on that claim (see `case_states` for when the case's own state follows).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sqlalchemy import Connection

from pipeline import case_states
from pipeline.case_states import Decision, Refusal
from pipeline.config import Creditor, MissingFee, Registry
from pipeline.intake import Context, Handled
from pipeline.ledger import repository as repo
from pipeline.ledger.balances import case_balances, claim_balances
from pipeline.ledger.postings import Component
from pipeline.ledger.schema import case_events, receipt_lines
from pipeline.money import format_minor, minor_digits, to_minor
from pipeline.parsers.instructions import InstructionRow, read_instructions
from pipeline.rules.allocation import Owed, allocate

APPLIED = "APPLIED"


@dataclass
class Claim:
    """A claim of a case as the lines of this file leave it."""

    id: int
    number: str
    due_date: date
    disputed_since: date | None
    owed: dict[Component, int]     # what is left of each component
    changed: bool = False

    @property
    def outstanding(self) -> int:
        return Owed(self.id, self.due_date, self.owed).total

    def as_owed(self) -> Owed:
        return Owed(self.id, self.due_date, dict(self.owed), disputed=self.disputed_since is not None)


@dataclass
class LiveCase:
    """A case as the lines of this file leave it."""

    id: int
    case_number: str
    currency: str
    status: str
    before_dispute: str | None
    closed_on: date | None
    balance: int
    claims: dict[int, Claim] = field(default_factory=dict)
    changed: bool = False

    def collected_claims(self, leaving_out: list[Claim] = ()) -> list[Claim]:
        """Claims with something outstanding and no dispute, but those in ``leaving_out``."""
        return [claim for claim in self.claims.values()
                if claim.outstanding > 0 and claim.disputed_since is None and claim not in leaving_out]


class InstructionFiles:
    """The handler of a creditor's instruction files."""

    kind = "instructions"

    def __init__(self, registry: Registry, creditor: Creditor):
        self.registry = registry
        self.creditor = creditor

    def handle(self, conn: Connection, path: Path, context: Context) -> Handled:
        return InstructionFile(conn, self.registry, self.creditor, context).load(path)


class InstructionFile:
    """Applies one instruction file's lines to the ledger, inside the caller's transaction."""

    def __init__(self, conn: Connection, registry: Registry, creditor: Creditor, context: Context):
        self.conn = conn
        self.registry = registry
        self.creditor = creditor
        self.context = context
        self.fee_plan = registry.fee_plans[creditor.fee_plan]
        self.file_id = context.file_id
        self.outcomes: Counter = Counter()
        self.receipt: list[tuple] = []
        self.events: list[tuple] = []
        self.postings: list[tuple] = []

    def load(self, path: Path) -> Handled:
        rows = read_instructions(path, self.creditor.csv, self.context.as_of, self.registry.max_file_bytes)
        self._find_cases(rows)
        for row in rows:
            self._apply(row)
        self._write()
        return Handled(rows=len(rows), taken=self.outcomes[APPLIED])

    def _find_cases(self, rows: list[InstructionRow]) -> None:
        readable = [row for row in rows if row.outcome is None]
        self.invoices = repo.invoice_cases(self.conn, self.creditor.id,
                                           sorted({r.invoice_number for r in readable if r.invoice_number}))
        found = repo.creditor_cases(self.conn, self.creditor.id, sorted({case for _, case in self.invoices.values()}),
                                    sorted({r.case_number for r in readable if r.case_number}))
        balances = case_balances(self.conn, [case.id for case in found])
        self.cases = {case.id: LiveCase(case.id, case.case_number, case.currency, case.status,
                                        case.status_before_dispute, case.closed_on, balances[case.id].total)
                      for case in found}
        self.by_number = {case.case_number: case for case in self.cases.values()}
        claims = repo.case_claims(self.conn, list(self.cases))
        owed = claim_balances(self.conn, [claim.id for claim in claims])
        for claim in claims:
            self.cases[claim.case_id].claims[claim.id] = Claim(claim.id, claim.invoice_number, claim.due_date,
                                                               claim.disputed_since, owed[claim.id].outstanding)

    def _apply(self, row: InstructionRow) -> None:
        if row.outcome is not None:
            return self._line(row, row.outcome, row.message, None)
        case, invoice_id = self._case_of(row)
        if case is None:
            return self._line(row, "UNKNOWN_CASE", f"{_named(row)} is not a case of yours on file", None)
        instruction, claims = self._scope(row, case, case.claims.get(invoice_id))
        decision = case_states.decide(case.status, instruction, case.before_dispute)
        if isinstance(claims, Refusal) and not case_states.is_closed(case.status):
            decision = claims  # what is wrong with the claim says more than what the open state allows
        if isinstance(decision, Refusal):
            return self._line(row, "NOT_ALLOWED_IN_STATE", decision.reason, case.id)
        paid = self._payment(row, case, case.claims.get(invoice_id)) if decision.transition.payment else 0
        if isinstance(paid, str):
            return self._line(row, "BAD_AMOUNT", paid, case.id)
        fee = self._fee(decision, case)
        if isinstance(fee, str):
            return self._line(row, "NOT_ALLOWED_IN_STATE", f"{row.instruction} cannot be applied: {fee}", case.id)
        self._book(row, case, invoice_id, decision, paid, fee, claims)

    @staticmethod
    def _scope(row: InstructionRow, case: LiveCase, named: Claim | None) -> tuple[str, list[Claim] | Refusal]:
        """The state machine's instruction for this line and the claims whose dispute it sets or lifts.

        DISPUTE of one claim while others are still collected is DISPUTE_CLAIM (the case keeps its state);
        RESUME of a case that is not DISPUTED as a whole is RESUME_CLAIM."""
        if row.instruction == case_states.DISPUTE:
            if named is not None and named.disputed_since is not None:
                return row.instruction, Refusal(f"invoice {named.number} is already disputed")
            claims = [named] if named is not None else case.collected_claims()
            return (case_states.DISPUTE_CLAIM if named is not None and case.collected_claims(claims)
                    else case_states.DISPUTE), claims
        if row.instruction == case_states.RESUME:
            if named is not None and named.disputed_since is None:
                return row.instruction, Refusal(f"invoice {named.number} is not disputed")
            claims = [named] if named is not None else [c for c in case.claims.values() if c.disputed_since]
            return (case_states.RESUME_CLAIM if case.status != case_states.DISPUTED and claims
                    else case_states.RESUME), claims
        return row.instruction, []

    def _case_of(self, row: InstructionRow) -> tuple[LiveCase | None, int | None]:
        by_invoice = self.invoices.get(row.invoice_number) if row.invoice_number else None
        if row.invoice_number and by_invoice is None:
            return None, None
        case = self.cases.get(by_invoice[1]) if by_invoice else self.by_number.get(row.case_number)
        if case is not None and row.case_number and row.case_number != case.case_number:
            return None, None
        return case, by_invoice[0] if by_invoice else None

    @staticmethod
    def _payment(row: InstructionRow, case: LiveCase, named: Claim | None) -> int | str:
        """The direct payment in minor units, or why it cannot be booked: it pays at most what is outstanding
        on the claim named, or on the whole case when the line names the case."""
        try:
            minor = to_minor(row.amount, case.currency)
        except ValueError:
            return f"amount {row.amount} has more decimals than {case.currency} allows"
        limit, on = (named.outstanding, f"invoice {named.number}") if named else (case.balance,
                                                                                   f"case {case.case_number}")
        if minor > limit:
            return (f"amount {format_minor(minor, case.currency)} {case.currency} exceeds the "
                    f"{format_minor(limit, case.currency)} {case.currency} outstanding on {on}")
        return minor

    def _fee(self, decision: Decision, case: LiveCase) -> int | str:
        """The fee the transition charges the creditor in the case currency (0: none), or why it cannot."""
        if decision.transition.fee is None:
            return 0
        try:
            return fee_minor(self.fee_plan.fixed_fee(decision.transition.fee, case.currency), case.currency)
        except MissingFee as missing:
            return f"{missing}; the agency must add it"

    def _book(self, row: InstructionRow, case: LiveCase, invoice_id: int | None, decision: Decision,
              paid: int, fee: int, claims: list[Claim]) -> None:
        before = case.status
        changes = []
        if claims:
            disputing = row.instruction == case_states.DISPUTE
            for claim in claims:
                claim.disputed_since, claim.changed = (row.on_date if disputing else None), True
            changes.append(f"{'dispute of' if disputing else 'dispute lifted on'} "
                           f"{_claims(claims)}; {len(case.collected_claims())} of {len(case.claims)} "
                           f"claims collected")
        if paid:
            self._pay(row, case, case.claims.get(invoice_id), paid)
            changes.append(f"direct payment {self._money(paid, case)} recorded, "
                           f"{self._money(case.balance, case)} outstanding")
        fee_kind = decision.transition.fee
        if fee:  # a plan may set a fee to 0 on purpose: then nothing is charged
            self.postings.append((case.id, None, fee_kind, fee, case.currency, row.on_date, None))
            changes.append(f"{fee_kind.replace('_', ' ')} {self._money(fee, case)} charged to you")
        self._move(case, case_states.settle(decision, case.balance), decision)
        summary = "; ".join([f"{before} -> {case.status}"] + changes)
        note = f"; note: {row.note}" if row.note else ""
        self.events.append((case.id, invoice_id, decision.event, row.on_date,
                            f"{row.instruction} (line {row.line}): {summary}{note}"))
        self._line(row, APPLIED, summary, case.id)

    def _move(self, case: LiveCase, state: str, decision: Decision) -> None:
        case.status = state
        case.before_dispute = decision.before_dispute if state == case_states.DISPUTED else None
        if case_states.is_closed(state) and case.closed_on is None:
            case.closed_on = self.context.as_of
        case.changed = True

    def _pay(self, row: InstructionRow, case: LiveCase, named: Claim | None, paid: int) -> None:
        """Book the payment on the claim named, or on the case's claims oldest due date first
        (`pipeline.rules.allocation`), each part naming the component it settles; the value date is the
        instruction's date."""
        claims = [named] if named else list(case.claims.values())
        for claim_id, settles, part in allocate(paid, [claim.as_owed() for claim in claims]):
            self.postings.append((case.id, claim_id, "direct_payment", -part, case.currency, row.on_date, settles))
            case.claims[claim_id].owed[Component(settles)] -= part
        case.balance -= paid

    @staticmethod
    def _money(minor: int, case: LiveCase) -> str:
        return f"{format_minor(minor, case.currency)} {case.currency}"

    def _line(self, row: InstructionRow, outcome: str, message: str, case_id: int | None) -> None:
        self.outcomes[outcome] += 1
        self.receipt.append((row.line, row.reference, outcome, message, case_id))

    def _write(self) -> None:
        context = self.context
        columns = list(zip(*self.receipt)) or [[]] * 5
        repo.insert_rows(self.conn, receipt_lines, file_id=self.file_id, seq=list(columns[0]), line=list(columns[0]),
                         invoice_number=list(columns[1]), outcome=list(columns[2]), message=list(columns[3]),
                         case_id=list(columns[4]))
        if self.postings:
            case_id, invoice_id, kind, amount, currency, value_date, settles = (list(c) for c in zip(*self.postings))
            repo.post(self.conn, case_id=case_id, invoice_id=invoice_id, kind=kind, amount_minor=amount,
                      currency=currency, booked_on=context.as_of, value_date=[d.isoformat() for d in value_date],
                      settles=settles, file_id=self.file_id, run_id=context.run_id)
        if self.events:
            case_id, invoice_id, kind, on_date, detail = (list(c) for c in zip(*self.events))
            repo.insert_rows(self.conn, case_events, case_id=case_id, invoice_id=invoice_id, kind=kind,
                             on_date=[d.isoformat() for d in on_date], file_id=self.file_id, run_id=context.run_id,
                             detail=detail)
        repo.update_claim_disputes(self.conn, [
            dict(claim_pk=claim.id, new_disputed_since=claim.disputed_since)
            for case in self.cases.values() for claim in case.claims.values() if claim.changed])
        repo.update_case_states(self.conn, [
            dict(case_pk=c.id, new_status=c.status, new_before_dispute=c.before_dispute, new_closed_on=c.closed_on)
            for c in self.cases.values() if c.changed])


def fee_minor(amount: Decimal, currency: str) -> int:
    """A fee plan amount (exact decimal) in the case currency's minor units, rounded half up to its digits."""
    return to_minor(amount.quantize(Decimal(1).scaleb(-minor_digits(currency)), ROUND_HALF_UP), currency)


def _claims(claims: list[Claim]) -> str:
    return f"invoice{'s' if len(claims) > 1 else ''} {', '.join(claim.number for claim in claims)}"


def _named(row: InstructionRow) -> str:
    if row.invoice_number and row.case_number:
        return f"invoice {row.invoice_number} on case {row.case_number}"
    return f"invoice {row.invoice_number}" if row.invoice_number else f"case {row.case_number}"
