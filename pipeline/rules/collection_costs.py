"""Out-of-court collection costs of a Danish claim: bekendtgørelse 601/2002 Bilag 1, as amended by bek.
423/2009 and, for claims arising from 2016-07-01, bek. 476/2016 (rules.md; `tables/collection_costs.csv`).

The cost is set by the size of the claim, tier by tier in kroner (up to 1,000.00 is the first tier,
1,000.01 the second), and above 500,000.00 grows by 1 % of the excess, rounded half up to the øre. The
basis is the claim: its principal incl. VAT plus the creditor's fees on it, not late-payment interest.
The version is the one in force on the day the claim arose (its invoice date).

>>> from datetime import date
>>> collection_costs(100_000, "DKK", date(2026, 5, 1)), collection_costs(100_001, "DKK", date(2026, 5, 1))
(40000, 70000)
>>> collection_costs(60_000_000, "DKK", date(2026, 5, 1))  # 6,400 + 1 % of 100,000
740000
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from pipeline.money import minor_digits, to_minor
from pipeline.rules import NoRuleInForce, load_table


def collection_costs(basis_minor: int, currency: str, arose_on: date) -> int:
    """The Bilag 1 cost, in minor units of ``currency``, of a claim of ``basis_minor`` that arose on ``arose_on``."""
    tiers = _tiers(currency, arose_on)
    basis = Decimal(basis_minor).scaleb(-minor_digits(currency))
    for row in tiers.itertuples():
        if row.up_to == "" or basis <= Decimal(row.up_to):
            amount = Decimal(row.amount)
            if row.percent_of_excess:
                excess = basis - Decimal(tiers.iloc[-2].up_to)
                amount += excess * Decimal(row.percent_of_excess) / 100
            quantum = Decimal(1).scaleb(-minor_digits(currency))
            return to_minor(amount.quantize(quantum, ROUND_HALF_UP), currency)
    raise AssertionError("the last tier of a collection-cost table is open-ended")


def _tiers(currency: str, arose_on: date):
    table = load_table("collection_costs")
    table = table[table["currency"] == currency]
    versions = table["valid_from"][table["valid_from"] <= np.datetime64(arose_on, "s")]
    if versions.empty:
        raise NoRuleInForce(f"collection_costs: no row for currency={currency} in force on {arose_on}")
    return table[table["valid_from"] == versions.max()]
