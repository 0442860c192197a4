"""
### court_handoff

Mondays at 06:00 Copenhagen time (and on demand): the week's court handoff (formats.md §3.1).

One task, `handoff_week`, runs `pipeline.stages.handoff`: every case approved for court is
judged once a week (the eligible go into their partner's batch, amounts brought to the week's
Monday; the others stay with their reasons); each batch's CSV and then its manifest go to the
partner's outbox, each creditor's `handoff_report_<YYYY>W<WW>.csv` to its outbox; the batch's
cases become HANDED_OVER once both files are out. A retry or a second run of the week writes the
same bytes and hands no case over twice.

Business date: the `as_of` param (YYYY-MM-DD) when given, else the run's date in Copenhagen; the
`week` param (YYYY-Www) runs a past week. Tasks pass counts and file names only.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from pipeline.runs import RETRY_POLICY, business_date


@dag(
    schedule="0 6 * * 1",
    start_date=pendulum.datetime(2026, 1, 5, tz="Europe/Copenhagen"),
    catchup=False,
    max_active_runs=1,
    default_args=RETRY_POLICY,
    params={"as_of": None, "week": None},
    tags=["inkasso", "handoff"],
    doc_md=__doc__,
)
def court_handoff():
    @task
    def handoff_week() -> dict:
        from pipeline.config import Settings
        from pipeline.stages import handoff

        context = get_current_context()
        as_of = business_date(context["params"].get("as_of"), context["dag_run"].run_after)
        result = handoff.run(Settings.from_env(), as_of, context["run_id"], context["params"].get("week"))
        print(f"court_handoff: {result}")
        return result

    handoff_week()


court_handoff_dag = court_handoff()
