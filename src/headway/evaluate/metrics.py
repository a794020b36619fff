"""Metrics with bootstrap confidence intervals for binary, multiclass and regression tasks.

Point values are scikit-learn's own (``sklearn.metrics``), so they equal scikit-learn's
numbers; the expected calibration error, which scikit-learn lacks, uses the bins of
``sklearn.calibration.calibration_curve`` (10 equal-width bins).

========== ============================================================================
task       headline metrics (each with a bootstrap interval)
========== ============================================================================
binary     accuracy, precision, recall, f1; with scores also roc_auc, pr_auc (average
           precision), log_loss, brier_score, ece (expected calibration error)
multiclass accuracy, precision/recall/f1 macro and weighted; log_loss with probabilities
regression mae, rmse, mape, r2
========== ============================================================================

Intervals are percentile bootstrap intervals (Efron & Tibshirani, *An Introduction to the
Bootstrap*, 1993, ch. 13). Resamples are multinomial counts over rows, drawn as a matrix of
a few resamples by all rows at a time (bounded memory), and every metric is computed for all
resamples of that matrix at once: sums through matrix products, ROC AUC and PR AUC through
cumulative sums along the rows sorted once by score. There is no Python loop over rows or
over single resamples, so 200 resamples of a million rows take seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.utils.multiclass import type_of_target

from headway.errors import InvalidArgumentError

__all__ = [
    "LOWER_IS_BETTER",
    "TASKS",
    "Metric",
    "MetricReport",
    "PairedDifference",
    "Task",
    "compute_metrics",
    "detect_task",
    "higher_is_better",
    "paired_bootstrap_diff",
]

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")

#: Metrics where a smaller value is better; every other metric is higher-is-better.
LOWER_IS_BETTER = frozenset({"log_loss", "brier_score", "ece", "mae", "rmse", "mape"})

RESIDUAL_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
ECE_BINS = 10
THRESHOLDS = np.linspace(0.0, 1.0, 101)
# Elements of one block of resample counts (float64): 32 MiB, a few blocks alive at once.
_BLOCK_ELEMENTS = 1 << 22
_EPS = float(np.finfo(np.float64).eps)


def higher_is_better(name: str) -> bool:
    """Whether a larger value of the metric ``name`` is better.

    Examples
    --------
    >>> higher_is_better("roc_auc"), higher_is_better("log_loss")
    (True, False)
    """
    return name not in LOWER_IS_BETTER


@dataclass(frozen=True)
class Metric:
    """One headline metric: its value and, when bootstrapped, the interval ``[low, high]``."""

    name: str
    value: float
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MetricReport:
    """All metrics of one model on one table, with the curves and tables behind them.

    ``confusion_matrix`` has true classes as rows and predicted classes as columns, both in
    the order of ``classes``. ``calibration_curve`` has one row per equal-width bin;
    ``threshold_table`` the precision/recall trade-off at thresholds 0, 0.01, ..., 1;
    ``per_class`` one row per class (multiclass); ``residual_quantiles`` maps a quantile to
    the residual ``y_true - y_pred`` at it (regression).
    """

    task: Task
    n: int
    metrics: dict[str, Metric]
    n_bootstrap: int
    confidence: float
    classes: list[Any] = field(default_factory=list)
    confusion_matrix: list[list[float]] | None = None
    calibration_curve: list[dict[str, float | None]] | None = None
    threshold_table: list[dict[str, float]] | None = None
    per_class: list[dict[str, Any]] | None = None
    residual_quantiles: dict[str, float] | None = None

    def __getitem__(self, name: str) -> Metric:
        try:
            return self.metrics[name]
        except KeyError:
            raise InvalidArgumentError(
                f"no metric {name!r} in this {self.task} report; it has {sorted(self.metrics)}"
            ) from None

    @property
    def values(self) -> dict[str, float]:
        """Each headline metric's point value."""
        return {name: m.value for name, m in self.metrics.items()}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricReport:
        metrics = {name: Metric(**m) for name, m in data["metrics"].items()}
        return cls(**{**data, "metrics": metrics})


class PairedDifference(NamedTuple):
    """``metric(a) - metric(b)`` with its paired bootstrap interval and two-sided p-value."""

    diff: float
    low: float | None
    high: float | None
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


def detect_task(y_true: Any, y_score: Any = None) -> Task:
    """The task a label column implies: ``binary``, ``multiclass`` or ``regression``.

    Follows scikit-learn's ``type_of_target``: non-integral numbers are a regression target,
    at most two distinct values a binary one, more a multiclass one. Scores with more than
    two columns make the task multiclass. Integer targets with many values (counts) look
    multiclass: pass ``task="regression"`` for them.

    Examples
    --------
    >>> detect_task([0, 1, 1]), detect_task(["a", "b", "c"]), detect_task([0.5, 1.7, 2.0])
    ('binary', 'multiclass', 'regression')
    """
    y = _column(y_true, "y_true")
    if y_score is not None and np.ndim(y_score) == 2 and np.shape(y_score)[1] > 2:
        return "multiclass"
    kind = type_of_target(y)
    if kind == "continuous":
        return "regression"
    if kind in ("binary", "multiclass"):
        return kind
    raise InvalidArgumentError(
        f"cannot tell the task from y_true (scikit-learn calls it {kind!r}); "
        f"pass task= one of {TASKS}"
    )


def compute_metrics(
    y_true: Any,
    y_pred: Any = None,
    y_score: Any = None,
    task: Task | None = None,
    *,
    threshold: float = 0.5,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
    sample_weight: Any = None,
    labels: Sequence[Any] | None = None,
) -> MetricReport:
    """Every metric of the task, each headline metric with a bootstrap confidence interval.

    Parameters
    ----------
    y_true
        True labels (classification) or values (regression).
    y_pred
        Predicted labels or values. Binary: defaults to ``y_score >= threshold``;
        multiclass: to the class of the largest score.
    y_score
        Binary: the probability of the positive class (the larger of the two labels), or
        ``predict_proba`` output with two columns. Multiclass: ``(n, n_classes)``
        probabilities, columns in the order of ``labels``. Regression: may stand in for
        ``y_pred``.
    task
        ``binary``, ``multiclass`` or ``regression``; detected by :func:`detect_task` if None.
    threshold
        Probability at or above which a binary prediction is positive.
    n_bootstrap
        Resamples for the intervals; 0 computes the point values only.
    confidence
        Coverage of the percentile intervals.
    seed
        Seed of the resamples: the same seed, rows and ``n_bootstrap`` give the same intervals.
    sample_weight
        Row weights, passed to every scikit-learn metric and multiplied into the resamples.
    labels
        Class labels (classification). Default: the sorted labels seen in ``y_true`` and
        ``y_pred``; give them when ``y_score``'s columns have another order or a class is
        missing from the sample.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> score = np.clip(0.3 * y + rng.uniform(0, 0.7, 500), 0, 1)
    >>> report = compute_metrics(y, y_score=score, n_bootstrap=100)
    >>> auc = report["roc_auc"]
    >>> round(auc.value, 3), auc.low < auc.value < auc.high
    (0.858, True)
    """
    _check_bootstrap(n_bootstrap, confidence)
    y = _column(y_true, "y_true")
    prepared = _prepare(y, y_pred, y_score, task, threshold, sample_weight, labels)
    points = prepared.point()
    # Counts are exchangeable across rows, so a block can be read in the prepared (sorted)
    # row order directly; no gather is needed when only one model is evaluated.
    draws = _bootstrap([prepared], len(y), n_bootstrap, seed, gather=False)[0]
    metrics = {
        name: Metric(name, value, *_interval(draws.get(name), confidence))
        for name, value in points.items()
    }
    return MetricReport(
        prepared.task,
        len(y),
        metrics,
        n_bootstrap,
        confidence,
        classes=[_plain(c) for c in prepared.classes],
        **prepared.tables(),
    )


def paired_bootstrap_diff(
    y_true: Any,
    score_a: Any,
    score_b: Any,
    metric: str,
    n_bootstrap: int = 1000,
    seed: int = 0,
    *,
    task: Task | None = None,
    threshold: float = 0.5,
    confidence: float = 0.95,
    sample_weight: Any = None,
    labels: Sequence[Any] | None = None,
) -> PairedDifference:
    """``metric(a) - metric(b)`` on the same rows, with a paired bootstrap interval.

    Both models are scored on the same resamples, so the interval reflects only how the
    models differ, not how hard the rows are. The p-value (two-sided, null of no difference)
    is the share of resampled differences at least as far from the observed one as the
    observed one is from 0 (Efron & Tibshirani 1993, section 16.4), with the +1 correction.
    ``score_a`` and ``score_b`` are scores or predictions, as :func:`compute_metrics`
    takes them (binary floats that are not labels are scores). The difference is raw: for a
    lower-is-better metric such as ``log_loss`` a negative difference favours ``a``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> good = np.clip(0.4 * y + rng.uniform(0, 0.6, 2000), 0, 1)
    >>> weak = np.clip(0.1 * y + rng.uniform(0, 0.9, 2000), 0, 1)
    >>> result = paired_bootstrap_diff(y, good, weak, "roc_auc", n_bootstrap=200)
    >>> result.low > 0, result.p_value < 0.01
    (True, True)
    """
    _check_bootstrap(n_bootstrap, confidence)
    y = _column(y_true, "y_true")
    shape = score_a if np.ndim(score_a) == 2 else None
    task = _check_task(task) if task is not None else detect_task(y, shape)
    if labels is None and task != "regression":
        seen = [y] + [
            _column(v, "prediction", len(y))
            for v in (score_a, score_b)
            if _split_prediction(task, y, v)[0] is not None
        ]
        labels = list(np.unique(np.concatenate(seen)))
    prepared = []
    for values in (score_a, score_b):
        y_pred, y_score = _split_prediction(task, y, values)
        prepared.append(_prepare(y, y_pred, y_score, task, threshold, sample_weight, labels))
    points = [p.point() for p in prepared]
    if metric not in points[0] or metric not in points[1]:
        shared = sorted(set(points[0]) & set(points[1]))
        raise InvalidArgumentError(
            f"metric {metric!r} is not computed for both models ({task}); use one of {shared}"
        )
    diff = points[0][metric] - points[1][metric]
    draws = _bootstrap(prepared, len(y), n_bootstrap, seed, gather=True)
    if n_bootstrap == 0:
        return PairedDifference(diff, None, None, None)
    resampled = draws[0][metric] - draws[1][metric]
    resampled = resampled[np.isfinite(resampled)]
    low, high = _interval(resampled, confidence)
    extreme = np.count_nonzero(np.abs(resampled - diff) >= abs(diff))
    p_value = (1 + extreme) / (1 + resampled.size)
    return PairedDifference(diff, low, high, float(min(p_value, 1.0)))


# -- inputs ----------------------------------------------------------------------------


def _column(values: Any, name: str, n: int | None = None) -> np.ndarray:
    """A 1-D array of ``values``; ``n`` is the length it must have."""
    if isinstance(values, pd.DataFrame | pd.Series):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidArgumentError(
            f"{name} must be one column of values, got an array of shape {array.shape}"
        )
    if n is not None and len(array) != n:
        raise InvalidArgumentError(
            f"{name} has {len(array)} rows but y_true has {n}; pass one value per labelled row"
        )
    if n is None and len(array) == 0:
        raise InvalidArgumentError(f"{name} is empty; evaluation needs at least one row")
    return array


def _numbers(values: Any, name: str, n: int, ndim: int = 1) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64) if ndim == 2 else _column(values, name, n)
    array = np.asarray(array, dtype=np.float64)
    if ndim == 2 and (array.ndim != 2 or len(array) != n):
        raise InvalidArgumentError(
            f"{name} must have shape ({n}, n_classes), one row per labelled row; got {array.shape}"
        )
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InvalidArgumentError(
            f"{name} has {bad} missing or infinite values; drop or fill them"
        )
    return array


def _probabilities(values: Any, name: str, n: int, ndim: int = 1) -> np.ndarray:
    array = _numbers(values, name, n, ndim)
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        raise InvalidArgumentError(
            f"{name} must hold probabilities in [0, 1], got values from {low:g} to {high:g}; "
            "pass predict_proba output (or apply a sigmoid to decision scores)"
        )
    return array


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = _numbers(sample_weight, "sample_weight", n)
    if (w < 0).any() or w.sum() <= 0:
        raise InvalidArgumentError(
            "sample_weight must be non-negative with a positive sum; "
            f"got min {w.min():g} and sum {w.sum():g}"
        )
    return w


def _check_bootstrap(n_bootstrap: int, confidence: float) -> None:
    if not (isinstance(n_bootstrap, int) and n_bootstrap >= 0):
        raise InvalidArgumentError(f"n_bootstrap must be an integer >= 0, got {n_bootstrap!r}")
    if not 0 < confidence < 1:
        raise InvalidArgumentError(f"confidence must be between 0 and 1, got {confidence!r}")


def _check_task(task: str) -> Task:
    if task not in TASKS:
        raise InvalidArgumentError(f"task must be one of {TASKS}, got {task!r}")
    return task


def _split_prediction(task: Task, y: np.ndarray, values: Any) -> tuple[Any, Any]:
    """(y_pred, y_score) for an array that holds either predictions or scores."""
    array = np.asarray(values)
    if task == "regression":
        return array, None
    if array.ndim == 2:
        return None, array
    if task == "binary" and array.dtype.kind == "f" and not np.isin(array, np.unique(y)).all():
        return None, array
    return array, None


def _class_labels(
    y: np.ndarray, y_pred: np.ndarray | None, labels: Sequence[Any] | None
) -> np.ndarray:
    if labels is not None:
        classes = np.asarray(labels)
        if len(pd.unique(classes)) != len(classes):
            raise InvalidArgumentError(f"labels must be distinct, got {list(labels)}")
        return classes
    seen = y if y_pred is None else np.concatenate([y, y_pred])
    return np.unique(seen)


def _codes(values: np.ndarray, classes: np.ndarray, name: str) -> np.ndarray:
    codes = pd.Index(classes).get_indexer(values)
    if (codes < 0).any():
        unknown = pd.unique(values[codes < 0])[:5]
        raise InvalidArgumentError(
            f"{name} has labels {list(unknown)} that are not among the classes "
            f"{list(classes)}; pass labels= with every class"
        )
    return np.asarray(codes, dtype=np.intp)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# -- bootstrap -------------------------------------------------------------------------


class _Prepared(Protocol):
    """One model's evaluation arrays, in ``order`` (input row positions; None: as given)."""

    @property
    def task(self) -> Task: ...

    @property
    def classes(self) -> np.ndarray: ...

    @property
    def order(self) -> np.ndarray | None: ...

    def point(self) -> dict[str, float]: ...

    def kernel(self, counts: np.ndarray) -> dict[str, np.ndarray]: ...

    def tables(self) -> dict[str, Any]: ...


def _resample_counts(n: int, n_bootstrap: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of multinomial resample counts, shape (resamples in block, n), as float64."""
    rng = np.random.default_rng(seed)
    block = max(1, min(n_bootstrap, _BLOCK_ELEMENTS // n))
    for start in range(0, n_bootstrap, block):
        k = min(block, n_bootstrap - start)
        index = rng.integers(0, n, size=(k, n))
        index += np.arange(0, k * n, n)[:, None]  # one bincount for the whole block
        counts = np.bincount(index.ravel(), minlength=k * n)
        yield counts.reshape(k, n).astype(np.float64)


def _bootstrap(
    prepared: Sequence[_Prepared], n: int, n_bootstrap: int, seed: int, *, gather: bool
) -> list[dict[str, np.ndarray]]:
    """Each prepared model's metrics over the same resamples: name -> (n_bootstrap,) array.

    ``gather`` reads the counts (drawn in input row order) in each model's row order, so
    that several models see the same resampled rows.
    """
    blocks: list[list[dict[str, np.ndarray]]] = [[] for _ in prepared]
    if n_bootstrap == 0:
        return [{} for _ in prepared]
    with np.errstate(divide="ignore", invalid="ignore"):
        for counts in _resample_counts(n, n_bootstrap, seed):
            for p, out in zip(prepared, blocks, strict=True):
                ordered = counts[:, p.order] if gather and p.order is not None else counts
                out.append(p.kernel(ordered))
    return [{name: np.concatenate([b[name] for b in out]) for name in out[0]} for out in blocks]


def _interval(draws: np.ndarray | None, confidence: float) -> tuple[float | None, float | None]:
    """Percentile interval over the resamples where the metric is defined."""
    if draws is None:
        return None, None
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return None, None
    tail = (1 - confidence) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (scikit-learn's ``zero_division=0``)."""
    return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


def _prepare(
    y: np.ndarray,
    y_pred: Any,
    y_score: Any,
    task: str | None,
    threshold: float,
    sample_weight: Any,
    labels: Sequence[Any] | None,
) -> _Prepared:
    task = _check_task(task) if task is not None else detect_task(y, y_score)
    w = _weights(sample_weight, len(y))
    if y_pred is None and y_score is None:
        raise InvalidArgumentError("pass y_pred, y_score or both to compute metrics")
    if task == "binary":
        return _Binary(y, y_pred, y_score, threshold, w, labels)
    if task == "multiclass":
        return _Multiclass(y, y_pred, y_score, w, labels)
    return _Regression(y, y_pred if y_pred is not None else y_score, w)


# -- binary ----------------------------------------------------------------------------


class _Binary:
    """A binary task's arrays, sorted once by descending score for the rank metrics."""

    task: Task = "binary"

    def __init__(
        self,
        y: np.ndarray,
        y_pred: Any,
        y_score: Any,
        threshold: float,
        w: np.ndarray | None,
        labels: Sequence[Any] | None,
    ) -> None:
        n = len(y)
        pred_labels = None if y_pred is None else _column(y_pred, "y_pred", n)
        classes = _class_labels(y, pred_labels, labels)
        if len(classes) == 1 and labels is None and classes[0] in (0, 1):
            classes = np.array([0, 1], dtype=classes.dtype)
        if len(classes) != 2:
            raise InvalidArgumentError(
                f"a binary task needs exactly two classes, got {list(classes)}; "
                "pass labels=[negative, positive] or task='multiclass'"
            )
        self.classes = classes
        y01 = _codes(y, classes, "y_true").astype(np.float64)
        score = None
        if y_score is not None:
            score = np.asarray(y_score)
            if score.ndim == 2 and score.shape[1] == 2:
                score = score[:, 1]
            score = _probabilities(score, "y_score", n)
            if np.unique(y01).size < 2:
                raise InvalidArgumentError(
                    f"y_true holds only the class {_plain(classes[int(y01[0])])!r} in its {n} "
                    "rows: ROC AUC and PR AUC rank positives above negatives, so they need "
                    "both classes. Evaluate on rows with both classes, or pass only y_pred "
                    "for the threshold metrics"
                )
        if pred_labels is not None:
            pred01 = _codes(pred_labels, classes, "y_pred").astype(np.float64)
        elif score is not None:
            pred01 = (score >= threshold).astype(np.float64)
        else:
            raise InvalidArgumentError("pass y_pred, y_score or both to compute metrics")
        self.order = None if score is None else np.argsort(-score, kind="stable")
        take = (lambda a: a) if self.order is None else (lambda a: a[self.order])
        self.y, self.pred = take(y01), take(pred01)
        self.w = None if w is None else take(w)
        self.score = None if score is None else take(score)
        self._columns()

    def _columns(self) -> None:
        """Per-row terms whose (weighted, resampled) sums give every non-rank metric."""
        ones = np.ones_like(self.y)
        columns = [ones, self.y, self.pred, self.y * self.pred]
        self.segments = [(0, len(self.y))]
        self.ends: np.ndarray | None = None
        if self.score is not None:
            p = np.clip(self.score, _EPS, 1 - _EPS)
            log_loss = -(self.y * np.log(p) + (1 - self.y) * np.log1p(-p))
            columns += [self.score, log_loss, (self.score - self.y) ** 2]
            bins = self._bins()  # non-increasing along the sorted rows: contiguous segments
            cuts = np.flatnonzero(np.diff(bins)) + 1
            self.segments = list(
                zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(bins)].tolist(), strict=True)
            )
            last = np.flatnonzero(np.diff(self.score))
            if last.size < len(self.score) - 1:  # ties: rank metrics work on distinct scores
                self.ends = np.r_[last, len(self.score) - 1]
        self.terms = np.column_stack(columns)

    def _bins(self) -> np.ndarray:
        assert self.score is not None
        edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
        return np.searchsorted(edges[1:-1], self.score)  # as calibration_curve bins

    def point(self) -> dict[str, float]:
        y, pred, w = self.y, self.pred, self.w
        out = {
            "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
            "precision": skm.precision_score(y, pred, sample_weight=w, zero_division=0),
            "recall": skm.recall_score(y, pred, sample_weight=w, zero_division=0),
            "f1": skm.f1_score(y, pred, sample_weight=w, zero_division=0),
        }
        if self.score is not None:
            s = self.score
            out |= {
                "roc_auc": skm.roc_auc_score(y, s, sample_weight=w),
                "pr_auc": skm.average_precision_score(y, s, sample_weight=w),
                "log_loss": skm.log_loss(y, s, sample_weight=w, labels=[0.0, 1.0]),
                "brier_score": skm.brier_score_loss(y, s, sample_weight=w),
                "ece": self._ece(),
            }
        return {name: float(v) for name, v in out.items()}

    def _calibration(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-bin weight, sum of predicted probability, sum of positives."""
        assert self.score is not None
        bins, w = self._bins(), self.w
        weight = np.ones_like(self.y) if w is None else w
        return (
            np.bincount(bins, weights=weight, minlength=ECE_BINS),
            np.bincount(bins, weights=weight * self.score, minlength=ECE_BINS),
            np.bincount(bins, weights=weight * self.y, minlength=ECE_BINS),
        )

    def _ece(self) -> float:
        total, predicted, positives = self._calibration()
        return float(np.sum(np.abs(positives - predicted)) / total.sum())

    def kernel(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        c = counts if self.w is None else counts * self.w
        parts = np.stack([c[:, a:b] @ self.terms[a:b] for a, b in self.segments], axis=1)
        sums = parts.sum(axis=1)
        total, positives, predicted, tp = sums[:, 0], sums[:, 1], sums[:, 2], sums[:, 3]
        fp, fn = predicted - tp, positives - tp
        out = {
            "accuracy": (total - fp - fn) / total,
            "precision": _ratio(tp, predicted),
            "recall": _ratio(tp, positives),
            "f1": _ratio(2 * tp, positives + predicted),
        }
        if self.score is not None:
            out |= self._rank_metrics(c, positives, total - positives)
            out |= {
                "log_loss": sums[:, 5] / total,
                "brier_score": sums[:, 6] / total,
                "ece": np.abs(parts[:, :, 1] - parts[:, :, 4]).sum(axis=1) / total,
            }
        return out

    def _rank_metrics(
        self, c: np.ndarray, positives: np.ndarray, negatives: np.ndarray
    ) -> dict[str, np.ndarray]:
        """ROC AUC and average precision from cumulative sums along the sorted rows.

        With ``pos_g``/``neg_g`` the resampled positives/negatives at the g-th distinct
        score (descending) and ``TP_g``/``FP_g``/``T_g`` cumulative positives, negatives and
        rows: AUC = 1 - (sum pos_g FP_g - sum pos_g neg_g / 2) / (P N) (Mann-Whitney with
        ties counted half), AP = sum pos_g TP_g / T_g / P (scikit-learn's step integral).
        """
        pos = c * self.y
        tp = np.cumsum(pos, axis=1)
        seen = np.cumsum(c, axis=1)
        tie_term = 0.0
        if self.ends is not None:
            tp, seen = tp[:, self.ends], seen[:, self.ends]
            pos = np.diff(tp, axis=1, prepend=0.0)
            neg = np.diff(seen - tp, axis=1, prepend=0.0)
            tie_term = np.einsum("ij,ij->i", pos, neg) / 2
        # sum pos_g FP_g = sum pos_g T_g - sum pos_g TP_g, without forming FP
        below = np.einsum("ij,ij->i", pos, seen) - np.einsum("ij,ij->i", pos, tp) - tie_term
        auc = 1 - below / (positives * negatives)
        np.maximum(seen, np.finfo(np.float64).tiny, out=seen)
        np.divide(tp, seen, out=tp)
        pr_auc = np.einsum("ij,ij->i", pos, tp) / positives
        return {"roc_auc": auc, "pr_auc": pr_auc}

    def tables(self) -> dict[str, Any]:
        matrix = skm.confusion_matrix(self.y, self.pred, labels=[0.0, 1.0], sample_weight=self.w)
        out: dict[str, Any] = {"confusion_matrix": matrix.tolist()}
        if self.score is not None:
            out["calibration_curve"] = self._calibration_table()
            out["threshold_table"] = self._threshold_table()
        return out

    def _calibration_table(self) -> list[dict[str, float | None]]:
        total, predicted, positives = self._calibration()
        edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
        return [
            {
                "bin_low": float(edges[b]),
                "bin_high": float(edges[b + 1]),
                "weight": float(total[b]),
                "mean_predicted": float(predicted[b] / total[b]) if total[b] > 0 else None,
                "fraction_positive": float(positives[b] / total[b]) if total[b] > 0 else None,
            }
            for b in range(ECE_BINS)
        ]

    def _threshold_table(self) -> list[dict[str, float]]:
        assert self.score is not None
        weight = np.ones_like(self.y) if self.w is None else self.w
        seen = np.r_[0.0, np.cumsum(weight)]
        tp_all = np.r_[0.0, np.cumsum(weight * self.y)]
        above = np.searchsorted(-self.score, -THRESHOLDS, side="right")  # rows >= threshold
        predicted, tp = seen[above], tp_all[above]
        positives, total = tp_all[-1], seen[-1]
        precision = _ratio(tp, predicted)
        recall = _ratio(tp, np.full_like(tp, positives))
        f1 = _ratio(2 * tp, positives + predicted)
        return [
            {
                "threshold": float(t),
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "positive_rate": float(k / total),
            }
            for t, p, r, f, k in zip(THRESHOLDS, precision, recall, f1, predicted, strict=True)
        ]


# -- multiclass ------------------------------------------------------------------------


class _Multiclass:
    """A multiclass task's arrays, sorted by (true class, predicted class) cell."""

    task: Task = "multiclass"

    def __init__(
        self,
        y: np.ndarray,
        y_pred: Any,
        y_score: Any,
        w: np.ndarray | None,
        labels: Sequence[Any] | None,
    ) -> None:
        n = len(y)
        pred_labels = None if y_pred is None else _column(y_pred, "y_pred", n)
        self.classes = classes = _class_labels(y, pred_labels, labels)
        k = len(classes)
        proba = None
        if y_score is not None:
            proba = _probabilities(y_score, "y_score", n, ndim=2)
            if proba.shape[1] != k:
                raise InvalidArgumentError(
                    f"y_score has {proba.shape[1]} columns but there are {k} classes "
                    f"{list(classes)}; pass labels= naming the class of each column, in order"
                )
            sums = proba.sum(axis=1)
            if not np.allclose(sums, 1.0, rtol=0, atol=1e-6):
                worst = float(sums[np.argmax(np.abs(sums - 1))])
                raise InvalidArgumentError(
                    f"each row of y_score must sum to 1 (probabilities), found a row summing "
                    f"to {worst:g}; pass predict_proba output or apply a softmax"
                )
        codes = _codes(y, classes, "y_true")
        if pred_labels is not None:
            pred = _codes(pred_labels, classes, "y_pred")
        elif proba is not None:
            pred = np.argmax(proba, axis=1)
        else:
            raise InvalidArgumentError("pass y_pred, y_score or both to compute metrics")
        cell = codes * k + pred
        self.order = order = np.argsort(cell, kind="stable")
        self.y, self.pred = codes[order], pred[order]
        self.w = None if w is None else w[order]
        self.proba = None if proba is None else proba[order]
        sorted_cells = cell[order]
        self.starts = np.r_[0, np.flatnonzero(np.diff(sorted_cells)) + 1]
        self.cells = sorted_cells[self.starts]
        self.row_loss = None
        if self.proba is not None:
            p_true = self.proba[np.arange(n), self.y]
            self.row_loss = -np.log(np.clip(p_true, _EPS, 1 - _EPS))

    def point(self) -> dict[str, float]:
        y, pred, w, k = self.y, self.pred, self.w, len(self.classes)
        out = {"accuracy": skm.accuracy_score(y, pred, sample_weight=w)}
        for average in ("macro", "weighted"):
            p, r, f, _ = skm.precision_recall_fscore_support(
                y, pred, labels=np.arange(k), average=average, sample_weight=w, zero_division=0
            )
            out |= {f"precision_{average}": p, f"recall_{average}": r, f"f1_{average}": f}
        if self.proba is not None:
            out["log_loss"] = skm.log_loss(y, self.proba, sample_weight=w, labels=np.arange(k))
        return {name: float(v) for name, v in out.items()}

    def kernel(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        k = len(self.classes)
        c = counts if self.w is None else counts * self.w
        cells = np.zeros((len(c), k * k))
        cells[:, self.cells] = np.add.reduceat(c, self.starts, axis=1)
        matrix = cells.reshape(len(c), k, k)
        tp = np.einsum("bii->bi", matrix)
        support, predicted = matrix.sum(axis=2), matrix.sum(axis=1)
        total = support.sum(axis=1)
        per_class = {
            "precision": _ratio(tp, predicted),
            "recall": _ratio(tp, support),
            "f1": _ratio(2 * tp, support + predicted),
        }
        out = {"accuracy": tp.sum(axis=1) / total}
        for name, values in per_class.items():
            out[f"{name}_macro"] = values.mean(axis=1)
            out[f"{name}_weighted"] = (values * support).sum(axis=1) / total
        if self.row_loss is not None:
            out["log_loss"] = (c @ self.row_loss) / total
        return out

    def tables(self) -> dict[str, Any]:
        k = len(self.classes)
        matrix = skm.confusion_matrix(self.y, self.pred, labels=np.arange(k), sample_weight=self.w)
        p, r, f, s = skm.precision_recall_fscore_support(
            self.y, self.pred, labels=np.arange(k), sample_weight=self.w, zero_division=0
        )
        per_class = [
            {
                "label": _plain(label),
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": float(s[i]),
            }
            for i, label in enumerate(self.classes)
        ]
        return {"confusion_matrix": matrix.tolist(), "per_class": per_class}


# -- regression ------------------------------------------------------------------------


class _Regression:
    task: Task = "regression"
    order = None

    def __init__(self, y: np.ndarray, y_pred: Any, w: np.ndarray | None) -> None:
        n = len(y)
        self.classes = np.array([])
        self.y = _numbers(y, "y_true", n)
        self.pred = _numbers(y_pred, "y_pred", n)
        self.w = w
        error = np.abs(self.y - self.pred)
        # Centre y so the total sum of squares does not cancel catastrophically.
        centred = self.y - np.average(self.y, weights=w)
        self.terms = np.column_stack(
            [
                np.ones(n),
                error,
                error**2,
                error / np.maximum(np.abs(self.y), _EPS),  # as scikit-learn's MAPE
                centred,
                centred**2,
            ]
        )

    def point(self) -> dict[str, float]:
        y, pred, w = self.y, self.pred, self.w
        out = {
            "mae": skm.mean_absolute_error(y, pred, sample_weight=w),
            "rmse": skm.root_mean_squared_error(y, pred, sample_weight=w),
            "mape": skm.mean_absolute_percentage_error(y, pred, sample_weight=w),
            "r2": skm.r2_score(y, pred, sample_weight=w),
        }
        return {name: float(v) for name, v in out.items()}

    def kernel(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        c = counts if self.w is None else counts * self.w
        s = c @ self.terms
        total = s[:, 0]
        total_squares = s[:, 5] - s[:, 4] ** 2 / total
        return {
            "mae": s[:, 1] / total,
            "rmse": np.sqrt(s[:, 2] / total),
            "mape": s[:, 3] / total,
            "r2": 1 - s[:, 2] / total_squares,
        }

    def tables(self) -> dict[str, Any]:
        residual = self.y - self.pred
        if self.w is None:
            values = np.quantile(residual, RESIDUAL_QUANTILES)
        else:
            values = np.quantile(
                residual, RESIDUAL_QUANTILES, weights=self.w, method="inverted_cdf"
            )
        quantiles = {f"{q:g}": float(v) for q, v in zip(RESIDUAL_QUANTILES, values, strict=True)}
        return {"residual_quantiles": quantiles}
