"""The `inkasso` command's exit statuses (formats.md §0): 0 success, 1 handled failure with one line, 2 bad usage."""
from __future__ import annotations

import logging
import re
from datetime import date, datetime, timezone

import pytest

from pipeline import runs
from pipeline.cli import main


def test_unknown_command_and_bad_date_are_usage_errors(capsys):
    for argv in (["no-such-command"], ["ingest", "--as-of", "26.11.2026"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2


def test_missing_registry_is_a_one_line_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INKASSO_HOME", str(tmp_path / "nowhere"))
    assert main(["ingest"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "inkasso.toml not found: run `inkasso init` first" in err


def test_unreachable_database_is_a_one_line_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INKASSO_HOME", str(tmp_path))
    assert main(["init"]) == 0
    monkeypatch.setenv("INKASSO_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    capsys.readouterr()
    assert main(["stats"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("inkasso stats: database error:") and err.count("\n") == 0


def test_init_then_stats_prints_an_empty_ledger(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INKASSO_HOME", str(tmp_path))
    monkeypatch.delenv("INKASSO_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    assert (tmp_path / "creditors" / "acme" / "inbox").is_dir()
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    import json
    stats = json.loads(capsys.readouterr().out)
    assert stats["creditors"] == 1 and stats["cases"] == {"total": 0, "by_status": {}}


def test_ingest_reports_each_file_to_a_progress_callback(tmp_path, monkeypatch):
    from pipeline.config import Settings
    from pipeline.stages import ingest

    monkeypatch.setenv("INKASSO_HOME", str(tmp_path))
    monkeypatch.delenv("INKASSO_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    inbox = tmp_path / "creditors" / "acme" / "inbox"
    (inbox / "a.csv").write_text("invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,debtor_name,"
                                 "debtor_address_line1,debtor_postcode,debtor_city,debtor_country\n"
                                 "A-1,2026-05-01,2026-05-31,2500.00,K1,consumer,Jens,Vej 1,2100,København,DK\n")
    seen = []
    ingest.run(Settings.from_env(), date(2026, 11, 26), "t", settle_seconds=0,
               on_file=lambda creditor, taken: seen.append((creditor, taken.name, taken.record.rows_total,
                                                            taken.record.rows_accepted)))
    assert seen == [("acme", "a.csv", 1, 1)]


def test_ingest_reports_a_files_rows_batch_by_batch_and_logs_one_line_per_file(tmp_path, monkeypatch, caplog):
    from pipeline.config import Settings
    from pipeline.parsers import invoice_csv
    from pipeline.stages import ingest

    monkeypatch.setenv("INKASSO_HOME", str(tmp_path))
    monkeypatch.delenv("INKASSO_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    logging.getLogger().addHandler(caplog.handler)   # the command set up its own logging, without pytest's
    monkeypatch.setattr(invoice_csv, "BLOCK_BYTES", 400)   # a few rows per batch
    (tmp_path / "creditors" / "acme" / "inbox" / "a.csv").write_text(
        "invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,debtor_name,"
        "debtor_address_line1,debtor_postcode,debtor_city,debtor_country\n" + "".join(
            f"A-{n},2026-05-01,2026-05-31,2500.00,K{n},consumer,Jens,Vej 1,2100,København,DK\n" for n in range(30)))
    progress = []
    with caplog.at_level(logging.INFO, logger="pipeline.intake"):
        ingest.run(Settings.from_env(), date(2026, 11, 26), "t", settle_seconds=0,
                   on_progress=lambda creditor, name, rows: progress.append((creditor, name, rows)))
    counts = [rows for _, _, rows in progress]
    assert {(creditor, name) for creditor, name, _ in progress} == {("acme", "a.csv")}
    assert counts[0] == 0 and counts[-1] == 30 and len(counts) > 3 and counts == sorted(set(counts))
    (line,) = [record.getMessage() for record in caplog.records if record.name == "pipeline.intake"]
    assert re.fullmatch(r"creditors/acme/a\.csv: processed as file 1, 30 rows, 30 taken, in \d+\.\d s", line)


def test_a_terminal_shows_the_rows_and_rate_of_the_file_being_read_on_one_rewritten_line(capsys):
    from pipeline.cli import CLEAR_LINE, _Progress

    progress = _Progress()
    progress("acme", "a.csv", 0)
    progress("acme", "a.csv", 120_000)
    shown = capsys.readouterr().err
    assert "\n" not in shown
    first, second = shown.split(CLEAR_LINE)[1:]
    assert first == "  acme/a.csv: 0 rows"
    assert re.fullmatch(r"  acme/a\.csv: 120,000 rows, [\d,]+ rows/s", second)


def test_an_unknown_creditor_is_a_usage_error_and_a_missing_case_a_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INKASSO_HOME", str(tmp_path))
    monkeypatch.delenv("INKASSO_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    capsys.readouterr()
    assert main(["ingest", "--creditor", "nobody"]) == 2
    assert capsys.readouterr().err == "inkasso ingest: no creditor 'nobody' in the registry (known: acme)\n"
    assert main(["case", "10000099"]) == 1
    assert capsys.readouterr().err == "inkasso case: no case 10000099\n"


def test_the_command_line_is_a_table_and_every_stage_takes_the_business_date():
    from pipeline.cli import COMMANDS, _parser

    assert [c.name for c in COMMANDS] == ["init", "ingest", "lifecycle", "reconcile", "suspense", "handoff", "settle",
                                          "case", "stats", "demo"]
    stages = [c.name for c in COMMANDS if c.stage]
    assert stages == ["ingest", "lifecycle", "reconcile", "suspense", "handoff", "settle"]
    parser = _parser()
    for name in stages:
        first = [name, "list"] if name == "suspense" else [name]
        assert parser.parse_args(first).as_of == runs.today()
        assert parser.parse_args([*first, "--as-of", "2026-11-30"]).as_of == date(2026, 11, 30)


def test_the_business_date_is_copenhagens_day_not_the_machines():
    late_in_utc = datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc)   # already 1 December in Copenhagen
    assert runs.business_date(None, late_in_utc) == date(2026, 12, 1)
    assert runs.business_date("2026-11-15", late_in_utc) == date(2026, 11, 15)
    assert runs.business_date(date(2026, 11, 16), late_in_utc) == date(2026, 11, 16)
    summer = datetime(2026, 6, 30, 22, 0, tzinfo=timezone.utc)          # CEST: UTC+2
    assert runs.business_date(None, summer) == date(2026, 7, 1)


def test_a_lifecycle_day_by_hand_runs_once_and_days_run_forward(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INKASSO_HOME", str(tmp_path))
    monkeypatch.delenv("INKASSO_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    (tmp_path / "rates.csv").write_text("country,valid_from,rate_pct,source\nDK,2026-07-01,1.60,test\n")
    (tmp_path / "creditors" / "acme" / "inbox" / "a.csv").write_text(
        "invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,debtor_name,debtor_address_line1,"
        "debtor_postcode,debtor_city,debtor_country\nA-1,2026-09-01,2026-10-01,2500.00,K1,consumer,Jens,Vej 1,2100,"
        "København,DK\n")
    assert main(["ingest", "--as-of", "2026-11-26", "--settle-seconds", "0"]) == 0
    capsys.readouterr()
    assert main(["lifecycle", "--as-of", "2026-11-26"]) == 0
    assert capsys.readouterr().out == ("1 claims: 1 letters, 0 charges, 1 interest postings, 0 ready for court, "
                                       "0 near their time bar, 0 time-barred; 0 cases closed\n"
                                       "  letters letters_2026-11-26.csv\n  letters letters_2026-11-26.pdf\n")
    assert main(["lifecycle", "--as-of", "2026-11-26"]) == 0
    assert capsys.readouterr().out == "2026-11-26 ran before for every creditor: nothing changed\n"
    assert main(["lifecycle", "--as-of", "2026-11-25"]) == 1
    assert capsys.readouterr().err == ("inkasso lifecycle: the lifecycle of acme ran for 2026-11-26 already; "
                                       "2026-11-25 is earlier (runs go forward: replay a day on a copy of the "
                                       "ledger)\n")
    assert main(["lifecycle", "--as-of", "2027-01-05"]) == 1  # no reference rate for 2027's first half
    assert capsys.readouterr().err.startswith("inkasso lifecycle: no reference rate for DK for the first half of "
                                              "2027 (from 2027-01-01)")
