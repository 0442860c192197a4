"""The case_lifecycle DAG run by Airflow itself (`dag.test()`): a task per creditor, then the day's letters."""
from __future__ import annotations

import pytest

from pipeline.airflow_runner import load_dag
from tests.airflow.test_creditor_ingest_dag import _task_states, _xcom
from tests.conftest import AS_OF, drop, read_receipt, run_ingest
from tests.integration.test_lifecycle import HEADER, RATES

pytestmark = pytest.mark.airflow


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_day_runs_a_task_per_creditor_then_sends_the_letters_and_a_second_run_changes_nothing(airflow_home,
                                                                                                  settings):
    (settings.home / "rates.csv").write_text(RATES, encoding="utf-8")
    drop(settings, "acme", "a.csv", HEADER + "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens,Vej 1,2100,"
                                             "Kbh,DK,,\n")
    drop(settings, "svea", "s.csv", HEADER + "S-1,2026-09-01,2026-10-01,3000.00,SEK,C1,consumer,Eva,Gata 1,11122,"
                                             "Stockholm,SE,,\n")
    run_ingest(settings, AS_OF, "ingest")
    dag_run = load_dag("case_lifecycle").test(run_conf={"as_of": AS_OF.isoformat()})

    assert str(dag_run.state) == "success"
    states = _task_states(dag_run)
    assert {states[("lifecycle_creditor", name)] for name in ("acme", "dansk", "svea")} == {"success"}
    assert states[("send_letters", -1)] == "success"
    assert _xcom(dag_run, "report") == {"creditors": 3, "days_run_before": 0, "claims": 2, "interest_postings": 2,
                                        "letters": 2, "charges": 1, "ready_for_court": 0, "time_bar_near": 0,
                                        "time_barred": 0, "cases_closed": 0, "letter_files": 2}
    letters = read_receipt(settings.home / "letters" / "outbox" / f"letters_{AS_OF}.csv")
    assert [(l["claims"], l["letter_type"]) for l in letters] == [("A-1", "INKASSOVARSEL"), ("S-1", "INKASSOKRAV")]
    assert (settings.home / "creditors" / "svea" / "outbox" / f"status_{AS_OF}.csv").exists()

    again = load_dag("case_lifecycle").test(run_conf={"as_of": AS_OF.isoformat()})
    assert str(again.state) == "success"
    assert _xcom(again, "report")["days_run_before"] == 3 and _xcom(again, "report")["letters"] == 0
