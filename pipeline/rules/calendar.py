"""Deadlines on the debtor's calendar (rules.md "The collection process"): a deadline that falls on a
Saturday, a Sunday or a public holiday of the debtor's country (the `holidays` package) moves to the next
day that is none of these.

>>> from datetime import date
>>> deadline(date(2026, 11, 26), 10, "DK")   # 6 December 2026 is a Sunday
datetime.date(2026, 12, 7)
"""
from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays


def deadline(sent_on: date, days: int, country: str) -> date:
    """``days`` after ``sent_on``, on the next banking day of ``country`` when that day is not one."""
    day = sent_on + timedelta(days=days)
    while not is_banking_day(day, country):
        day += timedelta(days=1)
    return day


def is_banking_day(day: date, country: str) -> bool:
    return day.weekday() < 5 and day not in _public_holidays(country, day.year)


@cache
def _public_holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=[year])
