"""
### case_lifecycle

Every day at 05:00 Copenhagen time (and on demand): the daily pass over every open case
(rules.md "The collection process"): interest to the day, the next step of each claim
with its letter and lawful charges, the time bar watch, cases paid or time-barred closed.

* `find_creditors` prepares the day once (the migrated ledger, the reference rates) and lists
  the creditors.
* `lifecycle_creditor` (one per creditor, named after it) runs `pipeline.stages.lifecycle` for
  the creditor in one transaction and puts its `status_<date>.csv` into its outbox. A day runs
  once per creditor: a retry or a second run of the same day changes nothing.
* `send_letters` puts the day's letters of every creditor into the letters outbox, once all ran.
* `report` adds up the counts for the run.

Business date: the `as_of` param (YYYY-MM-DD) when given, else the run's date in Copenhagen.
Tasks pass counts and file names only; no personal data goes through XCom.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from pipeline.runs import RETRY_POLICY, business_date


def _as_of(context):
    return business_date(context["params"].get("as_of"), context["dag_run"].run_after)


@dag(
    schedule="0 5 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Copenhagen"),
    catchup=False,
    max_active_runs=1,
    default_args=RETRY_POLICY,
    params={"as_of": None},
    tags=["inkasso", "lifecycle"],
    doc_md=__doc__,
)
def case_lifecycle():
    @task
    def find_creditors() -> list[str]:
        from pipeline.config import Settings
        from pipeline.stages import lifecycle

        return lifecycle.creditors(Settings.from_env())

    @task(map_index_template="{{ creditor_id }}")
    def lifecycle_creditor(creditor_id: str) -> dict:
        from pipeline.config import Settings
        from pipeline.stages import lifecycle

        context = get_current_context()
        context["creditor_id"] = creditor_id
        return lifecycle.run_creditor(Settings.from_env(), _as_of(context), context["run_id"], creditor_id)

    @task
    def send_letters(results: list[dict]) -> list[str]:
        from pipeline.config import Settings
        from pipeline.stages import lifecycle

        return lifecycle.deliver_letters(Settings.from_env(), _as_of(get_current_context()))

    @task
    def report(results: list[dict], letter_files: list[str]) -> dict:
        totals: dict[str, int] = {}
        for result in results[:]:  # one read of every mapped result (iterating asks for one past the last)
            for key, value in result.items():
                totals[key] = totals.get(key, 0) + value
        totals["letter_files"] = len(letter_files)
        print(f"case_lifecycle totals: {totals}")
        return totals

    days = lifecycle_creditor.expand(creditor_id=find_creditors())
    report(days, send_letters(days))


case_lifecycle_dag = case_lifecycle()
