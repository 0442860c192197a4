"""The settlement DAG run by Airflow itself (`dag.test()`): the week settled once, its summary the task's result."""
from __future__ import annotations

import pytest

from pipeline.airflow_runner import load_dag
from pipeline.stages import reconcile
from tests.airflow.test_creditor_ingest_dag import _xcom
from tests.conftest import AS_OF
from tests.integration.test_bank_payments import camt, drop_bank, entry
from tests.integration.test_lifecycle import claims
from tests.integration.test_reconciliation import case_of
from tests.integration.test_settlement import TUESDAY, home  # noqa: F401  (home is a fixture)

pytestmark = pytest.mark.airflow


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_week_is_settled_once_and_its_summary_is_the_result(airflow_home, home):  # noqa: F811
    """A-1 paid 528.41 on 11-24: 28.41 interest (ours), 500.00 principal: 10 % 50.00, VAT 12.50, 437.50 paid."""
    claims(home, "acme", "A-1,2026-09-01,2026-10-01,2000.00,DKK,D1,consumer,Jens Hansen,Vej 1,2100,Kbh Ø,DK,,")
    _, reference = case_of(home, "A-1")
    drop_bank(home, "stmt.xml", camt("053", "S1", entry("E1", "528.41", reference)))
    reconcile.run(home, AS_OF, "rec-1", settle_seconds=0)
    run = load_dag("settlement").test(run_conf={"as_of": TUESDAY.isoformat()})
    assert str(run.state) == "success"
    result = _xcom(run, "settle_week")
    assert (result["period"], result["settlements"], result["lines"], result["payouts"]) == ("2026-W48", 1, 1, 1)
    assert result["totals"] == {"DKK": dict(collected="528.41", commission="50.00", vat="12.50", payouts="437.50")}
    assert (home.home / "finance" / "outbox" / "payouts_2026-W48.xml").exists()
    again = load_dag("settlement").test(run_conf={"period": "2026-W48"})
    assert (_xcom(again, "settle_week")["settled_before"], _xcom(again, "settle_week")["totals"]) == (
        True, result["totals"])


def test_the_week_is_settled_on_tuesdays_at_seven_copenhagen_time_and_missed_weeks_are_not_caught_up(airflow_home):
    from airflow.sdk import CronTriggerTimetable

    dag = load_dag("settlement")
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert (dag.timetable.expression, dag.timetable.timezone.name, dag.catchup) == (
        "0 7 * * 2", "Europe/Copenhagen", False)
