"""Promotion gates: a policy applied to an evaluation report, with a reason for every check."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headway.errors import InvalidArgumentError
from headway.evaluate import (
    Metric,
    MetricReport,
    PairedDifference,
    baselines,
    compute_metrics,
    lift,
    paired_bootstrap_diff,
)
from headway.evaluate.gates import GateCheck, GateOutcome, GatePolicy, gate
from headway.evaluate.report import ChampionComparison, EvaluationReport
from headway.evaluate.slices import SliceMetrics

POLICY_TOML = """
[thresholds]
roc_auc = 0.75
log_loss = 1

[min_lift.zero_rule]
accuracy = 0.02

[max_regression]
roc_auc = 0.01
slices = ["plan=premium"]

[budgets]
latency_p99_ms = 50
size_bytes = 50_000_000
"""


def _labels_and_scores(
    n: int = 600, strength: float = 0.4, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, np.clip(strength * y + rng.uniform(0, 1 - strength, n), 0, 1)


def _champion(
    overall: PairedDifference, premium: PairedDifference | None = None
) -> ChampionComparison:
    differences = {"overall": {"roc_auc": overall}}
    if premium is not None:
        differences["plan=premium"] = {"roc_auc": premium}
    return ChampionComparison("models:/churn/3", differences)


def _report(
    champion: ChampionComparison | None = None,
    latency_p99_ms: float | None = 12.5,
    size_bytes: int | None = 1_000_000,
) -> EvaluationReport:
    y, score = _labels_and_scores()
    overall = compute_metrics(y, y_score=score, n_bootstrap=50)
    base = baselines(y, n_bootstrap=50)
    premium = compute_metrics(y[:200], y_score=score[:200], n_bootstrap=50)
    return EvaluationReport(
        model="models:/churn/4",
        task="binary",
        label="churned",
        rows=len(y),
        overall=overall,
        baselines=base,
        lift={name: lift(overall, report) for name, report in base.items()},
        slices=[SliceMetrics("plan=premium", 200, 200 / len(y), premium)],
        champion=champion,
        latency_p99_ms=latency_p99_ms,
        size_bytes=size_bytes,
    )


@pytest.fixture(scope="module")
def report() -> EvaluationReport:
    return _report(_champion(PairedDifference(0.002, -0.004, 0.008, 0.5)))


def _check(outcome: GateOutcome, name: str) -> GateCheck:
    (check,) = [c for c in outcome.checks if c.name == name]
    return check


# -- the whole policy ------------------------------------------------------------------


def test_a_report_meeting_every_rule_is_blessed_with_a_reason_per_check() -> None:
    report = _report(
        _champion(
            PairedDifference(0.002, -0.004, 0.008, 0.5),
            premium=PairedDifference(0.0, -0.009, 0.009, 0.9),
        )
    )
    outcome = gate(report, GatePolicy.from_toml(POLICY_TOML))
    assert outcome.blessed
    assert outcome.failures == []
    assert [c.name for c in outcome.checks] == [
        "threshold:roc_auc",
        "threshold:log_loss",
        "lift:zero_rule:accuracy",
        "regression:roc_auc",
        "regression:roc_auc:plan=premium",
        "budget:latency_p99_ms",
        "budget:size_bytes",
    ]
    assert all(c.reason for c in outcome.checks)
    auc = report.overall["roc_auc"].value
    assert _check(outcome, "threshold:roc_auc").reason == f"roc_auc {auc:.4g} >= 0.75"
    assert _check(outcome, "budget:latency_p99_ms").reason == "p99 latency 12.5 ms <= 50 ms"
    assert _check(outcome, "budget:size_bytes").reason == (
        "size 1,000,000 bytes <= 50,000,000 bytes"
    )


def test_an_empty_policy_blesses_any_report(report: EvaluationReport) -> None:
    assert gate(report, GatePolicy()) == GateOutcome(True, [])


def test_one_failed_check_withholds_the_blessing(report: EvaluationReport) -> None:
    outcome = gate(report, GatePolicy(thresholds={"roc_auc": 0.75, "accuracy": 0.99}))
    assert not outcome.blessed
    assert [c.name for c in outcome.failures] == ["threshold:accuracy"]


# -- thresholds ------------------------------------------------------------------------


def test_threshold_fails_below_the_minimum(report: EvaluationReport) -> None:
    auc = report.overall["roc_auc"].value
    check = gate(report, GatePolicy(thresholds={"roc_auc": 0.99})).checks[0]
    assert not check.passed
    assert check.reason == f"roc_auc {auc:.4g} < 0.99"
    assert (check.value, check.limit) == (auc, 0.99)


def test_threshold_on_a_lower_is_better_metric_is_a_maximum(report: EvaluationReport) -> None:
    loss = report.overall["log_loss"].value
    loose = gate(report, GatePolicy(thresholds={"log_loss": loss + 0.1})).checks[0]
    tight = gate(report, GatePolicy(thresholds={"log_loss": loss - 0.1})).checks[0]
    assert loose.passed
    assert loose.reason == f"log_loss {loss:.4g} <= {loss + 0.1:.4g} (lower is better)"
    assert not tight.passed
    assert tight.reason == f"log_loss {loss:.4g} > {loss - 0.1:.4g} (lower is better)"


def test_threshold_on_a_regression_error_metric() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(10, 2, 300)
    overall = compute_metrics(y, y + rng.normal(0, 0.5, 300), n_bootstrap=50)
    report = EvaluationReport("m", "regression", "y", 300, overall)
    mae = overall["mae"].value
    assert gate(report, GatePolicy(thresholds={"mae": mae + 0.01, "r2": 0.5})).blessed
    assert not gate(report, GatePolicy(thresholds={"mae": mae - 0.01})).blessed


def test_a_metric_missing_from_the_report_fails_naming_it(report: EvaluationReport) -> None:
    check = gate(report, GatePolicy(thresholds={"r2": 0.5})).checks[0]
    assert not check.passed
    assert check.value is None
    assert "r2 is not in the report" in check.reason
    assert "roc_auc" in check.reason  # what the report does have


def test_an_undefined_metric_fails(report: EvaluationReport) -> None:
    metrics = dict(report.overall.metrics)
    metrics["roc_auc"] = Metric("roc_auc", float("nan"))
    broken = EvaluationReport("m", "binary", "y", 10, MetricReport("binary", 10, metrics, 0, 0.95))
    check = gate(broken, GatePolicy(thresholds={"roc_auc": 0.5})).checks[0]
    assert not check.passed
    assert "undefined" in check.reason


# -- lift ------------------------------------------------------------------------------


def test_min_lift_passes_and_fails_against_the_reported_lift(report: EvaluationReport) -> None:
    gain = report.lift["zero_rule"]["roc_auc"]
    ok = gate(report, GatePolicy(min_lift={"zero_rule": {"roc_auc": gain - 0.01}})).checks[0]
    short = gate(report, GatePolicy(min_lift={"zero_rule": {"roc_auc": gain + 0.01}})).checks[0]
    assert ok.passed
    assert ok.reason == f"roc_auc lift over zero_rule {gain:.4g} >= {gain - 0.01:.4g}"
    assert ok.name == "lift:zero_rule:roc_auc"
    assert not short.passed
    assert short.reason == f"roc_auc lift over zero_rule {gain:.4g} < {gain + 0.01:.4g}"


def test_min_lift_on_a_lower_is_better_metric_uses_the_signed_lift(
    report: EvaluationReport,
) -> None:
    gain = report.lift["zero_rule"]["log_loss"]
    assert gain > 0  # the model's loss is lower than the zero rule's
    assert gate(report, GatePolicy(min_lift={"zero_rule": {"log_loss": gain / 2}})).blessed


def test_min_lift_over_a_missing_baseline_or_metric_fails(report: EvaluationReport) -> None:
    policy = GatePolicy(min_lift={"heuristic": {"accuracy": 0.0}, "random": {"r2": 0.0}})
    baseline, metric = gate(report, policy).checks
    assert not baseline.passed
    assert "no lift over baseline 'heuristic'" in baseline.reason
    assert "zero_rule" in baseline.reason
    assert not metric.passed
    assert "no r2 lift over random" in metric.reason


# -- regression against the champion ---------------------------------------------------


def test_regression_fails_when_a_drop_beyond_delta_is_not_ruled_out() -> None:
    report = _report(_champion(PairedDifference(-0.004, -0.011, 0.003, 0.3)))
    check = gate(report, GatePolicy(max_regression={"roc_auc": 0.01})).checks[0]
    assert not check.passed
    assert check.reason == (
        "roc_auc vs champion: -0.004 [-0.011, 0.003]; a drop beyond 0.01 is not ruled out"
    )
    assert (check.value, check.limit) == (-0.011, -0.01)


def test_regression_passes_when_the_interval_keeps_any_drop_within_delta() -> None:
    report = _report(_champion(PairedDifference(-0.004, -0.009, 0.003, 0.3)))
    check = gate(report, GatePolicy(max_regression={"roc_auc": 0.01})).checks[0]
    assert check.passed
    assert check.reason == ("roc_auc vs champion: -0.004 [-0.009, 0.003]; any drop is within 0.01")


def test_regression_is_decided_by_the_interval_not_the_point_difference() -> None:
    # A point gain with a wide interval still fails; a point loss with a tight one passes.
    noisy = _report(_champion(PairedDifference(0.01, -0.05, 0.07, 0.7)))
    tight = _report(_champion(PairedDifference(-0.005, -0.008, -0.002, 0.001)))
    policy = GatePolicy(max_regression={"roc_auc": 0.01})
    assert not gate(noisy, policy).blessed
    assert gate(tight, policy).blessed


def test_regression_on_a_lower_is_better_metric_uses_the_high_end() -> None:
    champion = ChampionComparison(
        "models:/churn/3",
        {
            "overall": {
                "log_loss": PairedDifference(0.004, -0.003, 0.011, 0.4),
                "brier_score": PairedDifference(-0.02, -0.04, 0.005, 0.1),
            }
        },
    )
    report = _report(champion)
    outcome = gate(report, GatePolicy(max_regression={"log_loss": 0.01, "brier_score": 0.01}))
    loss, brier = outcome.checks
    assert not loss.passed
    assert loss.reason == (
        "log_loss vs champion: +0.004 [-0.003, 0.011]; "
        "a rise (lower is better) beyond 0.01 is not ruled out"
    )
    assert (loss.value, loss.limit) == (0.011, 0.01)
    # A wide low end (a big improvement) does not matter; the high end is within δ.
    assert brier.passed
    assert brier.reason == "brier_score vs champion: -0.02 [-0.04, 0.005]; any rise is within 0.01"


def test_regression_passes_without_a_champion_and_says_so() -> None:
    report = _report(champion=None)
    policy = GatePolicy(max_regression={"roc_auc": 0.01}, slices=["plan=premium"])
    outcome = gate(report, policy)
    assert outcome.blessed
    assert [c.name for c in outcome.checks] == [
        "regression:roc_auc",
        "regression:roc_auc:plan=premium",
    ]
    assert all("no champion comparison" in c.reason for c in outcome.checks)


def test_regression_applies_on_each_named_slice() -> None:
    report = _report(
        _champion(
            PairedDifference(0.001, -0.005, 0.007, 0.6),
            premium=PairedDifference(-0.03, -0.06, -0.01, 0.01),
        )
    )
    policy = GatePolicy(max_regression={"roc_auc": 0.01}, slices=["plan=premium"])
    outcome = gate(report, policy)
    assert not outcome.blessed
    (failure,) = outcome.failures
    assert failure.name == "regression:roc_auc:plan=premium"
    assert failure.reason == (
        "roc_auc vs champion on plan=premium: -0.03 [-0.06, -0.01]; "
        "a drop beyond 0.01 is not ruled out"
    )


def test_regression_on_a_slice_or_metric_missing_from_the_comparison_fails(
    report: EvaluationReport,
) -> None:
    policy = GatePolicy(max_regression={"roc_auc": 0.01, "f1": 0.02}, slices=["region=eu"])
    outcome = gate(report, policy)
    failed = {c.name: c.reason for c in outcome.failures}
    assert set(failed) == {
        "regression:f1",
        "regression:roc_auc:region=eu",
        "regression:f1:region=eu",
    }
    assert "no metric 'f1' on 'overall'" in failed["regression:f1"]
    assert "no scope 'region=eu'" in failed["regression:roc_auc:region=eu"]


def test_regression_without_a_bootstrap_interval_fails() -> None:
    report = _report(_champion(PairedDifference(0.02, None, None, None)))
    check = gate(report, GatePolicy(max_regression={"roc_auc": 0.01})).checks[0]
    assert not check.passed
    assert "without a bootstrap interval" in check.reason
    assert "n_bootstrap > 0" in check.reason


def test_regression_decided_by_a_real_paired_bootstrap() -> None:
    y, candidate = _labels_and_scores(2000, strength=0.4, seed=5)
    rng = np.random.default_rng(6)
    champion = np.clip(0.4 * y + rng.uniform(0, 0.6, len(y)), 0, 1)
    weak = np.clip(0.1 * y + rng.uniform(0, 0.9, len(y)), 0, 1)
    policy = GatePolicy(max_regression={"roc_auc": 0.02})

    def comparison(scores: np.ndarray) -> ChampionComparison:
        diff = paired_bootstrap_diff(y, scores, champion, "roc_auc", n_bootstrap=200)
        return ChampionComparison("models:/churn/3", {"overall": {"roc_auc": diff}})

    assert gate(_report(comparison(candidate)), policy).blessed
    assert not gate(_report(comparison(weak)), policy).blessed


# -- budgets ---------------------------------------------------------------------------


def test_budgets_fail_when_exceeded() -> None:
    report = _report(latency_p99_ms=80.0, size_bytes=60_000_000)
    outcome = gate(report, GatePolicy(max_latency_p99_ms=50, max_size_bytes=50_000_000))
    latency, size = outcome.checks
    assert not latency.passed
    assert latency.reason == "p99 latency 80 ms > 50 ms"
    assert not size.passed
    assert size.reason == "size 60,000,000 bytes > 50,000,000 bytes"
    assert (size.value, size.limit) == (60_000_000, 50_000_000)


def test_budgets_fail_when_the_report_did_not_measure_them() -> None:
    report = _report(latency_p99_ms=None, size_bytes=None)
    outcome = gate(report, GatePolicy(max_latency_p99_ms=50, max_size_bytes=1))
    assert not outcome.blessed
    latency, size = outcome.checks
    assert "latency is not in the report" in latency.reason
    assert "size is not in the report" in size.reason


# -- the policy ------------------------------------------------------------------------


def test_from_toml_reads_every_section() -> None:
    policy = GatePolicy.from_toml(POLICY_TOML)
    assert policy == GatePolicy(
        thresholds={"roc_auc": 0.75, "log_loss": 1.0},
        min_lift={"zero_rule": {"accuracy": 0.02}},
        max_regression={"roc_auc": 0.01},
        slices=["plan=premium"],
        max_latency_p99_ms=50.0,
        max_size_bytes=50_000_000,
    )
    assert isinstance(policy.thresholds["log_loss"], float)
    assert isinstance(policy.max_latency_p99_ms, float)


def test_from_toml_accepts_an_empty_document() -> None:
    assert GatePolicy.from_toml("") == GatePolicy()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[threshold]\nroc_auc = 0.7", "unknown key 'threshold' in the top level"),
        ("[budgets]\nlatency_ms = 5", "unknown key 'latency_ms' in [budgets]"),
        ("[thresholds]\nroc_auc = 'high'", "thresholds.roc_auc must be a number, got 'high'"),
        ("[thresholds]\nroc_auc = true", "thresholds.roc_auc must be a number"),
        ("[thresholds]\nroc_auc = nan", "thresholds.roc_auc must be a finite number"),
        ("thresholds = 0.7", "thresholds must be a table of metric = number"),
        ("[min_lift]\naccuracy = 0.02", "min_lift.accuracy must be a table of metric"),
        ("[max_regression]\nroc_auc = -0.01", "max_regression.roc_auc must be at least 0"),
        (
            "[max_regression]\nroc_auc = 0.01\nslices = 'plan=premium'",
            "max_regression.slices must be a list of slice names",
        ),
        ("[max_regression]\nslices = ['a']", "max_regression has no metrics"),
        (
            "[max_regression]\nroc_auc = 0.01\nslices = ['overall']",
            "names 'overall', which is always checked",
        ),
        ("[budgets]\nlatency_p99_ms = 0", "budgets.latency_p99_ms must be a positive number"),
        ("[budgets]\nsize_bytes = 5e7", "budgets.size_bytes must be a positive whole number"),
        ("budgets = [1]", "budgets must be a table"),
        ("[thresholds\nroc_auc = 0.7", "is not valid TOML"),
    ],
)
def test_from_toml_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^gate policy") as info:
        GatePolicy.from_toml(text)
    assert message in str(info.value)


def test_python_construction_is_validated_too() -> None:
    with pytest.raises(InvalidArgumentError, match=r"thresholds\.roc_auc must be a number"):
        GatePolicy(thresholds={"roc_auc": "0.7"})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgumentError, match=r"budgets\.size_bytes"):
        GatePolicy(max_size_bytes=-1)


def test_a_policy_does_not_share_its_callers_dicts() -> None:
    thresholds = {"roc_auc": 0.7}
    policy = GatePolicy(thresholds=thresholds)
    thresholds["roc_auc"] = 0.99
    assert policy.thresholds == {"roc_auc": 0.7}


def test_from_file_reads_toml_and_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(POLICY_TOML, encoding="utf-8")
    assert GatePolicy.from_file(path) == GatePolicy.from_toml(POLICY_TOML)
    path.write_text("[thresholds]\nroc_auc = 'x'", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=r"gate\.toml: thresholds\.roc_auc"):
        GatePolicy.from_file(path)
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        GatePolicy.from_file(tmp_path / "missing.toml")


_names = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8)
_limits = st.dictionaries(_names, st.floats(0, 10, allow_nan=False), max_size=3)


@settings(max_examples=50, deadline=None)
@given(
    thresholds=_limits,
    min_lift=st.dictionaries(_names, _limits, max_size=2),
    max_regression=_limits,
    latency=st.none() | st.floats(0.1, 1e4),
    size=st.none() | st.integers(1, 10**12),
)
def test_policy_round_trips_through_to_dict(
    thresholds: dict[str, float],
    min_lift: dict[str, dict[str, float]],
    max_regression: dict[str, float],
    latency: float | None,
    size: int | None,
) -> None:
    policy = GatePolicy(
        thresholds,
        min_lift,
        max_regression,
        slices=["plan=premium"] if max_regression else [],
        max_latency_p99_ms=latency,
        max_size_bytes=size,
    )
    assert GatePolicy.from_dict(policy.to_dict()) == policy


# -- the outcome -----------------------------------------------------------------------


def test_outcome_round_trips_through_json(report: EvaluationReport) -> None:
    outcome = gate(report, GatePolicy.from_toml(POLICY_TOML))
    assert GateOutcome.from_json(outcome.to_json()) == outcome
    assert GateOutcome.from_dict(outcome.to_dict()) == outcome


def test_outcome_round_trips_with_a_report_that_went_through_json() -> None:
    report = _report(_champion(PairedDifference(-0.004, -0.011, 0.003, 0.3)))
    restored = EvaluationReport.from_json(report.to_json())
    policy = GatePolicy.from_toml(POLICY_TOML)
    assert gate(restored, policy) == gate(report, policy)


def test_an_outcome_whose_verdict_contradicts_its_checks_is_refused() -> None:
    failed = GateCheck("threshold:roc_auc", False, "roc_auc 0.7 < 0.75", 0.7, 0.75)
    with pytest.raises(InvalidArgumentError, match="failed checks are"):
        GateOutcome(True, [failed])
