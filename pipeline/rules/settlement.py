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
from decimal import ROUND_HALF_UP, Decimal

from pipeline.config import FeePlan, Partner

SOURCES = ("bank", "partner", "direct", "fee")


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

    def commission_rate(self, country: str, aged: bool, handed_over: tuple[str, date] | None,
                        paid_on: date) -> Decimal:
        """The rate in percent for a payment on ``paid_on`` of a case of a debtor in ``country``;
        ``handed_over``: (partner, handoff date) of a case the court partner took."""
        if handed_over is not None:
            partner, handoff_date = handed_over
            terms = self.partners.get(partner)
            if terms is not None and paid_on >= add_months(handoff_date, terms.equal_terms_months):
                return terms.commission_after_pct
        rate = self.success_fee_pct.get(country, self.success_fee_pct["default"])
        return rate + self.aged_surcharge_pct if aged else rate


@dataclass(frozen=True)
class Allocation:
    """What one line settles, in minor units of the case's currency (a reversal's are negative)."""

    source: str                  # bank, partner, direct, fee
    principal: int = 0
    interest: int = 0
    creditor_fees: int = 0       # reminder fees and compensation: the creditor's unless the plan keeps them
    collection_fees: int = 0     # ours by law
    costs: int = 0               # court costs the partner collected
    fee_due: int = 0             # a withdrawal fee the creditor owes us
    partner_commission: int = 0  # what the court partner kept of the payment, as it reported


@dataclass(frozen=True)
class Line:
    allocated_principal: int
    allocated_interest: int
    allocated_fees: int
    allocated_costs: int
    creditor_share: int
    agency_share: int
    commission_rate: Decimal
    commission_base: int
    commission: int
    vat_rate: Decimal
    vat: int
    partner_commission: int
    fees_due: int
    net_to_creditor: int


def settle_line(allocation: Allocation, terms: Terms, commission_rate: Decimal) -> Line:
    a = allocation
    passed_on = a.interest + a.creditor_fees + a.costs
    agency_share = a.collection_fees + (passed_on if terms.agency_keeps_interest_and_fees else 0)
    creditor_share = a.principal + a.interest + a.creditor_fees + a.collection_fees + a.costs - agency_share
    if a.source == "direct":
        creditor_share = -agency_share
    rate = commission_rate if a.source != "fee" else Decimal(0)
    commission = percent_of(a.principal, rate)
    vat = percent_of(commission + a.fee_due, terms.vat_rate_pct)
    return Line(a.principal, a.interest, a.creditor_fees + a.collection_fees, a.costs, creditor_share, agency_share,
                rate, a.principal if a.source != "fee" else 0, commission, terms.vat_rate_pct, vat,
                a.partner_commission, a.fee_due, creditor_share - commission - vat - a.fee_due)


def percent_of(minor: int, pct: Decimal) -> int:
    """``pct`` percent of ``minor``, rounded half up (away from zero) to the minor unit."""
    return int((Decimal(minor) * pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


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
