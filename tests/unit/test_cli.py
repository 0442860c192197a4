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
