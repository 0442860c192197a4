"""The `inkasso` command (formats.md §0): a table of commands; the stages among them take ``--as-of``.

Exit status: 0 success, 1 a handled failure (one line on stderr), 2 bad usage. The command owns its
logging (`pipeline.logs`): its output on stdout, warnings on stderr, INFO only with ``-v``.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from time import monotonic

from sqlalchemy.exc import SQLAlchemyError

from pipeline import logs, runs
from pipeline.config import ConfigError, Settings, UnknownParty
from pipeline.exporters.reconciliation import ReportDoesNotAddUp
from pipeline.exports import ExportChanged
from pipeline.rules import RuleMissing
from pipeline.transport import TransportError

CLEAR_LINE = "\r\x1b[K"   # back to the start of the terminal's line, which is then cleared


class NotFound(LookupError):
    """What the command was asked about does not exist (exit status 1)."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[Settings, argparse.Namespace], int]
    arguments: tuple[tuple[tuple, dict], ...] = ()
    stage: bool = False   # a stage: it takes --as-of, the business date (default: today in Copenhagen)


def argument(*flags: str, **options) -> tuple[tuple, dict]:
    return flags, options


def _init(settings: Settings, _args) -> int:
    from pipeline.home import Home
    from pipeline.ledger import open_ledger
    from pipeline.ledger.repository import sync_creditors

    home = Home(settings.home)
    home.create()
    registry = settings.load_registry()
    home.create_party_folders(registry)
    engine = open_ledger(settings)
    with engine.begin() as conn:
        sync_creditors(conn, registry)
    engine.dispose()
    print(f"initialised {settings.home}: edit {settings.registry_path}, then drop files into creditors/<id>/inbox/")
    return 0


def _ingest(settings: Settings, args) -> int:
    from pipeline.stages import ingest

    terminal = sys.stderr.isatty()
    result = ingest.run(settings, args.as_of, runs.command_run_id("ingest"), args.creditor, args.settle_seconds,
                        on_file=_show_file if terminal else None, on_progress=_Progress() if terminal else None)
    print(f"{result['files']} files ({result['files_rejected']} rejected, {result['files_seen_before']} seen before); "
          f"{result['rows']} rows: {result['rows_taken']} taken, {result['rows_rejected']} not taken; "
          f"{result['cases_opened']} cases opened")
    for name in result["receipts"]:
        print(f"  receipt {name}")
    return 0


def _show_file(creditor_id: str, taken) -> None:
    if taken.record is not None:
        print(f"{CLEAR_LINE}  {creditor_id}/{taken.name}: {taken.record.rows_total} rows, "
              f"{taken.record.rows_accepted} taken", file=sys.stderr)


class _Progress:
    """The rows of the file being read so far and their rate, on one line of the terminal, rewritten batch by
    batch (a file of a million rows takes a minute or two); `_show_file` then writes the file's line over it."""

    def __init__(self):
        self.started: dict[tuple[str, str], float] = {}

    def __call__(self, creditor_id: str, name: str, rows: int) -> None:
        started = self.started.setdefault((creditor_id, name), monotonic())
        seconds = monotonic() - started
        rate = f", {rows / seconds:,.0f} rows/s" if rows and seconds > 0 else ""
        print(f"{CLEAR_LINE}  {creditor_id}/{name}: {rows:,} rows{rate}", end="", file=sys.stderr, flush=True)


def _lifecycle(settings: Settings, args) -> int:
    from pipeline.stages import lifecycle

    result = lifecycle.run(settings, args.as_of, runs.command_run_id("lifecycle"), args.creditor)
    if result["days_run_before"] == result["creditors"]:
        print(f"{args.as_of} ran before for every creditor: nothing changed")
        return 0
    print(f"{result['claims']} claims: {result['letters']} letters, {result['charges']} charges, "
          f"{result['interest_postings']} interest postings, {result['ready_for_court']} ready for court, "
          f"{result['time_bar_near']} near their time bar, {result['time_barred']} time-barred; "
          f"{result['cases_closed']} cases closed")
    for name in result.get("letter_files", []):
        print(f"  letters {name}")
    return 0


def _reconcile(settings: Settings, args) -> int:
    from pipeline.stages import reconcile

    result = reconcile.run(settings, args.as_of, runs.command_run_id("reconcile"), settle_seconds=args.settle_seconds)
    print(f"{result['files']} bank files; {result['payments']} payments: {result['matched']} matched and allocated, "
          f"{result['parked']} parked")
    for name in result["reports"]:
        print(f"  report {name}")
    return 0


def _suspense(settings: Settings, args) -> int:
    from pipeline.money import format_minor
    from pipeline.stages.reconcile import suspense

    if args.action == "list":
        for p in suspense.parked(settings):
            print(f"{p.id:>8}  {p.value_date}  {format_minor(p.amount_minor, p.currency):>12} {p.currency}  "
                  f"{p.parked_reason:<17}  {p.payer_name}  {p.reference or p.remittance_text}")
        return 0
    if args.payment is None or (args.action == "assign") != (args.case is not None):
        print(f"inkasso suspense {args.action}: give " + ("PAYMENT CASE" if args.action == "assign" else "PAYMENT"),
              file=sys.stderr)
        return 2
    run_id = runs.command_run_id("suspense")
    if args.action == "assign":
        done = suspense.assign(settings, args.payment, args.case, args.by, args.as_of, run_id)
        print(f"payment {args.payment} allocated to case {args.case} by {args.by}"
              + (f"; {done['refund_due_minor']} minor units due back to the payer" if done["refund_due_minor"] else ""))
    else:
        suspense.refund(settings, args.payment, args.by, args.as_of, run_id)
        print(f"payment {args.payment} is due back to its payer (by {args.by})")
    return 0


def _handoff(settings: Settings, args) -> int:
    from pipeline.stages import handoff

    result = handoff.run(settings, args.as_of, runs.command_run_id("handoff"), args.week)
    if result["chosen_before"]:
        print(f"{result['week']} was chosen before; {result['handed_over']} cases handed over now")
    else:
        print(f"{result['week']}: {result['cases']} cases to {result['batches']} partners, {result['refused']} "
              f"approved cases stay (reported to their creditors); {result['handed_over']} handed over")
    for name in result["files"]:
        print(f"  {name}")
    return 0


def _settle(settings: Settings, args) -> int:
    from pipeline.stages import settle

    result = settle.run(settings, args.as_of, runs.command_run_id("settle"), args.period)
    if result["settled_before"]:
        print(f"{result['period']} was settled before; its files are out")
    else:
        print(f"{result['period']}: {result['settlements']} settlements, {result['lines']} lines, "
              f"{result['payouts']} payouts")
    for currency, totals in result["totals"].items():
        print(f"  {currency}: " + ", ".join(f"{name} {amount}" for name, amount in totals.items()))
    for name in result["files"]:
        print(f"  {name}")
    return 0


def _week(text: str) -> str:
    try:
        year, number = text.split("-W")
        date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO week (YYYY-Www, e.g. 2026-W51)") from None
    return f"{int(year)}-W{int(number):02d}"


def _case(settings: Settings, args) -> int:
    from pipeline.case_view import case_view, format_case
    from pipeline.ledger import open_ledger

    engine = open_ledger(settings)
    try:
        with engine.connect() as conn:
            view = case_view(conn, args.number)
    finally:
        engine.dispose()
    if view is None:
        raise NotFound(f"no case {args.number}")
    print(json.dumps(view, indent=2, ensure_ascii=False) if args.json else format_case(view))
    return 0


def _stats(settings: Settings, args) -> int:
    from pipeline.ledger import open_ledger
    from pipeline.stats import format_stats, ledger_stats

    engine = open_ledger(settings)
    try:
        with engine.connect() as conn:
            stats = ledger_stats(conn)
    finally:
        engine.dispose()
    print(json.dumps(stats, indent=2, sort_keys=True) if args.json else format_stats(stats))
    return 0


def _demo(settings: Settings, _args) -> int:
    from pipeline.demo import run_demo

    return run_demo(settings)


COMMANDS = (
    Command("init", "create INKASSO_HOME: example inkasso.toml, folders, migrated database", _init),
    Command("ingest", "one ingest pass over the creditor inboxes", _ingest, (
        argument("--creditor", metavar="ID", help="only this creditor's inbox"),
        argument("--settle-seconds", type=int, metavar="N",
                 help="take files unchanged for N seconds (default: [ingest] settle_seconds, 30)"),
    ), stage=True),
    Command("lifecycle", "one daily pass over open cases: interest, fees, letters, deadlines, time bar", _lifecycle, (
        argument("--creditor", metavar="ID", help="only this creditor's cases (the day's letters wait for the rest)"),
    ), stage=True),
    Command("reconcile", "one pass over the bank's inbox: payments matched, allocated or parked", _reconcile, (
        argument("--settle-seconds", type=int, metavar="N",
                 help="take files unchanged for N seconds (default: [ingest] settle_seconds, 30)"),
    ), stage=True),
    Command("suspense", "work the parked payments: list | assign PAYMENT CASE | refund PAYMENT", _suspense, (
        argument("action", choices=("list", "assign", "refund")),
        argument("payment", nargs="?", type=int, metavar="PAYMENT", help="the payment's id (suspense list)"),
        argument("case", nargs="?", metavar="CASE", help="the case number to allocate it to"),
        argument("--by", default=getpass.getuser(), help="the operator (default: your login name)"),
    ), stage=True),
    Command("handoff", "the weekly court handoff: approved cases to the partner, once", _handoff, (
        argument("--week", type=_week, metavar="YYYY-Www", help="a past week (default: the week of --as-of)"),
    ), stage=True),
    Command("settle", "the weekly settlement: commission, VAT, payouts (pain.001), once per creditor", _settle, (
        argument("--period", type=_week, metavar="YYYY-Www",
                 help="the week to settle (default: the ISO week before --as-of)"),
    ), stage=True),
    Command("case", "one case as operations sees it (formats.md §4)", _case, (
        argument("number", metavar="NUMBER", help="the case number, e.g. 10000001"),
        argument("--json", action="store_true", help="print JSON"),
    )),
    Command("stats", "counts of creditors, debtors, invoices, cases, balances", _stats, (
        argument("--json", action="store_true", help="print JSON"),
    )),
    Command("demo", "build a demo home with four creditors and run the real ingest DAG", _demo),
)


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inkasso", description="Batch pipeline of a Nordic debt-collection agency. "
                                     "The home folder is $INKASSO_HOME (default ./var).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each stage does")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help)
        for flags, options in command.arguments:
            sub.add_argument(*flags, **options)
        if command.stage:
            sub.add_argument("--as-of", type=_as_of, default=runs.today(), metavar="DATE",
                             help="the business date (default: today in Copenhagen)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.verbose)
    settings = Settings.from_env()
    # Airflow, imported for an SFTP connection, keeps its files in AIRFLOW_HOME (~/airflow unless set)
    os.environ.setdefault("AIRFLOW_HOME", str(settings.home / "airflow"))
    command = next(c for c in COMMANDS if c.name == args.command)
    try:
        return command.run(settings, args)
    except UnknownParty as exc:
        print(f"inkasso {args.command}: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, NotFound, OSError, TransportError, ExportChanged, ReportDoesNotAddUp, RuleMissing,
            runs.StageRefused) as exc:
        print(f"inkasso {args.command}: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"inkasso {args.command}: database error: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
