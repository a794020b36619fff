"""Compiled trees answer exactly as scikit-learn does, and serve only when they do."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from serving_helpers import NUMERIC
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import headway
from headway.serving.codec import Inputs
from headway.serving.model import ServedModel
from headway.serving.trees import CompiledTrees, compile_trees
from headway.workspace import Workspace

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3000, 8))
BINARY = (X[:, 0] + X[:, 1] * X[:, 2] + RNG.normal(size=3000) > 0).astype(int)
LETTERS = np.array(["low", "mid", "high"])[np.digitize(X[:, 3] + X[:, 4], [-0.5, 0.5])]


def _rows_on_thresholds(model: object, rows: int) -> np.ndarray:
    """Rows whose values sit exactly on the model's split thresholds (the ties)."""
    trees = getattr(model, "estimators_", [model])
    thresholds = np.concatenate([t.tree_.threshold[t.tree_.children_left != -1] for t in trees])
    return np.resize(thresholds, (rows, X.shape[1]))


@pytest.mark.parametrize(
    ("model", "y"),
    [
        (RandomForestClassifier(30, max_depth=8, random_state=0), BINARY),
        (RandomForestClassifier(15, random_state=1), LETTERS),
        (ExtraTreesClassifier(20, max_depth=12, random_state=2), LETTERS),
        (DecisionTreeClassifier(random_state=3), BINARY),
        (RandomForestRegressor(20, max_depth=10, random_state=4), X[:, 0] * 3 + X[:, 5]),
        (DecisionTreeRegressor(max_depth=6, random_state=5), X[:, 1]),
    ],
)
def test_compiled_trees_answer_as_scikit_learn_bit_for_bit(model: object, y: np.ndarray) -> None:
    fitted = model.fit(X, y)  # type: ignore[attr-defined]
    compiled = compile_trees(fitted)
    assert compiled is not None
    rows = np.vstack([RNG.normal(size=(400, 8)), _rows_on_thresholds(fitted, 200)])
    assert np.array_equal(compiled.predict(rows), fitted.predict(rows))
    if hasattr(fitted, "predict_proba"):
        assert np.array_equal(compiled.predict_proba(rows), fitted.predict_proba(rows))


def test_only_single_output_trees_and_forests_compile() -> None:
    assert compile_trees(LogisticRegression().fit(X, BINARY)) is None
    assert compile_trees(GradientBoostingClassifier(n_estimators=3).fit(X, BINARY)) is None
    forest = RandomForestClassifier(3, random_state=0)
    assert compile_trees(make_pipeline(StandardScaler(), forest).fit(X, BINARY)) is None
    assert compile_trees(RandomForestClassifier(3)) is None  # not fitted
    two_outputs = np.c_[BINARY, 1 - BINARY]
    assert compile_trees(RandomForestClassifier(3, random_state=0).fit(X, two_outputs)) is None


def test_compiled_trees_take_small_numeric_batches_of_the_right_width_only() -> None:
    compiled = compile_trees(RandomForestClassifier(5, max_depth=8, random_state=0).fit(X, BINARY))
    assert compiled is not None
    assert compiled.suits(X[:64])
    assert not compiled.suits(X[:1000])  # past 4,096 row-levels scikit-learn is faster
    assert not compiled.suits(X[:64, :7])  # the wrong number of features
    with_gap = X[:64].copy()
    with_gap[3, 2] = np.nan
    assert not compiled.suits(with_gap)  # missing values follow scikit-learn's own rules
    assert not compiled.suits(X[:64].astype(str))


def _served(ws: Workspace, model: object) -> tuple[ServedModel, Inputs, object]:
    data = headway.make_churn(300, seed=4)
    fitted = model.fit(data[NUMERIC], data["churned"])  # type: ignore[attr-defined]
    version = headway.register_model("trees", fitted, input_example=data[NUMERIC].head())
    inputs = Inputs(columns={c: data[c].to_numpy()[:64] for c in NUMERIC}, rows=64)
    return ServedModel(headway.load_model(version.uri, workspace=ws)), inputs, fitted


def test_a_served_forest_descends_compiled_and_answers_as_the_model(sqlite_ws: Workspace) -> None:
    served, inputs, fitted = _served(sqlite_ws, RandomForestClassifier(25, max_depth=6))
    outputs = served.predict(inputs)
    assert served._compiled_ok is True
    frame = inputs.to_frame()
    assert np.array_equal(outputs.prediction, fitted.predict(frame))  # type: ignore[attr-defined]
    assert np.array_equal(outputs.probabilities, fitted.predict_proba(frame))  # type: ignore[attr-defined]


def test_compiled_trees_that_disagree_are_never_served(
    sqlite_ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    served, inputs, fitted = _served(sqlite_ws, RandomForestClassifier(25, max_depth=6))
    assert isinstance(served._compiled, CompiledTrees)
    served._compiled._threshold = served._compiled._threshold + 0.5  # as if compiled wrongly
    with caplog.at_level(logging.WARNING, logger="headway.serving"):
        outputs = served.predict(inputs)
    assert served._compiled_ok is False
    assert "disagree" in caplog.text
    frame = inputs.to_frame()
    assert np.array_equal(outputs.probabilities, fitted.predict_proba(frame))  # type: ignore[attr-defined]
