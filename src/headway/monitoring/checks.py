"""Checks: what a monitor concludes about one window (or a merge of windows).

Pure functions from a :class:`Reference` and a window's profile
(:class:`~headway.monitoring.windows.WindowProfile`) to frozen results, one per family:

* **data quality** — missing values (rate above the reference's by ``max_missing_increase``),
  schema violations (values of the wrong type, unknown columns, absent columns: any is
  flagged), out-of-range values (outside the reference's min/max, rate above
  ``max_out_of_range``) and unknown categories (values outside the reference's categories
  when the reference saw every category it has, rate above ``max_unknown_categories``);
* **feature drift** and **prediction drift** — the data engine's binned tests
  (:func:`headway.data.compare` on the profiles), so a feature is flagged only when its
  effect size reaches its threshold *and* its test stays significant after
  Benjamini-Hochberg correction across features; inputs and outputs are corrected
  separately;
* **operational** — requests, server error rate (status >= 500; flagged above
  ``max_error_rate``), mean latency and p50/p90/p99 from the latency histogram;
* **performance** — task metrics on the window's labelled predictions
  (:func:`headway.evaluate.compute_metrics`, no bootstrap) and, against the reference's
  performance, a one-sided test that the model got worse (concept drift) by more than a
  margin: that the error rate rose by more than ``max_accuracy_drop`` (a z-test on the
  difference of two proportions) for classifiers, that the mean absolute error rose by
  more than ``max_error_increase`` of the reference's (Welch's t-test) for regressors.
  Testing against the margin, not against "no change", is what keeps a reference that
  happened to be a point or two optimistic from flagging every other window.

A window with fewer than ``min_rows`` rows (``min_labels`` labels) gets status
``not_available`` instead of a verdict: a handful of rows cannot tell drift from noise,
and "no data" must not read as "healthy" or as zero.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

from headway._tabular import to_pandas
from headway.data.drift import compare
from headway.data.profile import BOOLEAN, CATEGORICAL, TEXT, Profile, profile
from headway.errors import InvalidArgumentError
from headway.evaluate.metrics import Task, compute_metrics, detect_task
from headway.monitoring.windows import WindowProfile

__all__ = [
    "CheckPolicy",
    "DriftResult",
    "OpsResult",
    "PerformanceResult",
    "QualityIssue",
    "QualityResult",
    "Reference",
    "ReferencePerformance",
    "WindowChecks",
    "check_drift",
    "check_ops",
    "check_performance",
    "check_quality",
    "reference_performance",
    "run_checks",
]

Status = Literal["ok", "flagged", "not_available"]
OUTPUT_PREFIX = "proba_"


@dataclass(frozen=True)
class CheckPolicy:
    """Thresholds of every check; the defaults are documented in the module docstring."""

    min_rows: int = 100
    alpha: float = 0.05
    drift_thresholds: dict[str, float] = field(default_factory=dict)
    max_missing_increase: float = 0.05
    max_out_of_range: float = 0.01
    max_unknown_categories: float = 0.01
    max_error_rate: float = 0.05
    min_labels: int = 30
    max_accuracy_drop: float = 0.02
    max_error_increase: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise InvalidArgumentError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.min_rows < 1 or self.min_labels < 1:
            raise InvalidArgumentError("min_rows and min_labels must be at least 1")


@dataclass(frozen=True)
class ReferencePerformance:
    """How the model did on the reference: metrics, and the per-row error's mean and std."""

    task: Task
    n: int
    metrics: dict[str, float]
    error_mean: float  # classification: error rate; regression: mean absolute error
    error_std: float


@dataclass(frozen=True)
class Reference:
    """What a monitor compares windows with: profiles of inputs and outputs, performance."""

    inputs: Profile
    outputs: Profile | None = None
    performance: ReferencePerformance | None = None
    source: str = ""

    @classmethod
    def from_table(
        cls, table: Any, label: str | None = "label", source: str = "table"
    ) -> Reference:
        """A reference from a table of features, optionally with outputs and labels.

        Columns named ``prediction`` or ``proba_*`` are outputs (as the prediction log names
        them); the ``label`` column, with ``prediction``, gives the reference performance;
        every other column is a feature.
        """
        df = to_pandas(table)
        names = [str(c) for c in df.columns]
        outputs = [c for c in names if c == "prediction" or c.startswith(OUTPUT_PREFIX)]
        features = [c for c in names if c not in outputs and c != label]
        if not features:
            raise InvalidArgumentError(
                f"the reference table has no feature columns (it has {names}); pass the "
                "table the model was trained or validated on"
            )
        performance = None
        if label is not None and label in names and "prediction" in names:
            performance = reference_performance(df[label], df["prediction"])
        return cls(
            profile(df[features]),
            profile(df[outputs]) if outputs else None,
            performance,
            source,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reference:
        perf = data.get("performance")
        return cls(
            Profile.from_dict(data["inputs"]),
            None if data.get("outputs") is None else Profile.from_dict(data["outputs"]),
            None if perf is None else ReferencePerformance(**perf),
            data.get("source", ""),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Reference:
        return cls.from_dict(json.loads(text))


def reference_performance(
    y_true: Any, y_pred: Any, task: Task | None = None
) -> ReferencePerformance:
    """The reference performance of predictions ``y_pred`` against labels ``y_true``."""
    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    kind = task or detect_task(truth)
    report = compute_metrics(truth, pred, task=kind, n_bootstrap=0)
    errors = _row_errors(kind, truth, pred)
    return ReferencePerformance(
        kind, len(truth), report.values, float(errors.mean()), float(errors.std(ddof=1))
    )


def _row_errors(task: Task, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    if task == "regression":
        return np.abs(y_true.astype(np.float64) - y_pred.astype(np.float64))
    return (y_true.astype(str) != y_pred.astype(str)).astype(np.float64)


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityIssue:
    """One data-quality problem of one column."""

    column: str
    problem: Literal[
        "missing", "out_of_range", "unknown_category", "type_error", "unknown_column", "absent"
    ]
    count: int
    rate: float
    threshold: float


@dataclass(frozen=True)
class QualityResult:
    status: Status
    rows: int
    missing_rate: dict[str, float]
    out_of_range_rate: dict[str, float]
    unknown_category_rate: dict[str, float]
    issues: tuple[QualityIssue, ...]
    reason: str


@dataclass(frozen=True)
class DriftResult:
    """Drift of a set of columns: effect size and BH-adjusted p-value of each, and the call."""

    status: Status
    rows: int
    scores: dict[str, float]
    p_adjusted: dict[str, float]
    drifted: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class OpsResult:
    status: Status
    requests: int
    server_errors: int
    error_rate: float | None
    latency_mean_ms: float | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    latency_p99_ms: float | None
    reason: str


@dataclass(frozen=True)
class PerformanceResult:
    """Task metrics on labelled predictions, and the test of their change (concept drift)."""

    status: Status
    labelled: int
    task: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    reference: dict[str, float] = field(default_factory=dict)
    error_mean: float | None = None  # error rate (classification) or MAE (regression)
    test: str | None = None
    p_value: float | None = None
    reason: str = "no labels yet"


@dataclass(frozen=True)
class WindowChecks:
    quality: QualityResult
    feature_drift: DriftResult
    prediction_drift: DriftResult
    ops: OpsResult
    performance: PerformanceResult

    @property
    def flagged(self) -> list[str]:
        """The families that flagged this window."""
        return [name for name, r in self._results().items() if r.status == "flagged"]

    def _results(self) -> dict[str, Any]:
        return {
            "quality": self.quality,
            "feature_drift": self.feature_drift,
            "prediction_drift": self.prediction_drift,
            "ops": self.ops,
            "performance": self.performance,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowChecks:
        quality = dict(data["quality"])
        quality["issues"] = tuple(QualityIssue(**i) for i in quality["issues"])
        return cls(
            QualityResult(**quality),
            _drift_from_dict(data["feature_drift"]),
            _drift_from_dict(data["prediction_drift"]),
            OpsResult(**data["ops"]),
            PerformanceResult(**data["performance"]),
        )


def _drift_from_dict(data: Mapping[str, Any]) -> DriftResult:
    return DriftResult(**{**data, "drifted": tuple(data["drifted"])})


# -- checks ----------------------------------------------------------------------------


def run_checks(
    reference: Reference,
    window: WindowProfile,
    performance: PerformanceResult | None = None,
    policy: CheckPolicy | None = None,
) -> WindowChecks:
    """Every check of one window (performance is computed from labels elsewhere)."""
    policy = policy or CheckPolicy()
    outputs = (
        check_drift(reference.outputs, window.outputs, policy)
        if reference.outputs is not None and window.outputs is not None
        else DriftResult("not_available", window.rows, {}, {}, (), "the reference has no outputs")
    )
    return WindowChecks(
        check_quality(reference, window, policy),
        check_drift(reference.inputs, window.inputs, policy),
        outputs,
        check_ops(window, policy),
        performance or PerformanceResult("not_available", 0),
    )


def check_quality(
    reference: Reference, window: WindowProfile, policy: CheckPolicy | None = None
) -> QualityResult:
    """Missing values, schema violations, out-of-range values and unknown categories."""
    policy = policy or CheckPolicy()
    rows = window.rows
    if rows < policy.min_rows:
        return QualityResult(
            "not_available", rows, {}, {}, {}, (), f"{rows} rows < min_rows {policy.min_rows}"
        )
    profiles = {c: (reference.inputs, window.inputs) for c in reference.inputs.columns}
    if reference.outputs is not None and window.outputs is not None:
        profiles |= {
            f"outputs.{c}": (reference.outputs, window.outputs) for c in reference.outputs.columns
        }
    issues: list[QualityIssue] = []
    missing, outside, unknown = {}, {}, {}
    for name, (ref_p, cur_p) in profiles.items():
        column = name.removeprefix("outputs.") if name.startswith("outputs.") else name
        ref, cur = ref_p[column], cur_p[column]
        missing[name] = cur.missing_rate
        limit = ref.missing_rate + policy.max_missing_increase
        if cur.missing_rate > limit and name not in window.quality.absent_columns:
            issues.append(QualityIssue(name, "missing", cur.missing, cur.missing_rate, limit))
        present = max(cur.present, 1)
        if ref.histogram.edges is not None:
            count = window.quality.out_of_range.get(name, 0)
            outside[name] = count / present
            if outside[name] > policy.max_out_of_range:
                issues.append(
                    QualityIssue(
                        name, "out_of_range", count, outside[name], policy.max_out_of_range
                    )
                )
        elif ref.kind in (CATEGORICAL, BOOLEAN, TEXT) and ref.other_count == 0:
            count = cur.other_count
            unknown[name] = count / present
            if unknown[name] > policy.max_unknown_categories:
                issues.append(
                    QualityIssue(
                        name,
                        "unknown_category",
                        count,
                        unknown[name],
                        policy.max_unknown_categories,
                    )
                )
    schema = window.quality
    for problem, counts in (
        ("type_error", schema.type_errors),
        ("unknown_column", schema.unknown_columns),
        ("absent", schema.absent_columns),
    ):
        for name, count in sorted(counts.items()):
            issues.append(QualityIssue(name, problem, count, count / rows, 0.0))  # type: ignore[arg-type]
    status: Status = "flagged" if issues else "ok"
    reason = (
        "; ".join(f"{i.column}: {i.problem} {i.rate:.2%}" for i in issues)
        if issues
        else f"no quality problems in {rows} rows"
    )
    return QualityResult(status, rows, missing, outside, unknown, tuple(issues), reason)


def check_drift(
    reference: Profile, current: Profile, policy: CheckPolicy | None = None
) -> DriftResult:
    """The data engine's binned drift tests of ``current`` against ``reference``."""
    policy = policy or CheckPolicy()
    rows = current.rows
    if rows < policy.min_rows:
        return DriftResult(
            "not_available", rows, {}, {}, (), f"{rows} rows < min_rows {policy.min_rows}"
        )
    testable = [
        name for name, col in current.columns.items() if col.present and reference[name].present
    ]
    if not testable:
        return DriftResult("not_available", rows, {}, {}, (), "no column has values on both sides")
    report = compare(
        reference,
        current,
        columns=testable,
        method="binned",
        alpha=policy.alpha,
        thresholds=policy.drift_thresholds,
    )
    drifted = tuple(report.drifted)
    return DriftResult(
        "flagged" if drifted else "ok",
        rows,
        {f.feature: _finite(f.effect_size) for f in report.features},
        {f.feature: f.p_adjusted for f in report.features},
        drifted,
        report.reason,
    )


def _finite(value: float) -> float:
    """JSON has no infinity; an infinite effect (zero reference spread) is stored as 1e308."""
    return value if math.isfinite(value) else math.copysign(1e308, value)


def check_ops(window: WindowProfile, policy: CheckPolicy | None = None) -> OpsResult:
    """Requests, server error rate and latency percentiles of the window."""
    policy = policy or CheckPolicy()
    ops = window.ops
    rate = ops.error_rate
    flagged = rate is not None and ops.requests >= policy.min_rows and rate > policy.max_error_rate
    status: Status = "flagged" if flagged else ("ok" if ops.requests else "not_available")
    reason = (
        "no requests"
        if not ops.requests
        else f"{ops.requests} requests, error rate {rate:.2%}"
        + (f" > {policy.max_error_rate:.2%}" if flagged else "")
    )
    return OpsResult(
        status,
        ops.requests,
        ops.server_errors,
        rate,
        ops.latency_mean_ms,
        ops.latency_ms(0.5),
        ops.latency_ms(0.9),
        ops.latency_ms(0.99),
        reason,
    )


def check_performance(
    y_true: Any,
    y_pred: Any,
    reference: ReferencePerformance | None = None,
    policy: CheckPolicy | None = None,
    task: Task | None = None,
) -> PerformanceResult:
    """Metrics of labelled predictions, and a one-sided test that they got worse.

    ``y_true`` and ``y_pred`` hold only the window's labelled rows. Classes compare as
    text (the feedback log keeps labels as text), values as numbers.
    """
    policy = policy or CheckPolicy()
    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(truth)
    if n < policy.min_labels:
        return PerformanceResult(
            "not_available", n, reason=f"{n} labels < min_labels {policy.min_labels}"
        )
    kind: Task = task or (reference.task if reference is not None else detect_task(truth))
    if kind != "regression":
        truth, pred = truth.astype(str), pred.astype(str)
    else:
        truth, pred = truth.astype(np.float64), pred.astype(np.float64)
    metrics = compute_metrics(truth, pred, task=kind, n_bootstrap=0).values
    errors = _row_errors(kind, truth, pred)
    mean = float(errors.mean())
    if reference is None:
        return PerformanceResult(
            "ok", n, kind, metrics, {}, mean, reason="no reference performance to compare with"
        )
    if kind == "regression":
        test = "welch_t"
        p_value = float(
            stats.ttest_ind_from_stats(
                mean,
                float(errors.std(ddof=1)),
                n,
                reference.error_mean * (1 + policy.max_error_increase),
                reference.error_std,
                reference.n,
                equal_var=False,
                alternative="greater",
            ).pvalue
        )
        what = f"MAE {mean:.4g} vs reference {reference.error_mean:.4g}"
    else:
        test = "two_proportion_z"
        p_value = _rise_beyond(mean, n, reference.error_mean, reference.n, policy.max_accuracy_drop)
        what = f"error rate {mean:.2%} vs reference {reference.error_mean:.2%}"
    degraded = p_value < policy.alpha
    reason = f"{what} (p={p_value:.3g})" + (": the model got worse" if degraded else "")
    return PerformanceResult(
        "flagged" if degraded else "ok",
        n,
        kind,
        metrics,
        reference.metrics,
        mean,
        test,
        p_value,
        reason,
    )


def _rise_beyond(p2: float, n2: int, p1: float, n1: int, margin: float) -> float:
    """One-sided p-value that error rate ``p2`` (n2 rows) exceeds ``p1`` (n1) by > ``margin``.

    The z-test for a difference of proportions against a non-zero margin (unpooled
    standard error, as for non-inferiority margins: Agresti, *Categorical Data Analysis*).
    """
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if se == 0:
        return 0.0 if p2 - p1 > margin else 1.0
    return float(stats.norm.sf((p2 - p1 - margin) / se))
