"""The weekly settlement (formats.md §3.2; rules.md "Commercial rules"), as `inkasso settle` and the
``settlement`` DAG run it, exactly once per (creditor, currency, week):

1. **settle** (once a week that has ended, in one transaction): every posting that moves money between a
   creditor and us and was never settled (a payment's allocation, a reversal's, a direct payment, a
   withdrawal fee), booked through the week's Sunday, however late it was reconciled, is gathered into
   allocations (a payment's parts on one claim; a direct payment's on one claim; a fee) and each allocation
   into one line by the creditor's fee plan (`pipeline.rules.settlement`), in columns: a million lines are
   arithmetic on arrays, not a million Python objects. Per creditor and currency: one settlement with its
   lines, the terms it applied, the negative net of an earlier week carried in, and its outcome (PAYOUT,
   CARRIED, INVOICED or NIL). The payouts are checked (IBAN, BIC, the pain.001 XSD) before anything is
   recorded, so a bad account stops the run while inkasso.toml can still mend it. A creditor with money to
   settle that the registry no longer has is left out, its postings waiting for a later week;
2. **deliver**: the lines (CSV and Parquet), the summary and the payouts (pain.001, when a net is positive)
   to finance's outbox, then each creditor's statement, through the export protocol, rendered from the
   record: the same week writes the same bytes, and nothing is paid twice. Files an earlier run owed and
   did not deliver go out first.
"""
from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import BinaryIO
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from pipeline import exports
from pipeline.config import Registry, Settings
from pipeline.exporters.pain001 import Account, Payout, PayoutRefused, write_pain001
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
from pipeline.runs import StageRefused
from pipeline.rules.settlement import PARTS, Terms, outcome, percent_text, scaled, settle_lines
from pipeline.stages.handoff import iso_week, monday
from pipeline.transport.parties import open_party_files

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
FEE_KINDS = ("withdrawal_fee", "court_withdrawal_fee")
COMPONENT_PARTS = {"principal": "principal", "interest": "interest", "reminder_fees": "creditor_fees",
                   "compensation": "creditor_fees", "collection_fees": "collection_fees", "costs": "costs"}
LINE_KEYS = ("creditor_id", "currency", "case_id", "invoice_id", "payment_id", "payment_date", "source")


class WeekNotOver(StageRefused):
    """A week is settled once, after its Sunday: settling it earlier would leave its later payments out."""


class PayoutsRefused(StageRefused):
    """The week's payouts would not be accepted (an IBAN, a BIC, a name too long): nothing was recorded."""


def default_period(as_of: date) -> str:
    """The ISO week before the business date's: Tuesday's run settles the week that ended on Sunday."""
    return iso_week(as_of - timedelta(days=7))


def paid_on(period: str) -> date:
    """The Tuesday after the week: its files' date (never the clock) and its payouts' earliest execution day."""
    return monday(period) + timedelta(days=8)


def run(settings: Settings, as_of: date, run_id: str, period: str | None = None,
        checkpoint: Callable[[str], None] = no_checkpoint) -> dict:
    """Settle the week before ``as_of`` (or ``period``, YYYY-Www, which must have ended) once and deliver its
    files. ``checkpoint`` is called after each step (``settled``, ``delivered``), where the tests stop a run."""
    period = period or default_period(as_of)
    if monday(period) + timedelta(days=6) >= as_of:
        raise WeekNotOver(f"{period} ends on {monday(period) + timedelta(days=6)}: it is settled from the day after")
    registry = settings.load_registry()
    engine = open_ledger(settings)
    try:
        with engine.begin() as conn:
            settled = Week(conn, registry, period, run_id).settle(max(paid_on(period), as_of))
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

    def settle(self, executes_on: date) -> dict | None:
        """None when the week was settled before; else how many settlements, lines and payouts it made."""
        repo.lock_party(self.conn, "finance", "settlement")
        if not book.record_week(self.conn, self.period, self.run_id, executes_on):
            return None
        found = book.unsettled_postings(self.conn, monday(self.period) + timedelta(days=6))
        unknown = sorted(set(found["creditor_id"]) - {creditor_id for creditor_id, creditor
                                                       in self.registry.creditors.items()
                                                       if creditor.fee_plan in self.registry.fee_plans})
        found = found[~found["creditor_id"].isin(unknown)]
        terms = {creditor_id: self._terms(creditor_id) for creditor_id in sorted(set(found["creditor_id"]))}
        allocations, posting_group = _allocations(found, terms)
        lines = pd.concat([allocations[list(LINE_KEYS)].astype({"invoice_id": "Int64", "payment_id": "Int64"}),
                       settle_lines(allocations)], axis=1)
        carries = {key: net for key, net in book.pending_carries(self.conn, self.period).items()
                   if key[0] not in unknown}
        rows = self._settlements(lines, carries, terms)
        _check_payouts(self.period, executes_on, rows)
        ids = dict(zip(((row["creditor_id"], row["currency"]) for row in rows),
                       book.record_settlements(self.conn, rows)))
        settlement_of_line = pd.Series([ids[key] for key in zip(lines["creditor_id"], lines["currency"])],
                                       index=lines.index, dtype="int64")
        stored = lines.drop(columns=["creditor_id", "currency"]).assign(
            settlement_id=settlement_of_line, seq=settlement_of_line.groupby(settlement_of_line).cumcount() + 1,
            commission_rate=lines["commission_rate"].map(percent_text), vat_rate=lines["vat_rate"].map(percent_text))
        book.record_lines(self.conn, stored, found["posting_id"].tolist(),
                          settlement_of_line.loc[posting_group].tolist())
        payouts = sum(row["outcome"] == "PAYOUT" for row in rows)
        self._owe(sorted(ids), payouts > 0)
        return dict(settlements=len(rows), lines=len(lines), payouts=payouts, left_out=unknown)

    def _settlements(self, lines: pd.DataFrame, carries: dict, terms: dict[str, Terms]) -> list[dict]:
        """One settlement per creditor and currency with lines or a carried net, numbered in that order."""
        nets = lines.groupby(["creditor_id", "currency"], sort=False)["net_to_creditor"].sum()
        rows = []
        for number, (creditor_id, currency) in enumerate(sorted(set(nets.index) | set(carries)), start=1):
            plan = terms.get(creditor_id) or self._terms(creditor_id)
            carried_in = carries.get((creditor_id, currency), 0)
            net = int(nets.get((creditor_id, currency), 0)) + carried_in
            rows.append(dict(settlement_id=f"{self.period.replace('-', '')}-{number:05d}", period=self.period,
                             creditor_id=creditor_id, currency=currency, terms=plan.as_json(),
                             parties=self._parties(creditor_id), carried_in=carried_in, net_payout=net,
                             outcome=outcome(net, plan.negative_net), run_id=self.run_id))
        return rows

    def _owe(self, keys: list[tuple[str, str]], payouts: bool) -> None:
        for renderer in FINANCE_FILES:
            exports.owe(self.conn, renderer.owed(self.period, self.run_id))
        if payouts:
            exports.owe(self.conn, PayoutsFile.owed(self.period, self.run_id))
        for creditor_id in sorted({creditor_id for creditor_id, _ in keys}):
            exports.owe(self.conn, StatementFile.owed(creditor_id, self.period, self.run_id))

    def _terms(self, creditor_id: str) -> Terms:
        """The creditor's plan; VAT only on what we sell to a creditor of our own country (one abroad, a
        business, accounts for it itself: the EU's reverse charge)."""
        creditor = self.registry.creditors[creditor_id]
        agency = self.registry.agency
        vat = agency.vat_rate_pct if creditor.country == agency.country else Decimal(0)
        return Terms.of(self.registry.fee_plans[creditor.fee_plan], vat, self.registry.partners)

    def _parties(self, creditor_id: str) -> str:
        """The creditor and the agency as the statement and the payout name them, kept with the settlement."""
        party = lambda p: dict(name=p.name, address=p.address, vat_id=p.vat_id, country=p.country,  # noqa: E731
                               iban=p.iban, bic=p.bic)
        return json.dumps(dict(creditor=party(self.registry.creditors[creditor_id]),
                               agency=party(self.registry.agency)), sort_keys=True, ensure_ascii=False)


def _allocations(found: pd.DataFrame, terms: dict[str, Terms]) -> tuple[pd.DataFrame, pd.Series]:
    """The postings gathered into allocations, one row each in the order of their lines: a payment's parts on
    one claim; a direct payment's on one claim (per instruction file and date); each fee on its own. With each
    allocation's `PARTS`, its source, rates and ``keeps``; and, per posting, the row of its allocation."""
    kind = found["kind"]
    group_kind = np.select([kind.isin(FEE_KINDS), kind.eq("direct_payment")], ["fee", "direct"], "payment")
    first = np.where(group_kind == "fee", found["posting_id"],
                     np.where(group_kind == "direct", found["file_id"], found["payment_id"].fillna(-1)))
    day = found["value_date"].where(group_kind == "direct").to_numpy(dtype="datetime64[D]").astype("int64")
    keys = pd.DataFrame(dict(kind=group_kind, first=first.astype("int64"),
                             invoice=found["invoice_id"].fillna(-1).astype("int64").to_numpy(), day=day))
    group = keys.groupby(list(keys), sort=False).ngroup().to_numpy()
    amounts = found["amount_minor"].to_numpy(dtype=np.int64)
    settles = found["settles"]
    parts = pd.DataFrame({part: np.zeros(len(found), dtype=np.int64) for part in PARTS})
    for component, part in COMPONENT_PARTS.items():
        parts[part] -= np.where(settles.eq(component), amounts, 0)   # a payment lowers what is owed: it paid
    parts["fee_due"] = np.where(settles.isna(), amounts, 0)
    allocations = parts.groupby(group).sum()
    allocations = allocations.join(found[["creditor_id", "currency", "case_id", "invoice_id", "payment_id",
                                          "value_date", "country", "opened_on", "oldest_due", "partner_id",
                                          "handoff_date", "priced_on", "payment_source", "partner_kept"]]
                                   .groupby(group).first())
    allocations["first_posting"] = found["posting_id"].groupby(group).min()
    allocations["group_kind"] = keys.groupby(group)["kind"].first()
    allocations["source"] = np.where(allocations["group_kind"] != "payment", allocations["group_kind"],
                                     np.where(allocations["payment_source"].eq("partner"), "partner", "bank"))
    allocations["partner_commission"] = _partner_commissions(allocations)
    _rates(allocations, terms)
    allocations = allocations.rename(columns={"value_date": "payment_date"}).sort_values(
        ["creditor_id", "currency", "case_id", "invoice_id", "payment_date", "payment_id", "first_posting"],
        na_position="first")
    order = pd.Series(np.arange(len(allocations)), index=allocations.index)
    allocations.index = order.to_numpy()
    return allocations, pd.Series(order.loc[group].to_numpy())


def _partner_commissions(allocations: pd.DataFrame) -> np.ndarray:
    """What the court partner kept of each of its payments, shared over the payment's claims by what each took
    (the rest of the division on the first): the settlement shows it beside our commission."""
    shares = np.zeros(len(allocations), dtype=np.int64)
    partner = (allocations["source"] == "partner").to_numpy()
    if partner.any():
        mine = allocations[partner]
        took = mine[["principal", "interest", "creditor_fees", "collection_fees", "costs"]].sum(axis=1)
        total = took.groupby(mine["payment_id"]).transform("sum")
        kept = mine["partner_kept"].astype("int64")
        share = np.where(total != 0, kept * took // total.where(total != 0, 1), 0)
        rest = kept - pd.Series(share, index=mine.index).groupby(mine["payment_id"]).transform("sum")
        first = mine["first_posting"] == mine.groupby("payment_id")["first_posting"].transform("min")
        shares[partner] = share + np.where(first, rest, 0)
    return shares


def _rates(allocations: pd.DataFrame, terms: dict[str, Terms]) -> None:
    """Each allocation's commission and VAT rates (scaled) and whether its plan keeps interest and fees: the
    plan's rate for the debtor's country (+ the surcharge when the case opened with a claim overdue longer
    than the plan's threshold), the partner's after its equal terms ended (judged on the day the payment was
    made; a reversal's, on its payment's)."""
    creditor = allocations["creditor_id"]
    threshold = creditor.map({c: t.aged_threshold_days for c, t in terms.items()})
    aged = ((allocations["opened_on"] - allocations["oldest_due"]).dt.days > threshold).fillna(False)
    handed = allocations["partner_id"].notna()
    ends = pd.Series(pd.NaT, index=allocations.index, dtype="datetime64[ns]")
    for (creditor_id, partner_id, handoff_date), rows in allocations[handed].groupby(
            ["creditor_id", "partner_id", "handoff_date"]).groups.items():
        ends[rows] = pd.Timestamp(terms[creditor_id].equal_terms_end(partner_id, handoff_date.date()))
    after = handed & (allocations["priced_on"] >= ends)
    combos = pd.DataFrame(dict(creditor=creditor, country=allocations["country"], aged=aged.astype(bool),
                               partner=allocations["partner_id"].where(after, "")))
    rates = {combo: scaled(terms[combo[0]].commission_rate(*combo[1:])) for combo in
             combos.drop_duplicates().itertuples(index=False, name=None)}
    allocations["commission_rate"] = [rates[combo] for combo in combos.itertuples(index=False, name=None)]
    allocations["vat_rate"] = creditor.map({c: scaled(t.vat_rate_pct) for c, t in terms.items()}).astype("int64")
    allocations["keeps"] = creditor.map({c: t.agency_keeps_interest_and_fees for c, t in terms.items()})


def _check_payouts(period: str, executes_on: date, settlements: list[dict]) -> None:
    """Render the week's payouts once before they are recorded: a bad IBAN or BIC, or a name the XSD refuses,
    stops the run here, where mending inkasso.toml and running again still helps."""
    payouts = [row for row in settlements if row["outcome"] == "PAYOUT"]
    if payouts:
        try:
            _write_payouts(io.BytesIO(), period, executes_on, [dict(row, parties=json.loads(row["parties"]))
                                                               for row in payouts])
        except PayoutRefused as refused:
            raise PayoutsRefused(f"{period} is not settled: {refused}; mend inkasso.toml and run again") from None


def _write_payouts(sink: BinaryIO, period: str, executes_on: date, rows: list[dict]) -> None:
    payouts = [Payout(row["settlement_id"], row["net_payout"], row["currency"],
                      _account(row["parties"]["creditor"]), f"Settlement {period} {row['settlement_id']}")
               for row in rows]
    created = datetime.combine(paid_on(period), time(7), COPENHAGEN).isoformat()
    write_pain001(sink, f"PAYOUTS-{period}", created, executes_on.isoformat(),
                  _account(rows[0]["parties"]["agency"]), payouts)


def summary_totals(conn: Connection, period: str) -> dict[str, dict[str, str]]:
    """Per currency: collected, commission, VAT and payouts of the week (the DAG's result in the Airflow UI)."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for settlement in summary_rows(conn, period):
        currency_totals = totals[settlement["currency"]]
        currency_totals["collected"] += (settlement["collected_principal"] + settlement["collected_interest"]
                                         + settlement["collected_fees"])
        currency_totals["commission"] += settlement["commission"]
        currency_totals["vat"] += settlement["vat"]
        currency_totals["payouts"] += settlement["net_payout"] if settlement["outcome"] == "PAYOUT" else 0
    return {currency: {name: format_minor(value, currency) for name, value in values.items()}
            for currency, values in sorted(totals.items())}


def summary_rows(conn: Connection, period: str, creditor_id: str | None = None) -> list[dict]:
    """Per settlement of the week (of one creditor, or all): its summary, each money column the sum of its
    lines; a settlement whose lines do not add up to its recorded net stops the run."""
    rows = []
    for settlement, total in book.settlements_of(conn, period, creditor_id):
        if total["net_to_creditor"] + settlement.carried_in != settlement.net_payout:
            raise RuntimeError(f"settlement {settlement.settlement_id}: its lines do not add up to its net payout")
        rows.append(dict(settlement_id=settlement.settlement_id, creditor_id=settlement.creditor_id,
                         currency=settlement.currency, period=period, outcome=settlement.outcome,
                         parties=json.loads(settlement.parties), terms=Terms.from_json(settlement.terms),
                         carried_in=settlement.carried_in, net_payout=settlement.net_payout,
                         collected_principal=total["allocated_principal"],
                         collected_interest=total["allocated_interest"],
                         collected_fees=total["allocated_fees"] + total["allocated_costs"],
                         **{name: total[name] for name in ("creditor_share", "commission", "vat", "fees_due")}))
    return rows


def _to_finance(kind: str, file_name: str, period: str, run_id: str) -> exports.Owed:
    """A file of the week for finance's outbox, keyed by the week and dated its payout Tuesday."""
    return exports.Owed(kind, period, "finance", "finance/outbox", file_name, paid_on(period), run_id)


class WeekLines:
    """The lines of a week, read once for every file of one delivery pass (settled lines never change)."""

    def __init__(self):
        self.frames: dict[str, pd.DataFrame] = {}
        self.creditors: dict[str, dict[str, pd.DataFrame]] = {}

    def of(self, conn: Connection, period: str, creditor_id: str | None = None) -> pd.DataFrame:
        if period not in self.frames:
            self.frames[period] = book.lines_of(conn, period)
        if creditor_id is None:
            return self.frames[period]
        if period not in self.creditors:
            self.creditors[period] = dict(tuple(self.frames[period].groupby("creditor_id", sort=False)))
        return self.creditors[period].get(creditor_id, self.frames[period].iloc[0:0])   # a carried net only


class LinesFile:
    kind = "settlement_lines"
    suffix = "csv"

    def __init__(self, lines: WeekLines):
        self.lines = lines

    @classmethod
    def owed(cls, period: str, run_id: str) -> exports.Owed:
        return _to_finance(cls.kind, f"settlement_lines_{period}.{cls.suffix}", period, run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        write_lines_csv(sink, self.lines.of(conn, export.natural_key))


class LinesParquet(LinesFile):
    kind = "settlement_parquet"
    suffix = "parquet"

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        write_lines_parquet(sink, self.lines.of(conn, export.natural_key))


class SummaryFile:
    kind = "settlement_summary"

    @staticmethod
    def owed(period: str, run_id: str) -> exports.Owed:
        return _to_finance(SummaryFile.kind, f"settlement_summary_{period}.csv", period, run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        write_summary(sink, summary_rows(conn, export.natural_key))


class PayoutsFile:
    """``payouts_<period>.xml``: the positive nets as one pain.001, the agency's account paying on the day
    recorded when the week was settled."""

    kind = "settlement_payouts"

    @staticmethod
    def owed(period: str, run_id: str) -> exports.Owed:
        return _to_finance(PayoutsFile.kind, f"payouts_{period}.xml", period, run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        period = export.natural_key
        _write_payouts(sink, period, book.executes_on(conn, period),
                       [row for row in summary_rows(conn, period) if row["outcome"] == "PAYOUT"])


class StatementFile:
    """``statement_<creditor>_<period>.pdf`` in the creditor's outbox: its week in its language, a VAT receipt."""

    kind = "settlement_statement"

    def __init__(self, lines: WeekLines):
        self.lines = lines

    @staticmethod
    def owed(creditor_id: str, period: str, run_id: str) -> exports.Owed:
        return exports.Owed(StatementFile.kind, f"{creditor_id}:{period}", "creditors",
                            f"creditors/{creditor_id}/outbox", f"statement_{creditor_id}_{period}.pdf",
                            paid_on(period), run_id)

    def render(self, conn: Connection, export, sink: BinaryIO) -> None:
        creditor_id, period = export.natural_key.split(":")
        rows = summary_rows(conn, period, creditor_id)
        parties = rows[0]["parties"]
        write_statement(sink, period, book.executes_on(conn, period), parties["creditor"]["country"],
                        _party(parties["agency"]), _party(parties["creditor"]), rows,
                        self.lines.of(conn, period, creditor_id))


def _account(party: dict) -> Account:
    return Account(party["name"], party["iban"], party["bic"])


def _party(party: dict) -> StatementParty:
    return StatementParty(party["name"], party["address"], party["vat_id"], party["iban"])


FINANCE_FILES = (LinesFile, LinesParquet, SummaryFile)


def _deliver(settings: Settings, registry: Registry, engine: Engine, period: str) -> list[str]:
    """The week's files for finance (the payouts last) and each creditor's statement, with those of any earlier
    week that a stopped run owed and did not deliver before them."""
    with engine.connect() as conn:
        finance = sorted({(key, FINANCE_ORDER.index(renderer)) for renderer in FINANCE_ORDER
                          for key in [*repo.undelivered_exports(conn, renderer.kind, "finance/outbox"), period]
                          if repo.export_owed(conn, renderer.kind, key) is not None})
        statements = list(dict.fromkeys(
            [*repo.undelivered_exports(conn, StatementFile.kind),
             *(f"{row['creditor_id']}:{period}" for row in summary_rows(conn, period))]))
    home = Home(settings.home)
    lines = WeekLines()
    names = []
    with open_party_files(settings.home, registry, "finance", LedgerListings(engine)) as files:
        outbox = files.outbox("finance/outbox")
        for key, position in finance:
            renderer = FINANCE_ORDER[position]
            made = renderer(lines) if issubclass(renderer, LinesFile) else renderer()
            names.append(exports.deliver(engine, renderer.kind, key, made, outbox, home.scratch))
    with open_party_files(settings.home, registry, "creditors", LedgerListings(engine)) as files:
        for key in statements:
            names.append(exports.deliver(engine, StatementFile.kind, key, StatementFile(lines),
                                         files.outbox(f"creditors/{key.split(':')[0]}/outbox"), home.scratch))
    return names


FINANCE_ORDER = (*FINANCE_FILES, PayoutsFile)
