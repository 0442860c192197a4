"""The settlement's money rules (`pipeline.rules.settlement`): rates, rounding, shares, carry."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pipeline.rules.settlement import (Allocation, PartnerTerms, Terms, add_months, outcome, percent_of,
                                       settle_line)

TERMS = Terms("standard", {"DK": Decimal("10"), "SE": Decimal("12"), "default": Decimal("15")}, Decimal("4"), 180,
              True, "carry", Decimal("25"), {"alektum": PartnerTerms(6, Decimal("25"))})


def test_the_rate_by_country_the_aged_surcharge_and_the_partners_terms_after_six_months():
    handed = ("alektum", date(2026, 8, 31))
    assert [TERMS.commission_rate(country, aged, None, date(2026, 12, 1)) for country, aged in (
        ("DK", False), ("SE", False), ("NO", False), ("DK", True))] == [10, 12, 15, 14]
    assert TERMS.commission_rate("DK", True, handed, date(2027, 2, 27)) == 14      # month 6: our terms still
    assert TERMS.commission_rate("DK", True, handed, date(2027, 2, 28)) == 25      # 2026-08-31 + 6 months
    assert TERMS.commission_rate("DK", False, ("unknown", date(2020, 1, 1)), date(2027, 1, 1)) == 10


def test_months_end_on_the_months_last_day_and_amounts_round_half_up_away_from_zero():
    assert [add_months(date(2026, 8, 31), n) for n in (1, 6, 18)] == [date(2026, 9, 30), date(2027, 2, 28),
                                                                      date(2028, 2, 29)]
    assert [percent_of(amount, Decimal("12.5")) for amount in (4, 12, -4, -12, 1)] == [1, 2, -1, -2, 0]
    assert percent_of(947, Decimal("25")) == 237     # 236.75


def test_a_direct_payment_earns_our_commission_and_its_money_is_already_the_creditors():
    line = settle_line(Allocation("direct", principal=20000, interest=500), TERMS, Decimal("10"))
    assert (line.creditor_share, line.agency_share, line.commission, line.vat, line.net_to_creditor) == (
        -500, 500, 2000, 500, -3000)


def test_a_plan_that_passes_interest_and_fees_on_keeps_only_the_collection_fees():
    passing = Terms(**{**vars(TERMS), "agency_keeps_interest_and_fees": False})
    line = settle_line(Allocation("bank", principal=10000, interest=300, creditor_fees=10000, collection_fees=4000),
                       passing, Decimal("10"))
    assert (line.creditor_share, line.agency_share, line.allocated_fees) == (20300, 4000, 14000)
    assert Terms.from_json(TERMS.as_json()) == TERMS


def test_a_negative_net_is_carried_or_invoiced_and_never_paid():
    assert [outcome(net, plan) for net, plan in ((1, "carry"), (0, "carry"), (-1, "carry"), (-1, "invoice"))] == [
        "PAYOUT", "NIL", "CARRIED", "INVOICED"]


@given(st.sampled_from(["bank", "partner", "direct", "fee"]), st.integers(-10**9, 10**9), st.integers(0, 10**7),
       st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**6))
def test_every_line_adds_up(source, principal, interest, fees, collection, fee_due):
    allocation = Allocation(source, principal=principal if source != "fee" else 0, interest=interest,
                            creditor_fees=fees, collection_fees=collection, fee_due=fee_due if source == "fee" else 0)
    line = settle_line(allocation, TERMS, Decimal("14"))
    assert line.net_to_creditor == line.creditor_share - line.commission - line.vat - line.fees_due
    collected = allocation.principal + interest + fees + collection
    if source != "direct":
        assert line.creditor_share + line.agency_share == collected
    assert abs(line.commission - allocation.principal * 14 / 100) <= Decimal("0.5")
