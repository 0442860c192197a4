"""Run one of our DAGs in this process with Airflow's own `dag.test()` (the demo uses it).

Airflow reads its configuration when first imported, so the environment is set
before the import: a throwaway AIRFLOW_HOME with a SQLite metadata database under
the inkasso home, our `dags/` folder, no examples.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from pathlib import Path

from pipeline.config import Settings

DAGS_FOLDER = Path(__file__).resolve().parent.parent / "dags"


def airflow_environment(settings: Settings) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(settings.home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "INKASSO_HOME": str(settings.home),
        "INKASSO_DATABASE_URL": settings.database_url,
    }


def load_dag(dag_id: str):
    spec = importlib.util.spec_from_file_location(f"dags.{dag_id}", DAGS_FOLDER / f"{dag_id}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return next(value for value in vars(module).values() if getattr(value, "dag_id", None) == dag_id)


def run_dag(dag_id: str, settings: Settings, conf: dict):
    """Run the DAG once with ``conf`` as its params; return the finished DagRun."""
    if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != str(settings.home / "airflow"):
        raise RuntimeError("Airflow was imported before its environment was set")
    os.environ.update(airflow_environment(settings))
    (settings.home / "airflow").mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from airflow.utils.db import initdb

    initdb()
    return load_dag(dag_id).test(run_conf=conf)
