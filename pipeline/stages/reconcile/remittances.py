"""The court-stage partner's remittances (formats.md §2), the partner party's handler in the intake.

Each line that adds up (`parsers.partner_remittance`) is a payment the partner collected on a case handed
over to it: stored once (scheme ``partner``, the partner's id, the line's partner case reference, date,
amount and commission as its key), matched by its case number (rule ``PARTNER``) and allocated by the parts
the partner reports, under the case's creditor's lock: ``principal_part`` on the claims' principal, oldest
claim first (more than is outstanding rejects the line); ``interest_part`` on their interest, and
``fees_part`` on their costs and fees. Interest and fees the partner collected beyond what the ledger holds
(its own at court) are posted first, as ``interest`` and ``court_costs``, then paid. The commission the
partner kept is recorded with the payment for the settlement. The case stays ``HANDED_OVER``: the partner
works it. Each file is answered with a receipt in the partner's outbox, a line per remittance line.
"""
from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from sqlalchemy import Connection

from pipeline import case_states
from pipeline.intake import Context, Handled
from pipeline.ledger import repository as repo
from pipeline.ledger.balances import claim_balances
from pipeline.ledger.postings import Component
from pipeline.ledger.schema import receipt_lines
from pipeline.money import format_minor
from pipeline.parsers.partner_remittance import RemittanceLine, read_remittance
from pipeline.parsers.payments import Payment
from pipeline.rules.allocation import ORDER
from pipeline.stages.reconcile.matching import PARTNER

FEES = tuple(component for component in ORDER if component not in (Component.INTEREST, Component.PRINCIPAL))


class LineRefused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class RemittanceFiles:
    kind = "partner_remittance"

    def __init__(self, partner_id: str, max_bytes: int, report_day_owed):
        """``report_day_owed(conn, as_of, run_id)``: the reconciliation day the file's payments go on, its
        report owed."""
        self.partner_id = partner_id
        self.max_bytes = max_bytes
        self.report_day_owed = report_day_owed

    def handle(self, conn: Connection, path: Path, context: Context) -> Handled:
        read = read_remittance(path, self.max_bytes)
        answers = {line.line: (line.line, line.case_number, line.code, line.message, None) for line in read.rejected}
        cases = repo.cases_by_number(conn, sorted({line.case_number for line in read.lines})).set_index("case_number")
        for creditor_id in sorted(set(cases["creditor_id"])):
            repo.lock_party(conn, "creditor", creditor_id)
        day = self.report_day_owed(conn, context.as_of, context.run_id)
        allocation = PartnerAllocation(conn, cases, day, context.run_id)
        for line, key in zip(read.lines, _keys(read.lines)):
            try:
                answers[line.line] = allocation.apply(line, key, self.partner_id, context.file_id)
            except LineRefused as refused:
                answers[line.line] = (line.line, line.case_number, refused.code, str(refused), None)
        allocation.write()
        rows = [answers[number] for number in sorted(answers)]
        repo.insert_rows(conn, receipt_lines, file_id=context.file_id, seq=list(range(1, len(rows) + 1)),
                         line=[row[0] for row in rows], invoice_number=[row[1] for row in rows],
                         outcome=[row[2] for row in rows], message=[row[3] for row in rows],
                         case_id=[row[4] for row in rows])
        return Handled(rows=len(rows), taken=sum(row[2] == "APPLIED" for row in rows))


def _keys(lines: list[RemittanceLine]) -> list[str]:
    """A line's natural key: the partner's case reference, date, amount and commission (the same line in a
    later file is the same payment); a repeat within one file gets ``#2``, ``#3`` …"""
    seen: Counter[str] = Counter()
    keys = []
    for line in lines:
        key = f"{line.partner_case_ref}:{line.payment_date}:{line.collected_minor}:{line.commission_minor}"
        seen[key] += 1
        keys.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return keys


class PartnerAllocation:
    def __init__(self, conn: Connection, cases, day: date, run_id: str):
        self.conn = conn
        self.cases = cases
        self.day = day
        self.run_id = run_id
        claims = repo.claims_of_cases(conn, [int(case_id) for case_id in cases["case_id"]])
        self.balances = claim_balances(conn, [claim.id for claim in claims])
        self.claims: dict[int, list] = {}
        for claim in claims:
            self.claims.setdefault(claim.case_id, []).append(claim)
        self.postings: list[dict] = []

    def apply(self, line: RemittanceLine, key: str, partner_id: str, file_id: int) -> tuple:
        case = self._case(line)
        claims = sorted(self.claims.get(case.case_id, []), key=lambda claim: (claim.due_date, claim.id))
        if not claims:
            raise LineRefused("UNKNOWN_CASE", f"case {line.case_number} has no claims")
        planned = self._plan(line, claims)
        payment = Payment(key=key, amount_minor=line.collected_minor, currency=line.currency,
                          value_date=line.payment_date, booking_date=line.payment_date,
                          reference=line.partner_case_ref, position=f"line {line.line}")
        if not repo.store_payments(self.conn, "partner", partner_id, "partner", [payment], file_id, self.run_id):
            return line.line, line.case_number, "DUPLICATE", "remitted before (same reference, date, amount and " \
                                                             "commission)", int(case.case_id)
        payment_id = repo.payment_id(self.conn, "partner", partner_id, key)
        repo.judge_payments(self.conn, [dict(payment=payment_id, day=self.day, judged_rule=PARTNER,
                                             case=int(case.case_id), reason=None, refund=0, reverses=None)])
        repo.record_commission(self.conn, payment_id, line.commission_minor)
        for claim, kind, settles, amount in planned:
            self.postings.append(dict(case_id=claim.case_id, invoice_id=claim.id, kind=kind, amount_minor=amount,
                                      currency=claim.currency, value_date=line.payment_date, settles=settles,
                                      payment_id=payment_id if settles else None))
            self.balances[claim.id].add(kind, settles, amount)
        show = lambda minor: format_minor(minor, line.currency)  # noqa: E731
        return (line.line, line.case_number, "APPLIED",
                f"collected {show(line.collected_minor)} {line.currency}: principal {show(line.principal_minor)}, "
                f"interest {show(line.interest_minor)}, fees {show(line.fees_minor)}; the partner kept "
                f"{show(line.commission_minor)}", int(case.case_id))

    def _case(self, line: RemittanceLine):
        if line.case_number not in self.cases.index:
            raise LineRefused("UNKNOWN_CASE", f"no case {line.case_number}")
        case = self.cases.loc[line.case_number]
        if case["status"] != case_states.HANDED_OVER:
            raise LineRefused("NOT_ALLOWED_IN_STATE", f"case {line.case_number} is {case['status']}, not handed "
                                                      "over to the partner")
        if case["currency"] != line.currency:
            raise LineRefused("BAD_CURRENCY", f"case {line.case_number} is in {case['currency']}, the line in "
                                              f"{line.currency}")
        return case

    def _plan(self, line: RemittanceLine, claims: list) -> list[tuple]:
        """The postings of the line: (claim, kind, settles, minor units), what the partner collected beyond the
        ledger first."""
        outstanding = {claim.id: dict(self.balances[claim.id].outstanding) for claim in claims}
        planned = []
        for part, components, extra in ((line.principal_minor, (Component.PRINCIPAL,), None),
                                         (line.interest_minor, (Component.INTEREST,), "interest"),
                                         (line.fees_minor, FEES, "court_costs")):
            held = sum(max(outstanding[claim.id][component], 0) for claim in claims for component in components)
            if part > held:
                if extra is None:
                    raise LineRefused("BAD_AMOUNT", f"principal_part {format_minor(part, line.currency)} is more "
                                                    f"than the {format_minor(held, line.currency)} outstanding")
                planned.append((claims[0], extra, None, part - held))
                outstanding[claims[0].id][Component.COSTS if extra == "court_costs" else Component.INTEREST] += \
                    part - held
            for claim in claims:
                for component in components:
                    paid = min(part, max(outstanding[claim.id][component], 0))
                    if paid:
                        planned.append((claim, "payment", component.value, -paid))
                        outstanding[claim.id][component] -= paid
                        part -= paid
        return planned

    def write(self) -> None:
        if self.postings:
            repo.post(self.conn, **repo.columns(self.postings),
                      booked_on=self.day, file_id=None, run_id=self.run_id)
