"""The settlement's money rules (`pipeline.rules.settlement`): rates, rounding, shares, carry."""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.rules.settlement import (PARTS, PartnerTerms, Terms, add_months, outcome, percent_of, percent_text,
                                       scaled, settle_lines)

TERMS = Terms("standard", {"DK": Decimal("10"), "SE": Decimal("12"), "default": Decimal("15")}, Decimal("4"), 180,
              True, "carry", Decimal("25"), {"alektum": PartnerTerms(6, Decimal("25"))})


def lines(*allocations: dict, rate: str = "10", keeps: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame([{**dict.fromkeys(PARTS, 0), **allocation} for allocation in allocations])
    return settle_lines(frame.assign(commission_rate=scaled(Decimal(rate)), vat_rate=scaled(Decimal("25")),
                                     keeps=keeps))


def test_the_rate_by_country_the_aged_surcharge_and_the_partners_after_its_equal_terms():
    assert [TERMS.commission_rate(country, aged) for country, aged in (
        ("DK", False), ("SE", False), ("NO", False), ("DK", True))] == [10, 12, 15, 14]
    assert TERMS.commission_rate("DK", True, "alektum") == 25
    assert TERMS.equal_terms_end("alektum", date(2026, 8, 31)) == date(2027, 2, 28)
    with pytest.raises(LookupError, match="'unknown'"):
        TERMS.equal_terms_end("unknown", date(2026, 8, 31))


def test_months_end_on_the_months_last_day_and_amounts_round_half_up_away_from_zero():
    assert [add_months(date(2026, 8, 31), n) for n in (1, 6, 18)] == [date(2026, 9, 30), date(2027, 2, 28),
                                                                      date(2028, 2, 29)]
    assert percent_of(np.array([4, 12, -4, -12, 1, 947]), np.array([scaled(Decimal("12.5"))] * 5 + [
        scaled(Decimal("25"))])).tolist() == [1, 2, -1, -2, 0, 237]      # 0.5, 1.5, -0.5, -1.5, 0.125, 236.75
    assert (scaled(Decimal("12.5")), percent_text(125_000), percent_text(100_000)) == (125_000, "12.5", "10")
    with pytest.raises(ValueError, match="more than four decimals"):
        scaled(Decimal("10.00001"))


def test_a_direct_payment_earns_our_commission_and_its_money_is_already_the_creditors():
    [line] = lines(dict(source="direct", principal=20000, interest=500)).to_dict("records")
    assert (line["creditor_share"], line["agency_share"], line["commission"], line["vat"],
            line["net_to_creditor"]) == (-500, 500, 2000, 500, -3000)


def test_a_fee_line_is_the_fee_and_its_vat_against_the_creditor():
    [line] = lines(dict(source="fee", fee_due=25000)).to_dict("records")
    assert (line["commission_rate"], line["commission_base"], line["agency_share"], line["vat"],
            line["net_to_creditor"]) == (0, 0, 25000, 6250, -31250)


def test_a_plan_that_passes_interest_and_fees_on_keeps_only_the_collection_fees():
    [line] = lines(dict(source="bank", principal=10000, interest=300, creditor_fees=10000, collection_fees=4000),
                   keeps=False).to_dict("records")
    assert (line["creditor_share"], line["agency_share"], line["allocated_fees"]) == (20300, 4000, 14000)
    assert Terms.from_json(TERMS.as_json()) == TERMS


def test_a_negative_net_is_carried_or_invoiced_and_never_paid():
    assert [outcome(net, plan) for net, plan in ((1, "carry"), (0, "carry"), (-1, "carry"), (-1, "invoice"))] == [
        "PAYOUT", "NIL", "CARRIED", "INVOICED"]


@given(st.lists(st.tuples(st.sampled_from(["bank", "partner", "direct"]), st.integers(-10**9, 10**9),
                          st.integers(0, 10**7), st.integers(0, 10**7)), min_size=1, max_size=20),
       st.sampled_from(["10", "12.5", "14", "25"]))
def test_commission_and_vat_are_the_decimal_rules_rounded_half_up_on_every_line(allocations, rate):
    """Against Decimal arithmetic, line by line: commission = principal x rate, VAT = commission x 25 %, each
    rounded half up to the minor unit; the money the agency holds is shared between the creditor and us."""
    found = lines(*(dict(source=source, principal=principal, interest=interest, collection_fees=fees)
                    for source, principal, interest, fees in allocations), rate=rate).to_dict("records")
    for (source, principal, interest, fees), line in zip(allocations, found):
        commission = int((Decimal(principal) * Decimal(rate) / 100).quantize(Decimal(1), ROUND_HALF_UP))
        vat = int((Decimal(commission) * Decimal("0.25")).quantize(Decimal(1), ROUND_HALF_UP))
        assert (line["commission"], line["vat"]) == (commission, vat)
        assert line["net_to_creditor"] == line["creditor_share"] - commission - vat
        if source != "direct":
            assert line["creditor_share"] + line["agency_share"] == principal + interest + fees
