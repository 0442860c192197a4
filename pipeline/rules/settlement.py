"""What a week's settlement line is worth to the creditor and to us (rules.md "Commercial rules", formats.md §3.2).

An allocation (a payment's parts on one claim, or a fee the creditor owes us) becomes one line:

- ``commission`` = the success fee on the collected principal at the rate of the creditor's plan for the
  debtor's country, plus the aged surcharge when the case's oldest claim was more than
  ``aged_threshold_days`` overdue when the case was opened. For a case handed over to the court partner the
  rate is the plan's for ``equal_terms_months`` after the handoff, then the partner's
  ``commission_after_pct``; what the partner reports it kept is shown beside it (``partner_commission``).
- The collection fees are ours by law; the interest and the other fees the debtor paid are ours too when
  the plan keeps them (``agency_keeps_interest_and_fees``), else the creditor's. The principal is the
  creditor's. A direct payment's money is with the creditor already: it still earns our commission, and its
  ``creditor_share`` is minus the part that is ours.
- ``vat`` is the agency's VAT rate on the commission and on a fee; ``net_to_creditor`` = ``creditor_share``
  − ``commission`` − ``vat`` − ``fees_due``. Every amount is rounded half up to the minor unit on its line.

A fee plan's terms are recorded with the settlement (`Terms.as_json`), so editing inkasso.toml never changes
a settled week.
"""
from __future__ import annotations

import json
from calendar import monthrange
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from pipeline.config import FeePlan, Partner

@dataclass(frozen=True)
class PartnerTerms:
    equal_terms_months: int
    commission_after_pct: Decimal


@dataclass(frozen=True)
class Terms:
    """A creditor's fee plan, the agency's VAT rate and the partners' terms, as one settlement applied them."""

    plan: str
    success_fee_pct: dict[str, Decimal]
    aged_surcharge_pct: Decimal
    aged_threshold_days: int
    agency_keeps_interest_and_fees: bool
    negative_net: str
    vat_rate_pct: Decimal
    partners: dict[str, PartnerTerms]

    @staticmethod
    def of(plan: FeePlan, vat_rate_pct: Decimal, partners: dict[str, Partner]) -> Terms:
        return Terms(plan.name, dict(plan.success_fee_pct), plan.aged_surcharge_pct, plan.aged_threshold_days,
                     plan.agency_keeps_interest_and_fees, plan.negative_net, vat_rate_pct,
                     {p.id: PartnerTerms(p.equal_terms_months, p.commission_after_pct) for p in partners.values()})

    def as_json(self) -> str:
        return json.dumps(asdict(self), default=str, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Terms:
        raw = json.loads(text)
        return Terms(raw["plan"], {k: Decimal(v) for k, v in raw["success_fee_pct"].items()},
                     Decimal(raw["aged_surcharge_pct"]), int(raw["aged_threshold_days"]),
                     bool(raw["agency_keeps_interest_and_fees"]), raw["negative_net"], Decimal(raw["vat_rate_pct"]),
                     {k: PartnerTerms(int(v["equal_terms_months"]), Decimal(v["commission_after_pct"]))
                      for k, v in raw["partners"].items()})

    def commission_rate(self, country: str, aged: bool, partner_after_equal_terms: str = "") -> Decimal:
        """The rate in percent for a payment of a case of a debtor in ``country`` (``aged``: the case opened
        with a claim overdue longer than the threshold); ``partner_after_equal_terms``: the court partner that
        took the case, when the payment came after its equal terms ended."""
        if partner_after_equal_terms:
            return self.partners[partner_after_equal_terms].commission_after_pct
        rate = self.success_fee_pct.get(country, self.success_fee_pct["default"])
        return rate + self.aged_surcharge_pct if aged else rate

    def equal_terms_end(self, partner: str, handoff_date: date) -> date:
        """The first day after the partner's equal terms for a case it took on ``handoff_date``."""
        if partner not in self.partners:
            raise LookupError(f"partner {partner!r}, which took cases to court, is not in inkasso.toml")
        return add_months(handoff_date, self.partners[partner].equal_terms_months)


PERCENT_SCALE = 10_000   # rates are held as whole ten-thousandths of a percent: 12.5 % is 125_000
LARGEST_PART = 10**12     # minor units a line may hold: the products below stay exact in 64 bits
PARTS = ("principal", "interest", "creditor_fees", "collection_fees", "costs", "fee_due", "partner_commission")


def scaled(pct: Decimal) -> int:
    """A percent as whole ten-thousandths (`PERCENT_SCALE`); a finer rate is an error, never rounded away."""
    value = pct * PERCENT_SCALE
    if value != value.to_integral_value():
        raise ValueError(f"a rate of {pct} % has more than four decimals")
    return int(value)


def percent_text(scaled_rate: int) -> str:
    """The scaled rate as the files show it: 10, 14, 12.5."""
    return format((Decimal(scaled_rate) / PERCENT_SCALE).normalize(), "f")


def percent_of(minor: np.ndarray, scaled_rate: np.ndarray) -> np.ndarray:
    """``scaled_rate`` (`scaled`) percent of each amount, rounded half up (away from zero) to the minor unit,
    in exact integer arithmetic."""
    if len(minor) and np.abs(minor).max() > LARGEST_PART:
        raise ValueError(f"an amount above {LARGEST_PART} minor units on one settlement line")
    product = minor.astype(np.int64) * scaled_rate.astype(np.int64)
    denominator = 100 * PERCENT_SCALE
    return np.sign(product) * ((np.abs(product) * 2 + denominator) // (2 * denominator))


def settle_lines(allocations: pd.DataFrame) -> pd.DataFrame:
    """The lines of ``allocations``: one row each with its ``source`` (bank, partner, direct, fee), its
    `PARTS` in minor units (a reversal's negative), ``commission_rate`` and ``vat_rate`` (`scaled`) and
    ``keeps`` (the plan keeps the interest and the fees the debtor paid). Every column of a line, in minor
    units (``agency_share``: what of the money is ours, and on a fee line the fee); the rates stay scaled."""
    a = {name: allocations[name].to_numpy(dtype=np.int64) for name in PARTS}
    source = allocations["source"].to_numpy()
    passed_on = a["interest"] + a["creditor_fees"] + a["costs"]
    kept = a["collection_fees"] + np.where(allocations["keeps"].to_numpy(dtype=bool), passed_on, 0)
    collected = a["principal"] + passed_on + a["collection_fees"]
    creditor_share = np.where(source == "direct", -kept, collected - kept)
    agency_share = kept + a["fee_due"]   # a fee line's: the fee
    is_fee = source == "fee"
    rate = np.where(is_fee, 0, allocations["commission_rate"].to_numpy(dtype=np.int64))
    vat_rate = allocations["vat_rate"].to_numpy(dtype=np.int64)
    commission = percent_of(a["principal"], rate)
    vat = percent_of(commission + a["fee_due"], vat_rate)
    return pd.DataFrame(dict(
        allocated_principal=a["principal"], allocated_interest=a["interest"],
        allocated_fees=a["creditor_fees"] + a["collection_fees"], allocated_costs=a["costs"],
        creditor_share=creditor_share, agency_share=agency_share, commission_rate=rate,
        commission_base=np.where(is_fee, 0, a["principal"]), commission=commission, vat_rate=vat_rate, vat=vat,
        partner_commission=a["partner_commission"], fees_due=a["fee_due"],
        net_to_creditor=creditor_share - commission - vat - a["fee_due"]), index=allocations.index)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has none (2026-08-31 + 6 = 2027-02-28)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def outcome(net: int, negative_net: str) -> str:
    """What happens to a settlement's net: PAYOUT (pain.001), CARRIED to the next week, INVOICED, or NIL."""
    if net > 0:
        return "PAYOUT"
    if net < 0:
        return "CARRIED" if negative_net == "carry" else "INVOICED"
    return "NIL"
