"""Every balance question, answered from the postings and the money vocabulary (`pipeline.ledger.postings`).

A balance is the sums of postings by component. ``components`` are the sums as posted (principal less
credit notes, fees as charged, payments negative); ``outstanding`` is each component less the payments
that settled it; ``total`` is what the debtor owes now: every component the debtor owes, payments
included, without the creditor's own charges to us. ``on`` limits the postings to those whose money
event took effect on or before that day (``value_date``).

This is the only module that sums postings: the stages, `inkasso stats` and `inkasso case` all ask here.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, func, select

from pipeline.ledger.postings import Component, is_debtors, is_payment, kind
from pipeline.ledger.schema import cases, postings

CHUNK = 5000
COMPONENT_NAMED = {component.value: component for component in Component}
NOTHING = dict.fromkeys(Component, 0)   # copied, not rebuilt: an enum member hashes in Python, slowly


@dataclass
class Balance:
    components: dict[Component, int] = field(default_factory=NOTHING.copy)
    outstanding: dict[Component, int] = field(default_factory=NOTHING.copy)
    total: int = 0

    @property
    def payments(self) -> int:
        """What was paid, as a positive amount."""
        return -self.components[Component.PAYMENTS]

    @property
    def creditor_charges(self) -> int:
        return self.components[Component.CREDITOR_CHARGES]

    def add(self, kind_name: str, settles: str | None, amount: int) -> None:
        posting_kind = kind(kind_name)
        self.components[posting_kind.component] += amount
        self.outstanding[COMPONENT_NAMED[settles] if settles else posting_kind.component] += amount
        if is_debtors(posting_kind):
            self.total += amount


def claim_balances(conn: Connection, claim_ids: Sequence[int], on: date | None = None) -> dict[int, Balance]:
    """The balance of each claim (invoice id); a claim without postings has a zero balance."""
    return _balances(conn, postings.c.invoice_id, claim_ids, on)


def case_balances(conn: Connection, case_ids: Sequence[int], on: date | None = None) -> dict[int, Balance]:
    """The balance of each case: its claims' postings and its own (the creditor's charges)."""
    return _balances(conn, postings.c.case_id, case_ids, on)


def _balances(conn: Connection, key, ids: Sequence[int], on: date | None) -> dict[int, Balance]:
    ids = [int(i) for i in ids]
    found = {i: Balance() for i in ids}
    for start in range(0, len(ids), CHUNK):
        query = (select(key, postings.c.kind, postings.c.settles, func.sum(postings.c.amount_minor))
                 .where(key.in_(ids[start:start + CHUNK]))
                 .group_by(key, postings.c.kind, postings.c.settles))
        if on is not None:
            query = query.where(postings.c.value_date <= on)
        for owner, kind_name, settles, amount in conn.execute(query):
            found[owner].add(kind_name, settles, int(amount))
    return found


def open_balances(conn: Connection) -> dict[str, int]:
    """What debtors owe on open cases, per currency (only currencies with open postings appear)."""
    totals: dict[str, Balance] = {}
    query = (select(postings.c.currency, postings.c.kind, postings.c.settles, func.sum(postings.c.amount_minor))
             .join(cases, cases.c.id == postings.c.case_id).where(cases.c.closed_on.is_(None))
             .group_by(postings.c.currency, postings.c.kind, postings.c.settles))
    for currency, kind_name, settles, amount in conn.execute(query):
        totals.setdefault(currency, Balance()).add(kind_name, settles, int(amount))
    return {currency: balance.total for currency, balance in sorted(totals.items())}


@dataclass
class Movements:
    """How a claim's principal moved over time, and when it was paid: what interest and the time bar need."""

    principal: list[tuple[date, int]] = field(default_factory=list)   # (from this day, outstanding principal)
    payments: list[date] = field(default_factory=list)                # value dates of payments in (not reversals)


def claim_ledgers(conn: Connection, claim_ids: Sequence[int],
                  on: date | None = None) -> tuple[dict[int, Balance], dict[int, Movements]]:
    """Per claim, from one pass over its postings: its balance (on ``on``, as `claim_balances`), and how its
    outstanding principal moved by value date (principal, credit notes, payments that settled principal) with
    the value dates of its payments (all of them, whatever ``on``)."""
    ids = [int(i) for i in claim_ids]
    balances = {i: Balance() for i in ids}
    movements = {i: Movements() for i in ids}
    for start in range(0, len(ids), CHUNK):
        query = (select(postings.c.invoice_id, postings.c.value_date, postings.c.kind, postings.c.settles,
                        func.sum(postings.c.amount_minor))
                 .where(postings.c.invoice_id.in_(ids[start:start + CHUNK]))
                 .group_by(postings.c.invoice_id, postings.c.value_date, postings.c.kind, postings.c.settles)
                 .order_by(postings.c.invoice_id, postings.c.value_date))
        for claim_id, value_date, kind_name, settles, amount in conn.execute(query):
            amount = int(amount)
            if on is None or value_date <= on:
                balances[claim_id].add(kind_name, settles, amount)
            _move(movements[claim_id], value_date, kind(kind_name), settles, amount)
    return balances, movements


def _move(movements: Movements, value_date: date, posting_kind, settles: str | None, amount: int) -> None:
    """One (value date, kind, settles) sum of a claim's postings, taken in value-date order."""
    if is_payment(posting_kind):
        taken_in = posting_kind.sign < 0      # a payment, not a reversal of one: it renews the time bar
        if taken_in and (not movements.payments or movements.payments[-1] != value_date):
            movements.payments.append(value_date)
        if settles != Component.PRINCIPAL:
            return
    elif posting_kind.component is not Component.PRINCIPAL:
        return
    before = movements.principal[-1][1] if movements.principal else 0
    if movements.principal and movements.principal[-1][0] == value_date:
        movements.principal[-1] = (value_date, before + amount)
    else:
        movements.principal.append((value_date, before + amount))
