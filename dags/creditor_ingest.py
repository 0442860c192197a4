"""
### creditor_ingest

Every 15 minutes (and on demand): for each creditor with complete files in its inbox,
one mapped task takes the files, validates every row, opens or extends collection
cases and writes a receipt per file to the creditor's outbox (formats.md §1).

* `find_creditors` lists the creditors with files waiting (none: the run skips).
* `ingest_creditor` (one per creditor, named after it) runs `pipeline.ingest`; each file
  is processed exactly once, so retries after a fault are safe.
* `report` adds up the counts for the run.

Business date: the `as_of` param (YYYY-MM-DD) when given, else the run's date in
Copenhagen. Tasks pass counts only; no personal data goes through XCom.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import dag, get_current_context, task


def _business_date(context):
    from datetime import date
    from zoneinfo import ZoneInfo

    given = context["params"].get("as_of")
    if given:
        return date.fromisoformat(str(given))
    return context["dag_run"].run_after.astimezone(ZoneInfo("Europe/Copenhagen")).date()


@dag(
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": 2.0,
                  "max_retry_delay": timedelta(minutes=10)},
    params={"as_of": None},
    tags=["inkasso", "ingest"],
    doc_md=__doc__,
)
def creditor_ingest():
    @task
    def find_creditors() -> list[str]:
        from pipeline.config import Settings
        from pipeline.ingest import creditors_with_files

        return creditors_with_files(Settings.from_env())

    @task(map_index_template="{{ creditor_id }}")
    def ingest_creditor(creditor_id: str) -> dict:
        from pipeline.config import Settings
        from pipeline.ingest import run_ingest

        context = get_current_context()
        context["creditor_id"] = creditor_id
        counts = run_ingest(Settings.from_env(), _business_date(context), context["run_id"], creditor_id)
        return {key: value for key, value in counts.to_dict().items() if key != "receipts"}

    @task
    def report(results: list[dict]) -> dict:
        totals: dict[str, int] = {}
        for result in results[:]:
            for key, value in result.items():
                totals[key] = totals.get(key, 0) + value
        print(f"creditor_ingest totals: {totals}")
        return totals

    report(ingest_creditor.expand(creditor_id=find_creditors()))


creditor_ingest_dag = creditor_ingest()
