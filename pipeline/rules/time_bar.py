"""The time bar of a claim (rules.md "Time bar watch", the same at intake; `tables/time_bar.csv`).

DK, forældelsesloven: 3 years from the due date; a payment (an acknowledgment, § 14) starts a new period
from its date. SE, preskriptionslag: 10 years from the claim's creation (its invoice date), 3 for a
consumer's debt to a business; a written demand or reminder (the creditor's, or one of our letters) and a
payment start a new period (5 §). The time bar date is the first day on which the claim is time-barred;
a claim within `NEAR_DAYS` of it is flagged.

>>> from datetime import date
>>> rule = rule_for("SE", "consumer", date(2023, 5, 1))
>>> time_bar_date(rule, date(2023, 5, 1), date(2023, 6, 1), [("letter", date(2024, 2, 29))])
datetime.date(2027, 2, 28)
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache

from pipeline.rules import load_table, version_in_force

NEAR_DAYS = 90


@dataclass(frozen=True)
class TimeBarRule:
    years: int
    runs_from: str                 # "due_date" or "invoice_date"
    renewed_by: frozenset[str]     # of "payment", "letter" (a written demand or reminder)


@cache
def rule_for(country: str, debtor_type: str, invoice_date: date) -> TimeBarRule:
    """The rule in force for a claim that arose on ``invoice_date`` (NoRuleInForce when there is none)."""
    row = version_in_force(load_table("time_bar"), "time_bar", {"country": country, "debtor_type": debtor_type},
                           invoice_date)
    return TimeBarRule(int(row["years"]), row["runs_from"], frozenset(row["renewed_by"].split()))


def time_bar_date(rule: TimeBarRule, invoice_date: date, due_date: date,
                  renewals: Iterable[tuple[str, date]] = ()) -> date:
    """The first day the claim is time-barred: its period's start plus the rule's years, the start moved to
    the latest renewal (``(kind, date)``: "payment" or "letter") that the rule counts."""
    start = due_date if rule.runs_from == "due_date" else invoice_date
    for kind, day in renewals:
        if kind in rule.renewed_by and day > start:
            start = day
    return add_years(start, rule.years)


def claim_time_bar(country: str, debtor_type: str, invoice_date: date, due_date: date, payments: Iterable[date],
                   letters: Iterable[date], last_reminder_date: date | None) -> date:
    """A claim's time bar date as the lifecycle and the court handoff see it: renewed by its payments, our
    letters and the creditor's last reminder, as far as its rule counts them."""
    renewals = [("payment", day) for day in payments] + [("letter", day) for day in letters]
    if last_reminder_date is not None:
        renewals.append(("letter", last_reminder_date))
    return time_bar_date(rule_for(country, debtor_type, invoice_date), invoice_date, due_date, renewals)


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
