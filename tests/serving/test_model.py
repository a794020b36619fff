"""A served model predicts exactly what the registered model predicts, faster."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from serving_helpers import NUMERIC
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier

import headway
from headway.serving.codec import Inputs
from headway.serving.model import ServedModel
from headway.workspace import Workspace

DATA = headway.make_churn(600, seed=2)


@pytest.mark.parametrize(
    ("model", "argmax"),
    [
        (LogisticRegression(max_iter=500), True),
        (RandomForestClassifier(20, max_depth=4, random_state=0), True),
        (KNeighborsClassifier(5), False),
        (Ridge(), False),
    ],
)
def test_served_predictions_equal_the_models_own(
    sqlite_ws: Workspace, model: object, argmax: bool
) -> None:
    fitted = model.fit(DATA[NUMERIC], DATA["churned"])  # type: ignore[attr-defined]
    version = headway.register_model("m", fitted, input_example=DATA[NUMERIC].head())
    served = ServedModel(headway.load_model(version.uri))
    inputs = Inputs(columns={c: DATA[c].to_numpy() for c in NUMERIC}, rows=len(DATA))
    outputs = served.predict(inputs)
    assert served._argmax == argmax
    np.testing.assert_allclose(outputs.prediction, fitted.predict(DATA[NUMERIC]), rtol=1e-12)
    if hasattr(fitted, "predict_proba"):
        np.testing.assert_allclose(outputs.probabilities, fitted.predict_proba(DATA[NUMERIC]))
        assert outputs.classes == [0, 1]
    assert served._matrix_ok is True  # numeric columns take the fast path


def test_warnings_are_silenced_while_predicting_and_the_filters_restored(
    sqlite_ws: Workspace,
) -> None:
    # A forest copies every active warning filter into each tree's call: the served
    # model predicts under one filter, and leaves the process's filters as they were.
    forest = RandomForestClassifier(10, max_depth=3, random_state=0)
    fitted = forest.fit(DATA[NUMERIC], DATA["churned"])
    version = headway.register_model("w", fitted, input_example=DATA[NUMERIC].head())
    served = ServedModel(headway.load_model(version.uri))
    inputs = Inputs(columns={c: DATA[c].to_numpy() for c in NUMERIC}, rows=len(DATA))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping the model would raise
        before = list(warnings.filters)
        served.predict(inputs)  # the matrix path warns about feature names, silently
        served.predict(inputs)
        assert warnings.filters == before
