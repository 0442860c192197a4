"""The case state machine's table (pipeline/case_states.py)."""
from __future__ import annotations

import dataclasses

import pytest

from pipeline import case_states as cs
from pipeline.config import FeePlan
from pipeline.ledger.postings import Component, kinds_of

ALLOWED = {
    (cs.OPEN, cs.APPROVE_COURT): (cs.COURT_APPROVED, "court_approved"),
    (cs.OPEN, cs.WITHDRAW): (cs.WITHDRAWN, "withdrawn"),
    (cs.OPEN, cs.DISPUTE): (cs.DISPUTED, "disputed"),
    (cs.OPEN, cs.PAID_DIRECTLY): (cs.OPEN, "paid_directly"),
    (cs.COURT_APPROVED, cs.WITHDRAW): (cs.WITHDRAWN, "withdrawn"),
    (cs.COURT_APPROVED, cs.DISPUTE): (cs.DISPUTED, "disputed"),
    (cs.COURT_APPROVED, cs.PAID_DIRECTLY): (cs.COURT_APPROVED, "paid_directly"),
    (cs.DISPUTED, cs.RESUME): (cs.OPEN, "resumed"),
    (cs.DISPUTED, cs.WITHDRAW): (cs.WITHDRAWN, "withdrawn"),
    (cs.DISPUTED, cs.PAID_DIRECTLY): (cs.DISPUTED, "paid_directly"),
    (cs.HANDED_OVER, cs.WITHDRAW): (cs.WITHDRAWN, "withdrawn_from_court"),
    (cs.OPEN, cs.DISPUTE_CLAIM): (cs.OPEN, "claim_disputed"),
    (cs.OPEN, cs.RESUME_CLAIM): (cs.OPEN, "claim_resumed"),
    (cs.COURT_APPROVED, cs.DISPUTE_CLAIM): (cs.COURT_APPROVED, "claim_disputed"),
    (cs.COURT_APPROVED, cs.RESUME_CLAIM): (cs.COURT_APPROVED, "claim_resumed"),
}


@pytest.mark.parametrize("state", list(cs.STATES))
@pytest.mark.parametrize("instruction", cs.INSTRUCTIONS + (cs.DISPUTE_CLAIM, cs.RESUME_CLAIM))
def test_every_pair_is_allowed_or_refused_with_its_reason(state, instruction):
    decision = cs.decide(state, instruction)
    if (state, instruction) in ALLOWED:
        assert (decision.state, decision.event) == ALLOWED[(state, instruction)]
    else:
        named = instruction.removesuffix("_CLAIM")  # the creditor wrote DISPUTE or RESUME
        assert decision == cs.Refusal(f"{named} is not allowed for a case in state {state} "
                                      f"({cs.STATES[state][1]})")


def test_closed_states_and_the_existing_values():
    assert {s for s in cs.STATES if cs.is_closed(s)} == {cs.HANDED_OVER, cs.WITHDRAWN, cs.PAID, cs.CLOSED,
                                                         cs.TIME_BARRED}
    assert (cs.OPEN, cs.CLOSED) == ("OPEN", "CLOSED")


def test_a_dispute_remembers_the_state_it_interrupts_and_resume_returns_there():
    disputed = cs.decide(cs.COURT_APPROVED, cs.DISPUTE)
    assert (disputed.state, disputed.before_dispute) == (cs.DISPUTED, cs.COURT_APPROVED)
    paid_part = cs.decide(cs.DISPUTED, cs.PAID_DIRECTLY, cs.COURT_APPROVED)
    assert (paid_part.state, paid_part.before_dispute) == (cs.DISPUTED, cs.COURT_APPROVED)
    resumed = cs.decide(cs.DISPUTED, cs.RESUME, cs.COURT_APPROVED)
    assert (resumed.state, resumed.before_dispute) == (cs.COURT_APPROVED, None)


def test_withdrawals_charge_the_fee_plans_fees_and_a_payment_that_clears_the_balance_closes_as_paid():
    fields = {f.name for f in dataclasses.fields(FeePlan)}
    fees = {t.fee for t in cs.TRANSITIONS.values() if t.fee}
    assert fees == {"withdrawal_fee", "court_withdrawal_fee"} == {k.name for k in kinds_of(Component.CREDITOR_CHARGES)}
    assert fees <= fields
    assert cs.decide(cs.OPEN, cs.WITHDRAW).transition.fee == "withdrawal_fee"
    assert cs.decide(cs.HANDED_OVER, cs.WITHDRAW).transition.fee == "court_withdrawal_fee"
    paying = cs.decide(cs.OPEN, cs.PAID_DIRECTLY)
    assert (cs.settle(paying, 1), cs.settle(paying, 0)) == (cs.OPEN, cs.PAID)
    assert cs.settle(cs.decide(cs.OPEN, cs.DISPUTE), 0) == cs.DISPUTED
