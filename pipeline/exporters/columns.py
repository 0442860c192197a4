"""Whole columns as the files write them, in Arrow compute: a million amounts are a few vectorised passes,
never a million Python strings formatted one by one."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.money import minor_digits


def amount_texts(minor: np.ndarray, currency: np.ndarray) -> pa.Array:
    """Minor units as the files write them (``format_minor``: 1234.50, -0.05), each in its currency's digits."""
    if not len(minor):
        return pa.array([], pa.string())
    digits = np.array([minor_digits(code) for code in currency], dtype=np.int64)
    texts = pa.nulls(len(minor), pa.string())
    for scale in np.unique(digits):
        mask = digits == scale
        cast = pc.cast(exact_decimals(minor[mask], int(scale)), pa.string())
        texts = pc.replace_with_mask(texts, pa.array(mask), cast)
    return texts


def exact_decimals(minor: np.ndarray, scale: int, precision: int = 20) -> pa.Array:
    """The amounts as exact decimals of ``scale`` digits: the minor units are their unscaled values."""
    wide = np.empty((len(minor), 2), dtype=np.int64)
    wide[:, 0] = minor
    wide[:, 1] = np.where(minor < 0, -1, 0)     # the high 64 bits of a 128-bit two's complement
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(minor), [None, pa.py_buffer(wide.tobytes())])


def text_column(values: pd.Series) -> pa.Array:
    """A frame's column as the text of its cells (nulls stay null). Integers stay integers where the driver's
    rows had gaps: pandas makes a column of integers and None a column of floats, and 12 is not "12.0"."""
    if pd.api.types.is_float_dtype(values.dtype):
        values = values.astype("Int64")
    return pa.array(values.astype("string"), pa.string())
