"""Tables in, pandas out: the one place that knows pandas, polars, pyarrow and NumPy inputs.

Public APIs accept any of them; this module turns them into a pandas DataFrame (what
scikit-learn-style models expect) and describes their columns with one small vocabulary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from headway.errors import InvalidArgumentError

__all__ = ["column_types", "is_table", "kind_of", "table_digest", "to_pandas"]

# Column kinds: the words a signature, a dataset record and an error message use.
INTEGER, FLOAT, BOOLEAN, STRING, DATETIME = "integer", "float", "boolean", "string", "datetime"


def is_table(obj: Any) -> bool:
    module = type(obj).__module__
    return isinstance(obj, pd.DataFrame | pa.Table | pa.RecordBatch) or (
        module.startswith("polars") and hasattr(obj, "to_pandas")
    )


def to_pandas(table: Any) -> pd.DataFrame:
    """A pandas DataFrame view of a pandas, polars or pyarrow table, or a dict of columns."""
    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, pa.Table | pa.RecordBatch):
        return table.to_pandas()
    if type(table).__module__.startswith("polars") and hasattr(table, "to_pandas"):
        return table.to_pandas()
    if isinstance(table, Mapping):
        return pd.DataFrame(dict(table))
    raise InvalidArgumentError(
        f"expected a table (pandas, polars or pyarrow) but got {type(table).__name__}; "
        "convert it with pandas.DataFrame(...) first"
    )


def kind_of(series: pd.Series) -> str:
    """The column kind of a pandas column."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return kind_of(pd.Series(dtype.categories))
    if pd.api.types.is_bool_dtype(dtype):
        return BOOLEAN
    if pd.api.types.is_integer_dtype(dtype):
        return INTEGER
    if pd.api.types.is_float_dtype(dtype):
        return FLOAT
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return DATETIME
    if pd.api.types.is_string_dtype(dtype):
        sample = series.dropna().head(1000)
        inferred = pd.api.types.infer_dtype(sample, skipna=True) if len(sample) else "string"
        return {
            "boolean": BOOLEAN,
            "integer": INTEGER,
            "floating": FLOAT,
            "datetime": DATETIME,
        }.get(inferred, STRING)
    return str(dtype)


def column_types(df: pd.DataFrame) -> list[dict[str, str]]:
    return [{"name": str(name), "type": kind_of(df[name])} for name in df.columns]


def table_digest(df: pd.DataFrame) -> str:
    """sha256 over the column names, kinds and a vectorised hash of every row."""
    digest = hashlib.sha256()
    digest.update(repr(column_types(df)).encode())
    rows = pd.util.hash_pandas_object(df, index=False).to_numpy()
    digest.update(np.ascontiguousarray(rows).tobytes())
    return digest.hexdigest()


def array_digest(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
