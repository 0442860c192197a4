"""The house keeps its layers (design.md "One way through"), read from the imports of every module.

Parsers never touch the ledger or the transport; transport moves bytes and knows no ledger; the ledger and
the stages never import Airflow; a DAG never reaches into the ledger; exporters never parse. Every import is
read, at the top of a module or inside a function."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

# (modules under this path, may not import a module starting with any of these)
RULES = [
    ("pipeline/parsers", ("pipeline.ledger", "pipeline.transport", "pipeline.exporters", "sqlalchemy")),
    ("pipeline/transport", ("pipeline.ledger", "pipeline.stages", "pipeline.intake", "pipeline.exports",
                            "sqlalchemy")),
    ("pipeline/ledger", ("airflow",)),
    ("pipeline/stages", ("airflow",)),
    ("pipeline/exporters", ("pipeline.parsers", "pipeline.ledger", "airflow")),
    ("dags", ("pipeline.ledger", "sqlalchemy")),
]


def imported(source: str) -> set[str]:
    """Every module a source imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def breaches(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in sorted(imported(path.read_text(encoding="utf-8"))):
            if any(name == banned or name.startswith(banned + ".") for banned in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("folder, forbidden", RULES, ids=[folder for folder, _ in RULES])
def test_no_layer_imports_what_it_must_not(folder, forbidden):
    assert list((ROOT / folder).rglob("*.py")), f"{folder} has no modules: the rule reads nothing"
    assert breaches(folder, forbidden) == []


def test_the_reading_finds_imports_anywhere_in_a_module():
    source = ("import os\nfrom pipeline.ledger import repository as repo\n"
              "def later():\n    from airflow.sdk import BaseHook\n    import sqlalchemy.orm\n")
    assert imported(source) == {"os", "pipeline.ledger", "pipeline.ledger.repository", "airflow.sdk",
                                "airflow.sdk.BaseHook", "sqlalchemy.orm"}
