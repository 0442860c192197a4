"""The creditor_ingest DAG run by Airflow itself (`dag.test()`) on a throwaway AIRFLOW_HOME,
and every DAG file parsed by Airflow's DagBag quickly and without errors."""
from __future__ import annotations

import os

import pytest

from pipeline.airflow_runner import DAGS_FOLDER, load_dag
from tests.conftest import AS_OF, drop, read_receipt, receipts

pytestmark = pytest.mark.airflow
HEADER = ("invoice_number,invoice_date,due_date,amount,debtor_id,debtor_type,debtor_name,debtor_address_line1,"
          "debtor_postcode,debtor_city,debtor_country\n")


def _task_states(dag_run) -> dict:
    from airflow.utils.session import create_session

    with create_session() as session:
        instances = dag_run.get_task_instances(session=session)
        return {(ti.task_id, ti.rendered_map_index or ti.map_index): str(ti.state) for ti in instances}


def _xcom(dag_run, task_id, map_index: int = -1):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id,
                                   map_indexes=map_index)
        row = session.execute(query.with_only_columns(XComModel.value)).first()
        return XComModel.deserialize_value(row)


def test_dag_ingests_each_creditor_with_files_in_its_own_mapped_task(airflow_home, settings):
    drop(settings, "acme", "a.csv", HEADER + "A-1,2026-05-01,2026-05-31,2500.00,K1,consumer,Jens Hansen,Vej 1,2100,København,DK\n"
                                            "A-2,2026-05-01,2026-05-31,0.00,K2,consumer,Eva Holm,Vej 2,2100,København,DK\n")
    drop(settings, "svea", "s.csv", HEADER + "S-1,2026-05-01,2026-05-31,3000.00,K1,consumer,Per Berg,Gata 1,11122,Stockholm,SE\n")
    dag = load_dag("creditor_ingest")
    dag_run = dag.test(run_conf={"as_of": AS_OF.isoformat()})

    assert str(dag_run.state) == "success"
    states = _task_states(dag_run)
    assert states[("ingest_creditor", "acme")] == "success"
    assert states[("ingest_creditor", "svea")] == "success"
    assert ("ingest_creditor", "dansk") not in states
    assert _xcom(dag_run, "report") == {"files": 2, "files_rejected": 0, "files_seen_before": 0,
                                        "rows": 3, "rows_taken": 2, "rows_rejected": 1, "cases_opened": 2}
    [acme_receipt] = receipts(settings, "acme")
    assert _xcom(dag_run, "ingest_creditor", map_index=0) == {  # the stage's result, unchanged
        "files": 1, "files_rejected": 0, "files_seen_before": 0, "rows": 2, "rows_taken": 1, "rows_rejected": 1,
        "cases_opened": 1, "receipts": [acme_receipt.name]}
    acme = read_receipt(acme_receipt)
    assert [(r["invoice_number"], r["outcome"]) for r in acme] == [("A-1", "ACCEPTED"), ("A-2", "BAD_AMOUNT"),
                                                                   ("", "SUMMARY")]
    assert len(receipts(settings, "svea")) == 1

    again = load_dag("creditor_ingest").test(run_conf={"as_of": AS_OF.isoformat()})
    assert str(again.state) == "success"
    assert _task_states(again)[("ingest_creditor", -1)] == "skipped"  # nothing waiting: no mapped task
    assert len(receipts(settings, "acme")) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dag_ingests_over_sftp_with_its_connection_from_the_environment(sftp_settings, sftp_server):
    """The same DAG, unchanged, with `[transport] creditors = sftp` and AIRFLOW_CONN_CREDITORS_SFTP set:
    a creditor's upload on a real sshd is taken and its receipt appears in its outbox on that server."""
    sftp_server.upload("creditors/svea/inbox/s.csv", HEADER + "S-1,2026-05-01,2026-05-31,3000.00,K1,consumer,"
                                                              "Per Berg,Gata 1,11122,Stockholm,SE\n")
    dag_run = load_dag("creditor_ingest").test(run_conf={"as_of": AS_OF.isoformat()})

    assert str(dag_run.state) == "success"
    assert _task_states(dag_run)[("ingest_creditor", "svea")] == "success"
    assert _xcom(dag_run, "report")["rows_taken"] == 1
    assert sftp_server.listdir("creditors/svea/inbox") == []
    (receipt,) = sftp_server.listdir("creditors/svea/outbox")
    lines = sftp_server.download(f"creditors/svea/outbox/{receipt}").decode().splitlines()
    assert lines[1].startswith("2,S-1,ACCEPTED,,")


def test_every_dag_file_parses_without_errors_in_well_under_a_second(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    assert "creditor_ingest" in bag.dag_ids
    files = sorted(path.name for path in DAGS_FOLDER.glob("*.py"))
    assert sorted(os.path.basename(stat.file) for stat in bag.dagbag_stats) == files
    for stat in bag.dagbag_stats:
        assert stat.duration.total_seconds() < 0.5, stat
