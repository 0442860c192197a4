"""How a payment is spread over the claims of a case and their components.

rules.md, "allocation of partial payments" (DK: no statute for private claims, practice and Juridisk
Vejledning; SE: practice): the debtor's designation is honoured; otherwise claim by claim, the oldest due
date first, and within a claim costs, then fees (collection fees, compensation, reminder fees), then
interest, then principal. For an instruction of the creditor's (PAID_DIRECTLY) a disputed claim is paid
once the undisputed ones are settled (`allocate`); a debtor's payment never pays a disputed claim it does
not designate, and what is left over is due back to the payer (`allocate_payment`).

>>> from datetime import date
>>> old = Owed(1, date(2026, 1, 31), {Component.PRINCIPAL: 10000, Component.REMINDER_FEES: 100})
>>> new = Owed(2, date(2026, 2, 28), {Component.PRINCIPAL: 5000})
>>> allocate(10500, [new, old])
[(1, 'reminder_fees', 100), (1, 'principal', 10000), (2, 'principal', 400)]
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pipeline.ledger.postings import Component

ORDER = (Component.COSTS, Component.COLLECTION_FEES, Component.COMPENSATION, Component.REMINDER_FEES,
         Component.INTEREST, Component.PRINCIPAL)


@dataclass(frozen=True)
class Owed:
    claim_id: int
    due_date: date
    outstanding: dict[Component, int]   # what is left of each component of the claim
    disputed: bool = False

    @property
    def total(self) -> int:
        return sum(self.outstanding.get(component, 0) for component in ORDER)


class Overpaid(ValueError):
    """The payment is larger than what the claims owe."""


def allocate(amount: int, claims: Sequence[Owed]) -> list[tuple[int, str, int]]:
    """The parts (claim id, component settled, minor units) that pay ``amount`` off ``claims``."""
    if amount > sum(claim.total for claim in claims):
        raise Overpaid(f"{amount} exceeds the {sum(claim.total for claim in claims)} owed")
    parts = []
    left = amount
    for claim in sorted(claims, key=lambda c: (c.disputed, c.due_date, c.claim_id)):
        for component in ORDER:
            part = min(left, max(claim.outstanding.get(component, 0), 0))
            if part:
                parts.append((claim.claim_id, component.value, part))
                left -= part
    return parts


def allocate_payment(amount: int, claims: Sequence[Owed], designated: Sequence[int] = ()) -> tuple[list, int]:
    """A debtor's payment: the claims it designates first (in the order named, disputed or not), then the
    undisputed claims, oldest first. The parts, and what is left over (due back to the payer)."""
    named = [claim for claim_id in dict.fromkeys(designated) for claim in claims if claim.claim_id == claim_id]
    rest = sorted((claim for claim in claims if not claim.disputed and claim not in named),
                  key=lambda c: (c.due_date, c.claim_id))
    parts = []
    left = amount
    for claim in [*named, *rest]:
        for component in ORDER:
            part = min(left, max(claim.outstanding.get(component, 0), 0))
            if part:
                parts.append((claim.claim_id, component.value, part))
                left -= part
    return parts, left
