"""Schemas: what valid data looks like, inferred from a profile and edited by hand.

A schema says, per column, its kind, whether (and how often) it may be missing, and its
domain: a numeric or datetime range, a categorical value set, a text pattern. At table
level it holds an accepted row-count range, an optional key, user-declared cross-column
relations ("start <= end") and declared expectations (:mod:`headway.data.expectations`).
``validate(table, schema)`` checks a table against it.

Inference is generous on purpose: on fresh samples from the distribution a schema was
inferred from, validation reports nothing; the schema exists to catch real breakage (a
value far out of range, a category never seen, a missing column, text in a numeric column,
a burst of nulls, duplicated keys), not sampling noise. The margins:

==================  =====================================================================
field               inferred as
==================  =====================================================================
rows                [N / row_count_slack, N * row_count_slack] around the profiled row
                    count N (slack 10: serving batches rarely match the training size)
max_missing_rate    0 when nothing was missing; else observed rate * 1.25 +
                    missing_tolerance (0.05), rounded up, at most 1
min, max            numeric and datetime: the observed range widened on each side by
                    range_margin (0.5) * the largest of: max - min, 6 * std, and 6 * that
                    side's tail (max - p95, or p05 - min: heavy tails reach further),
                    rounded outward to a readable value. A non-negative, right-skewed
                    column (mean - min <= (max - mean) / 2: amounts, counts, durations)
                    keeps 0 as its floor (mirrored for non-positive ones). Identifier
                    columns get no range.
values              categorical: the observed values, when the profile saw every value
                    (no "other" bin) and each at least twice (a value seen once hints at
                    more unseen ones: the Good-Turing estimate of unseen mass is n1 / n)
pattern             categorical or text without a value set, from at least 20 distinct
                    values: a fixed-shape pattern when every value has the same length and
                    character classes per position (e.g. ``[A-Z]{3}-[0-9]{6}``), else all
                    digits (``[0-9]+``), else email-like; otherwise none
unique              every present value distinct (exact count); informational, the key is
                    what validation enforces
key                 the first identifier column: unique, and consecutive integers or named
                    like an id (``id``, ``*_id``, ``*Id``, ``uuid``)
==================  =====================================================================

Examples
--------
>>> from headway.data import make_churn
>>> from headway.data.schema import Schema, infer_schema
>>> schema = infer_schema(make_churn(2000, seed=1))
>>> schema["plan"].values, schema.key
(['basic', 'premium', 'standard'], ['customer_id'])
>>> Schema.from_yaml(schema.to_yaml()) == schema
True
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from headway.data import expectations as expect
from headway.data.expectations import (
    OPERATORS,
    Expectation,
    compile_pattern,
    iso_timestamp,
    wall_time,
)
from headway.data.profile import (
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    KINDS,
    NUMERIC,
    TEXT,
    ColumnProfile,
    Profile,
    profile,
)
from headway.errors import InvalidArgumentError

__all__ = [
    "DEFAULT_MISSING_TOLERANCE",
    "DEFAULT_RANGE_MARGIN",
    "DEFAULT_ROW_COUNT_SLACK",
    "ColumnSchema",
    "Relation",
    "RowRange",
    "Schema",
    "infer_schema",
]

DEFAULT_MISSING_TOLERANCE = 0.05
DEFAULT_ROW_COUNT_SLACK = 10.0
DEFAULT_RANGE_MARGIN = 0.5
MISSING_RELATIVE_SLACK = 0.25  # the tolerated rate also grows with the observed rate
TAIL_FACTOR = 6.0  # a side's spread is at least 6 x (extreme - its 5th/95th percentile)
SKEW_FLOOR = 0.5  # (mean - min) / (max - mean) at most this: zero is a floor
MIN_EVIDENCE = 20  # distinct values needed before a pattern or an identifier is inferred
SCHEMA_VERSION = 1
_RANGED = (NUMERIC, DATETIME)
_STRINGS = (CATEGORICAL, TEXT)
_ID_SNAKE = re.compile(r"(?:^|[_\s-])(?:id|uuid|guid)$", re.IGNORECASE)  # id, customer_id
_ID_CAMEL = re.compile(r"[a-z0-9](?:Id|ID|Uuid|UUID)$")  # customerId, orderID
Bound = float | str | None  # a number, or an ISO 8601 timestamp for datetime columns
_SPECIAL = set(".^$*+?{}[]\\|()")
_EMAIL = r"[^@ ]+@[^@ ]+\.[^@ ]+"  # no \s: pyarrow's RE2 runs it, ~20x faster than re


# -- value objects ---------------------------------------------------------------------


@dataclass(frozen=True)
class RowRange:
    """Accepted row count of a table: ``min <= rows <= max`` (``max`` None: no limit)."""

    min: int = 0
    max: int | None = None

    def __post_init__(self) -> None:
        for name in ("min", "max"):
            value = getattr(self, name)
            if (value is not None or name == "min") and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise InvalidArgumentError(
                    f"rows.{name} must be a whole number of rows (0 or more), got {value!r}"
                )
        if self.max is not None and self.min > self.max:
            raise InvalidArgumentError(
                f"rows.min ({self.min}) is above rows.max ({self.max}); swap them"
            )

    def __contains__(self, rows: int) -> bool:
        return self.min <= rows and (self.max is None or rows <= self.max)


@dataclass(frozen=True)
class ColumnSchema:
    """What one column's values may be. Fields that do not apply to its kind are None.

    ``min``/``max`` are numbers for numeric columns and ISO 8601 timestamps (text) for
    datetime columns. ``values`` and ``pattern`` apply to categorical and text columns.
    A column that is not ``required`` may be absent from a table (a label, say).
    """

    name: str
    kind: str
    nullable: bool = False
    max_missing_rate: float = 0.0
    min: float | str | None = None
    max: float | str | None = None
    values: list[str] | None = None
    pattern: str | None = None
    unique: bool = False
    required: bool = True

    def __post_init__(self) -> None:
        where = f"column {self.name!r}"
        if not isinstance(self.name, str):
            raise InvalidArgumentError(f"a column name must be text, got {self.name!r}")
        if self.kind not in KINDS:
            raise InvalidArgumentError(
                f"{where}: field 'kind' is {self.kind!r}; use one of {list(KINDS)}"
            )
        for flag in ("nullable", "unique", "required"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidArgumentError(
                    f"{where}: field {flag!r} must be true or false, got {getattr(self, flag)!r}"
                )
        self._check_missing(where)
        self._check_range(where)
        self._check_strings(where)

    def _check_missing(self, where: str) -> None:
        rate = self.max_missing_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise InvalidArgumentError(
                f"{where}: field 'max_missing_rate' must be a number from 0 to 1, got {rate!r}"
            )
        if not self.nullable and rate > 0:
            raise InvalidArgumentError(
                f"{where}: 'nullable' is false but 'max_missing_rate' is {rate}; set nullable "
                "to true to tolerate missing values, or the rate to 0"
            )
        if self.nullable and rate == 0:
            raise InvalidArgumentError(
                f"{where}: 'nullable' is true but 'max_missing_rate' is 0; give the tolerated "
                "rate (1 for any), or set nullable to false"
            )

    def _check_range(self, where: str) -> None:
        if self.min is None and self.max is None:
            return
        if self.kind not in _RANGED:
            raise InvalidArgumentError(
                f"{where}: fields 'min'/'max' apply to numeric and datetime columns, not "
                f"{self.kind}; remove them or change the kind"
            )
        bounds: dict[str, Any] = {}
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is not None:
                value = _bound(value, self.kind, f"{where}: field {name!r}")
                object.__setattr__(self, name, value)
                bounds[name] = wall_time(str(value)) if self.kind == DATETIME else value
        if len(bounds) == 2 and bounds["min"] > bounds["max"]:
            raise InvalidArgumentError(
                f"{where}: 'min' ({self.min!r}) is above 'max' ({self.max!r}); swap them"
            )

    def _check_strings(self, where: str) -> None:
        if (self.values is not None or self.pattern is not None) and self.kind not in _STRINGS:
            raise InvalidArgumentError(
                f"{where}: fields 'values'/'pattern' apply to categorical and text columns, "
                f"not {self.kind}; remove them or change the kind"
            )
        if self.values is not None:
            object.__setattr__(self, "values", _value_list(self.values, where))
        if self.pattern is not None:
            compile_pattern(self.pattern, f"{where}: field 'pattern'")

    def to_dict(self) -> dict[str, Any]:
        """The column's YAML form: its fields, leaving out the name and defaults."""
        out: dict[str, Any] = {"kind": self.kind}
        if not self.required:
            out["required"] = False
        out["nullable"] = self.nullable
        if self.nullable:
            out["max_missing_rate"] = self.max_missing_rate
        for name in ("min", "max", "values", "pattern"):
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if name == "values" else value
        if self.unique:
            out["unique"] = True
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> ColumnSchema:
        where = f"columns.{name}"
        if not isinstance(data, Mapping):
            raise InvalidArgumentError(
                f"{where}: expected a mapping of fields (kind, nullable, ...), got {data!r}"
            )
        known = {"kind", "required", "nullable", "max_missing_rate", "min", "max", "values"}
        known |= {"pattern", "unique"}
        _reject_unknown(data, known, where)
        if "kind" not in data:
            raise InvalidArgumentError(f"{where}: field 'kind' is missing; use one of {KINDS}")
        nullable = data.get("nullable", bool(data.get("max_missing_rate")))
        default_rate = 1.0 if nullable is True else 0.0
        return cls(
            name,
            data["kind"],
            nullable,
            data.get("max_missing_rate", default_rate),
            data.get("min"),
            data.get("max"),
            data.get("values"),
            data.get("pattern"),
            data.get("unique", False),
            data.get("required", True),
        )


def _bound(value: Any, kind: str, where: str) -> float | str:
    if kind == DATETIME:
        stamp = iso_timestamp(value, where)
        if stamp is not None:
            return stamp
        raise InvalidArgumentError(
            f"{where} must be an ISO 8601 timestamp such as '2024-01-31', got {value!r}"
        )
    if isinstance(value, np.number) and not isinstance(value, np.bool_):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidArgumentError(f"{where} must be a number, got {value!r}")
    return value


def _value_list(values: Any, where: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidArgumentError(
            f"{where}: field 'values' must be a list of values, got {values!r}"
        )
    out = []
    for value in values:
        if isinstance(value, bool) or value is None:
            raise InvalidArgumentError(
                f"{where}: field 'values' holds {value!r}; quote it in the YAML "
                "(e.g. 'yes', 'null') so it stays text"
            )
        if not isinstance(value, str | int | float):
            raise InvalidArgumentError(
                f"{where}: field 'values' must hold text values, got {value!r}"
            )
        out.append(value if isinstance(value, str) else str(value))
    return out


_RELATION = re.compile(r"^\s*(.+?)\s+(<=|>=|==|!=|<|>)\s+(.+?)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Relation:
    """A cross-column rule ``left op right`` (op: < <= == != >= >), e.g. start <= end."""

    left: str
    op: str
    right: str

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise InvalidArgumentError(
                f"relation {self}: operator {self.op!r} is not one of {list(OPERATORS)}"
            )
        for side in (self.left, self.right):
            if not isinstance(side, str):
                raise InvalidArgumentError(f"relation sides must be column names, got {side!r}")

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"

    @classmethod
    def parse(cls, text: str) -> Relation:
        """``"start <= end"``: two column names around an operator, spaces around it."""
        match = _RELATION.match(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidArgumentError(
                f"cannot read the relation {text!r}; write it as 'left OP right' with spaces "
                f"around OP, one of {list(OPERATORS)} (e.g. 'start <= end')"
            )
        return cls(match.group(1), match.group(2), match.group(3))

    def to_dict(self) -> dict[str, str]:
        return {"left": self.left, "op": self.op, "right": self.right}

    def to_yaml_value(self) -> str | dict[str, str]:
        """Its text when that reads back the same, else the mapping form."""
        try:
            if Relation.parse(str(self)) == self:
                return str(self)
        except InvalidArgumentError:
            pass
        return self.to_dict()

    @classmethod
    def from_yaml_value(cls, value: Any, where: str = "relations") -> Relation:
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, Mapping):
            _reject_unknown(value, {"left", "op", "right"}, where)
            missing = [k for k in ("left", "op", "right") if k not in value]
            if missing:
                raise InvalidArgumentError(f"{where}: field {missing[0]!r} is missing")
            return cls(value["left"], value["op"], value["right"])
        raise InvalidArgumentError(
            f"{where}: expected text like 'start <= end' or a mapping with left, op, right; "
            f"got {value!r}"
        )


@dataclass(frozen=True)
class Schema:
    """What a table should look like: columns, row count, key, relations, expectations."""

    columns: dict[str, ColumnSchema]
    rows: RowRange = RowRange()
    key: list[str] | None = None
    relations: list[Relation] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, column in self.columns.items():
            if name != column.name:
                raise InvalidArgumentError(
                    f"the schema lists column {column.name!r} under the name {name!r}; "
                    "use the same name"
                )
        if self.key is not None:
            if isinstance(self.key, str):
                object.__setattr__(self, "key", [self.key])
            self._check_known(self.key or [], "key")
            if not self.key:
                raise InvalidArgumentError("key is empty; name its column(s), or set it to null")
        relations = [r if isinstance(r, Relation) else Relation.parse(r) for r in self.relations]
        object.__setattr__(self, "relations", relations)
        for relation in relations:
            self._check_known([relation.left, relation.right], f"relation {relation}")
        for item in self.expectations:
            if not isinstance(item, Expectation):
                raise InvalidArgumentError(
                    f"{item!r} is not an expectation; build one with "
                    "headway.data.expectations (e.g. expect.between('age', 0, 120))"
                )

    def _check_known(self, names: list[str], where: str) -> None:
        for name in names:
            if name not in self.columns:
                raise InvalidArgumentError(
                    f"{where} names column {name!r}, which the schema does not have; its "
                    f"columns are {list(self.columns)}"
                )

    def __getitem__(self, name: str) -> ColumnSchema:
        try:
            return self.columns[name]
        except KeyError:
            raise InvalidArgumentError(
                f"the schema has no column {name!r}; it has {list(self.columns)}"
            ) from None

    def with_relations(self, *relations: str | Relation) -> Schema:
        """A copy with more cross-column relations, e.g. ``"start <= end"``."""
        parsed = [r if isinstance(r, Relation) else Relation.parse(r) for r in relations]
        return replace(self, relations=[*self.relations, *parsed])

    def with_expectations(self, *expectations: Expectation) -> Schema:
        """A copy with more declared expectations."""
        return replace(self, expectations=[*self.expectations, *expectations])

    # -- serialisation -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The YAML form as plain data (JSON-able)."""
        return {
            "version": SCHEMA_VERSION,
            "rows": {"min": self.rows.min, "max": self.rows.max},
            "key": None if self.key is None else list(self.key),
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
            "relations": [r.to_yaml_value() for r in self.relations],
            "expectations": [e.to_dict() for e in self.expectations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """The schema a dict (or parsed YAML) describes; unknown fields are errors."""
        if not isinstance(data, Mapping):
            raise InvalidArgumentError(
                f"a schema is a mapping with 'columns', 'rows', ...; got {type(data).__name__}"
            )
        _reject_unknown(data, {"version", "rows", "key", "columns", "relations", "expectations"})
        if data.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise InvalidArgumentError(
                f"field 'version' is {data['version']!r}, but this Headway reads schema "
                f"version {SCHEMA_VERSION}; upgrade Headway or re-infer the schema"
            )
        columns = data.get("columns")
        if not isinstance(columns, Mapping):
            raise InvalidArgumentError(
                f"field 'columns' must map column names to their fields, got {columns!r}"
            )
        return cls(
            {str(n): ColumnSchema.from_dict(str(n), c) for n, c in columns.items()},
            _rows_from(data.get("rows")),
            data.get("key"),
            [
                Relation.from_yaml_value(r, f"relations[{i}]")
                for i, r in enumerate(_list(data, "relations"))
            ],
            [
                expect.from_dict(e, f"expectations[{i}]")
                for i, e in enumerate(_list(data, "expectations"))
            ],
        )

    def to_yaml(self) -> str:
        """Readable YAML with a commented header, for editing by hand and keeping in git."""
        data = self.to_dict()
        data["expectations"] = [_Flow(e) for e in data["expectations"]]
        data["relations"] = _Block(data["relations"])
        body = yaml.dump(
            data,
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=100,
        )
        return _HEADER + body

    @classmethod
    def from_yaml(cls, text: str) -> Schema:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidArgumentError(
                f"the schema is not valid YAML ({exc}); fix the syntax where shown"
            ) from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> Path:
        """Write the YAML to ``path``; returns the path."""
        target = Path(path)
        target.write_text(self.to_yaml(), encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        source = Path(path)
        if not source.is_file():
            raise InvalidArgumentError(
                f"no schema file at {str(source)!r}; save one with schema.save(path)"
            )
        return cls.from_yaml(source.read_text(encoding="utf-8"))


def _reject_unknown(data: Mapping[str, Any], known: set[str], where: str = "") -> None:
    unknown = [k for k in data if k not in known]
    if unknown:
        prefix = f"{where}." if where else ""
        raise InvalidArgumentError(
            f"unknown field {prefix}{unknown[0]}; the fields here are {sorted(known)} "
            "(check the spelling)"
        )


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgumentError(f"field {name!r} must be a list, got {value!r}")
    return value


def _rows_from(value: Any) -> RowRange:
    if value is None:
        return RowRange()
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"field 'rows' must be a mapping {{min, max}}, got {value!r}")
    _reject_unknown(value, {"min", "max"}, "rows")
    return RowRange(value.get("min", 0), value.get("max"))


class _Flow(dict[str, Any]):
    """A mapping written on one line (an expectation reads best that way)."""


class _Block(list[Any]):
    """A list written one item per line (relations read best that way)."""


class _Dumper(yaml.SafeDumper):
    """Safe YAML: lists of plain values and expectations in flow style, the rest in blocks."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(not isinstance(v, list | dict) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat and bool(data))


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(data), flow_style=True)


_BREAKS = frozenset("\x85\u2028\u2029\ufeff")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # PyYAML writes some line breaks (NEL, LS, PS) and format characters unquoted, then
    # reads them back as something else; double quotes escape them.
    odd = any(not (ch.isprintable() or ch in "\n\t") or ch in _BREAKS for ch in data)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"' if odd else None)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(_Flow, _represent_flow)
_Dumper.add_representer(
    _Block,
    lambda dumper, data: dumper.represent_sequence(
        "tag:yaml.org,2002:seq", list(data), flow_style=False
    ),
)

_HEADER = """\
# Headway schema: what valid data looks like. Edit it by hand and keep it in git;
# check a table with headway.validate(table, Schema.load(path)) or `headway data validate`.
#
# rows          accepted row count: {min, max}; max null = no limit
# key           column(s) whose values together identify a row (no duplicates), or null
# columns       one entry per expected column:
#   kind              numeric | categorical | boolean | datetime | text
#   required          false if the column may be absent (e.g. a label); default true
#   nullable          whether missing values are allowed at all
#   max_missing_rate  largest tolerated share of missing values, 0 to 1
#   min, max          accepted range: numbers, or ISO 8601 timestamps for datetime
#   values            categorical: the accepted values (anything else is an anomaly)
#   pattern           categorical/text: a regular expression every value must fully match
#   unique            every value was distinct when inferred (informational; see key)
# relations     cross-column rules 'left OP right', OP one of < <= == != >= >
# expectations  declared checks, e.g. {expect: between, column: age, min: 0, max: 120};
#               expect: between | in_set | not_null | unique | matches_regex |
#               column_less_equal | mean_between | quantile_between; severity: warning
#               makes a failed check a warning instead of an error
"""


# -- inference -------------------------------------------------------------------------


def infer_schema(
    profile_or_table: Profile | Any,
    *,
    missing_tolerance: float = DEFAULT_MISSING_TOLERANCE,
    row_count_slack: float = DEFAULT_ROW_COUNT_SLACK,
    range_margin: float = DEFAULT_RANGE_MARGIN,
) -> Schema:
    """Infer a schema from a profile, or from a table (profiled first).

    Parameters
    ----------
    profile_or_table
        A :class:`~headway.data.profile.Profile`, or anything ``profile`` accepts.
    missing_tolerance
        Added to the observed missing rate (times 1.25) of a column that had missing
        values, to give its ``max_missing_rate``.
    row_count_slack
        The accepted row count is [N / slack, N * slack] around the profiled count N.
    range_margin
        Numeric and datetime ranges widen on each side by this share of the largest of
        the observed range, 6 std and 6 times that side's tail (see the module docs).

    Returns
    -------
    Schema
        Edit it (``dataclasses.replace``, ``with_relations``, ``with_expectations``, or
        the YAML) and keep it beside the code.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"amount": [3.5, 4.0, 5.5, 40.0], "paid": [True] * 4})
    >>> schema = infer_schema(table)
    >>> schema["amount"].min, schema["amount"].max, schema["paid"].kind
    (0, 94, 'boolean')
    """
    if not 0 <= missing_tolerance <= 1:
        raise InvalidArgumentError(
            f"missing_tolerance must be between 0 and 1, got {missing_tolerance}"
        )
    if row_count_slack < 1:
        raise InvalidArgumentError(
            f"row_count_slack must be at least 1 (1 accepts only the profiled count), got "
            f"{row_count_slack}"
        )
    if range_margin < 0:
        raise InvalidArgumentError(f"range_margin must be 0 or more, got {range_margin}")
    prof = profile_or_table if isinstance(profile_or_table, Profile) else profile(profile_or_table)
    identifiers = [name for name, col in prof.columns.items() if _is_identifier(col)]
    columns = {
        name: _infer_column(col, name in identifiers, missing_tolerance, range_margin)
        for name, col in prof.columns.items()
    }
    return Schema(columns, _row_range(prof.rows, row_count_slack), identifiers[:1] or None)


def _row_range(rows: int, slack: float) -> RowRange:
    if rows == 0:
        return RowRange(0, None)
    return RowRange(max(1, math.floor(rows / slack)), math.ceil(rows * slack))


def _is_unique(col: ColumnProfile) -> bool:
    return col.present > 1 and col.distinct_exact and col.distinct == col.present


def _is_identifier(col: ColumnProfile) -> bool:
    """Unique, with enough values, and either consecutive integers or an id-like name."""
    if col.kind in (BOOLEAN, DATETIME) or not _is_unique(col) or col.present < MIN_EVIDENCE:
        return False
    if _ID_SNAKE.search(col.name) or _ID_CAMEL.search(col.name):
        return True
    m = col.moments
    return (
        col.kind == NUMERIC
        and m is not None
        and m.min is not None
        and m.max is not None
        and m.min.is_integer()
        and m.max - m.min + 1 == col.distinct
    )


def _infer_column(
    col: ColumnProfile, identifier: bool, missing_tolerance: float, range_margin: float
) -> ColumnSchema:
    rate = 0.0
    if col.missing:
        scaled = col.missing_rate * (1 + MISSING_RELATIVE_SLACK) + missing_tolerance
        rate = min(1.0, math.ceil(round(scaled * 1000, 6)) / 1000)  # up to 3 decimals
    low: float | str | None = None
    high: float | str | None = None
    values = pattern = None
    if col.kind in _RANGED and not identifier:
        low, high = _infer_range(col, range_margin)
    if col.kind == CATEGORICAL and not identifier:
        values = _infer_values(col)
    if col.kind in _STRINGS and values is None:
        pattern = _infer_pattern(col)
    return ColumnSchema(
        col.name, col.kind, col.missing > 0, rate, low, high, values, pattern, _is_unique(col)
    )


def _infer_range(col: ColumnProfile, margin: float) -> tuple[Bound, Bound]:
    m = col.moments
    if m is None or m.min is None or m.max is None:
        return None, None
    if not (math.isfinite(m.min) and math.isfinite(m.max)):
        return None, None
    spread = max(m.max - m.min, 6 * (m.std or 0.0))
    q = col.quantiles or {}
    # A heavy tail (lognormal amounts, gamma durations) reaches further past its extreme
    # than a light one: the gap between the 5th/95th percentile and the extreme says so.
    tail_low = TAIL_FACTOR * (q["p05"] - m.min) if "p05" in q else 0.0
    tail_high = TAIL_FACTOR * (m.max - q["p95"]) if "p95" in q else 0.0
    pad_low = margin * max(spread, tail_low)
    pad_high = margin * max(spread, tail_high)
    low, high = m.min - pad_low, m.max + pad_high
    # Zero is a floor for right-skewed non-negative data (amounts, counts, durations);
    # a symmetric column that happens to sit above zero (temperatures) may cross it.
    if m.min >= 0 and m.mean - m.min <= SKEW_FLOOR * (m.max - m.mean):
        low = max(low, 0.0)
    if m.max <= 0 and m.max - m.mean <= SKEW_FLOOR * (m.mean - m.min):
        high = min(high, 0.0)
    if col.kind == DATETIME:
        return _timestamp(low, pad_low, up=False), _timestamp(high, pad_high, up=True)
    return _round_out(low, pad_low, up=False), _round_out(high, pad_high, up=True)


def _round_out(value: float, pad: float, up: bool) -> float:
    """Round away from the range, one decimal digit finer than the margin: readable bounds."""
    if pad <= 0:
        return _tidy(value)
    exponent = math.floor(math.log10(pad)) - 1
    step = 10.0**exponent
    rounded = (math.ceil if up else math.floor)(value / step) * step
    return _tidy(round(rounded, max(0, -exponent)))


def _tidy(value: float) -> float:
    """Whole numbers as int, so the YAML reads ``120`` rather than ``120.0``."""
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _timestamp(ns: float, pad: float, up: bool) -> str:
    limit = pd.Timestamp.max if up else pd.Timestamp.min
    try:
        stamp = pd.Timestamp(int(ns))
    except (OverflowError, ValueError):
        stamp = limit
    unit = "D" if pad >= 86_400e9 else "s"
    with contextlib.suppress(OverflowError, ValueError):  # near the representable limits
        stamp = stamp.ceil(unit) if up else stamp.floor(unit)
    return stamp.isoformat()


def _infer_values(col: ColumnProfile) -> list[str] | None:
    seen = [(value, count) for value, count in col.top_values if count > 0]
    if not seen or col.other_count or any(count < 2 for _, count in seen):
        return None
    return sorted(value for value, _ in seen)


def _infer_pattern(col: ColumnProfile) -> str | None:
    values = [value for value, count in col.top_values if count > 0]
    if len(values) < MIN_EVIDENCE:
        return None
    lengths = col.lengths
    same_length = (
        lengths is not None
        and lengths.min == lengths.max
        and all(len(v) == lengths.min for v in values)
    )
    shape = _shape(values) if same_length else None
    if shape is not None:
        return shape
    if all(re.fullmatch(r"[0-9]+", v) for v in values):
        return "[0-9]+"
    if all(re.fullmatch(_EMAIL, v) for v in values):
        return _EMAIL
    return None


_CLASSES = (  # narrowest first
    ("[0-9]", set("0123456789")),
    ("[A-Z]", set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")),
    ("[a-z]", set("abcdefghijklmnopqrstuvwxyz")),
)
_UNIONS = {
    frozenset({"[A-Z]", "[a-z]"}): "[A-Za-z]",
    frozenset({"[0-9]", "[A-Z]"}): "[A-Z0-9]",
    frozenset({"[0-9]", "[a-z]"}): "[a-z0-9]",
    frozenset({"[0-9]", "[A-Z]", "[a-z]"}): "[A-Za-z0-9]",
}


def _shape(values: list[str]) -> str | None:
    """A per-position pattern for same-length values: character classes and fixed marks."""
    tokens = []
    for chars in zip(*values, strict=True):
        distinct = set(chars)
        if len(distinct) == 1 and not chars[0].isalnum():
            tokens.append("\\" + chars[0] if chars[0] in _SPECIAL else chars[0])
            continue
        classes = frozenset(name for name, members in _CLASSES if distinct & members)
        covered = set().union(*(members for name, members in _CLASSES if name in classes))
        if not distinct <= covered:
            return None
        tokens.append(next(iter(classes)) if len(classes) == 1 else _UNIONS[classes])
    runs: list[str] = []
    counts: list[int] = []
    for token in tokens:
        if runs and runs[-1] == token:
            counts[-1] += 1
        else:
            runs.append(token)
            counts.append(1)
    return "".join(t if n == 1 else f"{t}{{{n}}}" for t, n in zip(runs, counts, strict=True))
