"""Slices: the same metrics on the parts of the data that matter, and a finder for the
parts where the model is significantly worse than on the whole.

A slice is a boolean mask over rows with a name. :func:`define_slices` makes them from
column values (``"plan"``), numeric quantile bins (``"tenure_months"`` with ``bins``) or
predicates (``{"new customers": lambda df: df.tenure_months < 6}``).

The finder (:func:`find_slices`) scores every single-feature slice and every pair of them
by the model's error rate, tests each against the rest of the data (two-proportion z-test),
keeps slices that have at least ``min_support`` rows and stay significant after
Benjamini-Hochberg correction across all candidates, and ranks them by effect x size
(excess error rate times the slice's share of rows), so the first finding is the one that
costs the most errors.

Examples
--------
>>> import numpy as np, pandas as pd
>>> df = pd.DataFrame({"plan": ["a", "b"] * 500})
>>> y = np.zeros(1000, dtype=int)
>>> pred = np.where(df.plan == "b", np.arange(1000) % 3 == 0, 0).astype(int)
>>> find_slices(df, y, pred, min_support=50)[0].name
'plan=b'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from headway._tabular import to_pandas
from headway.errors import InvalidArgumentError
from headway.evaluate.metrics import MetricReport, Task, compute_metrics

__all__ = ["SliceFinding", "SliceMetrics", "define_slices", "find_slices", "slice_metrics"]

Predicate = Callable[[pd.DataFrame], Any]


@dataclass(frozen=True)
class SliceMetrics:
    """The metrics of one slice, with intervals."""

    name: str
    rows: int
    share: float
    report: MetricReport

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "share": self.share,
            "report": self.report.to_dict(),
        }


@dataclass(frozen=True)
class SliceFinding:
    """A slice where the error rate is significantly above the rest of the data."""

    name: str
    rows: int
    share: float
    error_rate: float
    rest_error_rate: float
    p_value: float
    p_adjusted: float
    score: float  # (error_rate - overall error rate) * share: errors it costs, per row

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def define_slices(
    table: Any,
    by: Sequence[str] | Mapping[str, Predicate] = (),
    bins: int = 4,
    max_values: int = 20,
) -> dict[str, np.ndarray]:
    """Named boolean masks: one per value of each column named in ``by`` (numeric columns
    with many values are cut at ``bins`` quantiles), or one per predicate given as a
    mapping of name -> ``function(df) -> mask``."""
    df = to_pandas(table)
    if isinstance(by, Mapping):
        out = {}
        for name, predicate in by.items():
            mask = np.asarray(predicate(df), dtype=bool)
            if mask.shape != (len(df),):
                raise InvalidArgumentError(
                    f"slice {name!r}: the predicate must return one boolean per row "
                    f"({len(df)}), got shape {mask.shape}"
                )
            out[name] = mask
        return out
    masks: dict[str, np.ndarray] = {}
    for column in by:
        if column not in df.columns:
            raise InvalidArgumentError(
                f"cannot slice by {column!r}: no such column; the table has {list(df.columns)}"
            )
        masks.update(_column_slices(df[column], str(column), bins, max_values))
    return masks


def _column_slices(
    series: pd.Series, name: str, bins: int, max_values: int
) -> dict[str, np.ndarray]:
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if numeric and series.nunique() > max_values:
        cut = pd.qcut(series, q=bins, duplicates="drop")
        codes, labels = cut.cat.codes.to_numpy(), cut.cat.categories
        return {f"{name} in {label}": codes == i for i, label in enumerate(labels)}
    codes, values = pd.factorize(series, use_na_sentinel=True)
    if len(values) > max_values:
        keep = np.argsort(-np.bincount(codes[codes >= 0], minlength=len(values)))[:max_values]
    else:
        keep = np.arange(len(values))
    return {f"{name}={values[i]}": codes == i for i in keep}


def slice_metrics(
    slices: Mapping[str, np.ndarray],
    y_true: Any,
    y_pred: Any = None,
    y_score: Any = None,
    task: Task | None = None,
    *,
    min_rows: int = 1,
    **options: Any,
) -> list[SliceMetrics]:
    """:func:`compute_metrics` on every slice with at least ``min_rows`` rows."""
    y = np.asarray(y_true)
    out = []
    for name, mask in slices.items():
        rows = int(mask.sum())
        if rows < min_rows:
            continue
        report = compute_metrics(
            y[mask], _take(y_pred, mask), _take(y_score, mask), task, **options
        )
        out.append(SliceMetrics(name, rows, rows / len(y), report))
    return out


def _take(values: Any, mask: np.ndarray) -> Any:
    return None if values is None else np.asarray(values)[mask]


def find_slices(
    table: Any,
    y_true: Any,
    y_pred: Any,
    *,
    features: Sequence[str] | None = None,
    min_support: int = 30,
    alpha: float = 0.05,
    pairs: bool = True,
    bins: int = 4,
    top: int = 20,
) -> list[SliceFinding]:
    """Slices (single features and pairs) whose error rate is significantly above the rest.

    Errors are ``y_pred != y_true``. Candidates need ``min_support`` rows; p-values are
    corrected with Benjamini-Hochberg across all candidates; findings are ranked by
    (slice error rate - overall error rate) x slice share.
    """
    df = to_pandas(table)
    errors = np.asarray(y_pred) != np.asarray(y_true)
    if errors.shape != (len(df),):
        raise InvalidArgumentError(
            f"y_true and y_pred need one value per row of the table ({len(df)}), got {errors.shape}"
        )
    per_feature = [define_slices(df, [column], bins=bins) for column in features or df.columns]
    candidates = {name: mask for group in per_feature for name, mask in group.items()}
    if pairs:
        for first, second in combinations(per_feature, 2):
            for x, mx in first.items():
                for y, my in second.items():
                    candidates[f"{x} & {y}"] = mx & my
    names = [n for n, m in candidates.items() if min_support <= m.sum() < len(df)]
    if not names:
        return []
    masks = np.vstack([candidates[n] for n in names]).astype(np.float64)
    n_in = masks.sum(axis=1)
    err_in = masks @ errors.astype(np.float64)
    n_out, err_out = len(df) - n_in, errors.sum() - err_in
    rate_in, rate_out = err_in / n_in, err_out / n_out
    pooled = errors.mean()
    se = np.sqrt(np.maximum(pooled * (1 - pooled), 1e-12) * (1 / n_in + 1 / n_out))
    p = stats.norm.sf((rate_in - rate_out) / se)  # one-sided: worse inside the slice
    adjusted = stats.false_discovery_control(p, method="bh")
    score = (rate_in - pooled) * n_in / len(df)
    keep = np.flatnonzero((adjusted < alpha) & (rate_in > rate_out))
    order = keep[np.argsort(-score[keep])][:top]
    return [
        SliceFinding(
            names[i],
            int(n_in[i]),
            float(n_in[i] / len(df)),
            float(rate_in[i]),
            float(rate_out[i]),
            float(p[i]),
            float(adjusted[i]),
            float(score[i]),
        )
        for i in order
    ]
