"""Storage formats of step outputs: safe formats first, cloudpickle only as a last resort.

Each value is stored in the first format that takes it and round-trips it:

========== ================================================= =========================
format     values                                            reading runs code?
========== ================================================= =========================
json       None, bool, int, float, str, lists and str-keyed  no
           dicts of those
npy        NumPy arrays and scalars (not object dtype),      no (``allow_pickle=False``)
           read back with ``allow_pickle=False``
parquet    pandas DataFrames and Series, pyarrow Tables,     no
           polars DataFrames
skops      scikit-learn estimators (the registry's flavor)   no, for trusted types
cloudpickle anything else                                    yes
========== ================================================= =========================

cloudpickle bytes are only ever read back by Headway for outputs a pipeline wrote itself,
after the blob's bytes were checked against the sha256 recorded for the step in the
ledger: a pipeline trusts its own outputs, never a file from elsewhere.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from headway._tabular import array_digest

__all__ = ["EXTENSIONS", "Encoded", "decode", "digest", "encode"]

EXTENSIONS = {
    "json": "json",
    "npy": "npy",
    "npy-scalar": "npy",
    "parquet-pandas": "parquet",
    "parquet-series": "parquet",
    "parquet-arrow": "parquet",
    "parquet-polars": "parquet",
    "skops": "skops",
    "cloudpickle": "cloudpickle",
}
_SERIES_NAME = b"headway.series_name"
_SERIES_COLUMN = "__series__"
_SCALARS = (type(None), bool, int, float, str)
# Errors that mean "this format cannot hold this value": try the next one.
_UNFIT = (TypeError, ValueError, OverflowError, pa.ArrowException, NotImplementedError)


@dataclass(frozen=True)
class Encoded:
    """A value as bytes, with the name of the format that reads it back."""

    format: str
    data: bytes


def encode(value: Any) -> Encoded:
    """The value in the first format that accepts it (see the module's table)."""
    for name, accepts, write in _WRITERS:
        if accepts(value):
            try:
                return Encoded(name, write(value))
            except _UNFIT:
                continue
    return Encoded("cloudpickle", cloudpickle.dumps(value))


def decode(encoded: Encoded) -> Any:
    """The value back. Only call it on bytes whose sha256 was checked (cloudpickle runs code)."""
    reader = _READERS.get(encoded.format)
    if reader is None:
        raise ValueError(
            f"unknown step output format {encoded.format!r}; it was written by a newer Headway"
        )
    return reader(encoded.data)


def digest(value: Any) -> str:
    """A content digest of a parameter value, for cache keys: canonical JSON as is, arrays
    by their dtype, shape and bytes, anything else by the bytes it would be stored as
    (a table's index and dtypes count, so two tables that differ anywhere never match)."""
    if _is_json(value):
        return "json:" + json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, np.ndarray) and value.dtype != object:
        return "array:" + array_digest(value)
    encoded = encode(value)
    return f"{encoded.format}:" + hashlib.sha256(encoded.data).hexdigest()


# -- json ----------------------------------------------------------------------------------


def _is_json(value: Any) -> bool:
    """Exactly JSON's types (not subclasses such as numpy.float64), so nothing changes type."""
    kind = type(value)
    if kind in _SCALARS:
        return kind is not float or math.isfinite(value)
    if kind is list:
        return all(_is_json(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _is_json(v) for k, v in value.items())
    return False


def _write_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# -- numpy ---------------------------------------------------------------------------------


def _write_npy(value: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(value), allow_pickle=False)
    return buf.getvalue()


def _read_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def _read_npy_scalar(data: bytes) -> Any:
    return _read_npy(data)[()]


# -- tables --------------------------------------------------------------------------------


def _write_parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _read_parquet(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data))


def _write_pandas(df: pd.DataFrame) -> bytes:
    return _write_parquet(pa.Table.from_pandas(df))


def _write_series(series: pd.Series) -> bytes:
    name = json.dumps(series.name).encode()  # a name JSON cannot hold is unfit: TypeError
    table = pa.Table.from_pandas(series.to_frame(_SERIES_COLUMN))
    metadata = {**(table.schema.metadata or {}), _SERIES_NAME: name}
    return _write_parquet(table.replace_schema_metadata(metadata))


def _read_series(data: bytes) -> pd.Series:
    table = _read_parquet(data)
    name = json.loads(table.schema.metadata[_SERIES_NAME])
    return table.to_pandas()[_SERIES_COLUMN].rename(name)


def _is_polars(value: Any) -> bool:
    return type(value).__module__.startswith("polars") and type(value).__name__ == "DataFrame"


def _write_polars(df: Any) -> bytes:
    return _write_parquet(df.to_arrow())


def _read_polars(data: bytes) -> Any:
    import polars

    return polars.from_arrow(_read_parquet(data))


# -- scikit-learn --------------------------------------------------------------------------


def _is_sklearn(value: Any) -> bool:
    from headway.registry.flavors.sklearn import SklearnFlavor

    return SklearnFlavor().accepts(value)


def _write_skops(model: Any) -> bytes:
    from headway.registry.flavors.sklearn import FILE, SklearnFlavor

    with tempfile.TemporaryDirectory(prefix="headway-step-") as tmp:
        SklearnFlavor().save(model, Path(tmp))
        return (Path(tmp) / FILE).read_bytes()


def _read_skops(data: bytes) -> Any:
    from headway.registry.flavors import Trust
    from headway.registry.flavors.sklearn import FILE, SklearnFlavor

    with tempfile.TemporaryDirectory(prefix="headway-step-") as tmp:
        (Path(tmp) / FILE).write_bytes(data)
        # The pipeline wrote these bytes and their sha256 was checked: its own types load.
        return SklearnFlavor().load(Path(tmp), {"file": FILE}, Trust(trusted=True))


_WRITERS = (
    ("json", _is_json, _write_json),
    ("npy", lambda v: isinstance(v, np.ndarray) and v.dtype != object, _write_npy),
    ("npy-scalar", lambda v: isinstance(v, np.generic) and v.dtype != object, _write_npy),
    ("parquet-pandas", lambda v: isinstance(v, pd.DataFrame), _write_pandas),
    ("parquet-series", lambda v: isinstance(v, pd.Series), _write_series),
    ("parquet-arrow", lambda v: isinstance(v, pa.Table), _write_parquet),
    ("parquet-polars", _is_polars, _write_polars),
    ("skops", _is_sklearn, _write_skops),
)
_READERS = {
    "json": lambda data: json.loads(data),
    "npy": _read_npy,
    "npy-scalar": _read_npy_scalar,
    "parquet-pandas": lambda data: _read_parquet(data).to_pandas(),
    "parquet-series": _read_series,
    "parquet-arrow": _read_parquet,
    "parquet-polars": _read_polars,
    "skops": _read_skops,
    "cloudpickle": cloudpickle.loads,
}
