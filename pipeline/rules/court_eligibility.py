"""Which approved cases may go to the court-stage partner (formats.md §3.1), and why the others may not.

A case its creditor approved for court (``APPROVE_COURT``) is handed over when every claim to be handed over
is undisputed, took its first letter (the DK warning, the SE demand) and saw that letter's deadline pass, and
is not time-barred; the debtor has a national id and an address; its principal is within the partner's
payment order limit; and a partner takes the debtor's country. Otherwise the case stays, with every reason
that holds, in this order: ``DISPUTED``, ``WARNING_NOT_EXPIRED``, ``NO_NATIONAL_ID``, ``NO_ADDRESS``,
``TIME_BARRED``, ``ABOVE_PAYMENT_ORDER_LIMIT``, ``NO_PARTNER``.

The undisputed claims of a case with a disputed one go over only to a partner that takes part-cases
(``[[partner]] part_cases = true``; default no). Claims that joined the case after its approval follow it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pipeline.config import Partner
from pipeline.money import to_minor

REASONS = ("DISPUTED", "WARNING_NOT_EXPIRED", "NO_NATIONAL_ID", "NO_ADDRESS", "TIME_BARRED",
           "ABOVE_PAYMENT_ORDER_LIMIT", "NO_PARTNER")


@dataclass(frozen=True)
class ClaimFacts:
    claim_id: int
    disputed: bool
    first_deadline: date | None      # the deadline of its warning (DK) or demand (SE); None: not sent yet
    time_barred: bool
    principal_outstanding: int       # minor units


@dataclass(frozen=True)
class CaseFacts:
    country: str                     # the debtor's
    currency: str
    national_id: str
    address_line1: str
    postcode: str
    city: str
    claims: tuple[ClaimFacts, ...]


@dataclass(frozen=True)
class Judgement:
    partner: Partner | None
    claims: tuple[ClaimFacts, ...]   # those to hand over
    reasons: tuple[str, ...]         # empty: eligible

    @property
    def eligible(self) -> bool:
        return not self.reasons


def partner_for(country: str, partners: Sequence[Partner]) -> Partner | None:
    """The first partner of the registry that takes the debtor's country to court."""
    return next((partner for partner in partners if country in partner.countries), None)


def judge(case: CaseFacts, partners: Sequence[Partner], on: date) -> Judgement:
    partner = partner_for(case.country, partners)
    undisputed = tuple(claim for claim in case.claims if not claim.disputed)
    part_case = partner is not None and partner.part_cases and undisputed
    claims = undisputed if part_case else case.claims
    reasons = []
    if not claims or any(claim.disputed for claim in claims):
        reasons.append("DISPUTED")
    if any(claim.first_deadline is None or on <= claim.first_deadline for claim in claims):
        reasons.append("WARNING_NOT_EXPIRED")
    if not case.national_id.strip():
        reasons.append("NO_NATIONAL_ID")
    if not all(part.strip() for part in (case.address_line1, case.postcode, case.city)):
        reasons.append("NO_ADDRESS")
    if any(claim.time_barred for claim in claims):
        reasons.append("TIME_BARRED")
    limit = partner.payment_order_limit.get(case.currency) if partner else None
    if limit is not None and sum(claim.principal_outstanding for claim in claims) > to_minor(limit, case.currency):
        reasons.append("ABOVE_PAYMENT_ORDER_LIMIT")
    if partner is None:
        reasons.append("NO_PARTNER")
    return Judgement(partner, claims, tuple(reasons))
