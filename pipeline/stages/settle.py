"""The weekly settlement (formats.md §3.2; rules.md "Commercial rules"), as `inkasso settle` and the
``settlement`` DAG run it, exactly once per (creditor, currency, week):

1. **settle** (once a week, in one transaction): every posting that moves money between a creditor and us
   and was never settled (a payment's allocation, a reversal's, a direct payment, a withdrawal fee), booked
   through the week's Sunday, however late it was reconciled, is gathered into allocations (a payment's parts
   on one claim; a direct payment's on one claim; a fee) and each allocation into one line by the creditor's
   fee plan (`pipeline.rules.settlement`). Per creditor and currency: one settlement with its lines, the
   terms it applied, the negative net of an earlier week carried in, and its outcome (PAYOUT, CARRIED,
   INVOICED or NIL). The postings taken are recorded, each once, and the files owed;
2. **deliver**: the lines (CSV and Parquet), the summary and the payouts (pain.001, when a net is positive)
   to finance's outbox through the export protocol, rendered from the record: the same week writes the
   same bytes, and nothing is paid twice.

A crash between the two steps leaves the week settled and its files owed; the next run delivers them.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import BinaryIO
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, Engine

from pipeline import exports
from pipeline.config import Registry, Settings
from pipeline.exporters.pain001 import Account, Payout, write_pain001
from pipeline.exporters.settlement import write_lines_csv, write_lines_parquet, write_summary
from pipeline.exporters.statement_pdf import Party as StatementParty
from pipeline.exporters.statement_pdf import write_statement
from pipeline.home import Home
from pipeline.intake import no_checkpoint
from pipeline.ledger import open_ledger
from pipeline.ledger import repository as repo
from pipeline.ledger import settlements as book
from pipeline.ledger.listings import LedgerListings
from pipeline.money import format_minor
from pipeline.rules.settlement import Allocation, Terms, outcome, settle_line
from pipeline.stages.handoff import iso_week, monday
from pipeline.transport.parties import open_party_files

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
FEE_KINDS = ("withdrawal_fee", "court_withdrawal_fee")
CREDITOR_FEES = ("reminder_fees", "compensation")


class UnsettleableCreditor(LookupError):
    """A creditor with money to settle that the registry no longer has, or whose fee plan it does not have."""


def default_period(as_of: date) -> str:
    """The ISO week before the business date's: Tuesday's run settles the week that ended on Sunday."""
    return iso_week(as_of - timedelta(days=7))


def paid_on(period: str) -> date:
    """The day the week's payouts are made: the Tuesday after it (its files carry this day, never the clock)."""
    return monday(period) + timedelta(days=8)


def run(settings: Settings, as_of: date, run_id: str, period: str | None = None,
        checkpoint: Callable[[str], None] = no_checkpoint) -> dict:
    """Settle the week before ``as_of`` (or ``period``, YYYY-Www) once and deliver its files. ``checkpoint`` is
    called after each step (``settled``, ``delivered``), where the tests stop a run."""
    period = period or default_period(as_of)
    registry = settings.load_registry()
    engine = open_ledger(settings)
    try:
        with engine.begin() as conn:
            settled = Week(conn, registry, period, run_id).settle()
        checkpoint("settled")
        files = _deliver(settings, registry, engine, period)
        checkpoint("delivered")
        with engine.connect() as conn:
            totals = summary_totals(conn, period)
    finally:
        engine.dispose()
    return dict(period=period, settled_before=settled is None, **(settled or {}), files=files, totals=totals)


class Week:
    def __init__(self, conn: Connection, registry: Registry, period: str, run_id: str):
        self.conn = conn
        self.registry = registry
        self.period = period
        self.run_id = run_id

    def settle(self) -> dict | None:
        """None when the week was settled before; else how many settlements and lines it made."""
        repo.lock_party(self.conn, "finance", "settlement")
        if not book.record_week(self.conn, self.period, self.run_id):
            return None
        found = book.unsettled_postings(self.conn, monday(self.period) + timedelta(days=6))
        carries = book.pending_carries(self.conn, self.period)
        allocations = _allocations(found)
        keys = sorted(set(allocations) | set(carries))
        payouts = 0
        for number, (creditor_id, currency) in enumerate(keys, start=1):
            terms = self._terms(creditor_id)
            lines, posting_ids = [], []
            for allocation, facts, ids in allocations.get((creditor_id, currency), []):
                rate = terms.commission_rate(facts["country"], facts["aged_days"] > terms.aged_threshold_days,
                                             facts["handed_over"], facts["payment_date"])
                line = settle_line(allocation, terms, rate)
                lines.append(dict(case_id=facts["case_id"], invoice_id=facts["invoice_id"],
                                  payment_id=facts["payment_id"], payment_date=facts["payment_date"],
                                  source=allocation.source, **_stored(line)))
                posting_ids.append(ids)
            carried_in = carries.get((creditor_id, currency), 0)
            net = sum(line["net_to_creditor"] for line in lines) + carried_in
            result = outcome(net, terms.negative_net)
            payouts += result == "PAYOUT"
            book.record_settlement(self.conn, lines, posting_ids, settlement_id=f"{self.period.replace('-', '')}-"
                                   f"{number:05d}", period=self.period, creditor_id=creditor_id, currency=currency,
                                   terms=terms.as_json(), parties=self._parties(creditor_id), carried_in=carried_in,
                                   net_payout=net, outcome=result, run_id=self.run_id)
        for renderer in FINANCE_FILES:
            exports.owe(self.conn, renderer.owed(self.period, self.run_id))
        if payouts:
            exports.owe(self.conn, PayoutsFile.owed(self.period, self.run_id))
        for creditor_id in sorted({creditor_id for creditor_id, _ in keys}):
            exports.owe(self.conn, StatementFile.owed(creditor_id, self.period, self.run_id))
        return dict(settlements=len(keys), lines=int(sum(len(a) for a in allocations.values())), payouts=payouts)

    def _terms(self, creditor_id: str) -> Terms:
        creditor = self.registry.creditors.get(creditor_id)
        if creditor is None or creditor.fee_plan not in self.registry.fee_plans:
            raise UnsettleableCreditor(f"creditor {creditor_id!r} has money to settle but "
                                       f"{'is not in inkasso.toml' if creditor is None else 'no known fee plan'}")
        return Terms.of(self.registry.fee_plans[creditor.fee_plan], self.registry.agency.vat_rate_pct,
                        self.registry.partners)

    def _parties(self, creditor_id: str) -> str:
        """The creditor and the agency as the statement and the payout name them, kept with the settlement."""
        party = lambda p: dict(name=p.name, address=p.address, vat_id=p.vat_id, country=p.country,  # noqa: E731
                               iban=p.iban, bic=p.bic)
        return json.dumps(dict(creditor=party(self.registry.creditors[creditor_id]),
                               agency=party(self.registry.agency)), sort_keys=True, ensure_ascii=False)


def _allocations(found: pd.DataFrame) -> dict[tuple[str, str], list[tuple[Allocation, dict, list[int]]]]:
    """The postings gathered into allocations, per (creditor, currency), in a stable order: a payment's parts on
    one claim; a direct payment's on one claim (per instruction file and date); each fee on its own."""
    groups: dict[tuple, list] = defaultdict(list)
    for row in found.itertuples(index=False):
        if row.kind in FEE_KINDS:
            key = ("fee", row.posting_id)
        elif row.kind == "direct_payment":
            key = ("direct", row.file_id, row.invoice_id, row.value_date)
        else:
            key = ("payment", row.payment_id, row.invoice_id)
        groups[key].append(row)
    commission_left = _partner_commissions(groups)
    found_by_settlement: dict[tuple[str, str], list] = defaultdict(list)
    for key, rows in groups.items():
        first = rows[0]
        parts: dict[str, int] = defaultdict(int)
        for row in rows:
            if isinstance(row.settles, str):
                parts[row.settles] -= row.amount_minor   # a payment lowers what is owed: its parts are what it paid
            else:
                parts["fee_due"] += row.amount_minor
        source = "fee" if key[0] == "fee" else "direct" if key[0] == "direct" else (
            "partner" if first.payment_source == "partner" else "bank")
        allocation = Allocation(source, principal=parts["principal"], interest=parts["interest"],
                                creditor_fees=sum(parts[name] for name in CREDITOR_FEES),
                                collection_fees=parts["collection_fees"], costs=parts["costs"],
                                fee_due=parts["fee_due"], partner_commission=commission_left.get(key, 0))
        handed_over = None
        if isinstance(first.partner_id, str) and first.value_date >= first.handoff_date:
            handed_over = (first.partner_id, first.handoff_date)
        facts = dict(case_id=int(first.case_id), invoice_id=_id(first.invoice_id), payment_id=_id(first.payment_id),
                     payment_date=first.value_date, country=first.country, handed_over=handed_over,
                     aged_days=(first.opened_on - first.oldest_due).days if first.oldest_due else 0)
        found_by_settlement[(first.creditor_id, first.currency)].append(
            (allocation, facts, [int(row.posting_id) for row in rows]))
    for entries in found_by_settlement.values():
        entries.sort(key=lambda entry: (entry[1]["case_id"], entry[1]["invoice_id"] or 0, entry[1]["payment_date"],
                                        entry[1]["payment_id"] or 0, entry[2][0]))
    return found_by_settlement


def _partner_commissions(groups: dict[tuple, list]) -> dict[tuple, int]:
    """What the court partner kept of each payment, shared over the payment's claims by what each took (the
    rest of the division on the first): the settlement shows it beside our commission."""
    by_payment: dict[int, list[tuple[tuple, int]]] = defaultdict(list)
    kept: dict[int, int] = {}
    for key, rows in groups.items():
        if key[0] == "payment" and rows[0].payment_source == "partner":
            by_payment[int(key[1])].append((key, -sum(row.amount_minor for row in rows)))
            kept[int(key[1])] = int(rows[0].partner_commission)
    shares = {}
    for payment_id, parts in by_payment.items():
        total = sum(amount for _, amount in parts)
        given = {key: kept[payment_id] * amount // total if total else 0 for key, amount in parts}
        given[parts[0][0]] += kept[payment_id] - sum(given.values())
        shares.update(given)
    return shares


def _id(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _stored(line) -> dict:
    values = dict(vars(line))
    values["commission_rate"] = _rate(line.commission_rate)
    values["vat_rate"] = _rate(line.vat_rate)
    return values


def _rate(rate: Decimal) -> str:
    """A percent as its plain decimal string: 10, 14, 12.5."""
    return format(rate.normalize(), "f")


def summary_totals(conn: Connection, period: str) -> dict[str, dict[str, str]]:
    """Per currency: collected, commission, VAT and payouts of the week (the DAG's result in the Airflow UI)."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for settlement in summary_rows(conn, period):
        currency_totals = totals[settlement["currency"]]
        currency_totals["collected"] += (settlement["collected_principal"] + settlement["collected_interest"]
                                         + settlement["collected_fees"])
        currency_totals["commission"] += settlement["commission"]
        currency_totals["vat"] += settlement["vat"]
        currency_totals["payouts"] += max(settlement["net_payout"], 0) if settlement["outcome"] == "PAYOUT" else 0
    return {currency: {name: format_minor(value, currency) for name, value in values.items()}
            for currency, values in sorted(totals.items())}


def line_rows(conn: Connection, period: str, creditor_id: str | None = None) -> list[dict]:
    """The week's lines as the files show them (amounts in minor units)."""
    return [dict(settlement_id=row.settlement_key, creditor_id=row.creditor_id, case_number=row.case_number,
                 invoice_number=row.invoice_number or "", payment_id=row.payment_id,
                 payment_date=row.payment_date, source=row.source,
                 allocated_principal=row.allocated_principal, allocated_interest=row.allocated_interest,
                 allocated_fees=row.allocated_fees, allocated_costs=row.allocated_costs,
                 creditor_share=row.creditor_share, agency_share=row.agency_share,
                 commission_rate=row.commission_rate, commission_base=row.commission_base,
                 commission=row.commission, vat_rate=row.vat_rate, vat=row.vat,
                 partner_commission=row.partner_commission, fees_due=row.fees_due,
                 net_to_creditor=row.net_to_creditor, currency=row.currency)
            for row in book.lines_of(conn, period, creditor_id)]


def summary_rows(conn: Connection, period: str, creditor_id: str | None = None) -> list[dict]:
    """Per settlement of the week (of one creditor, or all): its summary, each money column the sum of its
    lines; a settlement whose lines do not add up to its recorded net stops the run."""
    rows = []
    for settlement, total in book.settlements_of(conn, period, creditor_id):
        if total["net_to_creditor"] + settlement.carried_in != settlement.net_payout:
            raise RuntimeError(f"settlement {settlement.settlement_id}: its lines do not add up to its net payout")
        rows.append(dict(settlement_id=settlement.settlement_id, creditor_id=settlement.creditor_id,
                         currency=settlement.currency, period=period, outcome=settlement.outcome,
                         parties=json.loads(settlement.parties), carried_in=settlement.carried_in,
                         net_payout=settlement.net_payout, collected_principal=total["allocated_principal"],
                         collected_interest=total["allocated_interest"],
                         collected_fees=total["allocated_fees"] + total["allocated_costs"],
                         **{name: total[name] for name in ("creditor_share", "commission", "vat", "fees_due")}))
    return rows


class LinesFile:
    kind = "settlement_lines"
    suffix = "csv"

    @classmethod
    def owed(cls, period: str, run_id: str) -> exports.Owed:
        return exports.Owed(cls.kind, period, "finance", "finance/outbox", f"settlement_lines_{period}.{cls.suffix}",
                            paid_on(period), run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        write_lines_csv(sink, line_rows(conn, export.natural_key))


class LinesParquet(LinesFile):
    kind = "settlement_parquet"
    suffix = "parquet"

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        write_lines_parquet(sink, line_rows(conn, export.natural_key))


class SummaryFile:
    kind = "settlement_summary"

    @staticmethod
    def owed(period: str, run_id: str) -> exports.Owed:
        return exports.Owed(SummaryFile.kind, period, "finance", "finance/outbox",
                            f"settlement_summary_{period}.csv", paid_on(period), run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        write_summary(sink, summary_rows(conn, export.natural_key))


class PayoutsFile:
    """``payouts_<period>.xml``: the positive nets as one pain.001, the agency's account paying."""

    kind = "settlement_payouts"

    @staticmethod
    def owed(period: str, run_id: str) -> exports.Owed:
        return exports.Owed(PayoutsFile.kind, period, "finance", "finance/outbox", f"payouts_{period}.xml",
                            paid_on(period), run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        period = export.natural_key
        rows = [row for row in summary_rows(conn, period) if row["outcome"] == "PAYOUT"]
        payouts = [Payout(row["settlement_id"], row["net_payout"], row["currency"],
                          _account(row["parties"]["creditor"]), f"Settlement {period} {row['settlement_id']}")
                   for row in rows]
        day = paid_on(period)
        write_pain001(sink, f"PAYOUTS-{period}", datetime.combine(day, time(7), COPENHAGEN).isoformat(),
                      day.isoformat(), _account(rows[0]["parties"]["agency"]), payouts)


class StatementFile:
    """``statement_<creditor>_<period>.pdf`` in the creditor's outbox: its week in its language, a VAT receipt."""

    kind = "settlement_statement"

    @staticmethod
    def owed(creditor_id: str, period: str, run_id: str) -> exports.Owed:
        return exports.Owed(StatementFile.kind, f"{creditor_id}:{period}", "creditors",
                            f"creditors/{creditor_id}/outbox", f"statement_{creditor_id}_{period}.pdf",
                            paid_on(period), run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        creditor_id, period = export.natural_key.split(":")
        rows = summary_rows(conn, period, creditor_id)
        parties = rows[0]["parties"]
        write_statement(sink, period, paid_on(period), parties["creditor"]["country"], _party(parties["agency"]),
                        _party(parties["creditor"]), rows, line_rows(conn, period, creditor_id))


def _account(party: dict) -> Account:
    return Account(party["name"], party["iban"], party["bic"])


def _party(party: dict) -> StatementParty:
    return StatementParty(party["name"], party["address"], party["vat_id"], party["iban"])


FINANCE_FILES = (LinesFile, LinesParquet, SummaryFile)


def _deliver(settings: Settings, registry: Registry, engine: Engine, period: str) -> list[str]:
    """Finance's files (the payouts last), then each creditor's statement."""
    with engine.connect() as conn:
        owed = [renderer for renderer in (*FINANCE_FILES, PayoutsFile)
                if repo.export_owed(conn, renderer.kind, period) is not None]
        creditors = [row["creditor_id"] for row in summary_rows(conn, period)]
    home = Home(settings.home)
    with open_party_files(settings.home, registry, "finance", LedgerListings(engine)) as files:
        outbox = files.outbox("finance/outbox")
        names = [exports.deliver(engine, renderer.kind, period, renderer(), outbox, home.scratch)
                 for renderer in owed]
    with open_party_files(settings.home, registry, "creditors", LedgerListings(engine)) as files:
        for creditor_id in dict.fromkeys(creditors):
            names.append(exports.deliver(engine, StatementFile.kind, f"{creditor_id}:{period}", StatementFile(),
                                         files.outbox(f"creditors/{creditor_id}/outbox"), home.scratch))
    return names
