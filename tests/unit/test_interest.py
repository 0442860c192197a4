"""Late-payment interest (`pipeline.rules.interest`), against amounts computed by hand from rules.md
"Interest": renteloven § 5 (DK: udlånsrente + 8 pp, + 7 pp for claims due before 2013-03-01), räntelagen
6 and 9 §§ (SE: referensränta + 8 pp); simple, actual/365, whole to the date, rounded half up once."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.rules.interest import (BadRates, InterestClaim, MissingRate, ReferenceRates, accrued, exact, rate_pct,
                                     round_half_up)

SHIPPED = ReferenceRates.shipped()


def claim(country: str, due: date, *steps: tuple[date, int]) -> InterestClaim:
    return InterestClaim(country, due, steps)


def test_across_a_1_january_and_a_1_july_boundary():
    """DK, 10,000.00 due 2024-12-01, to 2025-07-15: 31 days at 3.50 + 8, 181 at 2.75 + 8, 14 at 1.75 + 8 (%).
    10,000 × (0.115 × 31 + 0.1075 × 181 + 0.0975 × 14) / 365 = 243,875 / 365 = 668.1507 → 668.15"""
    due = date(2024, 12, 1)
    assert accrued(claim("DK", due, (due, 1_000_000)), date(2025, 7, 15), SHIPPED) == 66815
    assert exact(claim("DK", due, (due, 1_000_000)), date(2025, 7, 15), SHIPPED) == Fraction(24387500, 365)


def test_across_a_partial_payment():
    """4,000.00 of the 10,000.00 paid with value date 2025-03-01 (so 2025-03-01 is charged on 6,000):
    10,000 × 0.115 × 31 + 10,000 × 0.1075 × 59 + 6,000 × 0.1075 × 122 + 6,000 × 0.0975 × 14
    = 35,650 + 63,425 + 78,690 + 8,190 = 185,955; / 365 = 509.4658 → 509.47"""
    due = date(2024, 12, 1)
    paid = claim("DK", due, (due, 1_000_000), (date(2025, 3, 1), 600_000))
    assert accrued(paid, date(2025, 7, 15), SHIPPED) == 50947


def test_a_day_paid_is_not_charged_and_the_due_date_is():
    """Paid on day due + n owes n days: 10,000.00 SE due 2025-02-01, 30 days at 3.00 + 8 = 11 %:
    10,000 × 0.11 × 30 / 365 = 90.4110 → 90.41; to the due date itself: nothing."""
    due = date(2025, 2, 1)
    assert accrued(claim("SE", due, (due, 1_000_000)), due + timedelta(days=30), SHIPPED) == 9041
    assert accrued(claim("SE", due, (due, 1_000_000)), due, SHIPPED) == 0


def test_seven_points_for_danish_claims_due_before_1_march_2013_eight_after(tmp_path):
    """A rate for 2013 supplied by operations (rates.csv): 0.20 %. 1,000.00 for 30 days:
    due 2013-02-15: 1,000 × 0.072 × 30 / 365 = 5.9178 → 5.92; due 2013-03-01: × 0.082 → 6.7397 → 6.74"""
    (tmp_path / "rates.csv").write_text("country,valid_from,rate_pct,source\nDK,2013-01-01,0.20,test\n")
    rates = ReferenceRates.for_home(tmp_path)
    early, late = date(2013, 2, 15), date(2013, 3, 1)
    assert accrued(claim("DK", early, (early, 100_000)), early + timedelta(days=30), rates) == 592
    assert accrued(claim("DK", late, (late, 100_000)), late + timedelta(days=30), rates) == 674
    assert (rate_pct(claim("DK", early), early, rates), rate_pct(claim("DK", late), late, rates)) == (
        Decimal("7.20"), Decimal("8.20"))


def test_a_missing_rate_stops_with_the_country_and_the_half_year_named(tmp_path):
    due = date(2026, 5, 31)
    with pytest.raises(MissingRate) as missing:
        accrued(claim("DK", due, (due, 100_000)), date(2026, 7, 2), SHIPPED)
    assert str(missing.value) == ("no reference rate for DK for the second half of 2026 (from 2026-07-01): add the "
                                  "row DK,2026-07-01,<rate_pct>,<source> to rates.csv in the home folder")
    # to 1 July: 31 days of the first half, 1,000 × 0.0975 × 31 / 365 = 8.2808 → 8.28
    assert accrued(claim("DK", due, (due, 100_000)), date(2026, 7, 1), SHIPPED) == 828
    (tmp_path / "rates.csv").write_text("country,valid_from,rate_pct,source\nDK,2026-07-01,1.60,test\n")
    # with 1 July at 1.60 + 8: 1,000 × (0.0975 × 31 + 0.096 × 1) / 365 = 8.5438 → 8.54
    assert accrued(claim("DK", due, (due, 100_000)), date(2026, 7, 2), ReferenceRates.for_home(tmp_path)) == 854


def test_a_claim_due_before_any_margin_is_known_stops_the_run():
    with pytest.raises(MissingRate, match="interest_margins: no row for country=DK in force on 2001-01-31"):
        accrued(claim("DK", date(2001, 1, 31), (date(2001, 1, 31), 100)), date(2001, 3, 1), SHIPPED)


@pytest.mark.parametrize("content, problem", [
    ("country,from,rate\nDK,2026-07-01,1\n", "the columns must be country,valid_from,rate_pct,source"),
    ("country,valid_from,rate_pct,source\nDK,2026-08-01,1.5,x\n", "line 2: a reference rate is valid from 1 January"),
    ("country,valid_from,rate_pct,source\nDK,2026-07-01,high,x\n", "line 2: '2026-07-01' is not a date or 'high'"),
])
def test_a_rates_file_that_cannot_be_read_is_refused(tmp_path, content, problem):
    (tmp_path / "rates.csv").write_text(content)
    with pytest.raises(BadRates, match=problem):
        ReferenceRates.for_home(tmp_path)


def test_rounding_is_half_up_once():
    assert [round_half_up(Fraction(n, 2)) for n in (1, 3, 5, -1)] == [1, 2, 3, -1]
    assert round_half_up(Fraction(24387500, 365)) == 66815


DAYS = st.integers(0, 900)


@given(st.integers(1, 10**12), st.sampled_from(["DK", "SE"]), st.integers(0, 700), DAYS,
       st.lists(st.integers(0, 900), max_size=6))
def test_interest_is_additive_over_any_split_of_the_period(principal, country, offset, days, splits):
    """Cutting the period at any days (steps that do not change the principal) changes nothing, to the øre;
    and the day-by-day differences of the whole add up to the whole."""
    due = date(2023, 1, 1) + timedelta(days=offset)
    to = min(due + timedelta(days=days), date(2026, 7, 1))
    plain = claim(country, due, (due, principal))
    cut = claim(country, due, (due, principal), *sorted((due + timedelta(days=n), principal) for n in set(splits)))
    whole = accrued(plain, to, SHIPPED)
    assert accrued(cut, to, SHIPPED) == whole
    marks = sorted({due, to} | {min(due + timedelta(days=n), to) for n in splits})
    steps = [accrued(plain, mark, SHIPPED) for mark in marks]
    assert sum(b - a for a, b in zip(steps, steps[1:])) == whole - accrued(plain, due, SHIPPED) == whole
    assert all(b >= a for a, b in zip(steps, steps[1:]))
