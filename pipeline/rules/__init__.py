"""Rules of law and commerce as versioned data tables (`tables/*.csv`, each row with its source).

A claim is judged by the version in force on its own date: the row with the latest ``valid_from`` on or
before that date. `version_in_force` (one claim) and `in_force` (many, vectorised) find it or raise
`NoRuleInForce`, naming the table, the keys and the date: a value is never carried forward or backward
silently. `without_rule` tells which rows a table has no version for, so that a caller can answer them.
"""
from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

TABLES = Path(__file__).parent / "tables"


@cache
def load_table(name: str) -> pd.DataFrame:
    table = pd.read_csv(TABLES / f"{name}.csv", dtype=str, keep_default_na=False)
    if "valid_from" in table:
        table["valid_from"] = pd.to_datetime(table["valid_from"]).astype("datetime64[s]")
    return table


def in_force(table: pd.DataFrame, name: str, rows: pd.DataFrame, keys: dict[str, str], on: str) -> pd.DataFrame:
    """For each of ``rows``, the row of ``table`` (called ``name``) in force on ``rows[on]`` whose key columns
    equal the row's (``keys`` maps a table column to the row column it must equal).

    A row without one raises `NoRuleInForce`; a caller that may meet such rows finds them first with
    `without_rule`."""
    result = pd.DataFrame(index=rows.index, columns=table.columns, dtype=object)
    found = np.zeros(len(rows), dtype=bool)
    for key, versions in table.groupby(list(keys)):
        versions = versions.sort_values("valid_from")
        mask = np.ones(len(rows), dtype=bool)
        for row_column, value in zip(keys.values(), key):
            mask &= (rows[row_column] == value).to_numpy()
        dates = rows.loc[mask, on].to_numpy(dtype="datetime64[s]")
        position = np.searchsorted(versions["valid_from"].to_numpy(), dates, side="right") - 1
        mask[mask] = position >= 0
        result.loc[mask] = versions.iloc[position[position >= 0]].to_numpy()
        found |= mask
    if not found.all():
        first = rows.iloc[int(np.argmin(found))]
        where = ", ".join(f"{column}={first[row_column]}" for column, row_column in keys.items())
        raise NoRuleInForce(f"{name}: no row for {where} in force on {str(first[on])[:10]}")
    return result


def without_rule(table: pd.DataFrame, rows: pd.DataFrame, keys: dict[str, str], on: str) -> tuple[pd.Series, pd.Series]:
    """Which of ``rows`` no version of ``table`` applies to: (no version for their keys at all, dated before
    the first version for their keys); the second as that first date, NaT where there is one."""
    first = table.groupby(list(keys))["valid_from"].min()
    keyed = pd.MultiIndex.from_arrays([rows[column] for column in keys.values()])
    earliest = pd.Series(first.reindex(keyed).to_numpy(), index=rows.index)
    unknown = earliest.isna()
    early = ~unknown & (rows[on].astype("datetime64[s]") < earliest)
    return unknown, earliest.where(early)


class RuleMissing(LookupError):
    """A rule the run needs is not in the tables: the run stops and says which."""


class NoRuleInForce(RuleMissing):
    """No row of a rule table applies to the keys on the date: the run stops and says which."""


def version_in_force(table: pd.DataFrame, name: str, keys: dict[str, str], on: date) -> pd.Series:
    """The row of ``table`` (called ``name`` in messages) whose columns equal ``keys`` and whose ``valid_from``
    is the latest on or before ``on``."""
    rows = table
    for column, value in keys.items():
        rows = rows[rows[column] == value]
    rows = rows[rows["valid_from"] <= np.datetime64(on, "s")]
    if rows.empty:
        where = ", ".join(f"{column}={value}" for column, value in keys.items())
        raise NoRuleInForce(f"{name}: no row for {where} in force on {on}")
    return rows.loc[rows["valid_from"].idxmax()]
