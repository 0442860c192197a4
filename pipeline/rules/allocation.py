"""How a payment is spread over the claims of a case and their components.

rules.md, "allocation of partial payments" (DK: no statute for private claims, practice and Juridisk
Vejledning; SE: practice): the debtor's designation is honoured; otherwise claim by claim, the oldest due
date first, and within a claim costs, then fees (collection fees, compensation, reminder fees), then
interest, then principal. A disputed claim is paid only once the undisputed ones are settled.

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
