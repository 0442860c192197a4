"""Rules of law and commerce as versioned data tables (`tables/*.csv`, each row with its source).

A claim is judged by the version in force on its own date: the row with the
latest ``valid_from`` on or before that date; a claim older than every version
is judged by the oldest one.
"""
from __future__ import annotations

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


def in_force(table: pd.DataFrame, rows: pd.DataFrame, keys: dict[str, str], on: str) -> pd.DataFrame:
    """For each of ``rows``, the table row in force on ``rows[on]`` whose key columns equal the row's.

    ``keys`` maps a table column to the row column it must equal. Rows with no
    matching key get empty values (NaN).
    """
    result = pd.DataFrame(index=rows.index, columns=table.columns, dtype=object)
    for key, versions in table.groupby(list(keys)):
        versions = versions.sort_values("valid_from")
        mask = np.ones(len(rows), dtype=bool)
        for row_column, value in zip(keys.values(), key):
            mask &= (rows[row_column] == value).to_numpy()
        if not mask.any():
            continue
        dates = rows.loc[mask, on].to_numpy(dtype="datetime64[s]")
        position = np.searchsorted(versions["valid_from"].to_numpy(), dates, side="right") - 1
        result.loc[mask] = versions.iloc[position.clip(0)].to_numpy()
    return result
