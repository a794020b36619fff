"""Validation: check a table against a schema, declared expectations and the training data.

``validate(table, schema)`` returns a :class:`ValidationReport` of anomalies. Every check is
vectorised (pandas and NumPy over whole columns), so a million rows validate in about a
second. Anomaly kinds and their default severity:

=================  ===================================================  =================
kind               found when                                           severity
=================  ===================================================  =================
missing_column     a required schema column is absent                   error
unexpected_column  the table has a column the schema does not           warning
type_mismatch      present values are not of the column's kind (text    error
                   in a numeric column, a number in a text column, ...)
too_many_missing   the missing rate exceeds ``max_missing_rate``        by rows (below)
out_of_range       numeric or datetime values outside [min, max]        by rows, or error
                                                                        when far (below)
unknown_category   categorical values outside ``values``                by rows
pattern_mismatch   text values that do not fully match ``pattern``      by rows
duplicate_key      rows repeating an earlier row's key                  error
row_count          the row count is outside ``rows``                    warning; error
                                                                        when empty
relation_violated  a schema relation (e.g. start <= end) does not hold  by rows
schema_skew        with ``reference``: a feature's kind differs         error
                   between training and serving, or a training feature
                   is absent at serving; a feature new at serving       warning
<expectation>      a declared expectation fails (kind = its name)       its ``severity``
=================  ===================================================  =================

"By rows": a warning while the offending rows are at most 1% of the table (a few stray
values to look at), an error above (a systematic change); for too_many_missing the
offending rows are the missing ones beyond the tolerated rate. An out_of_range value is
always an error when it lies beyond a bound by more than the width of the range
(max - min): that is not noise.

Examples
--------
>>> from headway.data import make_churn
>>> from headway.data.schema import infer_schema
>>> from headway.data.validate import validate
>>> schema = infer_schema(make_churn(2000, seed=1))
>>> validate(make_churn(1000, seed=2), schema).anomalies
[]
>>> bad = make_churn(1000, seed=3).drop(columns="region")
>>> bad.loc[0, "plan"] = "platinum"
>>> [(a.kind, a.column, a.severity) for a in validate(bad, schema).anomalies]
[('missing_column', 'region', 'error'), ('unknown_category', 'plan', 'warning')]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from headway._tabular import to_pandas
from headway.data.expectations import (
    Anomaly,
    Expectation,
    as_numbers_or_times,
    duplicates,
    examples_of,
    pattern_mismatches,
    relation_violations,
    severity_for,
    to_datetimes,
    wall_time,
)
from headway.data.profile import (
    BOOL_STRINGS,
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    NUMERIC,
    TEXT,
    Profile,
    infer_kind,
)
from headway.data.schema import ColumnSchema, Relation, Schema
from headway.errors import InvalidArgumentError

__all__ = ["Anomaly", "ValidationReport", "validate"]

_STRINGS = (CATEGORICAL, TEXT)


@dataclass(frozen=True)
class ValidationReport:
    """The anomalies found in a table of ``rows`` rows; ``ok`` when none is an error."""

    anomalies: list[Anomaly]
    rows: int

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Anomaly]:
        return [a for a in self.anomalies if a.severity == "error"]

    @property
    def warnings(self) -> list[Anomaly]:
        return [a for a in self.anomalies if a.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "anomalies": [a.to_dict() for a in self.anomalies],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def summary(self) -> str:
        """One line per anomaly, errors first: for a terminal or a log."""
        if not self.anomalies:
            return f"{self.rows} rows: no anomalies"
        ordered = self.errors + self.warnings
        lines = [f"{self.rows} rows: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"]
        lines += [f"  {a.severity:<7} {a.kind:<18} {a.message} -> {a.hint}" for a in ordered]
        return "\n".join(lines)


def validate(
    table: Any,
    schema: Schema,
    expectations: Sequence[Expectation] | None = None,
    *,
    reference: Profile | Schema | None = None,
) -> ValidationReport:
    """Check ``table`` against ``schema``, its expectations and ``expectations``.

    Parameters
    ----------
    table
        A pandas, polars or pyarrow table (or a dict of columns).
    schema
        What the table should look like (:func:`headway.data.schema.infer_schema`).
    expectations
        More expectations to check, besides those declared in the schema.
    reference
        The training data's profile or schema: adds ``schema_skew`` anomalies for
        features whose kind differs between training and this (serving) table, and for
        features present on one side only.

    Returns
    -------
    ValidationReport
        Empty when the table fits; see the module docs for kinds and severities.

    Examples
    --------
    >>> import pandas as pd
    >>> from headway.data.schema import infer_schema
    >>> schema = infer_schema(pd.DataFrame({"start": [1, 2, 3], "end": [2, 3, 4]}))
    >>> schema = schema.with_relations("start <= end")
    >>> report = validate(pd.DataFrame({"start": [1, 5], "end": [2, 4]}), schema)
    >>> report.ok, [(a.kind, a.examples) for a in report.anomalies]
    (False, [('relation_violated', [{'start': 5, 'end': 4}])])
    """
    if not isinstance(schema, Schema):
        raise InvalidArgumentError(
            f"validate needs a Schema, got {type(schema).__name__}; build one with "
            "infer_schema(table_or_profile) or Schema.load(path)"
        )
    df = to_pandas(table)
    rows = len(df)
    names = {str(label): label for label in df.columns}
    anomalies = _row_count(schema, rows)
    anomalies += _columns(schema, names, rows)
    converted: dict[str, pd.Series] = {}
    for name, column in schema.columns.items():
        if name in names:
            found, converted[name] = _check_column(column, df[names[name]], rows)
            anomalies += found
    anomalies += _key(schema, df, names)
    for relation in schema.relations:
        anomalies += _relation(relation, df, names, converted)
    for expectation in [*schema.expectations, *(expectations or ())]:
        anomalies += expectation.check(df)
    if reference is not None:
        anomalies += _skew(reference, df, names)
    return ValidationReport(anomalies, rows)


# -- table level -----------------------------------------------------------------------


def _row_count(schema: Schema, rows: int) -> list[Anomaly]:
    if rows in schema.rows:
        return []
    most = "any number" if schema.rows.max is None else schema.rows.max
    accepted = f"{schema.rows.min} to {most}"
    return [
        Anomaly(
            "row_count",
            None,
            "error" if rows == 0 else "warning",
            rows,
            1.0,
            [rows],
            f"the table has {rows} rows; the schema expects {accepted}",
            "look for a truncated, filtered or duplicated batch upstream; if the size is "
            "expected, edit 'rows' in the schema",
        )
    ]


def _columns(schema: Schema, names: dict[str, Any], rows: int) -> list[Anomaly]:
    out = [
        Anomaly(
            "missing_column",
            name,
            "error",
            rows,
            1.0,
            [],
            f"column {name!r} is in the schema but not in the table",
            "add the column upstream; if it may be absent (a label, say), set "
            "'required: false' for it in the schema",
        )
        for name, column in schema.columns.items()
        if column.required and name not in names
    ]
    out += [
        Anomaly(
            "unexpected_column",
            name,
            "warning",
            rows,
            1.0,
            [],
            f"column {name!r} is in the table but not in the schema",
            "add it to the schema (re-infer, or edit the YAML) if it is expected, or drop "
            "it upstream",
        )
        for name in names
        if name not in schema.columns
    ]
    return out


def _key(schema: Schema, df: pd.DataFrame, names: dict[str, Any]) -> list[Anomaly]:
    if not schema.key or any(k not in names for k in schema.key):
        return []  # a missing key column is already a missing_column anomaly
    keys = pd.DataFrame({k: df[names[k]] for k in schema.key})
    count, examples = duplicates(keys)
    if not count:
        return []
    return [
        Anomaly(
            "duplicate_key",
            schema.key[0] if len(schema.key) == 1 else None,
            "error",
            count,
            count / len(df),
            examples,
            f"{count} row(s) repeat a key {schema.key} seen on an earlier row",
            "drop or merge the duplicated rows upstream (a double load or a fan-out join?), "
            "or change the schema's key",
        )
    ]


def _relation(
    relation: Relation, df: pd.DataFrame, names: dict[str, Any], converted: dict[str, pd.Series]
) -> list[Anomaly]:
    if relation.left not in converted or relation.right not in converted:
        return []  # a missing column is already a missing_column anomaly
    offending = relation_violations(
        converted[relation.left], converted[relation.right], relation.op
    )
    count = int(offending.sum())
    if not count:
        return []
    pairs = pd.DataFrame(
        {
            relation.left: df[names[relation.left]][offending],
            relation.right: df[names[relation.right]][offending],
        }
    )
    return [
        Anomaly(
            "relation_violated",
            None,
            severity_for(count, len(df)),
            count,
            count / len(df),
            examples_of(pairs),
            f"{count} row(s) break the relation {relation}",
            "fix the rows upstream (swapped or mistyped values are the usual cause); if the "
            "relation no longer holds, remove it from the schema",
        )
    ]


# -- column level ----------------------------------------------------------------------


def _check_column(
    column: ColumnSchema, series: pd.Series, rows: int
) -> tuple[list[Anomaly], pd.Series]:
    """The column's anomalies, and its values converted to the schema's kind."""
    values, bad = _convert(series, column.kind)
    out = []
    bad_count = int(bad.sum())
    if bad_count:
        out.append(
            Anomaly(
                "type_mismatch",
                column.name,
                "error",
                bad_count,
                bad_count / rows,
                examples_of(series[bad]),
                f"{bad_count} value(s) of {column.name!r} are not {column.kind} (the column "
                f"holds {series.dtype})",
                "fix the type upstream (a parse error, a shifted CSV column, a join?), or "
                "change the column's kind in the schema",
            )
        )
    out += _missing(column, series, rows)
    usable = series.notna() & ~bad
    if column.kind in (NUMERIC, DATETIME) and (column.min is not None or column.max is not None):
        out += _out_of_range(column, series, values, usable, rows)
    if column.kind in _STRINGS and column.values is not None:
        unknown = usable & ~values.isin(column.values)
        out += _value_anomaly(
            "unknown_category",
            column,
            series,
            unknown,
            rows,
            f"are not among its {len(column.values)} known values",
            "map new values to known ones upstream, or add them to 'values' in the schema if "
            "they are valid (a model never trained on them may mispredict: consider "
            "retraining)",
        )
    if column.kind in _STRINGS and column.pattern is not None:
        mismatched = usable & pattern_mismatches(values, column.pattern)
        out += _value_anomaly(
            "pattern_mismatch",
            column,
            series,
            mismatched,
            rows,
            f"do not match {column.pattern!r}",
            "fix the format upstream, or update 'pattern' in the schema if the new format is valid",
        )
    return out, values.where(~bad)


def _convert(series: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    """Values as the kind's type, and a mask of present values that are not of that kind."""
    present = series.notna()
    nothing = pd.Series(False, index=series.index)
    dtype = series.dtype
    if kind == NUMERIC:
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return pd.Series(np.nan, index=series.index), present
        values, bad = as_numbers_or_times(series, datetime_like=False)
        return values.astype("float64"), bad
    if kind == DATETIME:
        stamps = to_datetimes(series)
        return stamps, present & stamps.isna()
    if kind == BOOLEAN:
        if pd.api.types.is_bool_dtype(dtype):
            return series.map(BOOL_STRINGS), nothing
        mapped = series.map(BOOL_STRINGS)
        return mapped, present & mapped.isna()
    if isinstance(dtype, pd.CategoricalDtype):
        return series.astype("string"), nothing
    if (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
    ):
        return series.astype("string"), present
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return series, nothing
    try:
        lengths = series.str.len()  # NaN for non-text values in an object column
    except AttributeError:  # no text at all
        return series.astype("string"), present
    return series.astype("string"), present & lengths.isna()


def _missing(column: ColumnSchema, series: pd.Series, rows: int) -> list[Anomaly]:
    missing = int(series.isna().sum())
    if not rows or missing / rows <= column.max_missing_rate:
        return []
    excess = missing - column.max_missing_rate * rows
    tolerated = f"{column.max_missing_rate:.1%}" if column.nullable else "none (not nullable)"
    return [
        Anomaly(
            "too_many_missing",
            column.name,
            severity_for(int(np.ceil(excess)), rows),
            missing,
            missing / rows,
            [],
            f"{missing / rows:.1%} of {column.name!r} is missing ({missing} rows); the schema "
            f"tolerates {tolerated}",
            "find why values went missing upstream (a failed join, a new source, a logging "
            "bug?); if it is expected, raise 'max_missing_rate' in the schema",
        )
    ]


def _out_of_range(
    column: ColumnSchema, series: pd.Series, values: pd.Series, usable: pd.Series, rows: int
) -> list[Anomaly]:
    timed = column.kind == DATETIME
    low = _bound(column.min, timed)
    high = _bound(column.max, timed)
    outside = pd.Series(False, index=series.index)
    if low is not None:
        outside |= values < low
    if high is not None:
        outside |= values > high
    outside &= usable
    count = int(outside.sum())
    if not count:
        return []
    far = False
    if low is not None and high is not None:
        width = high - low
        try:
            far = bool(((values < low - width) | (values > high + width))[outside].any())
        except (OverflowError, pd.errors.OutOfBoundsDatetime):
            far = False
    return [
        Anomaly(
            "out_of_range",
            column.name,
            severity_for(count, rows, far=far),
            count,
            count / rows,
            examples_of(series[outside]),
            f"{count} value(s) of {column.name!r} lie outside [{column.min}, {column.max}]",
            "look for a unit change, a sentinel value (-1, 9999) or a broken sensor upstream; "
            "if the values are valid, widen 'min'/'max' in the schema",
        )
    ]


def _bound(value: float | str | None, timed: bool) -> Any:
    if value is None:
        return None
    return wall_time(str(value)) if timed else float(value)


def _value_anomaly(
    kind: str,
    column: ColumnSchema,
    series: pd.Series,
    offending: pd.Series,
    rows: int,
    what: str,
    hint: str,
) -> list[Anomaly]:
    count = int(offending.sum())
    if not count:
        return []
    return [
        Anomaly(
            kind,
            column.name,
            severity_for(count, rows),
            count,
            count / rows,
            examples_of(series[offending]),
            f"{count} value(s) of {column.name!r} {what}",
            hint,
        )
    ]


# -- training/serving skew -------------------------------------------------------------


def _family(kind: str) -> str:
    """Categorical and text differ only by cardinality, which a batch's size moves."""
    return "categorical/text" if kind in _STRINGS else kind


def _serving_family(series: pd.Series) -> str:
    """``_family(infer_kind(series))``, judged on a sample: the family does not depend on
    how many distinct values the whole column has."""
    return _family(infer_kind(series.dropna().head(1000)))


def _skew(reference: Profile | Schema, df: pd.DataFrame, names: dict[str, Any]) -> list[Anomaly]:
    if not isinstance(reference, Profile | Schema):
        raise InvalidArgumentError(
            f"reference must be the training data's Profile or Schema, got "
            f"{type(reference).__name__}; build it with profile(train) or infer_schema(train)"
        )
    trained = {name: column.kind for name, column in reference.columns.items()}
    optional = (
        {n for n, c in reference.columns.items() if not c.required}
        if isinstance(reference, Schema)
        else set()
    )
    rows = len(df)
    out = [
        _skew_anomaly(
            name,
            "error",
            rows,
            f"feature {name!r} was present at training but is absent at serving",
            "send the feature from the serving path (the model expects it), or retrain without it",
        )
        for name in trained
        if name not in names and name not in optional
    ]
    out += [
        _skew_anomaly(
            name,
            "warning",
            rows,
            f"feature {name!r} is present at serving but was absent at training",
            "drop it from the serving path, or retrain with it if the model should use it",
        )
        for name in names
        if name not in trained
    ]
    for name, kind in trained.items():
        if name not in names:
            continue
        series = df[names[name]]
        if not series.notna().any():
            continue  # an all-missing column has no kind to compare
        serving = _serving_family(series)
        if serving != _family(kind):
            out.append(
                _skew_anomaly(
                    name,
                    "error",
                    rows,
                    f"feature {name!r} is {kind} at training but {serving} at serving "
                    f"(dtype {series.dtype})",
                    "make the serving transformation produce the same type as training "
                    "(the same code path for both avoids this skew)",
                )
            )
    return out


def _skew_anomaly(name: str, severity: str, rows: int, message: str, hint: str) -> Anomaly:
    return Anomaly(
        "schema_skew",
        name,
        "error" if severity == "error" else "warning",
        rows,
        1.0 if rows else 0.0,
        [],
        message,
        hint,
    )
