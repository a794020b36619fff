"""Behavioural tests: perturbation, invariance and directional expectations on real models."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from headway.errors import InvalidArgumentError, ModelError
from headway.evaluate.behaviour import BehaviourResult, directional, invariance, perturbation


def _credit(rows: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Approval rises with income and falls with debt; sex carries no signal."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "income": rng.normal(50, 10, rows),
            "debt": rng.normal(20, 5, rows),
            "sex": rng.integers(0, 2, rows),
        },
        index=pd.RangeIndex(100, 100 + rows),
    )
    y = (0.1 * (X.income - 50) - 0.2 * (X.debt - 20) + rng.normal(0, 0.5, rows) > 0).astype(int)
    return X, y.to_numpy()


def _fit(X: pd.DataFrame, y: np.ndarray, *, ignore: str | None = None) -> LogisticRegression:
    """A logistic regression that gets ``ignore`` zeroed out, so it cannot use it."""
    train = X.assign(**{ignore: 0}) if ignore else X
    return LogisticRegression(max_iter=1000).fit(train, y)


def test_directional_passes_with_the_coefficient_sign_and_fails_against_it() -> None:
    X, y = _credit()
    model = _fit(X, y)
    assert model.coef_[0][0] > 0 and model.coef_[0][1] < 0
    up = directional(model, X, "income", 5.0, "increase")
    assert up.passed and up.violation_rate == 0.0 and up.examples == []
    wrong = directional(model, X, "income", 5.0, "decrease")
    assert not wrong.passed and wrong.violation_rate == 1.0
    assert directional(model, X, "debt", 5.0, "decrease").passed
    assert directional(model, X, "debt", -5.0, "increase").passed
    assert not directional(model, X, "debt", 5.0, "increase").passed


def test_directional_examples_name_rows_with_before_and_after() -> None:
    X, y = _credit()
    result = directional(_fit(X, y), X, "income", 5.0, "decrease")
    assert len(result.examples) == 5
    for example in result.examples:
        assert example.row in X.index
        assert example.after > example.before
        assert example.change == "income +5"
    # Largest wrong-way moves first.
    moves = [e.after - e.before for e in result.examples]
    assert moves == sorted(moves, reverse=True)


def test_directional_on_labels_counts_only_moves_the_wrong_way() -> None:
    X, y = _credit()
    result = directional(_fit(X, y), X, "income", 5.0, "increase", output="predict")
    assert result.passed  # labels only flip 0 -> 1, many rows stay put
    reg = LinearRegression().fit(X, X.income * 2)
    assert directional(reg, X, "income", 1.0).passed
    assert directional(reg, X, "income", 1.0, "decrease").violation_rate == 1.0


def test_invariance_passes_for_a_model_that_ignores_the_column() -> None:
    X, y = _credit()
    blind = _fit(X, y, ignore="sex")
    result = invariance(blind, X, "sex", [0, 1], output="proba")
    assert result.passed and result.violation_rate == 0.0 and result.kind == "invariance"


def test_invariance_fails_for_a_model_that_uses_the_column() -> None:
    X, y = _credit()
    y_biased = np.where(X.sex.to_numpy() == 1, 1, y)  # trained on biased labels
    biased = _fit(X, y_biased)
    result = invariance(biased, X, "sex", [0, 1])
    assert not result.passed and result.violation_rate > 0.2
    assert 0 < len(result.examples) <= 5
    assert all(e.before != e.after for e in result.examples)
    assert all(e.change in ("sex=0", "sex=1") for e in result.examples)
    lenient = invariance(biased, X, "sex", [0, 1], tolerance=result.violation_rate)
    assert lenient.passed and lenient.threshold == result.violation_rate


def test_invariance_keeps_a_categorical_dtype() -> None:
    X, y = _credit(300)
    X = X.assign(sex=pd.Categorical(np.where(X.sex == 1, "F", "M")))
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=20)
    model.fit(X, y)
    assert invariance(model, X, "sex", ["F", "M"]).kind == "invariance"
    with pytest.raises(InvalidArgumentError, match="not a category"):
        invariance(model, X, "sex", ["X"])


def test_perturbation_small_noise_barely_moves_a_smooth_model() -> None:
    X, y = _credit()
    result = perturbation(_fit(X, y), X, ["income", "debt"], noise=0.01)
    assert result.passed and result.violation_rate < 0.05
    assert result.threshold == 0.05 and result.rows == len(X)


def test_perturbation_catches_a_brittle_model() -> None:
    X = pd.DataFrame({"x": np.arange(500.0)})
    parity = DecisionTreeClassifier(random_state=0).fit(X, X.x % 2)
    result = perturbation(parity, X, "x", noise=0.01)
    assert not result.passed and result.violation_rate > 0.3


def test_perturbation_with_missing_values() -> None:
    X, y = _credit()
    robust = HistGradientBoostingClassifier(max_iter=30).fit(X, y)
    result = perturbation(robust, X, "sex", missing=True)
    assert result.passed and result.name == "perturbation: sex missing"
    with pytest.raises(ModelError, match="failed on the changed rows"):
        perturbation(_fit(X, y), X, "income", missing=True)


def test_probabilities_need_max_change() -> None:
    X, y = _credit()
    model = _fit(X, y)
    strict = perturbation(model, X, "income", output="proba")
    assert strict.violation_rate == 1.0
    assert perturbation(model, X, "income", output="proba", max_change=0.2).passed


def test_results_round_trip_through_json() -> None:
    X, y = _credit()
    result = invariance(_fit(X, np.where(X.sex == 1, 1, y)), X, "sex", [0, 1])
    assert BehaviourResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_bad_arguments_say_what_to_do() -> None:
    X, y = _credit(50)
    model = _fit(X, y)
    with pytest.raises(InvalidArgumentError, match="no such column 'age'"):
        perturbation(model, X, "age")
    with pytest.raises(InvalidArgumentError, match="tolerance"):
        invariance(model, X, "sex", [0, 1], tolerance=2)
    with pytest.raises(InvalidArgumentError, match="delta must be"):
        directional(model, X, "income", 0.0)
    with pytest.raises(InvalidArgumentError, match="direction must be"):
        directional(model, X, "income", 1.0, "up")
    with pytest.raises(InvalidArgumentError, match="not numeric"):
        directional(model, X.assign(income="high"), "income", 1.0)
    with pytest.raises(InvalidArgumentError, match="predict_proba"):
        invariance(LinearRegression().fit(X, y), X, "sex", [0, 1], output="proba")
    with pytest.raises(InvalidArgumentError, match="values is empty"):
        invariance(model, X, "sex", [])
    with pytest.raises(InvalidArgumentError, match="no rows"):
        perturbation(model, X.iloc[:0], "income")
