"""
### settlement

Tuesdays at 07:00 Copenhagen time, after Monday's court handoff (and on demand): the week that
ended on Sunday settled with every creditor (formats.md §3.2).

One task, `settle_week`, runs `pipeline.stages.settle`: every allocation not settled yet (however
late it was reconciled), every direct payment and every withdrawal fee goes into exactly one
settlement per creditor and currency, by the creditor's fee plan (commission, the aged surcharge,
the court partner's terms, VAT), with a negative net carried or invoiced, never paid. Finance
gets `settlement_lines_<period>.csv` and `.parquet`, `settlement_summary_<period>.csv` and
`payouts_<period>.xml` (pain.001, checked against its XSD before it is written). A retry or a
second run of the week writes the same bytes and pays nothing twice.

Business date: the `as_of` param (YYYY-MM-DD) when given, else the run's date in Copenhagen; the
`period` param (YYYY-Www) settles a given week. The task's result is the summary per currency
(collected, commission, VAT, payouts); no personal data goes through XCom.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from pipeline.runs import RETRY_POLICY, business_date


@dag(
    schedule="0 7 * * 2",
    start_date=pendulum.datetime(2026, 1, 6, tz="Europe/Copenhagen"),
    catchup=False,
    max_active_runs=1,
    default_args=RETRY_POLICY,
    params={"as_of": None, "period": None},
    tags=["inkasso", "settlement"],
    doc_md=__doc__,
)
def settlement():
    @task
    def settle_week() -> dict:
        from pipeline.config import Settings
        from pipeline.stages import settle

        context = get_current_context()
        as_of = business_date(context["params"].get("as_of"), context["dag_run"].run_after)
        result = settle.run(Settings.from_env(), as_of, context["run_id"], context["params"].get("period"))
        print(f"settlement: {result}")
        return result

    settle_week()


settlement_dag = settlement()
