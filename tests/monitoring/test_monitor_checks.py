from __future__ import annotations

import numpy as np
import pytest
from monitoring_helpers import features, log_batch, outputs

from headway.monitoring import (
    CheckPolicy,
    Reference,
    WindowChecks,
    check_drift,
    check_performance,
    check_quality,
    reference_performance,
    run_checks,
    summarise,
)

HOUR = 3_600_000


@pytest.fixture(scope="module")
def reference() -> Reference:
    train = features(20_000, seed=1)
    outs = outputs(train, seed=1)
    return Reference.from_table(
        train.assign(prediction=outs["prediction"], proba_1=outs["proba_1"])
    )


def window_of(reference: Reference, data, outs=None):
    outs = outs if outs is not None else outputs(data, seed=2)
    return summarise([log_batch(data, outs)], 0, HOUR, reference.inputs, reference.outputs)


def test_a_reference_table_splits_features_outputs_and_labels() -> None:
    train = features(1000, seed=1)
    outs = outputs(train, seed=1)
    table = train.assign(prediction=outs["prediction"], label=outs["prediction"])
    ref = Reference.from_table(table)
    assert list(ref.inputs.columns) == ["tenure", "charges", "plan"]
    assert ref.outputs is not None and list(ref.outputs.columns) == ["prediction"]
    assert ref.performance is not None and ref.performance.metrics["accuracy"] == 1.0
    assert Reference.from_json(ref.to_json()) == ref


def test_clean_traffic_passes_every_check(reference: Reference) -> None:
    checks = run_checks(reference, window_of(reference, features(2000, seed=7)))
    assert checks.flagged == []
    assert checks.quality.status == "ok" and checks.feature_drift.status == "ok"
    assert checks.performance.status == "not_available"
    assert WindowChecks.from_dict(checks.to_dict()) == checks


def test_quality_flags_injected_missing_out_of_range_and_unknown_categories(
    reference: Reference,
) -> None:
    data = features(2000, seed=8)
    data.loc[:399, "tenure"] = np.nan  # 20% missing
    data.loc[400:459, "charges"] = 1e6  # 3% out of range
    data.loc[500:599, "plan"] = "platinum"  # 5% a category never seen
    result = check_quality(reference, window_of(reference, data, outputs(features(2000, 8), 8)))
    found = {(i.column, i.problem) for i in result.issues}
    assert found == {
        ("tenure", "missing"),
        ("charges", "out_of_range"),
        ("plan", "unknown_category"),
    }
    assert result.status == "flagged"
    assert result.missing_rate["tenure"] == pytest.approx(0.2)
    assert result.unknown_category_rate["plan"] == pytest.approx(0.05)


def test_quality_flags_schema_violations(reference: Reference) -> None:
    data = features(500, seed=9).drop(columns=["plan"]).assign(surprise=1)
    result = check_quality(reference, window_of(reference, data, outputs(features(500, 9), 9)))
    assert {(i.column, i.problem) for i in result.issues} == {
        ("plan", "absent"),
        ("surprise", "unknown_column"),
    }


def test_drift_flags_the_shifted_feature_and_not_the_others(reference: Reference) -> None:
    shifted = features(2000, seed=11, shift=0.5)
    result = check_drift(reference.inputs, window_of(reference, shifted).inputs)
    assert result.status == "flagged"
    assert result.drifted == ("charges",)
    assert result.scores["charges"] > 0.3 > max(result.scores["tenure"], result.scores["plan"])


def test_prediction_drift_follows_the_outputs(reference: Reference) -> None:
    data = features(2000, seed=12, shift=1.0)
    checks = run_checks(reference, window_of(reference, data))
    assert checks.prediction_drift.status == "flagged"
    assert "proba_1" in checks.prediction_drift.drifted


def test_a_tiny_window_is_not_judged(reference: Reference) -> None:
    window = window_of(reference, features(20, seed=13, shift=3.0))
    checks = run_checks(reference, window)
    assert checks.feature_drift.status == "not_available"
    assert checks.quality.status == "not_available"
    assert checks.ops.status == "ok" and checks.ops.requests == 20


def test_ops_check_flags_a_high_error_rate(reference: Reference) -> None:
    data = features(1000, seed=14)
    status = np.where(np.arange(1000) < 100, 500, 200).astype(np.int16)
    batch = log_batch(data, outputs(data, 14), np.linspace(1, 100, 1000), status)
    window = summarise([batch], 0, HOUR, reference.inputs, reference.outputs)
    ops = run_checks(reference, window).ops
    assert ops.status == "flagged" and ops.error_rate == pytest.approx(0.1)
    assert ops.latency_p50_ms == pytest.approx(50.5, rel=0.03)


def test_performance_is_not_available_without_enough_labels() -> None:
    result = check_performance(["1"] * 5, ["1"] * 5)
    assert result.status == "not_available" and result.labelled == 5
    assert result.metrics == {}


def test_performance_flags_a_real_accuracy_drop_only() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 5000)
    ref = reference_performance(truth, np.where(rng.uniform(size=5000) < 0.9, truth, 1 - truth))
    labels = rng.integers(0, 2, 1000)
    same = np.where(rng.uniform(size=1000) < 0.9, labels, 1 - labels)
    worse = np.where(rng.uniform(size=1000) < 0.75, labels, 1 - labels)
    steady = check_performance(labels.astype(str), same.astype(str), ref)
    dropped = check_performance(labels.astype(str), worse.astype(str), ref)
    assert steady.status == "ok" and steady.test == "two_proportion_z"
    assert dropped.status == "flagged" and dropped.p_value is not None and dropped.p_value < 1e-6
    assert dropped.metrics["accuracy"] == pytest.approx(1 - dropped.error_mean)


def test_a_slightly_optimistic_reference_does_not_flag_window_after_window() -> None:
    """The reference's accuracy is an estimate: 2 points of luck in it is not concept drift."""
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, 3000)
    ref = reference_performance(truth, np.where(rng.uniform(size=3000) < 0.84, truth, 1 - truth))
    flagged = 0
    for _ in range(200):  # 200 hourly windows of 300 labels, the model as good as ever: 82%
        labels = rng.integers(0, 2, 300)
        preds = np.where(rng.uniform(size=300) < 0.82, labels, 1 - labels)
        flagged += check_performance(labels.astype(str), preds.astype(str), ref).status == "flagged"
    assert (
        flagged <= 16
    )  # about the test's 5% at the margin's edge (a test against no change: 1 in 5)


def test_regression_performance_tests_absolute_errors() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=3000)
    ref = reference_performance(y, y + rng.normal(0, 0.5, 3000), task="regression")
    z = rng.normal(size=800)
    worse = check_performance(z, z + rng.normal(0, 1.0, 800), ref, policy=CheckPolicy())
    steady = check_performance(z, z + rng.normal(0, 0.5, 800), ref)
    assert worse.status == "flagged" and worse.test == "welch_t"
    assert steady.status == "ok"
