"""Late-payment interest: DK renteloven § 5, SE räntelagen 6 and 9 §§ (rules.md "Interest").

Per claim, simple, on the outstanding principal, from the due date: a claim paid on day ``due + n`` owes
``n`` days, the days ``due … due + n − 1``, each at the rate in force that day. The rate of a day is the
reference rate in force on the first day of its half-year (1 January, 1 July: Nationalbanken's udlånsrente,
the Riksbank's referensränta) plus the margin for the claim (DK 8 pp, 7 pp for claims due before 2013-03-01;
SE 8 pp), day count actual/365. The interest of a claim to a date is computed whole: every half-year and
every change of principal is a piece, summed exactly and rounded half up to the øre once. The lifecycle
posts, each day, that total less what is posted already, so a payment with an earlier value date posts a
correction, and a month of daily runs posts what one run at its end posts.

Reference rates are data (`tables/reference_rates.csv`, and ``INKASSO_HOME/rates.csv``, which adds to or
overrides the shipped rows); a half-year without its rate is `MissingRate`, never a zero and never the rate
of another half-year.

10,000.00 DKK due 2024-12-01, to 2025-07-15: 31 days at 3.50 + 8 %, 181 days at 2.75 + 8 %, 14 days at
1.75 + 8 %; 10,000 × (0.115 × 31 + 0.1075 × 181 + 0.0975 × 14) / 365 = 668.1507 → 668.15:

>>> from datetime import date
>>> accrued(InterestClaim("DK", date(2024, 12, 1), ((date(2024, 12, 1), 1_000_000),)), date(2025, 7, 15),
...         ReferenceRates.shipped())
66815
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cache
from pathlib import Path

from pipeline.rules import TABLES, NoRuleInForce, RuleMissing, load_table, version_in_force

DAYS_IN_YEAR = 365
RATE_COLUMNS = ("country", "valid_from", "rate_pct", "source")


class MissingRate(RuleMissing):
    """A half-year in which interest must be computed has no reference rate."""


class BadRates(RuleMissing):
    """``rates.csv`` in the home folder cannot be read as reference rates."""


def half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def next_half_year(start: date) -> date:
    return date(start.year, 7, 1) if start.month == 1 else date(start.year + 1, 1, 1)


class ReferenceRates:
    """Reference rates by (country, first day of a half-year), in percent."""

    def __init__(self, rates: dict[tuple[str, date], Decimal]):
        self.rates = rates
        self._rate_days: dict[tuple[str, Decimal, date, date], Fraction] = {}

    @classmethod
    def shipped(cls) -> "ReferenceRates":
        return cls(_read(TABLES / "reference_rates.csv"))

    @classmethod
    def for_home(cls, home: Path) -> "ReferenceRates":
        """The shipped rates, added to or overridden by ``home/rates.csv`` where operations keep theirs."""
        rates = _read(TABLES / "reference_rates.csv")
        extra = home / "rates.csv"
        if extra.exists():
            rates.update(_read(extra))
        return cls(rates)

    def rate(self, country: str, half_year: date) -> Decimal:
        try:
            return self.rates[(country, half_year)]
        except KeyError:
            half = "first" if half_year.month == 1 else "second"
            raise MissingRate(f"no reference rate for {country} for the {half} half of {half_year.year} (from "
                              f"{half_year}): add the row {country},{half_year},<rate_pct>,<source> to rates.csv "
                              "in the home folder") from None

    def rate_days(self, country: str, margin: Decimal, start: date, end: date) -> Fraction:
        """The sum over the days ``start … end − 1`` of each day's rate plus ``margin``, in percent: a claim's
        interest on a principal that did not change in that span is principal × this / 100 / 365. Kept per
        span, since a day's claims share their spans but for their due dates."""
        key = (country, margin, start, end)
        if key not in self._rate_days:
            total = Fraction(0)
            while start < end:
                half_end = min(next_half_year(half_year_start(start)), end)
                total += Fraction(self.rate(country, half_year_start(start)) + margin) * (half_end - start).days
                start = half_end
            self._rate_days[key] = total
        return self._rate_days[key]


def _read(path: Path) -> dict[tuple[str, date], Decimal]:
    """A rates file: ``country,valid_from,rate_pct,source``, one row per country and half-year."""
    rates = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != RATE_COLUMNS:
            raise BadRates(f"{path}: the columns must be {','.join(RATE_COLUMNS)}, not {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            try:
                valid_from = date.fromisoformat(row["valid_from"])
                rate = Decimal(row["rate_pct"])
            except (ValueError, InvalidOperation):
                raise BadRates(f"{path} line {line}: {row['valid_from']!r} is not a date or {row['rate_pct']!r} "
                               "not a rate in percent") from None
            if valid_from != half_year_start(valid_from) or not rate.is_finite():
                raise BadRates(f"{path} line {line}: a reference rate is valid from 1 January or 1 July, "
                               f"not {valid_from}")
            rates[(row["country"], valid_from)] = rate
    return rates


@cache
def margin_pct(country: str, due_date: date) -> Decimal:
    """The percentage points added to the reference rate for a claim due on ``due_date``."""
    try:
        row = version_in_force(load_table("interest_margins"), "interest_margins", {"country": country}, due_date)
    except NoRuleInForce as missing:
        raise MissingRate(str(missing)) from None
    return Decimal(row["margin_pct"])


@dataclass(frozen=True)
class InterestClaim:
    """What interest needs of a claim: its debtor's country, its due date, and its outstanding principal as
    steps (from this day on, this much, in minor units), in date order."""

    country: str
    due_date: date
    principal: tuple[tuple[date, int], ...]


def accrued(claim: InterestClaim, to: date, rates: ReferenceRates) -> int:
    """The interest of the days ``claim.due_date … to − 1``, in minor units, rounded half up once."""
    return _half_up(*_exact(claim, to, rates))


def exact(claim: InterestClaim, to: date, rates: ReferenceRates) -> Fraction:
    """The same, unrounded: the sum of the pieces, each principal × (rate + margin) % × days / 365."""
    return Fraction(*_exact(claim, to, rates))


def _exact(claim: InterestClaim, to: date, rates: ReferenceRates) -> tuple[int, int]:
    """`exact` as numerator and denominator, summed in integers: a daily run takes every open claim through
    here, and a Fraction normalises itself at every step."""
    margin = margin_pct(claim.country, claim.due_date)
    numerator, denominator = 0, 1
    for start, end, principal in _pieces(claim, to):
        days = rates.rate_days(claim.country, margin, start, end)
        if days.denominator == denominator:
            numerator += principal * days.numerator
        else:
            numerator = numerator * days.denominator + principal * days.numerator * denominator
            denominator *= days.denominator
    return numerator, denominator * 100 * DAYS_IN_YEAR


def rate_pct(claim: InterestClaim, on: date, rates: ReferenceRates) -> Decimal:
    """The yearly rate in force for the claim on ``on`` (letters show it)."""
    return rates.rate(claim.country, half_year_start(on)) + margin_pct(claim.country, claim.due_date)


def _pieces(claim: InterestClaim, to: date) -> list[tuple[date, date, int]]:
    """[start, end) spans from the due date to ``to``, each with one outstanding principal."""
    bounds = [claim.due_date, *sorted({day for day, _ in claim.principal if claim.due_date < day < to}), to]
    return [(start, end, _principal_on(claim.principal, start)) for start, end in zip(bounds, bounds[1:])
            if start < end]


def _principal_on(steps: Sequence[tuple[date, int]], day: date) -> int:
    outstanding = 0
    for since, amount in steps:
        if since > day:
            break
        outstanding = amount
    return max(outstanding, 0)


def round_half_up(amount: Fraction) -> int:
    """To the nearest minor unit, halves away from zero (interest is never negative; a correction may be)."""
    return _half_up(amount.numerator, amount.denominator)


def _half_up(numerator: int, denominator: int) -> int:
    whole = (abs(numerator) * 2 + denominator) // (2 * denominator)
    return whole if numerator >= 0 else -whole
