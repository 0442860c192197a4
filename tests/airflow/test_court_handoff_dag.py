"""The court_handoff DAG run by Airflow itself (`dag.test()`): the week's approved case handed over once."""
from __future__ import annotations

import pytest

from pipeline.airflow_runner import load_dag
from tests.airflow.test_creditor_ingest_dag import _xcom
from tests.integration.test_handoff import MONDAY, home, status  # noqa: F401  (home is a fixture)

pytestmark = pytest.mark.airflow


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_week_is_handed_over_once(airflow_home, home):  # noqa: F811
    run = load_dag("court_handoff").test(run_conf={"as_of": MONDAY.isoformat()})
    assert str(run.state) == "success"
    result = _xcom(run, "handoff_week")
    assert (result["week"], result["cases"], result["refused"], result["handed_over"]) == ("2026-W51", 1, 1, 1)
    assert status(home, "H-1") == ("HANDED_OVER", MONDAY)
    again = load_dag("court_handoff").test(run_conf={"as_of": MONDAY.isoformat()})
    assert (_xcom(again, "handoff_week")["chosen_before"], _xcom(again, "handoff_week")["handed_over"]) == (True, 0)
