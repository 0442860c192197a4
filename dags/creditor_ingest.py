"""
### creditor_ingest

Every 15 minutes (and on demand): for each creditor with complete files in its inbox,
one mapped task takes the files, validates every row, opens or extends collection
cases and writes a receipt per file to the creditor's outbox (formats.md §1).

* `find_creditors` prepares the pass once (folders, scratch, creditors in the ledger) and
  lists the creditors with files waiting (none: the run skips).
* `ingest_creditor` (one per creditor, named after it) runs `pipeline.stages.ingest`; each
  file is processed exactly once, so retries after a fault are safe.
* `report` adds up the counts for the run.

Business date: the `as_of` param (YYYY-MM-DD) when given, else the run's date in
Copenhagen. Tasks pass counts and the receipts' names only; no personal data goes through XCom.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import dag, get_current_context, task

from pipeline.runs import RETRY_POLICY, business_date


@dag(
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args=RETRY_POLICY,
    params={"as_of": None},
    tags=["inkasso", "ingest"],
    doc_md=__doc__,
)
def creditor_ingest():
    @task
    def find_creditors() -> list[str]:
        from pipeline.config import Settings
        from pipeline.stages import ingest

        return ingest.creditors_with_files(Settings.from_env())

    @task(map_index_template="{{ creditor_id }}")
    def ingest_creditor(creditor_id: str) -> dict:
        from pipeline.config import Settings
        from pipeline.stages import ingest

        context = get_current_context()
        context["creditor_id"] = creditor_id
        as_of = business_date(context["params"].get("as_of"), context["dag_run"].run_after)
        return ingest.run_creditor(Settings.from_env(), as_of, context["run_id"], creditor_id)

    @task
    def report(results: list[dict]) -> dict:
        totals: dict[str, int] = {}
        for result in results[:]:  # one read of every mapped result (iterating asks for one past the last)
            for key, value in result.items():
                if isinstance(value, int):
                    totals[key] = totals.get(key, 0) + value
        print(f"creditor_ingest totals: {totals}")
        return totals

    report(ingest_creditor.expand(creditor_id=find_creditors()))


creditor_ingest_dag = creditor_ingest()
