"""Danish collection costs (bek. 601/2002 Bilag 1 as amended: bek. 476/2016 for claims arising from
2016-07-01, bek. 423/2009 before) at every tier boundary, and deadlines on the debtor's calendar (rules.md
"The collection process": a deadline on a weekend or public holiday moves to the next banking day)."""
from __future__ import annotations

from datetime import date

import pytest

from pipeline.rules import NoRuleInForce
from pipeline.rules.calendar import deadline, is_banking_day
from pipeline.rules.collection_costs import collection_costs

# claim (kroner) -> cost (kroner): each tier's top, and one øre above it
SINCE_2016 = [("0.01", "400.00"), ("1000.00", "400.00"), ("1000.01", "700.00"), ("2500.00", "700.00"),
              ("2500.01", "1000.00"), ("5000.00", "1000.00"), ("5000.01", "1300.00"), ("10000.00", "1300.00"),
              ("10000.01", "1700.00"), ("25000.00", "1700.00"), ("25000.01", "2250.00"), ("50000.00", "2250.00"),
              ("50000.01", "2850.00"), ("100000.00", "2850.00"), ("100000.01", "3850.00"), ("250000.00", "3850.00"),
              ("250000.01", "6400.00"), ("500000.00", "6400.00"),
              ("500000.01", "6400.00"),        # + 1 % of 0.01 = 0.0001 → 0.00
              ("500050.00", "6400.50"),        # + 1 % of 50.00
              ("1234567.89", "13745.68")]      # + 1 % of 734,567.89 = 7,345.6789 → 7,345.68
BEFORE_2016 = [("1000.00", "350.00"), ("1000.01", "600.00"), ("2500.00", "600.00"), ("2500.01", "850.00"),
               ("5000.00", "850.00"), ("5000.01", "1100.00"), ("10000.00", "1100.00"), ("10000.01", "1450.00"),
               ("25000.00", "1450.00"), ("25000.01", "1950.00"), ("50000.00", "1950.00"), ("50000.01", "2450.00"),
               ("100000.00", "2450.00"), ("100000.01", "3300.00"), ("250000.00", "3300.00"),
               ("250000.01", "5500.00"), ("500000.00", "5500.00"), ("600000.00", "6500.00")]


def minor(kroner: str) -> int:
    whole, _, ore = kroner.partition(".")
    return int(whole) * 100 + int(ore)


@pytest.mark.parametrize("claim, cost", SINCE_2016)
def test_bilag_1_of_2016_for_claims_arising_from_1_july_2016(claim, cost):
    assert collection_costs(minor(claim), "DKK", date(2016, 7, 1)) == minor(cost)
    assert collection_costs(minor(claim), "DKK", date(2026, 11, 1)) == minor(cost)


@pytest.mark.parametrize("claim, cost", BEFORE_2016)
def test_bilag_1_before_2016_for_claims_arising_before_1_july_2016(claim, cost):
    assert collection_costs(minor(claim), "DKK", date(2016, 6, 30)) == minor(cost)


def test_no_table_for_another_currency_or_an_older_claim():
    with pytest.raises(NoRuleInForce, match="collection_costs: no row for currency=EUR in force on 2026-11-01"):
        collection_costs(100_000, "EUR", date(2026, 11, 1))
    with pytest.raises(NoRuleInForce, match="currency=DKK in force on 2009-05-31"):
        collection_costs(100_000, "DKK", date(2009, 5, 31))


@pytest.mark.parametrize("sent, days, country, due", [
    (date(2026, 11, 20), 10, "DK", date(2026, 11, 30)),   # a Monday: stays
    (date(2026, 11, 26), 10, "DK", date(2026, 12, 7)),    # Sunday 6 December → Monday
    (date(2026, 11, 25), 10, "DK", date(2026, 12, 7)),    # Saturday 5 December → Monday
    (date(2026, 12, 15), 10, "DK", date(2026, 12, 28)),   # Christmas Day (Friday), 2nd day, Sunday → Monday 28th
    (date(2026, 5, 4), 10, "DK", date(2026, 5, 15)),      # Ascension Day, Thursday 14 May → Friday
    (date(2026, 4, 23), 8, "SE", date(2026, 5, 4)),       # May Day, Friday 1 May (SE only); weekend → Monday
    (date(2026, 1, 1), 5, "SE", date(2026, 1, 7)),        # Epiphany, 6 January (SE only) → 7th
    (date(2026, 1, 1), 5, "DK", date(2026, 1, 6)),        # not a Danish holiday
])
def test_a_deadline_on_a_weekend_or_public_holiday_moves_to_the_next_banking_day(sent, days, country, due):
    assert deadline(sent, days, country) == due
    assert is_banking_day(due, country)
