"""The `inkasso` command (formats.md §0). Exit status: 0 success, 1 handled failure, 2 bad usage."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date, datetime, timezone

from sqlalchemy.exc import SQLAlchemyError

from pipeline.config import ConfigError, Settings
from pipeline.transport import TransportError


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inkasso", description="Batch pipeline of a Nordic debt-collection agency. "
                                     "The home folder is $INKASSO_HOME (default ./var).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each stage does")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("init", help="create INKASSO_HOME: example inkasso.toml, folders, migrated database")
    ingest = commands.add_parser("ingest", help="one ingest pass over the creditor inboxes")
    ingest.add_argument("--creditor", metavar="ID", help="only this creditor's inbox")
    ingest.add_argument("--settle-seconds", type=int, metavar="N",
                        help="take files unchanged for N seconds (default: [ingest] settle_seconds, 30)")
    stats = commands.add_parser("stats", help="counts of creditors, debtors, invoices, cases, balances")
    stats.add_argument("--json", action="store_true", help="print JSON")
    commands.add_parser("demo", help="build a demo home with four creditors and run the real ingest DAG")
    for command in (ingest,):
        command.add_argument("--as-of", type=_as_of, default=date.today(), metavar="DATE",
                             help="the business date (default: today)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    try:
        return COMMANDS[args.command](settings, args)
    except (ConfigError, KeyError, OSError, TransportError) as exc:
        print(f"inkasso {args.command}: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"inkasso {args.command}: database error: {reason}", file=sys.stderr)
        return 1


def _init(settings: Settings, _args) -> int:
    from pipeline.home import Home
    from pipeline.ingest import open_ledger
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
    from pipeline.ingest import run_ingest

    run_id = "cli__" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    counts = run_ingest(settings, args.as_of, run_id, args.creditor, args.settle_seconds,
                        on_file=_show_progress if sys.stderr.isatty() else None)
    print(f"{counts.files} files ({counts.files_rejected} rejected, {counts.files_seen_before} seen before, "
          f"{counts.files_waiting} waiting for a later stage); {counts.rows} rows: {counts.rows_taken} taken, "
          f"{counts.rows_rejected} not taken; {counts.cases_opened} cases opened")
    for name in counts.receipts:
        print(f"  receipt {name}")
    return 0


def _show_progress(creditor_id: str, file_name: str, counts) -> None:
    print(f"  {creditor_id}/{file_name}: {counts.rows} rows, {counts.rows_taken} taken", file=sys.stderr)


def _stats(settings: Settings, args) -> int:
    from pipeline.ingest import open_ledger
    from pipeline.stats import format_stats, ledger_stats

    engine = open_ledger(settings)
    with engine.connect() as conn:
        stats = ledger_stats(conn)
    engine.dispose()
    print(json.dumps(stats, indent=2, sort_keys=True) if args.json else format_stats(stats))
    return 0


def _demo(settings: Settings, _args) -> int:
    from pipeline.demo import run_demo

    return run_demo(settings)


COMMANDS = {"init": _init, "ingest": _ingest, "stats": _stats, "demo": _demo}

if __name__ == "__main__":
    sys.exit(main())
