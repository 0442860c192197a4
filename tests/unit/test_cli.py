"""The `inkasso` command's exit statuses (formats.md §0): 0 success, 1 handled failure with one line, 2 bad usage."""
from __future__ import annotations

import pytest

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
    from datetime import date

    from pipeline.config import Settings
    from pipeline.ingest import run_ingest

    monkeypatch.setenv("INKASSO_HOME", str(tmp_path))
    monkeypatch.delenv("INKASSO_DATABASE_URL", raising=False)
    assert main(["init"]) == 0
    inbox = tmp_path / "creditors" / "acme" / "inbox"
    (inbox / "a.csv").write_text("invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,debtor_name,"
                                 "debtor_address_line1,debtor_postcode,debtor_city,debtor_country\n"
                                 "A-1,2026-05-01,2026-05-31,2500.00,K1,consumer,Jens,Vej 1,2100,København,DK\n")
    seen = []
    run_ingest(Settings.from_env(), date(2026, 11, 26), "t", settle_seconds=0,
               on_file=lambda creditor, name, counts: seen.append((creditor, name, counts.rows, counts.rows_taken)))
    assert seen == [("acme", "a.csv", 1, 1)]
