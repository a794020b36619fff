"""Behavioural tests: does the model behave as domain knowledge expects?

Three kinds, after CheckList (Ribeiro et al., *Beyond Accuracy: Behavioral Testing of NLP
Models with CheckList*, ACL 2020), each run on a pandas table and any model with
``predict`` (and ``predict_proba`` for probability outputs):

=============== ===========================================================================
kind            a row violates the expectation when ...
=============== ===========================================================================
perturbation    small noise on (or missing values in) some columns changes its output by
                more than ``max_change``
invariance      setting a sensitive column to any of the given values changes its output
                by more than ``max_change``
directional     adding ``delta`` to a column moves its output the wrong way by more than
                ``max_change``
=============== ===========================================================================

Each test changes copies of the rows, calls the model once on all of them, and passes when
the share of violating rows is at most ``tolerance``. The result names up to five violating
rows (the largest changes first) with their output before and after.

The output is ``predict`` (labels or values) or, with ``output="proba"``, the probability
of the positive class of a binary classifier (the last column of ``predict_proba``).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import LogisticRegression
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"income": rng.normal(size=200), "sex": rng.integers(0, 2, 200)})
>>> model = LogisticRegression().fit(X[["income"]].assign(sex=0), X.income > 0)
>>> directional(model, X, "income", delta=1.0).passed
True
>>> invariance(model, X, "sex", [0, 1]).violation_rate
0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from headway._tabular import to_pandas
from headway.errors import InvalidArgumentError, ModelError
from headway.evaluate.metrics import _plain

__all__ = [
    "BehaviourExample",
    "BehaviourResult",
    "Predictor",
    "directional",
    "invariance",
    "perturbation",
]

Kind = Literal["perturbation", "invariance", "directional"]
Output = Literal["predict", "proba"]
Direction = Literal["increase", "decrease"]
MAX_EXAMPLES = 5


class Predictor(Protocol):
    """Anything with a scikit-learn style ``predict``."""

    def predict(self, X: Any) -> Any: ...


@dataclass(frozen=True)
class BehaviourExample:
    """One violating row: its index label, its output before and after the change."""

    row: Any
    before: Any
    after: Any
    change: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BehaviourResult:
    """The outcome of one behavioural test.

    ``passed`` is ``violation_rate <= threshold``, where ``threshold`` is the test's
    ``tolerance``; ``examples`` lists up to five violating rows.
    """

    name: str
    kind: Kind
    passed: bool
    violation_rate: float
    examples: list[BehaviourExample]
    threshold: float
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BehaviourResult:
        examples = [BehaviourExample(**e) for e in data["examples"]]
        return cls(**{**data, "examples": examples})


def perturbation(
    model: Predictor,
    X: Any,
    columns: str | Sequence[str],
    *,
    noise: float = 0.1,
    missing: bool = False,
    tolerance: float = 0.05,
    output: Output = "predict",
    max_change: float = 0.0,
    seed: int = 0,
    name: str | None = None,
) -> BehaviourResult:
    """Whether small noise on, or missing values in, ``columns`` leaves the output unchanged.

    Parameters
    ----------
    model
        Has ``predict`` (and ``predict_proba`` when ``output="proba"``).
    X
        The rows to test (a pandas, polars or pyarrow table).
    columns
        The column or columns to perturb.
    noise
        Standard deviation of the Gaussian noise added to each numeric column, relative to
        that column's standard deviation in ``X``.
    missing
        Replace the columns' values by missing values (NaN) instead of adding noise; the
        model must accept missing values.
    tolerance
        Largest share of rows whose output may change for the test to pass. The default,
        5%, allows for rows that sit on a decision boundary.
    output
        ``"predict"`` or ``"proba"`` (positive-class probability of a binary classifier).
    max_change
        A row violates when its output changes by more than this (numeric outputs; other
        labels violate whenever they differ). Regressions and probabilities need one > 0.
    seed
        Seed of the noise.
    name
        The test's name in reports; default describes the change.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> X = pd.DataFrame({"x": np.arange(100.0)})
    >>> model = DecisionTreeClassifier().fit(X, X.x % 2)  # memorises parity: brittle
    >>> result = perturbation(model, X, "x", noise=0.05)
    >>> result.passed, result.violation_rate > 0.3
    (False, True)
    """
    table = _table(X)
    cols = _columns(table, [columns] if isinstance(columns, str) else list(columns))
    _check_fraction(tolerance, "tolerance")
    changed = table.copy()
    if missing:
        for col in cols:
            changed[col] = np.nan
        change = f"{', '.join(cols)} missing"
    else:
        if not noise > 0:
            raise InvalidArgumentError(f"noise must be > 0 (relative to the std), got {noise}")
        rng = np.random.default_rng(seed)
        for col in cols:
            values = _numeric(table, col, "perturbation with noise; use missing=True instead")
            scale = noise * float(np.nanstd(values))
            changed[col] = values + rng.normal(0.0, scale, len(values))
        change = f"{', '.join(cols)} + noise ({noise:g} std)"
    before, after = _outputs(model, [table, changed], output)
    severity = _changes(before, after[0])
    return _result(
        name or f"perturbation: {change}",
        "perturbation",
        table,
        severity > max_change,
        severity,
        before,
        after[0],
        change,
        tolerance,
    )


def invariance(
    model: Predictor,
    X: Any,
    column: str,
    values: Sequence[Any],
    *,
    tolerance: float = 0.0,
    output: Output = "predict",
    max_change: float = 0.0,
    name: str | None = None,
) -> BehaviourResult:
    """Whether setting ``column`` to each of ``values`` leaves every output unchanged.

    A row violates when its output under any of the values differs from its output on the
    original row by more than ``max_change``.

    Parameters
    ----------
    model
        Has ``predict`` (and ``predict_proba`` when ``output="proba"``).
    X
        The rows to test.
    column
        The sensitive attribute, e.g. ``"sex"``.
    values
        The values to swap in, e.g. ``["F", "M"]``.
    tolerance
        Largest share of rows allowed to violate; by default none may.
    output
        ``"predict"`` or ``"proba"`` (positive-class probability of a binary classifier).
    max_change
        Largest change of a numeric output that still counts as unchanged.
    name
        The test's name in reports.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"x": np.linspace(-1, 1, 50), "group": [0, 1] * 25})
    >>> uses_group = LogisticRegression().fit(X, X.group)
    >>> invariance(uses_group, X, "group", [0, 1]).passed
    False
    """
    table = _table(X)
    (col,) = _columns(table, [column])
    _check_fraction(tolerance, "tolerance")
    if len(values) == 0:
        raise InvalidArgumentError(f"values is empty; pass the values of {col!r} to swap in")
    swapped = [table.assign(**{col: _constant(table[col], v)}) for v in values]
    before, after = _outputs(model, [table, *swapped], output)
    changes = np.column_stack([_changes(before, a) for a in after])
    violates = changes > max_change
    # The example shows the first value that changed the row's output.
    first = np.argmax(violates, axis=1)
    rows = np.arange(len(table))
    severity = changes[rows, first]
    return _result(
        name or f"invariance: {col} in {list(values)}",
        "invariance",
        table,
        np.asarray(violates.any(axis=1)),
        severity,
        before,
        np.stack(after, axis=1)[rows, first],
        [f"{col}={_plain(values[i])!r}" for i in first],
        tolerance,
    )


def directional(
    model: Predictor,
    X: Any,
    column: str,
    delta: float,
    direction: Direction = "increase",
    *,
    output: Output | None = None,
    tolerance: float = 0.0,
    max_change: float = 0.0,
    name: str | None = None,
) -> BehaviourResult:
    """Whether adding ``delta`` to ``column`` moves every output in ``direction``.

    A row violates when its output moves the other way by more than ``max_change``; an
    unchanged output does not violate (a model may ignore a small change).

    Parameters
    ----------
    model
        Has ``predict`` (and ``predict_proba`` when ``output="proba"``).
    X
        The rows to test.
    column
        A numeric column.
    delta
        The amount added to the column (negative to lower it).
    direction
        ``"increase"`` or ``"decrease"``: the expected move of the output.
    output
        ``"predict"`` or ``"proba"``; default ``"proba"`` when the model has
        ``predict_proba``, else ``"predict"``. Outputs must be numeric.
    tolerance
        Largest share of rows allowed to violate; by default none may.
    max_change
        Largest move in the wrong direction that is still not a violation.
    name
        The test's name in reports.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LinearRegression
    >>> X = pd.DataFrame({"rooms": np.arange(1.0, 21.0)})
    >>> price = LinearRegression().fit(X, 50 * X.rooms)
    >>> directional(price, X, "rooms", 1.0, "decrease").violation_rate
    1.0
    """
    table = _table(X)
    (col,) = _columns(table, [column])
    _check_fraction(tolerance, "tolerance")
    if direction not in ("increase", "decrease"):
        raise InvalidArgumentError(f"direction must be 'increase' or 'decrease', got {direction!r}")
    if not np.isfinite(delta) or delta == 0:
        raise InvalidArgumentError(f"delta must be a non-zero finite number, got {delta!r}")
    if output is None:
        output = "proba" if hasattr(model, "predict_proba") else "predict"
    values = _numeric(table, col, "a directional test; pick a numeric column")
    change = f"{col} {delta:+g}"
    moved_values: Any = values + delta
    if pd.api.types.is_integer_dtype(table[col]) and float(delta).is_integer():
        # An integral step keeps an integer column integer, as the model's signature expects.
        moved_values = pd.Series(moved_values, index=table.index).astype(table[col].dtype)
    raised = table.assign(**{col: moved_values})
    before, after = _outputs(model, [table, raised], output)
    moved = _numeric_output(after[0]) - _numeric_output(before)
    wrong_way = -moved if direction == "increase" else moved
    return _result(
        name or f"directional: {change} should {direction} the {output} output",
        "directional",
        table,
        np.asarray(wrong_way > max_change),
        wrong_way,
        before,
        after[0],
        change,
        tolerance,
    )


def _table(X: Any) -> pd.DataFrame:
    table = to_pandas(X)
    if len(table) == 0:
        raise InvalidArgumentError("X has no rows; a behavioural test needs at least one row")
    return table


def _columns(table: pd.DataFrame, columns: list[str]) -> list[str]:
    if not columns:
        raise InvalidArgumentError("no columns given; name at least one column of X to change")
    unknown = [c for c in columns if c not in table.columns]
    if unknown:
        raise InvalidArgumentError(
            f"no such column {unknown[0]!r} in X; it has {list(table.columns)}"
        )
    return columns


def _check_fraction(value: float, name: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise InvalidArgumentError(f"{name} must be a share of rows in [0, 1], got {value!r}")


def _numeric(table: pd.DataFrame, col: str, purpose: str) -> np.ndarray:
    series = table[col]
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise InvalidArgumentError(
            f"column {col!r} has dtype {series.dtype}, which is not numeric; "
            f"it cannot be used for {purpose}"
        )
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _constant(series: pd.Series, value: Any) -> pd.Series:
    """``value`` on every row, in the column's dtype when it is categorical."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        if value not in series.dtype.categories:
            raise InvalidArgumentError(
                f"{value!r} is not a category of column {series.name!r} "
                f"({list(series.dtype.categories)}); pass one of its categories"
            )
        return pd.Series(value, index=series.index).astype(series.dtype)
    return pd.Series(value, index=series.index)


def _outputs(
    model: Predictor, tables: list[pd.DataFrame], output: Output
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The model's output on the original table and on each changed copy, in one call."""
    n = len(tables[0])
    stacked = pd.concat(tables, ignore_index=True)
    try:
        if output == "proba":
            predict_proba = getattr(model, "predict_proba", None)
            if predict_proba is None:
                raise InvalidArgumentError(
                    f"output='proba' needs a model with predict_proba, and "
                    f"{type(model).__name__} has none; pass output='predict'"
                )
            values = np.asarray(predict_proba(stacked))
            if values.ndim != 2 or values.shape[1] != 2:
                raise InvalidArgumentError(
                    f"output='proba' needs a binary classifier, but predict_proba returned "
                    f"shape {values.shape}; pass output='predict'"
                )
            values = values[:, 1]
        elif output == "predict":
            values = np.asarray(model.predict(stacked))
        else:
            raise InvalidArgumentError(f"output must be 'predict' or 'proba', got {output!r}")
    except InvalidArgumentError:
        raise
    except Exception as exc:
        raise ModelError(
            f"{type(model).__name__} failed on the changed rows ({exc}); a model that cannot "
            "take such rows fails this test — fix the model, or test another change"
        ) from exc
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.shape != (len(stacked),):
        raise InvalidArgumentError(
            f"{type(model).__name__}.predict returned shape {values.shape}; behavioural tests "
            "need one output per row"
        )
    parts = [values[i * n : (i + 1) * n] for i in range(len(tables))]
    return parts[0], parts[1:]


def _numeric_output(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
        raise InvalidArgumentError(
            f"a directional test needs numeric outputs, got dtype {values.dtype}; "
            "pass output='proba' for a classifier with string labels"
        )
    return values.astype(np.float64)


def _changes(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per row, how much the output changed: the absolute difference, or 0/1 for labels."""
    numeric = before.dtype != np.bool_ and np.issubdtype(before.dtype, np.number)
    if numeric and np.issubdtype(after.dtype, np.number):
        return np.abs(after.astype(np.float64) - before.astype(np.float64))
    return (after != before).astype(np.float64)


def _result(
    name: str,
    kind: Kind,
    table: pd.DataFrame,
    violates: np.ndarray,
    severity: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    change: str | list[str],
    tolerance: float,
) -> BehaviourResult:
    rate = float(np.mean(violates))
    bad = np.flatnonzero(violates)
    worst = bad[np.argsort(-severity[bad], kind="stable")][:MAX_EXAMPLES]
    examples = [
        BehaviourExample(
            row=_plain(table.index[i]),
            before=_plain(before[i]),
            after=_plain(after[i]),
            change=change if isinstance(change, str) else change[i],
        )
        for i in worst
    ]
    return BehaviourResult(
        name, kind, rate <= tolerance, rate, examples, float(tolerance), len(table)
    )
