"""Model signatures: the input columns (or tensor shape) and output a model expects.

Inferred from an input example at registration; checked on every ``predict`` so a missing
or mistyped column fails with its name instead of deep inside a model library.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from headway._tabular import BOOLEAN, DATETIME, FLOAT, INTEGER, STRING, is_table, kind_of, to_pandas
from headway.errors import InvalidArgumentError, SignatureError

__all__ = ["conform", "infer_signature"]

# What an input column of one kind may hold and still be fed to the model.
_ACCEPTS = {
    FLOAT: {FLOAT, INTEGER, BOOLEAN},
    INTEGER: {INTEGER, BOOLEAN},
    BOOLEAN: {BOOLEAN},
    STRING: {STRING},
    DATETIME: {DATETIME},
}


def infer_signature(example: Any, output: Any = None) -> dict[str, Any]:
    """A JSON-ready signature from an input example and, optionally, the model's output."""
    signature: dict[str, Any] = {"inputs": _spec(example)}
    if output is not None:
        signature["outputs"] = _spec(output)
    return signature


def _spec(data: Any) -> dict[str, Any]:
    if is_table(data):
        df = to_pandas(data)
        return {
            "type": "columns",
            "columns": [{"name": str(c), "type": kind_of(df[c])} for c in df.columns],
        }
    if isinstance(data, pd.Series):
        return {"type": "columns", "columns": [{"name": str(data.name), "type": kind_of(data)}]}
    array = np.asarray(data)
    if array.dtype == object:
        raise InvalidArgumentError(
            f"cannot infer a signature from {type(data).__name__} of Python objects; pass a "
            "table (pandas, polars, pyarrow) or a numeric NumPy array as input_example"
        )
    return {"type": "tensor", "dtype": str(array.dtype), "shape": [-1, *array.shape[1:]]}


def conform(data: Any, signature: dict[str, Any] | None) -> Any:
    """Check ``data`` against the signature's inputs and return it ready for the model.

    Tables come back as a pandas DataFrame with exactly the signature's columns, in order,
    with numeric columns widened where the signature allows; tensors as NumPy arrays.
    """
    if signature is None:
        return to_pandas(data) if is_table(data) else data
    spec = signature["inputs"]
    if spec["type"] == "tensor":
        return _conform_tensor(data, spec)
    if not is_table(data):
        raise SignatureError(
            f"this model takes a table with columns {[c['name'] for c in spec['columns']]}, "
            f"got {type(data).__name__}; pass a pandas, polars or pyarrow table"
        )
    df = to_pandas(data)
    names = [c["name"] for c in spec["columns"]]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise SignatureError(
            f"input is missing column(s) {missing} that the model needs; it expects {names}"
        )
    wrong = []
    out = {}
    for col in spec["columns"]:
        series = df[col["name"]]
        got, want = kind_of(series), col["type"]
        if got != want and got not in _ACCEPTS.get(want, {want}):
            wrong.append(f"{col['name']!r} should be {want} but is {got}")
        elif got != want and want == FLOAT:
            series = series.astype("float64")
        out[col["name"]] = series
    if wrong:
        raise SignatureError(
            f"input has mistyped column(s): {'; '.join(wrong)}; convert "
            "them to the types the model was registered with"
        )
    return pd.DataFrame(out, index=df.index)


def _conform_tensor(data: Any, spec: dict[str, Any]) -> np.ndarray:
    array = to_pandas(data).to_numpy() if is_table(data) else np.asarray(data)
    want = spec["shape"][1:]
    if list(array.shape[1:]) != want:
        raise SignatureError(
            f"input has shape {list(array.shape)} but the model expects "
            f"[rows, {', '.join(map(str, want))}]"
        )
    try:
        return array.astype(spec["dtype"], copy=False)
    except (TypeError, ValueError) as exc:
        raise SignatureError(
            f"input of dtype {array.dtype} cannot be used as {spec['dtype']}: {exc}"
        ) from exc
