"""Baselines: the dummy models a real one must beat, and lift signed so that up is better."""

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.dummy import DummyClassifier

from headway.errors import InvalidArgumentError
from headway.evaluate import baselines, compute_metrics, lift


def _binary(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    return y, np.clip(0.4 * y + rng.uniform(0, 0.6, n), 0, 1)


def test_zero_rule_is_sklearn_prior_dummy() -> None:
    y, _ = _binary()
    report = baselines(y, n_bootstrap=0)["zero_rule"]
    dummy = DummyClassifier(strategy="prior").fit(np.zeros((len(y), 1)), y)
    proba = dummy.predict_proba(np.zeros((len(y), 1)))[:, 1]
    assert report["accuracy"].value == pytest.approx(1 - y.mean(), abs=1e-12)
    assert report["roc_auc"].value == pytest.approx(0.5, abs=1e-12)
    assert report["brier_score"].value == pytest.approx(skm.brier_score_loss(y, proba), abs=1e-12)
    assert report["log_loss"].value == pytest.approx(skm.log_loss(y, proba), abs=1e-12)


def test_random_draws_from_the_label_distribution_reproducibly() -> None:
    y, _ = _binary(20_000)
    first = baselines(y, n_bootstrap=0, seed=1)["random"]
    p = y.mean()
    assert first["accuracy"].value == pytest.approx(p**2 + (1 - p) ** 2, abs=0.02)
    assert first["roc_auc"].value == pytest.approx(0.5, abs=0.02)
    assert baselines(y, n_bootstrap=0, seed=1)["random"] == first


def test_regression_baselines() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(10, 2, 1000)
    reports = baselines(y, n_bootstrap=0)
    assert reports["zero_rule"]["r2"].value == pytest.approx(0.0, abs=1e-12)
    assert reports["zero_rule"]["mae"].value == pytest.approx(np.mean(np.abs(y - y.mean())))
    assert reports["random"]["r2"].value == pytest.approx(-1.0, abs=0.2)  # 2 var / var - 1


def test_given_baselines_are_scored_as_labels_or_scores() -> None:
    y, score = _binary()
    rng = np.random.default_rng(3)
    human = np.where(rng.random(len(y)) < 0.9, y, 1 - y)
    heuristic = (score > 0.55).astype(int)
    reports = baselines(y, human=human, heuristic=heuristic, existing=score, n_bootstrap=50)
    assert set(reports) == {"random", "zero_rule", "human", "heuristic", "existing"}
    assert reports["human"]["accuracy"].value == pytest.approx(skm.accuracy_score(y, human))
    assert "roc_auc" not in reports["human"].metrics  # labels only
    assert reports["existing"]["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, score))
    assert reports["existing"]["roc_auc"].low is not None


def test_multiclass_baselines_with_string_labels() -> None:
    rng = np.random.default_rng(4)
    y = rng.choice(np.array(["ant", "bee", "cat"]), size=900, p=[0.5, 0.3, 0.2])
    reports = baselines(y, n_bootstrap=0)
    zero = reports["zero_rule"]
    assert zero.task == "multiclass" and zero.classes == ["ant", "bee", "cat"]
    assert zero["accuracy"].value == pytest.approx(np.mean(y == "ant"))
    shares = np.array([np.mean(y == c) for c in ("ant", "bee", "cat")])
    expected = skm.log_loss(y, np.tile(shares, (len(y), 1)))
    assert zero["log_loss"].value == pytest.approx(expected, abs=1e-12)


def test_lift_is_positive_when_the_model_is_better() -> None:
    y, score = _binary()
    model = compute_metrics(y, y_score=score, n_bootstrap=0)
    base = baselines(y, n_bootstrap=0)
    gains = lift(model, base["zero_rule"])
    assert gains["roc_auc"] > 0 and gains["accuracy"] > 0
    assert gains["log_loss"] > 0 and gains["brier_score"] > 0  # lower-is-better, flipped
    assert gains["log_loss"] == pytest.approx(
        base["zero_rule"]["log_loss"].value - model["log_loss"].value
    )
    losses = lift(base["zero_rule"], model)
    assert all(losses[name] == pytest.approx(-gains[name]) for name in gains)


def test_lift_needs_the_same_task() -> None:
    y, score = _binary(200)
    binary = compute_metrics(y, y_score=score, n_bootstrap=0)
    regression = compute_metrics(score + 0.1, score, n_bootstrap=0)
    with pytest.raises(InvalidArgumentError, match="regression baseline"):
        lift(binary, regression)


def test_baseline_of_the_wrong_length_is_refused() -> None:
    y, _ = _binary(100)
    with pytest.raises(InvalidArgumentError, match="human has 99 rows but y_true has 100"):
        baselines(y, human=y[:99])
