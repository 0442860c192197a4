"""The collection process per country, as data (rules.md "The collection process"; tables/process_steps.csv
and tables/collection_charges.csv).

Steps are tracked per claim, in the table's order. The first step is due on the first run on or after the
day the claim was taken; each later one (or the repeat of a step that may be taken more than once) is due
``wait_days`` after the last step's deadline: "deadline passed" is one day after it. A step with a letter
has a deadline ``deadline_days`` after the letter, moved to the debtor's next banking day
(`pipeline.rules.calendar`). A step without a letter (ready_for_court) ends the process.

>>> from datetime import date
>>> steps = steps_for("DK", date(2026, 11, 26))
>>> [s.name for s in steps], next_step(steps, [], date(2026, 11, 26), date(2026, 11, 26))
(['warning', 'demand', 'reminder', 'ready_for_court'], ('warning', 1))
>>> warned = [Taken("warning", 1, date(2026, 11, 26), date(2026, 12, 7))]
>>> [next_step(steps, warned, date(2026, 11, 26), day) for day in (date(2026, 12, 7), date(2026, 12, 8))]
[None, ('demand', 1)]
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

import numpy as np

from pipeline.rules import NoRuleInForce, load_table

LAST = "ready_for_court"


@dataclass(frozen=True)
class Step:
    name: str
    letter_type: str | None
    after: str              # "taken": due from the day the claim was taken; "deadline": after the last deadline
    wait_days: int
    repeat_wait_days: int
    deadline_days: int | None
    repeats: int


@dataclass(frozen=True)
class Taken:
    """A step a claim took: which, its repeat, when, and its letter's deadline (none for ready_for_court)."""

    step: str
    repeat: int
    taken_on: date
    deadline: date | None


@dataclass(frozen=True)
class Charge:
    kind: str                        # a posting kind: collection_fee, compensation
    amount: Decimal | None           # None: Bilag 1 (`pipeline.rules.collection_costs`)
    currency: str
    per: str                         # "claim" or "letter"
    waived_at_creditor_fees: Decimal | None   # not charged when the creditor's fees on the claim reach it


@cache
def steps_for(country: str, on: date) -> tuple[Step, ...]:
    """The steps of ``country``'s process in force on ``on``, in order (NoRuleInForce when there are none)."""
    table = load_table("process_steps")
    table = table[table["country"] == country]
    versions = table["valid_from"][table["valid_from"] <= np.datetime64(on, "s")]
    if versions.empty:
        raise NoRuleInForce(f"process_steps: no row for country={country} in force on {on}")
    rows = table[table["valid_from"] == versions.max()]
    return tuple(Step(r.step, r.letter_type or None, r.after, int(r.wait_days), int(r.repeat_wait_days),
                      int(r.deadline_days) if r.deadline_days else None, int(r.repeats)) for r in rows.itertuples())


def next_step(steps: tuple[Step, ...], history: list[Taken], taken_day: date,
              as_of: date) -> tuple[str, int] | None:
    """The step (name, repeat) the claim takes on ``as_of``, or None: not due yet, or the process has ended."""
    if not history:
        first = steps[0]
        return (first.name, 1) if as_of >= taken_day + timedelta(days=first.wait_days) else None
    last = history[-1]
    position = [step.name for step in steps].index(last.step)
    current = steps[position]
    if last.repeat < current.repeats:
        step, repeat, wait = current, last.repeat + 1, current.repeat_wait_days
    elif position + 1 < len(steps):
        step, repeat, wait = steps[position + 1], 1, steps[position + 1].wait_days
    else:
        return None
    if last.deadline is None:
        return None
    return (step.name, repeat) if as_of >= last.deadline + timedelta(days=wait) else None


@cache
def charges_for(country: str, debtor_type: str, step: str, arose_on: date) -> tuple[Charge, ...]:
    """What taking ``step`` charges a claim that arose on ``arose_on``: for each kind, the version in force
    then. A kind whose first version is later than the claim did not exist for it, and is not charged."""
    table = load_table("collection_charges")
    table = table[(table["country"] == country) & (table["debtor_type"] == debtor_type) & (table["step"] == step)
                  & (table["valid_from"] <= np.datetime64(arose_on, "s"))]
    charges = []
    for _, versions in table.groupby("kind", sort=False):
        row = versions.loc[versions["valid_from"].idxmax()]
        charges.append(Charge(row["kind"], None if row["amount"] == "bilag1" else Decimal(row["amount"]),
                              row["currency"], row["per"],
                              Decimal(row["waived_at_creditor_fees"]) if row["waived_at_creditor_fees"] else None))
    return tuple(charges)
