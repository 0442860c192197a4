"""The money vocabulary (`pipeline.ledger.postings`) and the allocation of a payment (`pipeline.rules.allocation`)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.ledger.postings import (KINDS, NAME_LENGTH, Component, Owes, UnknownPosting, check, is_debtors,
                                      is_payment, kinds_of)
from pipeline.rules.allocation import ORDER, Overpaid, Owed, allocate, allocate_payment


def test_every_kind_says_who_owes_whom_its_component_and_its_sign():
    assert {name: (k.owes, k.component, k.sign) for name, k in KINDS.items()} == {
        "principal": (Owes.DEBTOR_TO_CREDITOR, Component.PRINCIPAL, 1),
        "credit_note": (Owes.DEBTOR_TO_CREDITOR, Component.PRINCIPAL, -1),
        "creditor_fee": (Owes.DEBTOR_TO_CREDITOR, Component.REMINDER_FEES, 1),
        "interest": (Owes.DEBTOR_TO_CREDITOR, Component.INTEREST, 1),
        "interest_correction": (Owes.DEBTOR_TO_CREDITOR, Component.INTEREST, -1),
        "collection_fee": (Owes.DEBTOR_TO_AGENCY, Component.COLLECTION_FEES, 1),
        "compensation": (Owes.DEBTOR_TO_CREDITOR, Component.COMPENSATION, 1),
        "direct_payment": (Owes.DEBTOR_TO_CREDITOR, Component.PAYMENTS, -1),
        "payment": (Owes.DEBTOR_TO_CREDITOR, Component.PAYMENTS, -1),
        "payment_reversal": (Owes.DEBTOR_TO_CREDITOR, Component.PAYMENTS, 1),
        "court_costs": (Owes.DEBTOR_TO_CREDITOR, Component.COSTS, 1),
        "withdrawal_fee": (Owes.CREDITOR_TO_AGENCY, Component.CREDITOR_CHARGES, 1),
        "court_withdrawal_fee": (Owes.CREDITOR_TO_AGENCY, Component.CREDITOR_CHARGES, 1),
    }
    assert all(len(name) <= NAME_LENGTH and k.meaning for name, k in KINDS.items())
    assert [k.name for k in KINDS.values() if not is_debtors(k)] == ["withdrawal_fee", "court_withdrawal_fee"]
    assert [k.name for k in KINDS.values() if is_payment(k)] == ["direct_payment", "payment", "payment_reversal"]
    assert [k.name for k in kinds_of(Component.CREDITOR_CHARGES)] == ["withdrawal_fee", "court_withdrawal_fee"]


@pytest.mark.parametrize("name, amount, settles, problem", [
    ("principal", -100, None, "a principal posting of -100 minor units: its amounts are positive"),
    ("credit_note", 100, None, "a credit_note posting of 100 minor units: its amounts are negative"),
    ("principal", 0, None, "a principal posting of 0 minor units moves no money"),
    ("direct_payment", -100, None, "a direct_payment posting must name the component it settles"),
    ("withdrawal_fee", 100, "principal", "a withdrawal_fee posting must not name the component it settles"),
    ("direct_payment", -100, "payments", "a payment cannot settle 'payments' (it settles one of principal, "
                                         "interest, reminder_fees, collection_fees, compensation, costs)"),
    ("interest_rebate", 100, None, "posting kind 'interest_rebate' is not declared in pipeline.ledger.postings"),
])
def test_a_posting_that_breaks_the_vocabulary_is_refused(name, amount, settles, problem):
    with pytest.raises(UnknownPosting) as refused:
        check(name, amount, settles)
    assert str(refused.value) == problem


def test_a_payment_fills_the_oldest_claim_fees_first_and_disputed_claims_last():
    due = date(2026, 3, 31)
    claims = [Owed(3, due - timedelta(days=90), {Component.PRINCIPAL: 700}, disputed=True),
              Owed(2, due, {Component.PRINCIPAL: 500, Component.INTEREST: 20, Component.COLLECTION_FEES: 400}),
              Owed(1, due, {Component.PRINCIPAL: 300, Component.REMINDER_FEES: 100, Component.COSTS: 50})]
    assert allocate(1700, claims) == [
        (1, "costs", 50), (1, "reminder_fees", 100), (1, "principal", 300),
        (2, "collection_fees", 400), (2, "interest", 20), (2, "principal", 500), (3, "principal", 330)]
    with pytest.raises(Overpaid):
        allocate(2071, claims)


@given(st.lists(st.tuples(st.dates(), st.booleans(), st.lists(st.integers(0, 10**9), min_size=6, max_size=6)),
                max_size=8), st.integers(1, 10**10))
def test_allocation_pays_exactly_the_amount_and_never_more_than_a_component_owes(claims, amount):
    owed = [Owed(i, due, dict(zip(ORDER, parts)), disputed) for i, (due, disputed, parts) in enumerate(claims)]
    total = sum(claim.total for claim in owed)
    if amount > total:
        with pytest.raises(Overpaid):
            allocate(amount, owed)
        return
    parts = allocate(amount, owed)
    assert sum(part for _, _, part in parts) == amount
    assert all(part > 0 for _, _, part in parts)
    by_claim = {claim.claim_id: claim for claim in owed}
    for claim_id, component, part in parts:
        assert part <= by_claim[claim_id].outstanding[Component(component)]
    paid_claims = [claim_id for claim_id, _, _ in parts]
    order = [c.claim_id for c in sorted(owed, key=lambda c: (c.disputed, c.due_date, c.claim_id))]
    assert paid_claims == sorted(paid_claims, key=order.index)  # claims in their order, each paid off before the next
    for earlier in set(paid_claims[:-1]) - {paid_claims[-1]}:
        assert sum(p for c, _, p in parts if c == earlier) == by_claim[earlier].total


OWED = st.builds(lambda n, due, parts, disputed: Owed(n, date(2026, 1, 1) + timedelta(days=due),
                                                       dict(zip(ORDER, parts)), disputed),
                 st.integers(1, 1000), st.integers(0, 400), st.lists(st.integers(0, 100_000), min_size=6, max_size=6),
                 st.booleans())


@given(amount=st.integers(1, 1_000_000), claims=st.lists(OWED, max_size=6, unique_by=lambda c: c.claim_id),
       designate=st.lists(st.integers(0, 5), max_size=3))
def test_a_debtors_payment_is_spread_whole_never_below_zero_and_never_on_an_undesignated_disputed_claim(
        amount, claims, designate):
    designated = [claims[i].claim_id for i in designate if i < len(claims)]
    parts, left = allocate_payment(amount, claims, designated)
    assert sum(part for _, _, part in parts) + left == amount and left >= 0
    by_id = {claim.claim_id: claim for claim in claims}
    paid: dict[tuple[int, str], int] = {}
    for claim_id, component, part in parts:
        assert part > 0
        assert not by_id[claim_id].disputed or claim_id in designated
        paid[(claim_id, component)] = paid.get((claim_id, component), 0) + part
    for (claim_id, component), part in paid.items():
        assert part <= by_id[claim_id].outstanding[Component(component)]
    payable = sum(claim.total for claim in claims if not claim.disputed or claim.claim_id in designated)
    assert left == max(amount - payable, 0)
