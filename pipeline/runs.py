"""How a run is started, the same for every DAG and every command: the business date and the retries.

The business date of a run is the ``as_of`` it is given (a DAG param, ``inkasso … --as-of``), else the
day the run is for in Copenhagen: a run after midnight UTC is still the Danish day, whatever the machine's
zone. Logic below the stages never asks the clock for a date.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

BUSINESS_ZONE = ZoneInfo("Europe/Copenhagen")


class StageRefused(Exception):
    """A stage will not run as asked (a day out of order, say): the command line says why in one line."""

# Airflow's default_args for every task: transient faults (a dropped SFTP line, a busy database) retried
# with exponential back-off; the stages themselves are exactly once, so a retry is always safe
RETRY_POLICY = {"retries": 3, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": 2.0,
                "max_retry_delay": timedelta(minutes=10)}


def business_date(given: str | date | None, run_after: datetime) -> date:
    """``given`` (YYYY-MM-DD) when there is one, else the date of ``run_after`` in Copenhagen."""
    if given:
        return given if isinstance(given, date) else date.fromisoformat(str(given))
    return run_after.astimezone(BUSINESS_ZONE).date()


def today() -> date:
    """Today in Copenhagen: the command line's default business date."""
    return business_date(None, datetime.now(timezone.utc))


def command_run_id(command: str) -> str:
    """A run id for a command-line run, as Airflow's are for DAG runs."""
    return f"cli__{command}__{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
