"""
### payment_reconciliation

Every 15 minutes (and on demand): the bank's new files taken, their payments matched to cases
and allocated, or parked (formats.md §2, §3.3).

* `take_bank_files` takes each complete file of the bank's inbox once and stores each payment
  once by the bank's own key (a statement again, or overlapping ones, add nothing); and each
  partner's remittances, allocated by their parts and answered with a receipt.
* `judge_payments` matches every payment not judged yet (reference, text, amount and name),
  allocates the matched ones per creditor under the creditor's lock, and parks the rest with
  the reason.
* `send_reports` puts `reconciliation_<date>.csv` into finance's outbox for every day that is
  over (the first run after midnight sends yesterday's); `close_day: true` sends the business
  date's as well. A payment judged after its day's report went out is on the next day's.

Business date: the `as_of` param (YYYY-MM-DD) when given, else the run's date in Copenhagen.
Tasks pass counts and file names only; no personal data goes through XCom.
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task

from pipeline.runs import RETRY_POLICY, business_date


def _as_of(context):
    return business_date(context["params"].get("as_of"), context["dag_run"].run_after)


@dag(
    schedule="*/15 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Copenhagen"),
    catchup=False,
    max_active_runs=1,
    default_args=RETRY_POLICY,
    params={"as_of": None, "close_day": False},
    tags=["inkasso", "reconciliation"],
    doc_md=__doc__,
)
def payment_reconciliation():
    @task
    def take_bank_files() -> int:
        from pipeline.config import Settings
        from pipeline.stages import reconcile

        context = get_current_context()
        settings, as_of, run_id = Settings.from_env(), _as_of(context), context["run_id"]
        taken = reconcile.take_bank_files(settings, as_of, run_id) + reconcile.take_partner_files(settings, as_of,
                                                                                                   run_id)
        return sum(one.record is not None and not one.seen_before for one in taken)

    @task
    def judge_payments(files: int) -> dict:
        from pipeline.config import Settings
        from pipeline.stages import reconcile

        context = get_current_context()
        return dict(files=files, **reconcile.judge_payments(Settings.from_env(), _as_of(context), context["run_id"]))

    @task
    def send_reports(counts: dict) -> dict:
        from pipeline.config import Settings
        from pipeline.stages import reconcile

        context = get_current_context()
        as_of = _as_of(context)
        through = as_of if context["params"].get("close_day") else as_of - timedelta(days=1)
        reports = reconcile.send_reports(Settings.from_env(), through)
        print(f"payment_reconciliation: {counts}, reports {reports}")
        return dict(counts, reports=len(reports))

    send_reports(judge_payments(take_bank_files()))


payment_reconciliation_dag = payment_reconciliation()
