"""The case state machine, in one place: the states, and what each creditor instruction may do in each.

Everything is data: `STATES` says which states are closed, `TRANSITIONS` maps (state, instruction) to a
`Transition`; a pair that is not in the table is refused. `decide` is the one question the stages ask:
"may instruction X apply to a case in state S?" -> a `Decision` (new state, event kind, fee, ...) or a
`Refusal` with the reason.

Rules (formats.md §1.3, §3.1; mission.md):

- OPEN is the amicable phase; COURT_APPROVED waits for the weekly court handoff.
- A dispute is about claims (``invoices.disputed_since``): DISPUTE naming an invoice stops collection on that
  claim; while other claims of the case are still collected, the case keeps its state (DISPUTE_CLAIM). When
  no undisputed claim is left (or DISPUTE names the case), the case becomes DISPUTED. RESUME lifts the
  dispute of the claim (or, naming the case, of all its claims); a DISPUTED case returns to the state before
  the dispute (kept in ``cases.status_before_dispute``), another keeps its state (RESUME_CLAIM).
- HANDED_OVER, WITHDRAWN, PAID, CLOSED and TIME_BARRED are closed (``closed_on`` set); the lifecycle closes
  a case as PAID when nothing is left to pay, as TIME_BARRED when every unpaid claim is past its time bar. Nothing leaves a closed case,
  except WITHDRAW from HANDED_OVER, which records the fee plan's ``court_withdrawal_fee``.
- WITHDRAW before the handoff records the fee plan's ``withdrawal_fee`` (charged to the creditor).
- PAID_DIRECTLY records the creditor's direct payment; the state stays, and becomes PAID (closed) when the
  debtor's outstanding balance reaches zero.
"""
from __future__ import annotations

from dataclasses import dataclass

OPEN = "OPEN"
DISPUTED = "DISPUTED"
COURT_APPROVED = "COURT_APPROVED"
HANDED_OVER = "HANDED_OVER"
WITHDRAWN = "WITHDRAWN"
PAID = "PAID"
CLOSED = "CLOSED"
TIME_BARRED = "TIME_BARRED"

APPROVE_COURT = "APPROVE_COURT"
WITHDRAW = "WITHDRAW"
DISPUTE = "DISPUTE"
PAID_DIRECTLY = "PAID_DIRECTLY"
RESUME = "RESUME"
INSTRUCTIONS = (APPROVE_COURT, WITHDRAW, DISPUTE, PAID_DIRECTLY, RESUME)
DISPUTE_CLAIM = "DISPUTE_CLAIM"  # DISPUTE of one claim while the case's other claims are still collected
RESUME_CLAIM = "RESUME_CLAIM"    # RESUME of claims of a case that is not DISPUTED as a whole
HANDOFF = "HANDOFF"              # the weekly court handoff (pipeline.stages.handoff), once its files are out

STAY = "STAY"            # target: the state does not change
PREVIOUS = "PREVIOUS"    # target: the state before the dispute

# state -> (closed, meaning)
STATES = {
    OPEN: (False, "amicable collection"),
    DISPUTED: (False, "disputed: collection stopped until RESUME"),
    COURT_APPROVED: (False, "approved for the court, waiting for the weekly handoff"),
    HANDED_OVER: (True, "handed over to the court partner"),
    WITHDRAWN: (True, "withdrawn by the creditor"),
    PAID: (True, "paid in full"),
    CLOSED: (True, "closed: every claim credited"),
    TIME_BARRED: (True, "time-barred: every unpaid claim is past its time bar"),
}


@dataclass(frozen=True)
class Transition:
    target: str                  # a state, STAY or PREVIOUS
    event: str                   # the case_events kind it writes
    fee: str | None = None       # the FeePlan attribute charged to the creditor; also the posting kind
    payment: bool = False        # books the instruction's amount as a direct payment
    settled: str | None = None   # the state when the payment clears the balance


_WITHDRAW = Transition(WITHDRAWN, "withdrawn", fee="withdrawal_fee")
_PAID = Transition(STAY, "paid_directly", payment=True, settled=PAID)

TRANSITIONS: dict[tuple[str, str], Transition] = {
    (OPEN, APPROVE_COURT): Transition(COURT_APPROVED, "court_approved"),
    (OPEN, WITHDRAW): _WITHDRAW,
    (OPEN, DISPUTE): Transition(DISPUTED, "disputed"),
    (OPEN, DISPUTE_CLAIM): Transition(STAY, "claim_disputed"),
    (OPEN, RESUME_CLAIM): Transition(STAY, "claim_resumed"),
    (OPEN, PAID_DIRECTLY): _PAID,
    (COURT_APPROVED, WITHDRAW): _WITHDRAW,
    (COURT_APPROVED, DISPUTE): Transition(DISPUTED, "disputed"),
    (COURT_APPROVED, DISPUTE_CLAIM): Transition(STAY, "claim_disputed"),
    (COURT_APPROVED, RESUME_CLAIM): Transition(STAY, "claim_resumed"),
    (COURT_APPROVED, PAID_DIRECTLY): _PAID,
    (DISPUTED, RESUME): Transition(PREVIOUS, "resumed"),
    (DISPUTED, WITHDRAW): _WITHDRAW,
    (DISPUTED, PAID_DIRECTLY): _PAID,
    (COURT_APPROVED, HANDOFF): Transition(HANDED_OVER, "handed_over"),
    (HANDED_OVER, WITHDRAW): Transition(WITHDRAWN, "withdrawn_from_court", fee="court_withdrawal_fee"),
}


@dataclass(frozen=True)
class Decision:
    state: str                   # the state after the instruction (before a payment's settlement)
    transition: Transition
    before_dispute: str | None   # what cases.status_before_dispute becomes (None unless DISPUTED)

    @property
    def event(self) -> str:
        return self.transition.event


@dataclass(frozen=True)
class Refusal:
    reason: str


def is_closed(state: str) -> bool:
    return STATES[state][0]


def decide(state: str, instruction: str, before_dispute: str | None = None) -> Decision | Refusal:
    """What ``instruction`` does to a case in ``state`` (``before_dispute``: the state a DISPUTED case left)."""
    transition = TRANSITIONS.get((state, instruction))
    if transition is None:
        named = instruction.removesuffix("_CLAIM")
        return Refusal(f"{named} is not allowed for a case in state {state} ({STATES[state][1]})")
    if transition.target == PREVIOUS:
        return Decision(before_dispute or OPEN, transition, None)
    target = state if transition.target == STAY else transition.target
    if target != DISPUTED:
        return Decision(target, transition, None)
    return Decision(target, transition, before_dispute if state == DISPUTED else state)


def settle(decision: Decision, balance_after: int) -> str:
    """The state after a payment: the decision's own, or its settled state when nothing is left to pay."""
    settled = decision.transition.settled
    return settled if settled is not None and balance_after == 0 else decision.state
