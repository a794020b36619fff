"""Expectations: declared checks on a table, in the spirit of Great Expectations.

An expectation is a small frozen value with one method, ``check(df) -> list[Anomaly]``,
and a dict form (``{"expect": "between", "column": "age", "min": 0, "max": 120}``) so it
lives in a schema's YAML under ``expectations:``. Declare them in Python with the helper
functions of this module (``expect.between("age", 0, 120)``) or with the classes, or by
hand in the YAML. Every check is vectorised: no Python loop over rows.

==================  ===============================================  ====================
expectation         holds when                                       YAML fields
==================  ===============================================  ====================
between             every present value lies in [min, max]           column, min, max
in_set              every present value is one of ``values``         column, values
not_null            no value is missing                              column
unique              no two rows share the same value(s)              columns
matches_regex       every present value fully matches ``pattern``    column, pattern
column_less_equal   left <= right on rows where both are present     left, right
mean_between        the mean of the present values lies in [min,     column, min, max
                    max]
quantile_between    the q-quantile of the present values lies in     column, q, min, max
                    [min, max]
==================  ===============================================  ====================

Every expectation also takes ``severity`` ("error", the default, or "warning"): the
severity of the anomaly it reports. An anomaly's ``kind`` is the expectation's name.

Examples
--------
>>> import pandas as pd
>>> from headway.data import expectations as expect
>>> df = pd.DataFrame({"age": [23, 41, 150], "start": [1, 2, 3], "end": [2, 2, 1]})
>>> [(a.kind, a.count, a.examples) for a in expect.between("age", 0, 120).check(df)]
[('between', 1, [150])]
>>> expect.column_less_equal("start", "end").check(df)[0].examples
[{'start': 3, 'end': 1}]
>>> expect.from_dict({"expect": "not_null", "column": "age"}).check(df)
[]
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from datetime import date, datetime
from typing import Any, ClassVar, Literal, Protocol, cast, runtime_checkable

import numpy as np
import pandas as pd

from headway.errors import InvalidArgumentError

__all__ = [
    "EXPECTATIONS",
    "Anomaly",
    "Between",
    "ColumnLessEqual",
    "Expectation",
    "InSet",
    "MatchesRegex",
    "MeanBetween",
    "NotNull",
    "QuantileBetween",
    "Unique",
    "between",
    "column_less_equal",
    "from_dict",
    "in_set",
    "matches_regex",
    "mean_between",
    "not_null",
    "quantile_between",
    "unique",
]

Severity = Literal["error", "warning"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning")
ERROR_FRACTION = 0.01  # value-level anomalies above this share of rows are errors
MAX_EXAMPLES = 5


# -- anomalies -------------------------------------------------------------------------


@dataclass(frozen=True)
class Anomaly:
    """One problem found in a table: what, where, how bad, how many, and what to do.

    ``column`` is None for table-level and cross-column anomalies. ``count`` is the number
    of offending rows (for checks on a statistic, such as a mean or the row count, the
    rows the statistic covers) and ``fraction`` that count over the table's rows.
    ``examples`` holds up to five distinct offending values, JSON-able.
    """

    kind: str
    column: str | None
    severity: Severity
    count: int
    fraction: float
    examples: list[Any]
    message: str
    hint: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Anomaly:
        return cls(**{f.name: data[f.name] for f in fields(cls)})


def severity_for(count: int, rows: int, *, far: bool = False) -> Severity:
    """The documented rule for value-level anomalies: error above 1% of rows (or when far)."""
    return "error" if far or (rows > 0 and count / rows > ERROR_FRACTION) else "warning"


def jsonable(value: Any) -> Any:
    """A JSON-able stand-in for one cell value (timestamps as ISO 8601, NaN as None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        return number if math.isfinite(number) else str(number)
    if isinstance(value, pd.Timestamp | datetime | date | np.datetime64):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, str):
        return value
    return str(value)


def examples_of(values: pd.Series | pd.DataFrame) -> list[Any]:
    """Up to five distinct offending values (rows as dicts for several columns)."""
    head = values.head(1000)  # enough to find five distinct ones, cheap on any size
    if isinstance(head, pd.DataFrame):
        distinct = head.drop_duplicates().head(MAX_EXAMPLES)
        return [
            {str(c): jsonable(v) for c, v in zip(distinct.columns, row, strict=True)}
            for row in distinct.itertuples(index=False, name=None)
        ]
    return [jsonable(v) for v in pd.unique(head.to_numpy())[:MAX_EXAMPLES]]


def column_of(df: pd.DataFrame, name: str) -> pd.Series | None:
    """The column called ``name`` (matching non-string labels by their text), or None."""
    if name in df.columns:
        return df[name]
    for label in df.columns:
        if str(label) == name:
            return df[label]
    return None


# -- the protocol ----------------------------------------------------------------------


@runtime_checkable
class Expectation(Protocol):
    """What every expectation is: a named check that serialises to a dict."""

    name: ClassVar[str]
    severity: Severity

    def check(self, df: pd.DataFrame) -> list[Anomaly]:
        """The anomalies this expectation finds in ``df`` (empty when it holds)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """``{"expect": name, **fields}``: the form kept in a schema's YAML."""
        ...


class _Base:
    """Shared dict form, field checks and anomaly building for the expectation classes."""

    name: ClassVar[str]
    severity: Severity

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"expect": self.name}
        for f in fields(cast(Any, self)):
            value = getattr(self, f.name)
            if f.name == "severity" and value == "error":
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def _check_severity(self) -> None:
        if self.severity not in SEVERITIES:
            raise InvalidArgumentError(
                f"{self.name}: severity must be 'error' or 'warning', got {self.severity!r}"
            )

    def _anomaly(
        self,
        column: str | None,
        count: int,
        rows: int,
        examples: list[Any],
        message: str,
        hint: str,
    ) -> Anomaly:
        fraction = count / rows if rows else 0.0
        return Anomaly(self.name, column, self.severity, count, fraction, examples, message, hint)

    def _flagged(
        self, column: str | None, values: Any, offending: pd.Series, message: str, hint: str
    ) -> list[Anomaly]:
        """One anomaly for the rows marked in ``offending`` (``{count}`` in the message
        becomes their number), or none when no row is marked."""
        count = int(offending.sum())
        if not count:
            return []
        return [
            self._anomaly(
                column,
                count,
                len(offending),
                examples_of(values[offending]),
                message.replace("{count}", str(count)),
                hint,
            )
        ]

    def _missing(self, column: str, rows: int) -> list[Anomaly]:
        return [
            self._anomaly(
                column,
                rows,
                rows,
                [],
                f"{self.name}: the table has no column {column!r}, so the expectation "
                "cannot be checked",
                f"add the column {column!r} to the table, or drop this expectation",
            )
        ]


def _text(name: str, field_name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"{name}: {field_name} must be a column name (text), got {value!r}"
        )
    return value


def iso_timestamp(value: Any, where: str) -> str | None:
    """``value`` as an ISO 8601 string if it is a time (or text that parses as one), None
    if it is not time-like; text that does not parse is an error naming ``where``."""
    if isinstance(value, datetime | date | pd.Timestamp):  # also unquoted times in YAML
        return pd.Timestamp(value).isoformat()
    if isinstance(value, str):
        try:
            pd.Timestamp(value)
        except ValueError:
            raise InvalidArgumentError(
                f"{where} must be an ISO 8601 timestamp such as '2024-01-31' (or, outside "
                f"datetime columns, a number), got {value!r}"
            ) from None
        return value
    return None


def _bound(name: str, field_name: str, value: Any) -> float | str | None:
    """A number, an ISO 8601 timestamp (for datetime columns), or None."""
    if value is None:
        return None
    stamp = iso_timestamp(value, f"{name}: {field_name}")
    if stamp is not None:
        return stamp
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise InvalidArgumentError(f"{name}: {field_name} must be a number, got {value!r}")
    if math.isnan(float(value)):
        raise InvalidArgumentError(f"{name}: {field_name} is NaN; give a number or null")
    return value.item() if isinstance(value, np.number) else value


def _check_range(name: str, low: float | str | None, high: float | str | None) -> None:
    if low is None and high is None:
        raise InvalidArgumentError(f"{name}: give min, max or both (both are None)")
    if low is not None and high is not None and _as_comparable(low) > _as_comparable(high):
        raise InvalidArgumentError(f"{name}: min ({low!r}) is above max ({high!r}); swap them")


def _as_comparable(bound: float | str) -> Any:
    return wall_time(bound) if isinstance(bound, str) else bound


def wall_time(text: str) -> pd.Timestamp:
    """A timestamp bound as naive wall time, as columns are compared (and profiled)."""
    stamp = pd.Timestamp(text)
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _range_mask(values: pd.Series, low: Any, high: Any) -> pd.Series:
    """True where a present value lies outside [low, high]."""
    out = pd.Series(False, index=values.index)
    if low is not None:
        out |= values < low
    if high is not None:
        out |= values > high
    return out


def as_numbers_or_times(series: pd.Series, datetime_like: bool) -> tuple[pd.Series, pd.Series]:
    """The values as numbers (or timestamps), and a mask of present values that are not."""
    present = series.notna()
    if datetime_like or pd.api.types.is_datetime64_any_dtype(series.dtype):
        converted = to_datetimes(series)
    elif pd.api.types.is_bool_dtype(series.dtype):
        converted = series.astype("float64")
    else:
        converted = pd.to_numeric(series, errors="coerce")
    return converted, present & converted.isna()


def to_datetimes(series: pd.Series) -> pd.Series:
    """Timestamps as naive wall time (as profiles hold them); unparseable text becomes NaT."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = series
    elif pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    else:
        try:
            stamps = pd.to_datetime(series, errors="coerce", format="ISO8601")
        except ValueError:  # mixed UTC offsets
            stamps = pd.to_datetime(series, errors="coerce", format="ISO8601", utc=True)
    if getattr(stamps.dtype, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    return stamps


def _numbers_for(source: Any, series: pd.Series) -> pd.Series:
    """The column as numbers, or as timestamps when the bounds are timestamps."""
    timed = isinstance(source.min, str) or isinstance(source.max, str)
    if pd.api.types.is_datetime64_any_dtype(series.dtype) and not timed:
        raise InvalidArgumentError(
            f"{source.name}: {source.column!r} holds timestamps but the bounds are numbers; "
            "give the bounds as ISO 8601 timestamps, e.g. '2024-01-31'"
        )
    values, _ = as_numbers_or_times(series, timed)
    return values


def _outside(stat: Any, low: float | str | None, high: float | str | None) -> bool:
    if low is not None and stat < _as_comparable(low):
        return True
    return high is not None and stat > _as_comparable(high)


# -- the expectations ------------------------------------------------------------------


@dataclass(frozen=True)
class Between(_Base):
    """Every present value of ``column`` lies in [min, max] (either bound may be None).

    Bounds are numbers, or ISO 8601 timestamps for datetime columns. Values that are not
    numbers (or timestamps) count as offending.
    """

    name: ClassVar[str] = "between"
    column: str
    min: float | str | None = None
    max: float | str | None = None
    severity: Severity = "error"

    def __post_init__(self) -> None:
        _text(self.name, "column", self.column)
        object.__setattr__(self, "min", _bound(self.name, "min", self.min))
        object.__setattr__(self, "max", _bound(self.name, "max", self.max))
        _check_range(self.name, self.min, self.max)
        self._check_severity()

    def check(self, df: pd.DataFrame) -> list[Anomaly]:
        series = column_of(df, self.column)
        if series is None:
            return self._missing(self.column, len(df))
        values = _numbers_for(self, series)
        low = None if self.min is None else _as_comparable(self.min)
        high = None if self.max is None else _as_comparable(self.max)
        offending = (series.notna() & values.isna()) | _range_mask(values, low, high)
        return self._flagged(
            self.column,
            series,
            offending,
            f"{{count}} value(s) of {self.column!r} lie outside {_interval(self.min, self.max)}",
            "fix the offending rows upstream, or widen the expectation if they are valid",
        )


@dataclass(frozen=True)
class InSet(_Base):
    """Every present value of ``column`` is one of ``values``."""

    name: ClassVar[str] = "in_set"
    column: str
    values: tuple[Any, ...]
    severity: Severity = "error"

    def __post_init__(self) -> None:
        _text(self.name, "column", self.column)
        if isinstance(self.values, str | bytes) or not isinstance(self.values, Iterable):
            raise InvalidArgumentError(
                f"in_set: values must be a list of allowed values, got {self.values!r}"
            )
        object.__setattr__(self, "values", tuple(self.values))
        self._check_severity()

    def check(self, df: pd.DataFrame) -> list[Anomaly]:
        series = column_of(df, self.column)
        if series is None:
            return self._missing(self.column, len(df))
        offending = series.notna() & ~series.isin(list(self.values))
        shown = ", ".join(map(repr, self.values[:10])) + (" ..." if len(self.values) > 10 else "")
        return self._flagged(
            self.column,
            series,
            offending,
            f"{{count}} value(s) of {self.column!r} are not in the allowed set ({shown})",
            "map the new values to allowed ones upstream, or add them to the set",
        )


@dataclass(frozen=True)
class NotNull(_Base):
    """No value of ``column`` is missing."""

    name: ClassVar[str] = "not_null"
    column: str
    severity: Severity = "error"

    def __post_init__(self) -> None:
        _text(self.name, "column", self.column)
        self._check_severity()

    def check(self, df: pd.DataFrame) -> list[Anomaly]:
        series = column_of(df, self.column)
        if series is None:
            return self._missing(self.column, len(df))
        count = int(series.isna().sum())
        if not count:
            return []
        return [
            self._anomaly(
                self.column,
                count,
                len(df),
                [],
                f"{count} value(s) of {self.column!r} are missing",
                "fill the column upstream (or impute it), or drop this expectation",
            )
        ]


@dataclass(frozen=True)
class Unique(_Base):
    """No two rows share the same value of ``columns`` (taken together)."""

    name: ClassVar[str] = "unique"
    columns: tuple[str, ...]
    severity: Severity = "error"

    def __post_init__(self) -> None:
        names = (self.columns,) if isinstance(self.columns, str) else tuple(self.columns)
        if not names:
            raise InvalidArgumentError("unique: give at least one column")
        for name in names:
            _text(self.name, "columns", name)
        object.__setattr__(self, "columns", names)
        self._check_severity()

    def check(self, df: pd.DataFrame) -> list[Anomaly]:
        found = {name: column_of(df, name) for name in self.columns}
        absent = [name for name, series in found.items() if series is None]
        if absent:
            return self._missing(absent[0], len(df))
        count, examples = duplicates(pd.DataFrame(found))
        if not count:
            return []
        return [
            self._anomaly(
                self.columns[0] if len(self.columns) == 1 else None,
                count,
                len(df),
                examples,
                f"{count} row(s) repeat a value of {list(self.columns)} seen on an earlier row",
                "drop or merge the duplicated rows upstream",
            )
        ]


def duplicates(keys: pd.DataFrame) -> tuple[int, list[Any]]:
    """How many rows repeat an earlier row's values of ``keys``, and examples of them."""
    repeated = keys.duplicated(keep="first").to_numpy()
    count = int(repeated.sum())
    if not count:
        return 0, []
    shown = keys.iloc[:, 0] if keys.shape[1] == 1 else keys
    return count, examples_of(shown[repeated])


@dataclass(frozen=True)
class MatchesRegex(_Base):
    """Every present value of ``column``, as text, fully matches ``pattern``."""

    name: ClassVar[str] = "matches_regex"
    column: str
    pattern: str
    severity: Severity = "error"

    def __post_init__(self) -> None:
        _text(self.name, "column", self.column)
        compile_pattern(self.pattern, f"{self.name} on {self.column!r}")
        self._check_severity()

    def check(self, df: pd.DataFrame) -> list[Anomaly]:
        series = column_of(df, self.column)
        if series is None:
            return self._missing(self.column, len(df))
        offending = pattern_mismatches(series, self.pattern)
        return self._flagged(
            self.column,
            series,
            offending,
            f"{{count}} value(s) of {self.column!r} do not match {self.pattern!r}",
            "fix the format upstream, or loosen the pattern if the values are valid",
        )


def compile_pattern(pattern: Any, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise InvalidArgumentError(f"{where}: pattern must be text, got {pattern!r}")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidArgumentError(
            f"{where}: pattern {pattern!r} is not a valid regular expression ({exc}); "
            "fix it (Python `re` syntax)"
        ) from None


def pattern_mismatches(series: pd.Series, pattern: str) -> pd.Series:
    """True where a present value, as text, does not fully match ``pattern``."""
    present = series.notna()
    text = series if pd.api.types.is_string_dtype(series.dtype) else series.astype("string")
    if isinstance(text.dtype, pd.CategoricalDtype):
        text = text.astype("string")
    matched = text.str.fullmatch(pattern).fillna(False).astype(bool)
    return present & ~matched


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}
OPERATORS = tuple(_OPERATORS)


def comparable(series: pd.Series) -> pd.Series:
    """Numbers, timestamps or text, whichever the column's present values all are."""
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_datetime64_any_dtype(
        series.dtype
    ):
        return series
    present = int(series.notna().sum())
    numbers = pd.to_numeric(series, errors="coerce")
    if int(numbers.notna().sum()) == present:
        return numbers
    stamps = to_datetimes(series)
    if int(stamps.notna().sum()) == present:
        return stamps
    return series.astype("string")


def relation_violations(left: pd.Series, right: pd.Series, op: str) -> pd.Series:
    """True on rows where both sides are present and ``left op right`` does not hold."""
    both = left.notna() & right.notna()
    try:
        holds = _OPERATORS[op](left, right)
    except TypeError as exc:
        raise InvalidArgumentError(
            f"cannot compare a {left.dtype} column with a {right.dtype} column ({exc}); "
            "relate columns of the same kind"
        ) from None
    return both & ~pd.Series(holds, index=left.index).fillna(False).astype(bool)


@dataclass(frozen=True)
class ColumnLessEqual(_Base):
    """``left <= right`` on every row where both are present (e.g. start <= end)."""

    name: ClassVar[str] = "column_less_equal"
    left: str
    right: str
    severity: Severity = "error"

    def __post_init__(self) -> None:
        _text(self.name, "left", self.left)
        _text(self.name, "right", self.right)
        self._check_severity()

    def check(self, df: pd.DataFrame) -> list[Anomaly]:
        left, right = column_of(df, self.left), column_of(df, self.right)
        if left is None or right is None:
            return self._missing(self.left if left is None else self.right, len(df))
        offending = relation_violations(comparable(left), comparable(right), "<=")
        pairs = pd.DataFrame({self.left: left, self.right: right})
        return self._flagged(
            None,
            pairs,
            offending,
            f"{{count}} row(s) have {self.left!r} > {self.right!r}",
            "fix the rows upstream (swapped or mistyped values are the usual cause)",
        )


class _Statistic(_Base):
    """A statistic of a column's present values lies in [min, max]."""

    column: str
    min: float | str | None
    max: float | str | None

    def _check_fields(self) -> None:
        _text(self.name, "column", self.column)
        object.__setattr__(self, "min", _bound(self.name, "min", self.min))
        object.__setattr__(self, "max", _bound(self.name, "max", self.max))
        _check_range(self.name, self.min, self.max)
        self._check_severity()

    def _label(self) -> str:
        raise NotImplementedError

    def _statistic(self, values: pd.Series) -> Any:
        raise NotImplementedError

    def check(self, df: pd.DataFrame) -> list[Anomaly]:
        series = column_of(df, self.column)
        if series is None:
            return self._missing(self.column, len(df))
        values = _numbers_for(self, series).dropna()
        stat = self._statistic(values) if len(values) else None
        if stat is not None and not _outside(stat, self.min, self.max):
            return []
        shown = "undefined (no numeric values)" if stat is None else str(jsonable(stat))
        return [
            self._anomaly(
                self.column,
                len(values),
                len(df),
                [] if stat is None else [jsonable(stat)],
                f"the {self._label()} of {self.column!r} is {shown}, outside "
                f"{_interval(self.min, self.max)}",
                "look for a shift in the data (drift, a unit change, a broken join), or "
                "revise the expected range",
            )
        ]


@dataclass(frozen=True)
class MeanBetween(_Statistic):
    """The mean of the present values of ``column`` lies in [min, max]."""

    name: ClassVar[str] = "mean_between"
    column: str
    min: float | str | None = None
    max: float | str | None = None
    severity: Severity = "error"

    def __post_init__(self) -> None:
        self._check_fields()

    def _label(self) -> str:
        return "mean"

    def _statistic(self, values: pd.Series) -> Any:
        return values.mean()


@dataclass(frozen=True)
class QuantileBetween(_Statistic):
    """The ``q``-quantile (0 to 1) of the present values of ``column`` lies in [min, max]."""

    name: ClassVar[str] = "quantile_between"
    column: str
    q: float
    min: float | str | None = None
    max: float | str | None = None
    severity: Severity = "error"

    def __post_init__(self) -> None:
        if isinstance(self.q, bool) or not isinstance(self.q, int | float) or not 0 <= self.q <= 1:
            raise InvalidArgumentError(
                f"quantile_between: q must be a number between 0 and 1, got {self.q!r}"
            )
        self._check_fields()

    def _label(self) -> str:
        return f"{self.q:g}-quantile"

    def _statistic(self, values: pd.Series) -> Any:
        return values.quantile(self.q)


def _interval(low: float | str | None, high: float | str | None) -> str:
    return f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"


EXPECTATIONS: dict[str, type[Any]] = {
    cls.name: cls
    for cls in (
        Between,
        InSet,
        NotNull,
        Unique,
        MatchesRegex,
        ColumnLessEqual,
        MeanBetween,
        QuantileBetween,
    )
}


def from_dict(data: Mapping[str, Any], where: str = "expectation") -> Expectation:
    """The expectation a dict describes: ``{"expect": name, **fields}``.

    Raises InvalidArgumentError naming the unknown expectation or field, or the missing
    field, so a hand-edited YAML file is easy to fix.
    """
    if not isinstance(data, Mapping):
        raise InvalidArgumentError(
            f"{where}: expected a mapping like {{expect: between, column: age, min: 0}}, "
            f"got {data!r}"
        )
    name = data.get("expect")
    if name not in EXPECTATIONS:
        raise InvalidArgumentError(
            f"{where}: unknown expectation {name!r} in field 'expect'; use one of "
            f"{sorted(EXPECTATIONS)}"
        )
    cls = EXPECTATIONS[name]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known - {"expect"}, key=str)
    if unknown:
        raise InvalidArgumentError(
            f"{where}: unknown field {unknown[0]!r} for {name}; its fields are {sorted(known)}"
        )
    required = [f.name for f in fields(cls) if f.default is MISSING]
    absent = [f for f in required if f not in data]
    if absent:
        raise InvalidArgumentError(f"{where}: {name} needs the field {absent[0]!r}")
    kwargs = {k: v for k, v in data.items() if k != "expect"}
    try:
        return cast(Expectation, cls(**kwargs))
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{where}: {exc}") from None


# -- helpers: expect.between("age", 0, 120) --------------------------------------------


def between(
    column: str,
    min: float | str | None = None,
    max: float | str | None = None,
    *,
    severity: Severity = "error",
) -> Between:
    """Expect every present value of ``column`` in [min, max]."""
    return Between(column, min, max, severity)


def in_set(column: str, values: Iterable[Any], *, severity: Severity = "error") -> InSet:
    """Expect every present value of ``column`` to be one of ``values``."""
    return InSet(column, cast(tuple[Any, ...], values), severity)  # InSet checks, then copies


def not_null(column: str, *, severity: Severity = "error") -> NotNull:
    """Expect no missing value in ``column``."""
    return NotNull(column, severity)


def unique(columns: str | Sequence[str], *, severity: Severity = "error") -> Unique:
    """Expect no two rows to share a value of ``columns`` (one name or several)."""
    names = (columns,) if isinstance(columns, str) else tuple(columns)
    return Unique(names, severity)


def matches_regex(column: str, pattern: str, *, severity: Severity = "error") -> MatchesRegex:
    """Expect every present value of ``column`` to fully match ``pattern``."""
    return MatchesRegex(column, pattern, severity)


def column_less_equal(left: str, right: str, *, severity: Severity = "error") -> ColumnLessEqual:
    """Expect ``left <= right`` on every row where both are present."""
    return ColumnLessEqual(left, right, severity)


def mean_between(
    column: str,
    min: float | str | None = None,
    max: float | str | None = None,
    *,
    severity: Severity = "error",
) -> MeanBetween:
    """Expect the mean of ``column`` in [min, max]."""
    return MeanBetween(column, min, max, severity)


def quantile_between(
    column: str,
    q: float,
    min: float | str | None = None,
    max: float | str | None = None,
    *,
    severity: Severity = "error",
) -> QuantileBetween:
    """Expect the ``q``-quantile of ``column`` in [min, max]."""
    return QuantileBetween(column, q, min, max, severity)
