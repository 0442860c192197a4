"""The payment_reconciliation DAG run by Airflow itself (`dag.test()`): a bank file taken, its payments judged,
the day's report sent; a second run changes nothing."""
from __future__ import annotations

import pytest

from pipeline.airflow_runner import load_dag
from tests.airflow.test_creditor_ingest_dag import _xcom
from tests.conftest import AS_OF, read_receipt
from tests.integration.test_bank_payments import camt, drop_bank, entry
from tests.integration.test_lifecycle import RATES, claims
from tests.integration.test_reconciliation import case_of

pytestmark = pytest.mark.airflow


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bank_file_is_reconciled_and_the_closed_day_reported_once(airflow_home, settings):
    (settings.home / "rates.csv").write_text(RATES, encoding="utf-8")
    claims(settings, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,")
    _, reference = case_of(settings, "A-1")
    drop_bank(settings, "stmt.xml", camt("053", "S1", entry("E1", "2028.41", reference),
                                         entry("E2", "10.00", text="?", payer="Someone")))
    conf = {"as_of": AS_OF.isoformat(), "close_day": True}
    dag_run = load_dag("payment_reconciliation").test(run_conf=conf)
    assert str(dag_run.state) == "success"
    assert _xcom(dag_run, "send_reports") == {"files": 1, "payments": 2, "matched": 1, "parked": 1, "reports": 1}
    lines = read_receipt(settings.home / "finance" / "outbox" / f"reconciliation_{AS_OF}.csv")
    assert [(line["rule"], line["amount"], line["parked_reason"]) for line in lines] == [
        ("REFERENCE", "2028.41", ""), ("", "10.00", "NO_REFERENCE"), ("", "2038.41", "")]

    again = load_dag("payment_reconciliation").test(run_conf=conf)
    assert _xcom(again, "send_reports") == {"files": 0, "payments": 0, "matched": 0, "parked": 0, "reports": 0}


def test_the_bank_files_are_taken_every_15_minutes_and_missed_runs_are_not_caught_up(airflow_home):
    from airflow.sdk import CronTriggerTimetable

    dag = load_dag("payment_reconciliation")
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert (dag.timetable.expression, dag.timetable.timezone.name, dag.catchup) == (
        "*/15 * * * *", "Europe/Copenhagen", False)
