"""The money vocabulary: every kind of posting, declared once.

Money moves only as postings (append-only, signed minor units). Each kind says who owes whom by it, the
component of a balance it belongs to, and the sign of its amounts (+1: it raises what is owed, -1: it
lowers it). Every question about a kind is a short function over this one declaration, and
`pipeline.ledger.balances` is the only place that sums postings; no caller keeps a list of kinds.
(The habit is beancount's ``account_types``: one small declaration, the questions as functions over it.)

A payment posting (component ``payments``) also names, in its row's ``settles``, the component it pays
down, so that "principal outstanding" is principal less the payments that settled principal.

>>> KINDS["withdrawal_fee"].owes, is_debtors(KINDS["withdrawal_fee"]), is_debtors(KINDS["credit_note"])
(<Owes.CREDITOR_TO_AGENCY: 'creditor->agency'>, False, True)
>>> [kind.name for kind in kinds_of(Component.PRINCIPAL)]
['principal', 'credit_note']
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Owes(StrEnum):
    DEBTOR_TO_CREDITOR = "debtor->creditor"
    DEBTOR_TO_AGENCY = "debtor->agency"
    CREDITOR_TO_AGENCY = "creditor->agency"


class Component(StrEnum):
    """The parts of a balance, in the order letters and `inkasso case` show them."""

    PRINCIPAL = "principal"
    INTEREST = "interest"
    REMINDER_FEES = "reminder_fees"
    COLLECTION_FEES = "collection_fees"
    COMPENSATION = "compensation"
    COSTS = "costs"
    PAYMENTS = "payments"
    CREDITOR_CHARGES = "creditor_charges"


@dataclass(frozen=True)
class PostingKind:
    name: str
    owes: Owes
    component: Component
    sign: int                 # +1 or -1: the sign every amount of this kind has
    meaning: str


KINDS: dict[str, PostingKind] = {kind.name: kind for kind in (
    PostingKind("principal", Owes.DEBTOR_TO_CREDITOR, Component.PRINCIPAL, +1,
                "a claim taken for collection, at its amount"),
    PostingKind("credit_note", Owes.DEBTOR_TO_CREDITOR, Component.PRINCIPAL, -1,
                "a credit note of the creditor's, reducing the claim it names"),
    PostingKind("creditor_fee", Owes.DEBTOR_TO_CREDITOR, Component.REMINDER_FEES, +1,
                "reminder fees the creditor charged before it handed the claim over"),
    PostingKind("interest", Owes.DEBTOR_TO_CREDITOR, Component.INTEREST, +1,
                "late-payment interest of a claim to the run's date, less what was posted before"),
    PostingKind("interest_correction", Owes.DEBTOR_TO_CREDITOR, Component.INTEREST, -1,
                "interest posted before that a payment with an earlier value date took away"),
    PostingKind("collection_fee", Owes.DEBTOR_TO_AGENCY, Component.COLLECTION_FEES, +1,
                "a lawful collection charge of ours: DK Bilag 1 costs, the SE inkassokrav fee"),
    PostingKind("compensation", Owes.DEBTOR_TO_CREDITOR, Component.COMPENSATION, +1,
                "a business debtor's lawful compensation: DK kompensationsbeløb, SE förseningsersättning"),
    PostingKind("direct_payment", Owes.DEBTOR_TO_CREDITOR, Component.PAYMENTS, -1,
                "what the debtor paid the creditor directly (instruction PAID_DIRECTLY)"),
    PostingKind("payment", Owes.DEBTOR_TO_CREDITOR, Component.PAYMENTS, -1,
                "a payment the debtor made to us (bank or partner), allocated to a component of a claim"),
    PostingKind("payment_reversal", Owes.DEBTOR_TO_CREDITOR, Component.PAYMENTS, +1,
                "the bank took a payment back: its allocation undone, component by component"),
    PostingKind("court_costs", Owes.DEBTOR_TO_CREDITOR, Component.COSTS, +1,
                "fees the court-stage partner collected beyond those the ledger held, as its remittance reports"),
    PostingKind("withdrawal_fee", Owes.CREDITOR_TO_AGENCY, Component.CREDITOR_CHARGES, +1,
                "the fee plan's fee for withdrawing a case before the court handoff"),
    PostingKind("court_withdrawal_fee", Owes.CREDITOR_TO_AGENCY, Component.CREDITOR_CHARGES, +1,
                "the fee plan's fee for withdrawing a case from the court partner"),
)}
NAME_LENGTH = 40  # postings.kind holds names this long
SETTLEABLE = tuple(c.value for c in Component if c not in (Component.PAYMENTS, Component.CREDITOR_CHARGES))


class UnknownPosting(ValueError):
    """A posting of a kind not declared here, or with the wrong sign: a broken invariant, never written."""


def kind(name: str) -> PostingKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownPosting(f"posting kind {name!r} is not declared in pipeline.ledger.postings") from None


def is_debtors(posting_kind: PostingKind) -> bool:
    """Whether the kind is part of what the debtor owes (a creditor's charge to us is not)."""
    return posting_kind.owes is not Owes.CREDITOR_TO_AGENCY


def is_payment(posting_kind: PostingKind) -> bool:
    return posting_kind.component is Component.PAYMENTS


def kinds_of(component: Component) -> list[PostingKind]:
    return [posting_kind for posting_kind in KINDS.values() if posting_kind.component is component]


def check(name: str, amount: int, settles: str | None = None) -> None:
    """Raise UnknownPosting unless ``amount`` has the sign of kind ``name`` and a payment names what it settles."""
    posting_kind = kind(name)
    if amount == 0:
        raise UnknownPosting(f"a {name} posting of 0 minor units moves no money")
    if (amount > 0) != (posting_kind.sign > 0):
        raise UnknownPosting(f"a {name} posting of {amount} minor units: its amounts are "
                             f"{'positive' if posting_kind.sign > 0 else 'negative'}")
    if is_payment(posting_kind) != (settles is not None):
        raise UnknownPosting(f"a {name} posting must {'' if is_payment(posting_kind) else 'not '}name the component "
                             "it settles")
    if settles is not None and settles not in SETTLEABLE:
        raise UnknownPosting(f"a payment cannot settle {settles!r} (it settles one of {', '.join(SETTLEABLE)})")
