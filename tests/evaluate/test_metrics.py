"""Metrics: equal to scikit-learn, honest intervals, a paired test that tells models apart."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from headway.errors import InvalidArgumentError
from headway.evaluate import (
    MetricReport,
    compute_metrics,
    detect_task,
    paired_bootstrap_diff,
)
from headway.evaluate.metrics import _prepare

TOL = 1e-12


def _binary(n: int, seed: int, ties: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1)
    return y, np.round(score, 2) if ties else score


def _multiclass(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, n)
    logits = rng.normal(size=(n, 4))
    logits[np.arange(n), codes] += 1.2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return np.array(["ant", "bee", "cat", "dog"])[codes], proba


def _regression(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.gamma(2.0, 3.0, n) + 0.5
    return y, y + rng.normal(0, 1.5, n)


@pytest.mark.parametrize("weighted", [False, True])
def test_binary_metrics_equal_sklearn(weighted: bool) -> None:
    y, score = _binary(3000, seed=1)
    w = np.random.default_rng(2).uniform(0.2, 3, len(y)) if weighted else None
    report = compute_metrics(y, y_score=score, n_bootstrap=0, sample_weight=w)
    pred = (score >= 0.5).astype(int)
    expected = {
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "precision": skm.precision_score(y, pred, sample_weight=w),
        "recall": skm.recall_score(y, pred, sample_weight=w),
        "f1": skm.f1_score(y, pred, sample_weight=w),
        "roc_auc": skm.roc_auc_score(y, score, sample_weight=w),
        "pr_auc": skm.average_precision_score(y, score, sample_weight=w),
        "log_loss": skm.log_loss(y, score, sample_weight=w),
        "brier_score": skm.brier_score_loss(y, score, sample_weight=w),
    }
    for name, value in expected.items():
        assert report[name].value == pytest.approx(value, abs=TOL), name
    matrix = skm.confusion_matrix(y, pred, sample_weight=w)
    np.testing.assert_allclose(report.confusion_matrix, matrix, atol=TOL)
    for row in report.threshold_table[::10]:  # type: ignore[index]
        at = (score >= row["threshold"]).astype(int)
        args = {"sample_weight": w, "zero_division": 0}
        assert row["precision"] == pytest.approx(skm.precision_score(y, at, **args), abs=TOL)
        assert row["recall"] == pytest.approx(skm.recall_score(y, at, **args), abs=TOL)
        assert row["f1"] == pytest.approx(skm.f1_score(y, at, **args), abs=TOL)


def test_ece_and_calibration_curve_equal_sklearn_bins() -> None:
    y, score = _binary(3000, seed=3, ties=False)
    report = compute_metrics(y, y_score=score, n_bootstrap=0)
    prob_true, prob_pred = calibration_curve(y, score, n_bins=10, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], score), minlength=10)
    counts = counts[counts > 0]
    expected = np.sum(counts / len(y) * np.abs(prob_true - prob_pred))
    assert report["ece"].value == pytest.approx(expected, abs=TOL)
    curve = [b for b in report.calibration_curve or [] if b["weight"]]
    np.testing.assert_allclose([b["fraction_positive"] for b in curve], prob_true, atol=TOL)
    np.testing.assert_allclose([b["mean_predicted"] for b in curve], prob_pred, atol=TOL)


def test_multiclass_metrics_equal_sklearn() -> None:
    y, proba = _multiclass(2000, seed=4)
    classes = np.array(["ant", "bee", "cat", "dog"])
    report = compute_metrics(y, y_score=proba, n_bootstrap=0)
    pred = classes[proba.argmax(axis=1)]
    assert report.task == "multiclass" and report.classes == list(classes)
    assert report["accuracy"].value == pytest.approx(skm.accuracy_score(y, pred), abs=TOL)
    for average in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, average=average)
        assert report[f"precision_{average}"].value == pytest.approx(p, abs=TOL)
        assert report[f"recall_{average}"].value == pytest.approx(r, abs=TOL)
        assert report[f"f1_{average}"].value == pytest.approx(f, abs=TOL)
    assert report["log_loss"].value == pytest.approx(skm.log_loss(y, proba), abs=TOL)
    np.testing.assert_array_equal(report.confusion_matrix, skm.confusion_matrix(y, pred))
    p, r, f, s = skm.precision_recall_fscore_support(y, pred)
    table = report.per_class or []
    assert [row["label"] for row in table] == list(classes)
    np.testing.assert_allclose([row["f1"] for row in table], f, atol=TOL)
    np.testing.assert_allclose([row["support"] for row in table], s, atol=TOL)


def test_regression_metrics_equal_sklearn() -> None:
    y, pred = _regression(2000, seed=5)
    w = np.random.default_rng(6).uniform(0.5, 2, len(y))
    for weights in (None, w):
        report = compute_metrics(y, pred, n_bootstrap=0, sample_weight=weights)
        expected = {
            "mae": skm.mean_absolute_error(y, pred, sample_weight=weights),
            "rmse": skm.root_mean_squared_error(y, pred, sample_weight=weights),
            "mape": skm.mean_absolute_percentage_error(y, pred, sample_weight=weights),
            "r2": skm.r2_score(y, pred, sample_weight=weights),
        }
        for name, value in expected.items():
            assert report[name].value == pytest.approx(value, abs=TOL), name
    quantiles = compute_metrics(y, pred, n_bootstrap=0).residual_quantiles or {}
    assert quantiles["0.5"] == pytest.approx(np.quantile(y - pred, 0.5), abs=TOL)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_vectorised_resample_equals_sklearn_with_counts_as_weights(task: str) -> None:
    """A resample is the data weighted by its counts: the kernel must agree with sklearn."""
    n = 600
    rng = np.random.default_rng(7)
    counts = np.bincount(
        rng.integers(0, n, (3, n)).ravel() + np.repeat([0, n, 2 * n], n), minlength=3 * n
    )
    counts = counts.reshape(3, n).astype(float)
    w = rng.uniform(0.5, 2, n)
    if task == "binary":
        y, score = _binary(n, seed=8)
        prepared = _prepare(y, None, score, task, 0.5, w, None)
    elif task == "multiclass":
        y, proba = _multiclass(n, seed=8)
        prepared = _prepare(y, None, proba, task, 0.5, w, None)
    else:
        y, pred = _regression(n, seed=8)
        prepared = _prepare(y, pred, None, task, 0.5, w, None)
    order = prepared.order if prepared.order is not None else np.arange(n)
    drawn = prepared.kernel(counts[:, order])
    for i in range(3):
        expected = _prepare(y, *_inputs(task, y), task, 0.5, w * counts[i], None).point()
        for name, value in expected.items():
            assert drawn[name][i] == pytest.approx(value, abs=1e-10), (name, i)


def _inputs(task: str, y: np.ndarray) -> tuple[object, object]:
    if task == "binary":
        return None, _binary(len(y), seed=8)[1]
    if task == "multiclass":
        return None, _multiclass(len(y), seed=8)[1]
    return _regression(len(y), seed=8)[1], None


def test_intervals_contain_the_value_and_narrow_with_more_rows() -> None:
    widths = []
    for n in (500, 8000):
        y, score = _binary(n, seed=9, ties=False)
        report = compute_metrics(y, y_score=score, n_bootstrap=200)
        for m in report.metrics.values():
            assert m.low is not None and m.high is not None
            assert m.low <= m.value <= m.high, m
        widths.append({name: m.high - m.low for name, m in report.metrics.items()})  # type: ignore[operator]
    assert all(widths[1][name] < widths[0][name] / 2 for name in widths[0])


def test_accuracy_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(10)
    covered = 0
    for trial in range(200):
        correct = rng.random(150) < 0.8  # true accuracy 0.8
        y = rng.integers(0, 2, 150)
        pred = np.where(correct, y, 1 - y)
        acc = compute_metrics(y, pred, task="binary", n_bootstrap=200, seed=trial)["accuracy"]
        covered += acc.low <= 0.8 <= acc.high  # type: ignore[operator]
    assert 0.88 <= covered / 200 <= 0.99


def test_same_seed_same_intervals_and_no_bootstrap_no_intervals() -> None:
    y, score = _binary(400, seed=11)
    a = compute_metrics(y, y_score=score, seed=3)
    b = compute_metrics(y, y_score=score, seed=3)
    assert a == b
    bare = compute_metrics(y, y_score=score, n_bootstrap=0)
    assert all(m.low is None and m.high is None for m in bare.metrics.values())


def test_report_round_trips_through_strict_json() -> None:
    y, score = _binary(300, seed=12)
    report = compute_metrics(y, y_score=score, n_bootstrap=50)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert MetricReport.from_dict(data) == report
    assert json.loads(report.to_json())["metrics"]["roc_auc"]["value"] == report["roc_auc"].value


def test_detect_task() -> None:
    assert detect_task([0, 1, 1, 0]) == "binary"
    assert detect_task(["yes", "no"]) == "binary"
    assert detect_task([0, 1, 2, 1]) == "multiclass"
    assert detect_task([0, 1, 1], np.full((3, 3), 1 / 3)) == "multiclass"
    assert detect_task([0.1, 2.5, 3.0]) == "regression"


def test_string_labels_take_the_larger_label_as_positive() -> None:
    y = np.array(["no", "yes", "yes", "no", "yes"])
    report = compute_metrics(y, y_score=[0.2, 0.9, 0.4, 0.6, 0.8], n_bootstrap=0)
    assert report.classes == ["no", "yes"]
    assert report["recall"].value == pytest.approx(2 / 3)


def test_paired_bootstrap_detects_a_real_difference() -> None:
    rng = np.random.default_rng(13)
    y = rng.integers(0, 2, 3000)
    good = np.clip(0.4 * y + rng.uniform(0, 0.6, 3000), 0, 1)
    weak = np.clip(0.25 * y + rng.uniform(0, 0.75, 3000), 0, 1)
    result = paired_bootstrap_diff(y, good, weak, "roc_auc", n_bootstrap=500)
    expected = skm.roc_auc_score(y, good) - skm.roc_auc_score(y, weak)
    assert result.diff == pytest.approx(expected, abs=TOL)
    assert result.low is not None and result.low > 0 and result.p_value < 0.01  # type: ignore[operator]
    loss = paired_bootstrap_diff(y, good, weak, "log_loss", n_bootstrap=200)
    assert loss.high is not None and loss.high < 0  # lower is better: a beats b


def test_paired_bootstrap_finds_no_difference_between_equal_models() -> None:
    rng = np.random.default_rng(14)
    y = rng.integers(0, 2, 3000)
    a, b = (np.clip(0.3 * y + rng.uniform(0, 0.7, 3000), 0, 1) for _ in range(2))
    result = paired_bootstrap_diff(y, a, b, "roc_auc", n_bootstrap=500)
    assert result.low < 0 < result.high  # type: ignore[operator]
    assert result.p_value > 0.05  # type: ignore[operator]


def test_paired_bootstrap_is_tighter_than_unpaired_intervals() -> None:
    y, score = _binary(2000, seed=15, ties=False)
    nudged = np.clip(score + np.random.default_rng(16).normal(0, 0.02, len(y)), 0, 1)
    paired = paired_bootstrap_diff(y, score, nudged, "roc_auc", n_bootstrap=300)
    alone = compute_metrics(y, y_score=score, n_bootstrap=300)["roc_auc"]
    assert paired.high - paired.low < (alone.high - alone.low) / 3  # type: ignore[operator]


def test_errors_say_what_was_wrong() -> None:
    y, score = _binary(100, seed=17)
    with pytest.raises(InvalidArgumentError, match="99 rows but y_true has 100"):
        compute_metrics(y, y_score=score[:99])
    with pytest.raises(InvalidArgumentError, match=r"probabilities in \[0, 1\].*1\.5"):
        compute_metrics(y, y_score=np.r_[score[:-1], 1.5])
    with pytest.raises(InvalidArgumentError, match=r"only the class 1.*need both classes"):
        compute_metrics(np.ones(50, dtype=int), y_score=np.full(50, 0.7))
    with pytest.raises(InvalidArgumentError, match="pass y_pred, y_score or both"):
        compute_metrics(y)
    with pytest.raises(InvalidArgumentError, match="task must be one of"):
        compute_metrics(y, y_score=score, task="ranking")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="sum to 1"):
        compute_metrics([0, 1, 2], y_score=np.full((3, 3), 0.5))
    with pytest.raises(InvalidArgumentError, match="3 columns but there are 4 classes"):
        compute_metrics([0, 1, 2, 3], y_score=np.full((4, 3), 1 / 3))
    with pytest.raises(InvalidArgumentError, match="use one of"):
        paired_bootstrap_diff(y, score, score, "r2")
    with pytest.raises(InvalidArgumentError, match="missing or infinite"):
        compute_metrics([1.5, 2.0, 3.0], [1.0, np.nan, 3.0], task="regression")


def test_single_class_labels_still_get_threshold_metrics() -> None:
    report = compute_metrics(np.ones(20, dtype=int), np.r_[np.ones(15), np.zeros(5)].astype(int))
    assert report["accuracy"].value == 0.75 and report["recall"].value == 0.75
