"""Compiled linear models answer exactly as scikit-learn does, on the inputs it accepts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from serving_helpers import NUMERIC
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
)
from sklearn.svm import LinearSVC

import headway
from headway.serving.codec import Inputs
from headway.serving.linear import CompiledLinear, compile_linear
from headway.serving.model import ServedModel
from headway.workspace import Workspace

RNG = np.random.default_rng(7)
X = RNG.normal(size=(2000, 6))
BINARY = np.where(X[:, 0] - X[:, 1] + RNG.normal(size=2000) > 0, "yes", "no")
THREE = np.digitize(X[:, 2] + X[:, 3], [-0.7, 0.7])
TARGET = X @ np.arange(1.0, 7.0) + RNG.normal(size=2000)


@pytest.mark.parametrize(
    ("model", "y"),
    [
        (LogisticRegression(), BINARY),
        (LogisticRegression(C=0.3), THREE),
        (LinearRegression(), TARGET),
        (Ridge(alpha=2.0), TARGET),
        (Lasso(alpha=0.05), TARGET),
        (ElasticNet(alpha=0.05), TARGET),
    ],
)
def test_compiled_linear_models_answer_as_scikit_learn_bit_for_bit(
    model: object, y: np.ndarray
) -> None:
    fitted = model.fit(X, y)  # type: ignore[attr-defined]
    compiled = compile_linear(fitted)
    assert compiled is not None
    for rows in (RNG.normal(size=(1, 6)), RNG.normal(size=(64, 6)), np.asfortranarray(X[:300])):
        assert compiled.suits(rows)
        assert np.array_equal(compiled.predict(rows), fitted.predict(rows))
        if hasattr(fitted, "predict_proba"):
            assert np.array_equal(compiled.predict_proba(rows), fitted.predict_proba(rows))


def test_only_the_named_linear_models_compile_and_only_finite_float_matrices_suit() -> None:
    assert compile_linear(SGDClassifier().fit(X, BINARY)) is None
    assert compile_linear(LinearSVC().fit(X, BINARY)) is None
    assert compile_linear(LinearRegression().fit(X, np.c_[TARGET, TARGET])) is None
    assert compile_linear(LogisticRegression()) is None  # not fitted
    compiled = compile_linear(LogisticRegression().fit(X, BINARY))
    assert compiled is not None
    assert not compiled.suits(X[:5, :4])  # the wrong width
    assert not compiled.suits(X[:5].astype(np.float32))
    for bad in (np.nan, np.inf):  # scikit-learn explains these itself
        rows = X[:5].copy()
        rows[2, 1] = bad
        assert not compiled.suits(rows)


def test_a_served_logistic_regression_uses_its_coefficients(sqlite_ws: Workspace) -> None:
    data = headway.make_churn(400, seed=8)
    fitted = LogisticRegression(max_iter=500).fit(data[NUMERIC], data["churned"])
    version = headway.register_model("linear", fitted, input_example=data[NUMERIC].head())
    served = ServedModel(headway.load_model(version.uri, workspace=sqlite_ws))
    inputs = Inputs(columns={c: data[c].to_numpy() for c in NUMERIC}, rows=len(data))
    outputs = served.predict(inputs)
    assert isinstance(served._compiled, CompiledLinear) and served._compiled_ok is True
    matrix = inputs.to_matrix()  # what the model gets: the same bits as on this matrix
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fitted on a DataFrame, given a matrix
        assert np.array_equal(outputs.probabilities, fitted.predict_proba(matrix))
    # and within rounding of a DataFrame, which takes another path through BLAS
    np.testing.assert_allclose(outputs.probabilities, fitted.predict_proba(data[NUMERIC]))
    assert np.array_equal(outputs.prediction, fitted.predict(data[NUMERIC]))
