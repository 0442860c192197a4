"""Which approved cases go to the court-stage partner (`pipeline.rules.court_eligibility`, formats.md §3.1)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from pipeline.config import Partner
from pipeline.rules.court_eligibility import CaseFacts, ClaimFacts, judge, partner_for

ON = date(2026, 12, 7)
ALEKTUM = Partner("alektum", "Alektum A/S", frozenset({"DK", "SE"}), {"DKK": Decimal("100000.00")}, 6, Decimal("25"))
NORD = Partner("nord", "Nord Inkasso", frozenset({"NO"}), {}, 6, Decimal("20"), part_cases=True)
CLAIM = ClaimFacts(1, disputed=False, first_deadline=date(2026, 11, 20), time_barred=False,
                   principal_outstanding=500000)
CASE = CaseFacts("DK", "DKK", "0101801234", "Vej 1", "2100", "København Ø", (CLAIM,))


def reasons(case=CASE, partners=(ALEKTUM, NORD)):
    return judge(case, partners, ON).reasons


def test_an_approved_case_with_everything_in_place_goes_to_the_partner_of_its_country():
    judged = judge(CASE, (NORD, ALEKTUM), ON)
    assert (judged.eligible, judged.partner.id, judged.claims) == (True, "alektum", (CLAIM,))
    assert (partner_for("NO", (ALEKTUM, NORD)).id, partner_for("DE", (ALEKTUM, NORD))) == ("nord", None)


@pytest.mark.parametrize("case, expected", [
    (replace(CASE, claims=(replace(CLAIM, disputed=True),)), ("DISPUTED",)),
    (replace(CASE, claims=(CLAIM, replace(CLAIM, claim_id=2, disputed=True))), ("DISPUTED",)),   # no part-cases
    (replace(CASE, claims=(replace(CLAIM, first_deadline=None),)), ("WARNING_NOT_EXPIRED",)),  # not sent
    (replace(CASE, claims=(replace(CLAIM, first_deadline=ON),)), ("WARNING_NOT_EXPIRED",)),    # passes tomorrow
    (replace(CASE, national_id=" "), ("NO_NATIONAL_ID",)),
    (replace(CASE, postcode=""), ("NO_ADDRESS",)),
    (replace(CASE, claims=(replace(CLAIM, time_barred=True),)), ("TIME_BARRED",)),
    (replace(CASE, claims=(replace(CLAIM, principal_outstanding=10_000_001),)), ("ABOVE_PAYMENT_ORDER_LIMIT",)),
    (replace(CASE, country="DE"), ("NO_PARTNER",)),
    (replace(CASE, national_id="", city="", claims=(replace(CLAIM, disputed=True, first_deadline=None),)),
     ("DISPUTED", "WARNING_NOT_EXPIRED", "NO_NATIONAL_ID", "NO_ADDRESS")),
])
def test_each_reason_an_approved_case_stays(case, expected):
    assert reasons(case) == expected


def test_the_limit_is_on_the_principal_in_the_case_currency_and_a_currency_not_named_has_none():
    at_limit = replace(CASE, claims=(replace(CLAIM, principal_outstanding=10_000_000),))
    assert reasons(at_limit) == ()
    assert reasons(replace(at_limit, currency="SEK", country="SE",
                           claims=(replace(CLAIM, principal_outstanding=99_000_000),))) == ()


def test_a_partner_that_takes_part_cases_gets_the_undisputed_claims():
    disputed = replace(CLAIM, claim_id=2, disputed=True)
    case = replace(CASE, country="NO", currency="NOK", claims=(CLAIM, disputed))
    judged = judge(case, (ALEKTUM, NORD), ON)
    assert (judged.eligible, judged.partner.id, judged.claims) == (True, "nord", (CLAIM,))
    assert reasons(replace(case, claims=(disputed,))) == ("DISPUTED",)
