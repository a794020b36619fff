"""Request parsing and response encoding for the prediction server: three wire formats, one table.

The server reads a request body and hands the bytes to one of the ``parse_*`` functions; each
returns :class:`Inputs`, one typed NumPy column per signature column (or one tensor), ready
for micro-batching and for the model. No I/O happens here, so the hot path is easy to measure
and every format goes through the same checks:

* the Open Inference Protocol v2 (KServe v2, Triton, MLServer; ``/v2/models/.../infer``):
  :func:`parse_infer`, :func:`encode_infer`, :func:`model_metadata`, :func:`infer_error`;
* MLflow's scoring format (``/invocations``): :func:`parse_invocations`,
  :func:`encode_invocations`;
* Headway's own ``/predict``: :func:`parse_predict`, and :func:`encode_json` for any answer.

A body either parses or raises :class:`RequestError`, whose ``status`` is the HTTP status to
answer with: 400 when the body is malformed, 415 for an unsupported content type, 422 when it
is well formed but does not fit the model's signature. No other exception escapes a parser,
so a bad request never becomes a 500.

Conventions shared by every format: columns the signature does not name are ignored (clients
often send ids and timestamps along with the features); JSON ``null`` is NaN in a float
column, ``None`` in a string column and NaT in a datetime column, and an error in integer and
boolean columns, which NumPy cannot hold missing values in; integers are fine in float
columns, and floats in integer columns only when they are whole numbers.

Examples
--------
>>> signature = {"inputs": {"type": "columns", "columns": [
...     {"name": "age", "type": "float"}, {"name": "plan", "type": "string"}]}}
>>> request = parse_predict(b'{"age": 41, "plan": "pro", "key": "user-7"}', signature)
>>> request.key, request.inputs.rows, request.inputs.columns["age"]
('user-7', 1, array([41.]))
>>> parse_predict(b'{"age": "old", "plan": "pro"}', signature)
Traceback (most recent call last):
...
headway.serving.codec.RequestError: column 'age' should be float but got string 'old' at row 0; ...
>>> encode_json({"predictions": np.array([0.25, np.nan])})
b'{"predictions":[0.25,null]}'
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import orjson

from headway._tabular import BOOLEAN, DATETIME, FLOAT, INTEGER, STRING
from headway.errors import InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "InferRequest",
    "Inputs",
    "OutputTensor",
    "PredictRequest",
    "RequestError",
    "encode_infer",
    "encode_invocations",
    "encode_json",
    "infer_error",
    "model_metadata",
    "parse_infer",
    "parse_invocations",
    "parse_predict",
]

BAD_REQUEST, UNSUPPORTED_MEDIA_TYPE, UNPROCESSABLE = 400, 415, 422


class RequestError(InvalidArgumentError):
    """A request body the server cannot use; ``status`` is the HTTP status to answer with.

    400: malformed (not JSON, wrong structure, data contradicting its own shape or datatype);
    415: a content type no parser reads; 422: well formed but not what the model's signature
    asks for (missing or mistyped columns, a tensor of the wrong shape).
    """

    def __init__(self, message: str, status: int = BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple[type[RequestError], tuple[str, int]]:
        return type(self), (str(self), self.status)  # keeps the status across processes


# ---------------------------------------------------------------------------------------------
# Value objects


class Inputs:
    """The rows of one request: typed 1-D columns in signature order, or one tensor.

    Columns are float64 (float), int64 (integer), bool (boolean), object holding ``str`` or
    ``None`` (string) and datetime64[ns] (datetime). Two ``Inputs`` are equal when they hold
    the same names, dtypes and values, NaN matching NaN. Treat them as immutable.

    ``matrix``, when set, is a float64 ``[rows, columns]`` array whose columns the
    ``columns`` are views of (the parsers set it when every column is a float): batching
    requests then costs one NumPy call instead of one per column, and the model gets its
    matrix without a copy. Such inputs make their column views only when asked for them.
    """

    __slots__ = ("_columns", "_names", "matrix", "rows", "tensor")

    def __init__(
        self,
        columns: dict[str, np.ndarray] | None = None,
        tensor: np.ndarray | None = None,
        rows: int = 0,
        matrix: np.ndarray | None = None,
    ) -> None:
        self._columns = columns
        self._names: list[str] | None = None if columns is None else list(columns)
        self.tensor = tensor
        self.rows = rows
        self.matrix = matrix

    @property
    def columns(self) -> dict[str, np.ndarray] | None:
        """The columns by name, in signature order; None for a tensor."""
        if self._columns is None and self._names is not None and self.matrix is not None:
            self._columns = dict(zip(self._names, self.matrix.T, strict=True))
        return self._columns

    @property
    def names(self) -> list[str] | None:
        """The column names, in order (None for a tensor), without making any column."""
        return self._names

    def __repr__(self) -> str:
        if self.tensor is not None:
            return f"Inputs(tensor={self.tensor!r}, rows={self.rows})"
        return f"Inputs(columns={self.columns!r}, rows={self.rows})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Inputs) or self.rows != other.rows:
            return False
        if self.tensor is not None or other.tensor is not None:
            return (
                self.tensor is not None
                and other.tensor is not None
                and _same_array(self.tensor, other.tensor)
            )
        mine, theirs = self.columns or {}, other.columns or {}
        return list(mine) == list(theirs) and all(_same_array(mine[n], theirs[n]) for n in mine)

    def to_frame(self) -> pd.DataFrame:
        """A pandas DataFrame of the columns (a 1-D or 2-D tensor gets columns 0..n-1)."""
        import pandas as pd

        if self.columns is not None:
            return pd.DataFrame(self.columns, copy=False)
        tensor = self.tensor if self.tensor is not None else np.empty((0, 0))
        if tensor.ndim > 2:
            raise InvalidArgumentError(
                f"a tensor of shape {list(tensor.shape)} has no table form; use .tensor"
            )
        return pd.DataFrame(tensor.reshape(self.rows, -1))

    def to_matrix(self) -> np.ndarray | None:
        """A 2-D float64 array ``[rows, columns]``, or None when a column is not numeric.

        Models that take a matrix (scikit-learn over numeric features, ONNX, gradient
        boosting) then skip building a DataFrame. It may share memory with the columns.
        """
        if self.matrix is not None:
            return self.matrix
        if self.tensor is not None:
            if self.tensor.dtype.kind not in "fiub" or self.tensor.ndim > 2:
                return None
            return self.tensor.reshape(self.rows, -1).astype(np.float64, copy=False)
        columns = list((self.columns or {}).values())
        if any(c.dtype.kind not in "fiub" for c in columns):
            return None
        matrix = np.empty((self.rows, len(columns)), dtype=np.float64)
        for j, column in enumerate(columns):
            matrix[:, j] = column
        return matrix

    @classmethod
    def concat(cls, parts: Sequence[Inputs]) -> Inputs:
        """One ``Inputs`` holding the rows of every part, in order (for micro-batching).

        Parts must come from the same signature; the server splits the model's output back
        by each part's ``rows``.
        """
        if not parts:
            raise InvalidArgumentError("Inputs.concat needs at least one part")
        if len(parts) == 1:
            return parts[0]
        rows = sum(p.rows for p in parts)
        tensors = [p.tensor for p in parts if p.tensor is not None]
        if tensors:
            if len(tensors) != len(parts):
                raise InvalidArgumentError("cannot concatenate tensor inputs with column inputs")
            return cls(tensor=np.concatenate(tensors), rows=rows)
        names = parts[0].names or []
        if any(p.names != names for p in parts):
            raise InvalidArgumentError(
                f"cannot concatenate inputs with different columns; the first has {names}"
            )
        matrices = [p.matrix for p in parts if p.matrix is not None]
        if len(matrices) == len(parts):
            return _with_matrix(names, np.concatenate(matrices, out=_matrix(rows, len(names))))
        tables = [p.columns or {} for p in parts]
        return cls(columns={n: np.concatenate([t[n] for t in tables]) for n in names}, rows=rows)


def _matrix(rows: int, columns: int) -> np.ndarray:
    """An empty float64 matrix laid out column by column, so its columns are contiguous."""
    return np.empty((rows, columns), dtype=np.float64, order="F")


def _with_matrix(names: Sequence[str], matrix: np.ndarray) -> Inputs:
    """Inputs whose columns are the columns of ``matrix`` (float64, one per name), made
    when first asked for: most requests only ever need the matrix."""
    inputs = Inputs(rows=len(matrix), matrix=matrix)
    inputs._names = list(names)
    return inputs


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fcmM"))


@dataclass(frozen=True, eq=False)
class InferRequest:
    """An Open Inference Protocol inference request, parsed.

    ``outputs`` names the requested outputs, or is None for all of them.
    """

    inputs: Inputs
    request_id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class PredictRequest:
    """A ``/predict`` request: the rows, the sticky-routing ``key`` and the client's id."""

    inputs: Inputs
    key: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, eq=False)
class OutputTensor:
    """One named output of an inference response; its datatype follows ``data.dtype``."""

    name: str
    data: np.ndarray
    parameters: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------------
# JSON in and out


def _loads(body: bytes | bytearray | memoryview | str) -> Any:
    try:
        return orjson.loads(body)
    except (ValueError, TypeError) as exc:
        error = exc
    # Python's json module writes NaN and Infinity, which orjson rightly calls invalid JSON.
    if isinstance(body, str):
        raw = body.encode("utf-8", "replace")
    else:
        raw = bytes(body) if isinstance(body, bytes | bytearray | memoryview) else b""
    if b"NaN" in raw or b"Infinity" in raw:
        try:
            document = json.loads(raw)
            orjson.dumps(document)  # refuses what orjson would: lone surrogates, huge integers
            return document
        except (ValueError, TypeError, RecursionError):
            pass
    raise RequestError(
        f"the request body is not valid JSON ({error}); send a UTF-8 JSON document"
    ) from None


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "OUS":
            return [_text(v) for v in obj.ravel().tolist()]
        return np.ascontiguousarray(obj).tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, set | frozenset):
        return list(obj)
    if type(obj).__module__.startswith("pandas") and hasattr(obj, "to_dict"):
        return obj.to_dict(orient="records") if hasattr(obj, "columns") else obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def encode_json(obj: Any) -> bytes:
    """``obj`` as JSON bytes; NumPy arrays and scalars, pandas objects and sets welcome.

    NaN and infinities become ``null``: JSON has no word for them.

    Examples
    --------
    >>> encode_json({"scores": np.array([[1, 2]], dtype=np.int8), "label": np.str_("a")})
    b'{"scores":[[1,2]],"label":"a"}'
    """
    try:
        return orjson.dumps(obj, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:
        raise InvalidArgumentError(
            f"cannot encode {type(obj).__name__} as JSON: {exc}; return NumPy arrays, "
            "lists, dicts, strings or numbers"
        ) from exc


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


# ---------------------------------------------------------------------------------------------
# Signatures, read once


@dataclass(frozen=True)
class _Plan:
    """What a signature asks of a request, in the shape the parsers use."""

    known: bool
    tensor: dict[str, Any] | None  # the tensor spec, for tensor signatures
    columns: list[tuple[str, str]]  # (name, kind) in signature order
    names: list[str]
    floats: list[str]  # float columns, converted together as one block

    @functools.cached_property
    def name_set(self) -> frozenset[str]:
        return frozenset(self.names)

    @functools.cached_property
    def float_values(self) -> Callable[[Any], Any]:
        """A record's float values, in order (for two or more float columns)."""
        return itemgetter(*self.floats)


_UNKNOWN = _Plan(known=False, tensor=None, columns=[], names=[], floats=[])
_PLANS: dict[int, tuple[dict[str, Any], _Plan]] = {}


def _plan(signature: dict[str, Any] | None) -> _Plan:
    # Signatures are stored values, never edited in place, so a plan is cached per object;
    # holding the object keeps its id from being reused.
    if signature is None:
        return _UNKNOWN
    hit = _PLANS.get(id(signature))
    if hit is not None and hit[0] is signature:
        return hit[1]
    plan = _read_plan(signature)
    if len(_PLANS) >= 256:
        _PLANS.clear()
    _PLANS[id(signature)] = (signature, plan)
    return plan


def _read_plan(signature: dict[str, Any]) -> _Plan:
    spec = signature.get("inputs")
    if not isinstance(spec, dict):
        return _UNKNOWN
    if spec.get("type") == "tensor":
        return _Plan(known=True, tensor=spec, columns=[], names=[], floats=[])
    columns = [(str(c["name"]), str(c["type"])) for c in spec.get("columns", [])]
    return _Plan(
        known=True,
        tensor=None,
        columns=columns,
        names=[n for n, _ in columns],
        floats=[n for n, k in columns if k == FLOAT],
    )


_KINDS = {FLOAT, INTEGER, BOOLEAN, STRING, DATETIME}


# ---------------------------------------------------------------------------------------------
# Messages

_JSON_WORDS = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
    list: "array",
    dict: "object",
}


def _show(value: Any) -> str:
    """A short description of a JSON value for a message; never reprs a whole container."""
    kind = type(value)
    word = _JSON_WORDS.get(kind, kind.__name__)
    if kind is str:
        return f"{word} {value[:40]!r}" + ("..." if len(value) > 40 else "")
    if kind in (int, float, bool):
        try:
            return f"{word} {orjson.dumps(value).decode()}"
        except TypeError:  # an integer beyond 64 bits
            return f"{word} of {value.bit_length()} bits"
    if kind is list:
        return f"an array of {len(value)} values"
    if kind is dict:
        return f"an object with keys {[str(k)[:20] for k in list(value)[:5]]}"
    return word


_ADVICE = {
    FLOAT: "send numbers (null for a missing value)",
    INTEGER: "send whole numbers; integer columns cannot hold null",
    BOOLEAN: "send true or false; boolean columns cannot hold null",
    STRING: "send strings (null for a missing value)",
    DATETIME: "send ISO 8601 strings such as '2024-05-01T12:00:00Z' (null when missing)",
}


def _mistyped(column: str, kind: str, values: Sequence[Any]) -> RequestError:
    ok = _FITS.get(kind, _is_scalar)
    row, value = next(((i, v) for i, v in enumerate(values) if not ok(v)), (0, None))
    got = _show(value)
    if kind == INTEGER and type(value) is int:
        got += " (outside the int64 range)"
    return RequestError(
        f"column {column!r} should be {kind or 'a scalar'} but got {got} at row {row}; "
        f"{_ADVICE.get(kind, 'send numbers, strings, booleans or null')}",
        UNPROCESSABLE,
    )


def _missing(missing: list[str], names: list[str], hint: str = "") -> RequestError:
    return RequestError(
        f"the request is missing column(s) {missing} that the model needs; it takes {names}"
        + (f"; {hint}" if hint else ""),
        UNPROCESSABLE,
    )


# ---------------------------------------------------------------------------------------------
# JSON values -> typed columns

_NONE = type(None)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NUMBERS = {float, int, bool, _NONE}  # what a float column accepts


def _is_float_value(v: Any) -> bool:
    return type(v) in _NUMBERS and not (type(v) is int and abs(v) >= 2**1023)


def _is_int_value(v: Any) -> bool:
    kind = type(v)
    if kind is int:
        return _INT64_MIN <= v <= _INT64_MAX
    if kind is float:
        return v.is_integer() and -(2.0**63) <= v < 2.0**63
    return kind is bool


def _is_str_value(v: Any) -> bool:
    return type(v) in (str, _NONE)


def _is_scalar(v: Any) -> bool:
    return type(v) in (str, int, float, bool, _NONE)


_FITS = {
    FLOAT: _is_float_value,
    INTEGER: _is_int_value,
    BOOLEAN: lambda v: type(v) is bool,
    STRING: _is_str_value,
    DATETIME: _is_str_value,
}


def _column(name: str, kind: str, values: Any) -> np.ndarray:
    """One signature column from a JSON array, checked against its kind ("" = unknown)."""
    if type(values) is not list:
        raise RequestError(f"column {name!r} should be a JSON array of values, got {_show(values)}")
    types = set(map(type, values))
    try:
        if kind == FLOAT:
            if types <= _NUMBERS:
                return np.array(values, dtype=np.float64)
        elif kind == INTEGER:
            if types <= {int, bool}:
                return np.array(values, dtype=np.int64)
            if types <= {int, bool, float}:
                return _integral(np.array(values, dtype=np.float64))
        elif kind == BOOLEAN:
            if types <= {bool}:
                return np.array(values, dtype=bool)
        elif kind in (STRING, DATETIME):
            if types <= {str, _NONE}:
                return _datetimes(name, values) if kind == DATETIME else _objects(values)
        elif types <= {str, int, float, bool, _NONE}:
            return _inferred(types, values)
    except (OverflowError, ArithmeticError):
        pass
    raise _mistyped(name, kind, values)


def _objects(values: Sequence[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values  # scalars only, checked by the caller
    return array


def _integral(array: np.ndarray) -> np.ndarray:
    """float64 -> int64 when every value is a whole number in range."""
    if array.size and not (
        np.isfinite(array).all()
        and (array == np.trunc(array)).all()
        and array.min() >= -(2.0**63)
        and array.max() < 2.0**63
    ):
        raise ArithmeticError("not whole numbers")
    return array.astype(np.int64)


def _inferred(types: set[type], values: list[Any]) -> np.ndarray:
    """A column of unknown kind: the narrowest dtype that holds its JSON scalars."""
    if types == {bool}:
        return np.array(values, dtype=bool)
    if types <= {int}:
        try:
            return np.array(values, dtype=np.int64)
        except OverflowError:
            pass
    if types <= {int, float, _NONE} and types != {_NONE}:
        try:
            return np.array(values, dtype=np.float64)
        except OverflowError:
            pass
    return _objects(values)


def _float_block(sequences: list[Any], allowed: set[type] = _NUMBERS) -> np.ndarray | None:
    """Equal-length sequences of numbers as one 2-D float64 array; None when they are not.

    Converting the float columns together costs one NumPy call per request instead of one
    per column; anything unusual goes back to the per-column path, which explains errors.
    """
    try:
        if not set(map(type, chain.from_iterable(sequences))) <= allowed:
            return None
        block = np.array(sequences, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    return block if block.ndim == 2 else None


def _datetimes(name: str, values: Sequence[Any]) -> np.ndarray:
    """ISO 8601 strings (None when missing) -> datetime64[ns]; offsets are converted to UTC."""
    import pandas as pd

    try:
        parsed = pd.to_datetime(pd.Series(list(values), dtype=object), format="ISO8601", utc=True)
        return parsed.dt.tz_convert(None).dt.as_unit("ns").to_numpy()
    except (ValueError, TypeError, OverflowError) as exc:
        raise RequestError(
            f"column {name!r} should hold datetimes but {exc}; {_ADVICE[DATETIME]}",
            UNPROCESSABLE,
        ) from None


# ---------------------------------------------------------------------------------------------
# Tables in JSON (columns, records, rows) -> Inputs


def _nonempty(inputs: Inputs) -> Inputs:
    if inputs.rows == 0:
        raise RequestError("the request holds no rows; send at least one row to predict")
    if inputs.columns == {}:
        raise RequestError("the request holds no columns; send the model's input columns")
    return inputs


def _tensor_expected(plan: _Plan) -> RequestError:
    shape = (plan.tensor or {}).get("shape")
    return RequestError(
        f"this model takes a tensor of shape {shape}; send rows as arrays of numbers, not "
        "named columns",
        UNPROCESSABLE,
    )


def _from_columns(data: dict[str, Any], plan: _Plan) -> Inputs:
    """``{"column": [values], ...}``."""
    if plan.tensor is not None:
        raise _tensor_expected(plan)
    if not plan.known:
        columns = {str(n): _column(str(n), "", v) for n, v in data.items()}
        return Inputs(columns=columns, rows=_common_rows(columns))
    missing = [n for n in plan.names if n not in data]
    if missing:
        raise _missing(missing, plan.names)
    parsed: dict[str, np.ndarray] = {}
    if len(plan.floats) > 1:
        block = _float_block([data[n] for n in plan.floats])
        if block is not None:
            if len(plan.floats) == len(plan.names):
                return _with_matrix(plan.names, block.T)
            parsed.update(zip(plan.floats, block, strict=True))
    for name, kind in plan.columns:
        if name not in parsed:
            parsed[name] = _column(name, kind, data[name])
    columns = {n: parsed[n] for n in plan.names}
    return Inputs(columns=columns, rows=_common_rows(columns))


def _common_rows(columns: dict[str, np.ndarray]) -> int:
    lengths = {len(c) for c in columns.values()}
    if len(lengths) > 1:
        sizes = {n: len(c) for n, c in columns.items()}
        raise RequestError(
            f"columns have different lengths {sizes}; send as many values in every column"
        )
    return lengths.pop() if lengths else 0


def _from_records(records: list[Any], plan: _Plan) -> Inputs:
    """``[{"column": value, ...}, ...]``; arrays instead of objects for tensor models."""
    if plan.tensor is not None or not plan.known:
        if all(type(r) is list for r in records):
            return _tensor_from_json(records, plan)
        if plan.tensor is not None:
            raise _tensor_expected(plan)
    for row, record in enumerate(records):
        if type(record) is not dict:
            raise RequestError(
                f"record {row} is {_show(record)}, not an object; send each record as "
                '{"column": value, ...}'
            )
    if not plan.known:
        names = list(dict.fromkeys(chain.from_iterable(records)))
        columns = {n: _column(n, "", [r.get(n) for r in records]) for n in names}
        return Inputs(columns=columns, rows=len(records))
    if records and not plan.name_set <= records[0].keys():
        raise _missing([n for n in plan.names if n not in records[0]], plan.names)
    return _gather(records, plan, None)


def _gather(rows: list[Any], plan: _Plan, positions: dict[str, int] | None) -> Inputs:
    """Signature columns out of row containers: objects by name, or arrays by position."""

    def key(name: str) -> Any:
        return name if positions is None else positions[name]

    parsed: dict[str, np.ndarray] = {}
    if len(plan.floats) > 1:
        getter: Callable[[Any], Any] = plan.float_values
        if positions is not None:
            getter = itemgetter(*(positions[n] for n in plan.floats))
        try:
            block = _float_block([getter(r) for r in rows])
        except KeyError:
            block = None
        if block is not None:
            if len(plan.floats) == len(plan.names):
                return _with_matrix(plan.names, np.asfortranarray(block))
            parsed.update(zip(plan.floats, block.T.copy(), strict=True))
    for name, kind in plan.columns:
        if name in parsed:
            continue
        k = key(name)
        try:
            values = [r[k] for r in rows]
        except KeyError:
            row = next(i for i, r in enumerate(rows) if k not in r)
            raise RequestError(
                f"record {row} has no value for column {name!r}; send every column the model "
                "takes in every record (null for a missing float or string)",
                UNPROCESSABLE,
            ) from None
        parsed[name] = _column(name, kind, values)
    return Inputs(columns={n: parsed[n] for n in plan.names}, rows=len(rows))


def _from_rows(names: Any, rows: list[Any], plan: _Plan) -> Inputs:
    """Rows as arrays of values, ``names`` labelling their positions (None: signature order)."""
    if plan.tensor is not None:
        return _tensor_from_json(rows, plan)
    if names is None:
        if not plan.known:
            raise RequestError(
                "this model has no signature, so rows need column names; send "
                '{"columns": [...], "data": [[...]]} or records'
            )
        names = plan.names
    if type(names) is not list or not all(type(n) is str for n in names):
        raise RequestError(f"'columns' should be an array of column names, got {_show(names)}")
    if len(set(names)) != len(names):
        raise RequestError(f"column names repeat in {names}; name each column once")
    for row, values in enumerate(rows):
        if type(values) is not list or len(values) != len(names):
            raise RequestError(
                f"row {row} is {_show(values)}; every row should be an array of {len(names)} "
                f"values, one per column {names}"
            )
    positions = {n: i for i, n in enumerate(names)}
    if not plan.known:
        columns = {n: _column(n, "", [r[i] for r in rows]) for n, i in positions.items()}
        return Inputs(columns=columns, rows=len(rows))
    missing = [n for n in plan.names if n not in positions]
    if missing:
        raise _missing(missing, plan.names)
    return _gather(rows, plan, positions)


def _tensor_from_json(data: list[Any], plan: _Plan) -> Inputs:
    """Nested JSON arrays -> a tensor shaped like the data, cast to the signature's dtype."""
    try:
        nested = np.array(data, dtype=object)
    except (ValueError, TypeError, RecursionError):
        nested = None
    if nested is None or nested.ndim > _MAX_DIMS or any(type(v) is list for v in nested.flat):
        raise RequestError("the rows are ragged; send a rectangular array of numbers")
    flat = nested.ravel().tolist()
    types = set(map(type, flat))
    values: np.ndarray | None = None
    try:
        if types == {bool}:
            values = np.array(flat, dtype=bool)
        elif types <= {int}:
            values = np.array(flat, dtype=np.int64)
        elif types <= {int, float, _NONE}:
            values = np.array(flat, dtype=np.float64)
        elif types <= {str}:
            values = _objects(flat)
    except OverflowError:
        pass
    if values is None:
        bad = next((v for v in flat if type(v) not in (int, float, _NONE)), None)
        raise RequestError(
            f"the tensor holds {_show(bad)} among other values; send numbers (or strings) "
            "of one type",
            UNPROCESSABLE,
        )
    shape = list(nested.shape)
    if plan.tensor is None:
        return Inputs(tensor=values.reshape(shape), rows=shape[0] if shape else 0)
    return _cast_tensor(values, shape, plan.tensor, "the tensor", _datatype_of(values.dtype))


# ---------------------------------------------------------------------------------------------
# Open Inference Protocol v2

_NUMPY_OF = {
    "BOOL": np.dtype(bool),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BF16": np.dtype(np.float32),  # NumPy has no bfloat16; values widen to float32
    "BYTES": np.dtype(object),
}
_FLOATS = {"FP16", "FP32", "FP64", "BF16"}
_FP_VALUES = {int, float, _NONE}  # JSON values an FP tensor holds; null stands for NaN
_DATATYPE_OF_KIND = {
    FLOAT: "FP64",
    INTEGER: "INT64",
    BOOLEAN: "BOOL",
    STRING: "BYTES",
    DATETIME: "BYTES",
}
_MAX_DIMS = 32  # NumPy allows 64; no model input comes near


def _datatype_of(dtype: np.dtype, default: str | None = None) -> str:
    """The OIP datatype that carries a NumPy dtype (text and datetimes travel as BYTES)."""
    if dtype.kind in "OUSM":
        return "BYTES"
    for datatype, candidate in _NUMPY_OF.items():
        if candidate == dtype and datatype != "BF16":
            return datatype
    if default is not None:
        return default
    raise InvalidArgumentError(
        f"NumPy dtype {dtype} has no Open Inference Protocol datatype; convert to a "
        "numeric, boolean or string array"
    )


class _Tensor(NamedTuple):
    name: str
    datatype: str
    shape: list[int]
    # Flat and row-major. JSON data stays a list of the right length until _typed converts
    # it, so float columns can be converted together; BYTES become objects holding str.
    values: np.ndarray | list[Any]


def parse_infer(
    body: bytes | bytearray | memoryview | str,
    signature: dict[str, Any] | None,
    header_length: int | None = None,
) -> InferRequest:
    """Parse an Open Inference Protocol v2 inference request for a model's signature.

    A table arrives in either of two ways, both common in the field: one 2-D tensor
    ``[rows, n_columns]`` whose columns follow the signature's order (any tensor name; what
    Triton and KServe clients send from a NumPy matrix), or one tensor of shape ``[rows]`` or
    ``[rows, 1]`` per column, named after the column (MLServer's pandas codec; the request
    parameter ``content_type: "pd"`` turns the matrix reading off). Tensors the signature
    does not name are ignored. ``data`` may be flat (row-major) or nested; only its element
    count must match ``shape``. FP tensors may hold ``null`` for NaN, which JSON cannot write.

    Binary tensor data (Triton's extension, which ``tritonclient`` uses by default) is read
    when the server passes the ``Inference-Header-Content-Length`` header as
    ``header_length``. Responses are always JSON, which every client reads.

    Parameters
    ----------
    body : bytes
        The raw request body.
    signature : dict or None
        The model version's signature; None takes tensors as sent (one tensor, or one column
        per tensor).
    header_length : int, optional
        Length of the JSON header when binary tensor data follows it.

    Returns
    -------
    InferRequest

    Raises
    ------
    RequestError
        For every body that cannot be used, with ``status`` 400 or 422.

    Examples
    --------
    >>> signature = {"inputs": {"type": "columns", "columns": [
    ...     {"name": "age", "type": "float"}, {"name": "visits", "type": "integer"}]}}
    >>> body = b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT64", "data": [41, 3]}]}'
    >>> parse_infer(body, signature).inputs.columns
    {'age': array([41.]), 'visits': array([3])}
    """
    document, binary = _split_binary(body, header_length)
    if type(document) is not dict:
        raise RequestError(
            f"an inference request should be a JSON object, got {_show(document)}; send "
            '{"inputs": [{"name": ..., "shape": [...], "datatype": ..., "data": [...]}]}'
        )
    request_id = document.get("id")
    if request_id is not None and type(request_id) is not str:
        raise RequestError(f"'id' should be a string, got {_show(request_id)}")
    parameters = document.get("parameters")
    if parameters is None:
        parameters = {}
    elif type(parameters) is not dict:
        raise RequestError(f"'parameters' should be an object, got {_show(parameters)}")
    outputs = _requested_outputs(document.get("outputs"))
    raw_inputs = document.get("inputs")
    if type(raw_inputs) is not list or not raw_inputs:
        raise RequestError(
            f"'inputs' should be a non-empty array of tensors, got {_show(raw_inputs)}"
        )
    tensors = _decode_tensors(raw_inputs, binary)
    columnar = parameters.get("content_type") == "pd"
    inputs = _nonempty(_from_tensors(tensors, _plan(signature), columnar))
    return InferRequest(
        inputs=inputs, request_id=request_id, parameters=parameters, outputs=outputs
    )


def _split_binary(
    body: bytes | bytearray | memoryview | str, header_length: int | None
) -> tuple[Any, memoryview | None]:
    if header_length is None:
        try:
            return _loads(body), None
        except RequestError as error:
            if b"binary_data_size" in (body.encode() if isinstance(body, str) else body):
                raise RequestError(
                    f"{error}; binary tensor data follows the JSON, so send the "
                    "Inference-Header-Content-Length header with the JSON's length"
                ) from None
            raise
    view = memoryview(body.encode() if isinstance(body, str) else body)
    if type(header_length) is not int or not 0 < header_length <= len(view):
        raise RequestError(
            f"Inference-Header-Content-Length is {header_length!r} but the body has "
            f"{len(view)} bytes; send the length of the JSON header"
        )
    return _loads(view[:header_length]), view[header_length:]


def _requested_outputs(outputs: Any) -> tuple[str, ...] | None:
    if outputs is None:
        return None
    if type(outputs) is not list or not all(
        type(o) is dict and type(o.get("name")) is str for o in outputs
    ):
        raise RequestError(
            f"'outputs' should be an array of objects with a 'name', got {_show(outputs)}"
        )
    return tuple(o["name"] for o in outputs)


def _decode_tensors(raw_inputs: list[Any], binary: memoryview | None) -> list[_Tensor]:
    tensors, offset = [], 0
    for raw in raw_inputs:
        tensor, offset = _decode_tensor(raw, binary, offset)
        tensors.append(tensor)
    if len({t.name for t in tensors}) != len(tensors):
        names = [t.name for t in tensors]
        raise RequestError(f"input names repeat in {names}; send each tensor once")
    if binary is not None and offset != len(binary):
        raise RequestError(
            f"{len(binary) - offset} bytes of binary data follow the tensors; the "
            "binary_data_size parameters should add up to the bytes after the JSON header"
        )
    return tensors


def _decode_tensor(raw: Any, binary: memoryview | None, offset: int) -> tuple[_Tensor, int]:
    if type(raw) is not dict:
        raise RequestError(
            f"each input should be an object with name, shape, datatype and data, got {_show(raw)}"
        )
    name, shape, datatype = raw.get("name"), raw.get("shape"), raw.get("datatype")
    if type(name) is not str:
        raise RequestError(f"an input has name {_show(name)}; name every input tensor")
    if (
        type(shape) is not list
        or len(shape) > _MAX_DIMS
        or not all(type(d) is int and 0 <= d < 2**63 for d in shape)
    ):
        raise RequestError(
            f"input {name!r} has shape {_show(shape)}; a shape is an array of at most "
            f"{_MAX_DIMS} non-negative integers"
        )
    if type(datatype) is not str or datatype not in _NUMPY_OF:
        raise RequestError(
            f"input {name!r} has datatype {_show(datatype)}; use one of {list(_NUMPY_OF)}"
        )
    count = math.prod(shape)
    parameters = raw.get("parameters")
    if parameters:
        if type(parameters) is not dict:
            raise RequestError(f"input {name!r} has parameters {_show(parameters)}; use an object")
        if "binary_data_size" in parameters:
            size = parameters["binary_data_size"]
            values, offset = _binary_values(name, datatype, count, size, binary, offset)
            return _Tensor(name, datatype, shape, values), offset
        if "shared_memory_region" in parameters:
            raise RequestError(
                f"input {name!r} refers to shared memory, which this server does not offer; "
                "send the data in the request"
            )
    data = raw.get("data")
    if type(data) is not list:
        raise RequestError(f"input {name!r} has data {_show(data)}; send a JSON array")
    if data and type(data[0]) is list:
        try:
            nested = np.array(data, dtype=object)
            data = nested.ravel().tolist() if nested.ndim <= _MAX_DIMS else []
        except (ValueError, TypeError, RecursionError):
            data = []
    if len(data) != count:
        raise RequestError(
            f"input {name!r} has {count} elements by its shape but {len(data)} values in "
            "data (or ragged nesting); send exactly the shape's number of values"
        )
    return _Tensor(name, datatype, shape, data), offset


def _typed(tensor: _Tensor) -> np.ndarray:
    """A tensor's JSON values as an array of its datatype's kind, each value checked."""
    name, datatype, _, flat = tensor
    if isinstance(flat, np.ndarray):
        return flat
    types = set(map(type, flat))
    try:
        if datatype == "BYTES":
            if types <= {str}:
                return _objects(flat)
        elif datatype == "BOOL":
            if types <= {bool}:
                return np.array(flat, dtype=bool)
        elif datatype in _FLOATS:
            if types <= _FP_VALUES:
                return np.array(flat, dtype=np.float64)
        elif types <= {int}:
            return np.array(flat, dtype=_NUMPY_OF[datatype])
    except OverflowError:
        raise RequestError(
            f"input {name!r} holds a value outside the {datatype} range; send values that "
            f"fit {datatype} or use a wider datatype"
        ) from None
    want: tuple[type, ...] = (int,)
    if datatype in _FLOATS:
        want, words = tuple(_FP_VALUES), "numbers (null for NaN)"
    else:
        words = {"BYTES": "strings", "BOOL": "true or false"}.get(datatype, "integers")
        want = {"BYTES": (str,), "BOOL": (bool,)}.get(datatype, want)
    bad = next((v for v in flat if type(v) not in want), None)
    raise RequestError(
        f"input {name!r} is {datatype} but holds {_show(bad)}; send {words} or change the datatype"
    )


def _binary_values(
    name: str, datatype: str, count: int, size: Any, binary: memoryview | None, offset: int
) -> tuple[np.ndarray, int]:
    if binary is None:
        raise RequestError(
            f"input {name!r} has binary data but the request has no "
            "Inference-Header-Content-Length header; send it, or send data as JSON"
        )
    if type(size) is not int or size < 0 or offset + size > len(binary):
        shown = size if type(size) is int else _show(size)
        raise RequestError(
            f"input {name!r} has binary_data_size {shown} but {len(binary) - offset} bytes of "
            "binary data remain"
        )
    chunk, end = binary[offset : offset + size], offset + size
    if datatype == "BYTES":
        return _unpack_bytes(name, chunk, count), end
    itemsize = 2 if datatype == "BF16" else _NUMPY_OF[datatype].itemsize
    if size != count * itemsize:
        raise RequestError(
            f"input {name!r} has {count} {datatype} elements ({count * itemsize} bytes) but "
            f"binary_data_size {size}"
        )
    if datatype == "BOOL":
        raw = np.frombuffer(chunk, dtype=np.uint8)
        if raw.size and raw.max() > 1:
            raise RequestError(f"input {name!r} is BOOL but holds bytes other than 0 and 1")
        return raw.astype(bool), end
    if datatype == "BF16":  # the upper half of a float32
        halves = np.frombuffer(chunk, dtype="<u2").astype(np.uint32)
        return (halves << 16).view(np.float32), end
    wire = _NUMPY_OF[datatype].newbyteorder("<")
    return np.frombuffer(chunk, dtype=wire).astype(_NUMPY_OF[datatype]), end


def _unpack_bytes(name: str, chunk: memoryview, count: int) -> np.ndarray:
    """Triton's BYTES layout: each element is a 4-byte little-endian length, then the bytes."""
    values: list[str] = []
    at, end = 0, len(chunk)
    while len(values) < count and at + 4 <= end:
        (length,) = struct.unpack_from("<I", chunk, at)
        if at + 4 + length > end:
            break
        try:
            values.append(str(chunk[at + 4 : at + 4 + length], "utf-8"))
        except UnicodeDecodeError:
            raise RequestError(
                f"input {name!r} holds bytes that are not UTF-8 text at element {len(values)}"
            ) from None
        at += 4 + length
    if len(values) != count or at != end:
        raise RequestError(
            f"input {name!r} should hold {count} length-prefixed strings in its binary data; "
            "the bytes do not add up"
        )
    return _objects(values)


def _from_tensors(tensors: list[_Tensor], plan: _Plan, columnar: bool) -> Inputs:
    if plan.tensor is not None:
        if len(tensors) != 1:
            raise RequestError(
                f"this model takes one tensor but the request has {len(tensors)}: "
                f"{[t.name for t in tensors]}",
                UNPROCESSABLE,
            )
        t = tensors[0]
        return _cast_tensor(_typed(t), t.shape, plan.tensor, f"input {t.name!r}", t.datatype)
    if not plan.known:
        if len(tensors) == 1 and not columnar:
            t = tensors[0]
            if not t.shape:
                raise RequestError(f"input {t.name!r} has shape []; give it a rows dimension")
            return Inputs(tensor=_declared(t).reshape(t.shape), rows=t.shape[0])
        columns = {t.name: _declared(t) for t in tensors}
        return Inputs(columns=columns, rows=_column_rows(tensors))
    first = tensors[0]
    if (
        len(tensors) == 1
        and not columnar
        and len(first.shape) == 2
        and first.name not in plan.names
    ):
        return _from_matrix(first, plan)
    by_name = {t.name: t for t in tensors}
    missing = [n for n in plan.names if n not in by_name]
    if missing:
        raise _missing(
            missing,
            plan.names,
            f"send one tensor per column, named after it, or one [rows, {len(plan.names)}] "
            "tensor with the columns in that order",
        )
    rows = _column_rows([by_name[n] for n in plan.names])
    parsed: dict[str, np.ndarray] = {}
    fp_json = [
        n for n in plan.floats if by_name[n].datatype in _FLOATS and type(by_name[n].values) is list
    ]
    if len(fp_json) > 1:
        block = _float_block([by_name[n].values for n in fp_json], _FP_VALUES)
        if block is not None:
            parsed.update(zip(fp_json, block, strict=True))
    for name, kind in plan.columns:
        if name not in parsed:
            t = by_name[name]
            parsed[name] = _tensor_column(name, kind, _typed(t), t, lenient=False)
    return Inputs(columns={n: parsed[n] for n in plan.names}, rows=rows)


def _declared(tensor: _Tensor) -> np.ndarray:
    """Values in the tensor's own datatype, for a model whose signature is unknown."""
    cast = _as_dtype(_typed(tensor), _NUMPY_OF[tensor.datatype])
    if cast is None:
        raise RequestError(
            f"input {tensor.name!r} holds values outside the {tensor.datatype} range; use a "
            "wider datatype"
        )
    return cast


def _column_rows(tensors: list[_Tensor]) -> int:
    rows = set()
    for t in tensors:
        if not (len(t.shape) == 1 or (len(t.shape) == 2 and t.shape[1] == 1)):
            raise RequestError(
                f"input {t.name!r} has shape {t.shape}; a column tensor has shape [rows] or "
                "[rows, 1]"
            )
        rows.add(t.shape[0])
    if len(rows) > 1:
        raise RequestError(
            f"column tensors have different row counts {sorted(rows)}; send as many rows in "
            "every column"
        )
    return rows.pop()


def _from_matrix(tensor: _Tensor, plan: _Plan) -> Inputs:
    rows, width = tensor.shape
    if width != len(plan.names):
        raise RequestError(
            f"input {tensor.name!r} has {width} columns but the model takes "
            f"{len(plan.names)}: {plan.names}; send a [rows, {len(plan.names)}] tensor in "
            "that order",
            UNPROCESSABLE,
        )
    matrix = _typed(tensor).reshape(rows, width)
    if len(plan.floats) == width and matrix.dtype.kind in "fiub":
        by_column = np.array(matrix.T, dtype=np.float64, order="C")
        return Inputs(columns=dict(zip(plan.names, by_column, strict=True)), rows=rows)
    if tensor.datatype == "BYTES" and any(k not in (STRING, DATETIME) for _, k in plan.columns):
        raise RequestError(
            f"input {tensor.name!r} is BYTES but the model also takes non-string columns; "
            f"send one tensor per column {plan.names}, each with its own datatype, and "
            'parameters {"content_type": "pd"}',
            UNPROCESSABLE,
        )
    by_column = matrix.T.copy()
    columns = {
        n: _tensor_column(n, k, by_column[j], tensor, lenient=True)
        for j, (n, k) in enumerate(plan.columns)
    }
    return Inputs(columns=columns, rows=rows)


def _tensor_column(
    name: str, kind: str, values: np.ndarray, tensor: _Tensor, lenient: bool
) -> np.ndarray:
    """Decoded tensor values -> the column kind's dtype, refusing lossy conversions.

    ``lenient`` serves the matrix reading, whose one datatype cannot suit every column:
    whole numbers may then fill integer columns, and 0/1 boolean ones.
    """
    k = values.dtype.kind
    if kind == FLOAT and k in "fiub":
        return values.astype(np.float64, copy=False)
    if kind == INTEGER:
        if k in "ib":
            return values.astype(np.int64, copy=False)
        if k == "u" and (values.size == 0 or values.max() <= _INT64_MAX):
            return values.astype(np.int64)
        if k == "f" and lenient:
            try:
                return _integral(values.astype(np.float64, copy=False))
            except ArithmeticError:
                pass
    if kind == BOOLEAN:
        if k == "b":
            return values
        if k in "fiu" and lenient and ((values == 0) | (values == 1)).all():
            return values != 0
    if kind == STRING and k == "O":
        return values
    if kind == DATETIME and k == "O":
        return _datetimes(name, values.tolist())
    if kind not in _KINDS:
        return values
    raise _unfit(name, kind, tensor, lenient)


def _unfit(name: str, kind: str, tensor: _Tensor, lenient: bool) -> RequestError:
    numeric = tensor.datatype not in ("BYTES", "BOOL")
    if (kind == INTEGER and numeric and (lenient or tensor.datatype.startswith("UINT"))) or (
        kind == BOOLEAN and numeric and lenient
    ):
        return RequestError(
            f"input {tensor.name!r} holds values that column {name!r} ({kind}) cannot take; "
            + _ADVICE[kind],
            UNPROCESSABLE,
        )
    allowed = {FLOAT: "a numeric datatype or BOOL", INTEGER: "INT*, UINT* or BOOL"}
    return RequestError(
        f"input {tensor.name!r} is {tensor.datatype} but column {name!r} is {kind}; send it "
        f"as {allowed.get(kind, _DATATYPE_OF_KIND[kind])}",
        UNPROCESSABLE,
    )


def _cast_tensor(
    values: np.ndarray, shape: list[int], spec: dict[str, Any], where: str, datatype: str
) -> Inputs:
    """Flat decoded values -> the signature's tensor: shape ``[rows, *shape[1:]]``, its dtype."""
    want = list(spec.get("shape") or [-1])
    if len(shape) != len(want) or any(
        w not in (-1, None) and w != s for w, s in zip(want[1:], shape[1:], strict=True)
    ):
        trailing = "".join(f", {w}" for w in want[1:])
        raise RequestError(
            f"{where} has shape {shape} but the model takes [rows{trailing}]", UNPROCESSABLE
        )
    try:
        dtype = np.dtype(spec.get("dtype", "float64"))
    except TypeError:
        dtype = np.dtype(object)
    cast = _as_dtype(values, dtype)
    if cast is None:
        raise RequestError(
            f"{where} is {datatype} but the model takes a {dtype} tensor; send "
            f"{_datatype_of(dtype, 'a datatype that fits')} values that fit {dtype}",
            UNPROCESSABLE,
        )
    return Inputs(tensor=cast.reshape(shape), rows=shape[0])


def _as_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray | None:
    """``values`` as ``dtype`` when no value changes (floats may round), else None."""
    k = values.dtype.kind
    if dtype.kind in "OUS":
        return values if k == "O" else None
    if k == "O" or dtype.kind not in "biuf":
        return None
    if np.can_cast(values.dtype, dtype):
        return values.astype(dtype, copy=False)
    if dtype.kind == "f" and k in "fiu":
        finite = values[np.isfinite(values)] if k == "f" else values
        if finite.size and np.abs(finite).max() > np.finfo(dtype).max:
            return None
        return values.astype(dtype)
    if dtype.kind in "iu" and k in "iu":
        info = np.iinfo(dtype)
        if values.size and (values.min() < info.min or values.max() > info.max):
            return None
        return values.astype(dtype)
    return None


def encode_infer(
    model_name: str,
    model_version: str | None,
    request_id: str | None,
    outputs: Sequence[OutputTensor | tuple[str, np.ndarray]],
    parameters: dict[str, Any] | None = None,
) -> bytes:
    """An Open Inference Protocol v2 inference response as JSON bytes.

    Each output's datatype follows its NumPy dtype (text, objects and datetimes become
    BYTES holding strings); data is flat and row-major; NaN becomes ``null``.

    Examples
    --------
    >>> encode_infer("churn", "3", "r1", [("predict", np.array([[0.5], [1.0]], np.float32))])
    b'{"model_name":"churn","model_version":"3","id":"r1","outputs":[{"name":"predict","shape":[2,1],"datatype":"FP32","data":[0.5,1.0]}]}'
    """
    response: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        response["model_version"] = model_version
    if request_id is not None:
        response["id"] = request_id
    if parameters:
        response["parameters"] = parameters
    response["outputs"] = [_encode_output(o) for o in outputs]
    return encode_json(response)


def _encode_output(output: OutputTensor | tuple[str, np.ndarray]) -> dict[str, Any]:
    if isinstance(output, OutputTensor):
        name, data, parameters = output.name, output.data, output.parameters
    else:
        (name, data), parameters = output, None
    array = np.asarray(data)
    datatype = _datatype_of(array.dtype)
    flat: Any
    if array.dtype.kind == "M":
        flat = np.datetime_as_string(array.ravel()).tolist()
    elif datatype == "BYTES":
        flat = [_text(v) for v in array.ravel().tolist()]
    else:
        native = array.dtype.newbyteorder("=")
        flat = np.ascontiguousarray(array.ravel()).astype(native, copy=False)
    tensor: dict[str, Any] = {"name": name, "shape": list(array.shape), "datatype": datatype}
    if parameters:
        tensor["parameters"] = parameters
    tensor["data"] = flat
    return tensor


def model_metadata(
    name: str,
    versions: Sequence[str],
    signature: dict[str, Any] | None,
    platform: str = "headway",
) -> dict[str, Any]:
    """The Open Inference Protocol model metadata for a model's signature.

    Columns are listed one tensor each with shape ``[-1]`` (the pandas-codec view); a tensor
    signature gives one ``input``. Without recorded outputs, one ``predict`` output of shape
    ``[-1]`` is announced as FP64, a guess: each response carries the real datatype.

    Examples
    --------
    >>> signature = {"inputs": {"type": "columns", "columns": [{"name": "age", "type": "float"}]}}
    >>> model_metadata("churn", ["3"], signature)["inputs"]
    [{'name': 'age', 'datatype': 'FP64', 'shape': [-1]}]
    """
    signature = signature or {}
    outputs = _tensor_metadata(signature.get("outputs"), "predict")
    return {
        "name": name,
        "versions": list(versions),
        "platform": platform,
        "inputs": _tensor_metadata(signature.get("inputs"), "input"),
        "outputs": outputs or [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
    }


def _tensor_metadata(spec: Any, tensor_name: str) -> list[dict[str, Any]]:
    if not isinstance(spec, dict):
        return []
    if spec.get("type") == "tensor":
        try:
            datatype = _datatype_of(np.dtype(spec.get("dtype", "float64")), "BYTES")
        except TypeError:
            datatype = "BYTES"
        return [{"name": tensor_name, "datatype": datatype, "shape": list(spec["shape"])}]
    return [
        {
            "name": str(c["name"]),
            "datatype": _DATATYPE_OF_KIND.get(c["type"], "BYTES"),
            "shape": [-1],
        }
        for c in spec.get("columns", [])
    ]


def infer_error(message: str) -> bytes:
    """The Open Inference Protocol error body, ``{"error": message}``."""
    return orjson.dumps({"error": message})


# ---------------------------------------------------------------------------------------------
# MLflow scoring format

_MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def parse_invocations(
    body: bytes | bytearray | memoryview | str,
    content_type: str | None,
    signature: dict[str, Any] | None,
) -> Inputs:
    """Parse an MLflow ``/invocations`` body (JSON or CSV) for a model's signature.

    JSON holds exactly one of ``dataframe_split`` (``columns``, ``data`` rows and an
    ``index``, which is ignored), ``dataframe_records`` (one object per row), ``instances``
    (rows as objects or arrays) or ``inputs`` (an object of column arrays, or rows).
    ``params`` is accepted and ignored: Headway models take no inference parameters. CSV
    starts with a header row; an empty field is a missing value.

    Raises
    ------
    RequestError
        400 for a malformed body, 415 for a content type other than JSON or CSV, 422 for
        data that does not fit the signature.

    Examples
    --------
    >>> signature = {"inputs": {"type": "columns", "columns": [{"name": "x", "type": "float"}]}}
    >>> body = b'{"dataframe_split": {"columns": ["x"], "data": [[1.5], [2]]}}'
    >>> parse_invocations(body, "application/json", signature).columns
    {'x': array([1.5, 2. ])}
    """
    plan = _plan(signature)
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime == "text/csv":
        return _nonempty(_parse_csv(body, plan))
    if mime != "application/json":
        raise RequestError(
            f"content type {content_type!r} is not supported; send application/json or text/csv",
            UNSUPPORTED_MEDIA_TYPE,
        )
    document = _loads(body)
    present = [k for k in _MLFLOW_KEYS if k in document] if type(document) is dict else []
    if len(present) != 1:
        got = list(document)[:10] if type(document) is dict else _show(document)
        raise RequestError(
            f"an MLflow request should be a JSON object with exactly one of "
            f"{list(_MLFLOW_KEYS)}, got {got}"
        )
    key = present[0]
    value = document[key]
    if key == "dataframe_split":
        if type(value) is not dict or type(value.get("data")) is not list:
            raise RequestError(
                "'dataframe_split' should be an object with 'columns' and 'data' (an array "
                'of rows), as pandas writes with orient="split"'
            )
        inputs = _from_rows(value.get("columns"), value["data"], plan)
    elif key == "inputs" and type(value) is dict:
        inputs = _from_columns(value, plan)
    elif type(value) is not list:
        raise RequestError(f"{key!r} should be an array of rows, got {_show(value)}")
    elif key == "dataframe_records" or (value and type(value[0]) is dict):
        inputs = _from_records(value, plan)
    else:
        inputs = _from_instances(value, plan)
    return _nonempty(inputs)


def _from_instances(values: list[Any], plan: _Plan) -> Inputs:
    """``instances`` or ``inputs`` as arrays: a tensor, rows, or one column's values."""
    if plan.tensor is not None or not plan.known:
        return _tensor_from_json(values, plan)
    if len(plan.columns) == 1 and all(type(v) is not list for v in values):
        name, kind = plan.columns[0]
        return Inputs(columns={name: _column(name, kind, values)}, rows=len(values))
    return _from_rows(None, values, plan)


def _parse_csv(body: bytes | bytearray | memoryview | str, plan: _Plan) -> Inputs:
    if plan.tensor is not None:
        raise RequestError(
            "this model takes a tensor; send JSON ('instances' or 'inputs'), not CSV",
            UNPROCESSABLE,
        )
    try:
        text = body if isinstance(body, str) else bytes(body).decode("utf-8-sig")
        table = [row for row in csv.reader(io.StringIO(text)) if row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RequestError(f"the body is not readable CSV ({exc}); send UTF-8 CSV") from None
    if not table:
        raise RequestError("the CSV body is empty; send a header row and at least one row")
    header, rows = table[0], table[1:]
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise RequestError(
                f"CSV line {line} has {len(row)} fields but the header has {len(header)}"
            )
    if len(set(header)) != len(header):
        raise RequestError(f"the CSV header names a column twice: {header}")
    fields = dict(zip(header, zip(*rows, strict=True) if rows else [()] * len(header), strict=True))
    specs = plan.columns if plan.known else [(n, "") for n in header]
    missing = [n for n, _ in specs if n not in fields]
    if missing:
        raise _missing(missing, [n for n, _ in specs])
    columns = {n: _csv_column(n, k, list(fields[n])) for n, k in specs}
    return Inputs(columns=columns, rows=len(rows))


_TRUE, _FALSE = {"true", "1", "t", "yes"}, {"false", "0", "f", "no"}


def _csv_column(name: str, kind: str, fields: list[str]) -> np.ndarray:
    """CSV text fields -> the column kind; an empty field is a missing value."""
    try:
        if kind == FLOAT:
            return np.array([f or "nan" for f in fields], dtype=np.float64)
        if kind == INTEGER:
            return np.array(fields, dtype=np.int64)
        if kind == BOOLEAN:
            lowered = [f.strip().lower() for f in fields]
            if not set(lowered) <= _TRUE | _FALSE:
                raise ValueError("not a boolean")
            return np.array([f in _TRUE for f in lowered], dtype=bool)
    except (ValueError, OverflowError):
        row = next((i for i, f in enumerate(fields) if not _csv_fits(kind, f)), 0)
        text = fields[row] if fields else ""
        raise RequestError(
            f"column {name!r} should be {kind} but got {text[:40]!r} at row {row}; {_ADVICE[kind]}",
            UNPROCESSABLE,
        ) from None
    if kind in (STRING, DATETIME):
        values = [f or None for f in fields]
        return _datetimes(name, values) if kind == DATETIME else _objects(values)
    try:
        return np.array(fields, dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        return np.array([f or "nan" for f in fields], dtype=np.float64)
    except ValueError:
        return _objects(fields)


def _csv_fits(kind: str, text: str) -> bool:
    try:
        if kind == FLOAT:
            float(text or "nan")
        elif kind == INTEGER:
            int(text)
        else:
            return text.strip().lower() in _TRUE | _FALSE
    except (ValueError, OverflowError):
        return False
    return True


def encode_invocations(predictions: Any) -> bytes:
    """The MLflow scoring response, ``{"predictions": ...}``.

    Examples
    --------
    >>> encode_invocations(np.array([1, 0]))
    b'{"predictions":[1,0]}'
    """
    return encode_json({"predictions": predictions})


# ---------------------------------------------------------------------------------------------
# Headway's /predict

_RESERVED = ("key", "id")


def parse_predict(
    body: bytes | bytearray | memoryview | str, signature: dict[str, Any] | None
) -> PredictRequest:
    """Parse a ``/predict`` body: ``{"records": [...]}``, ``{"columns": {...}}`` or one record.

    ``key`` (a string or an integer) pins the request to a route for sticky routing, and
    ``id`` is the client's request id; in the single-record form they are also read as
    columns when the signature has columns of those names. A tensor model takes ``records``
    as arrays, one per row.

    Examples
    --------
    >>> signature = {"inputs": {"type": "columns", "columns": [{"name": "x", "type": "integer"}]}}
    >>> parse_predict(b'{"columns": {"x": [1, 2.0]}, "id": "r9"}', signature).inputs.columns
    {'x': array([1, 2])}
    """
    document = _loads(body)
    if type(document) is not dict:
        raise RequestError(
            f"a prediction request should be a JSON object, got {_show(document)}; send "
            '{"records": [{...}]}, {"columns": {...}} or one record {"column": value}'
        )
    key = document.get("key")
    if type(key) is int:
        key = str(key)
    elif key is not None and type(key) is not str:
        raise RequestError(f"'key' should be a string, got {_show(key)}")
    request_id = document.get("id")
    if request_id is not None and type(request_id) is not str:
        raise RequestError(f"'id' should be a string, got {_show(request_id)}")
    plan = _plan(signature)
    records, columns = document.get("records"), document.get("columns")
    if type(records) is list:
        inputs = _from_records(records, plan)
    elif type(columns) is dict:
        inputs = _from_columns(columns, plan)
    elif plan.tensor is not None:
        raise _tensor_expected(plan)
    else:
        record = document if plan.known else _without(document, _RESERVED)
        inputs = _from_records([record], plan)
    return PredictRequest(inputs=_nonempty(inputs), key=key, request_id=request_id)


def _without(record: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in names}
