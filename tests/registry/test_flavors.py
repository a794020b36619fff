"""Every flavor honours one contract: register, load back, predict the same."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import headway
from headway.errors import UnsafeModelError
from headway.workspace import Workspace

FEATURES = ["tenure_months", "monthly_charges", "support_calls"]


def _data() -> tuple[pd.DataFrame, pd.Series]:
    df = headway.make_churn(600, seed=3)
    return df[FEATURES].astype("float64"), df["churned"]


class MeanModel:
    """A plain Python model: any object with predict."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), self.value)


def _sklearn(X: pd.DataFrame, y: pd.Series) -> Any:
    return LogisticRegression(max_iter=500).fit(X, y)


def _lightgbm(X: pd.DataFrame, y: pd.Series) -> Any:
    lgb = pytest.importorskip("lightgbm")
    return lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y)


def _lightgbm_regressor(X: pd.DataFrame, y: pd.Series) -> Any:
    lgb = pytest.importorskip("lightgbm")
    return lgb.LGBMRegressor(n_estimators=20, verbose=-1).fit(X, X["monthly_charges"])


def _xgboost(X: pd.DataFrame, y: pd.Series) -> Any:
    xgb = pytest.importorskip("xgboost")
    return xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)


def _onnx(X: pd.DataFrame, y: pd.Series) -> Any:
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    fitted = LogisticRegression(max_iter=500).fit(X.to_numpy(np.float32), y)
    return skl2onnx.convert_sklearn(
        fitted,
        initial_types=[("X", FloatTensorType([None, 3]))],
        options={id(fitted): {"zipmap": False}},
    )


def _python(X: pd.DataFrame, y: pd.Series) -> Any:
    return MeanModel(0.25)


CASES: dict[str, tuple[Callable[..., Any], str]] = {
    "sklearn": (_sklearn, "sklearn"),
    "lightgbm": (_lightgbm, "lightgbm"),
    "lightgbm-regressor": (_lightgbm_regressor, "lightgbm"),
    "xgboost": (_xgboost, "xgboost"),
    "onnx": (_onnx, "onnx"),
    "python": (_python, "python"),
}


def _reference(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    if type(model).__name__ == "ModelProto":
        import onnxruntime

        session = onnxruntime.InferenceSession(model.SerializeToString())
        labels, proba = session.run(None, {"X": X.to_numpy(np.float32)})
        return labels, proba
    proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None
    return model.predict(X), proba


@pytest.mark.parametrize("case", list(CASES))
def test_flavor_round_trip(sqlite_ws: Workspace, case: str) -> None:
    make, flavor = CASES[case]
    X, y = _data()
    model = make(X, y)
    version = headway.register_model(f"m-{case}", model, input_example=X.head(5))
    assert version.flavor == flavor
    assert {f.path for f in version.files} >= {"headway-model.json"}
    assert version.requirements["python"]
    loaded = headway.load_model(version.uri, trusted=(flavor == "python"))
    expected, expected_proba = _reference(model, X)
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-6)
    if expected_proba is not None:
        np.testing.assert_allclose(loaded.predict_proba(X), expected_proba, rtol=1e-5)
    else:
        assert not hasattr(loaded, "predict_proba")


def test_cloudpickle_needs_explicit_trust(sqlite_ws: Workspace) -> None:
    version = headway.register_model("py", MeanModel(1.0))
    with pytest.raises(UnsafeModelError, match="trusted=True"):
        headway.load_model(version.uri)


class ScaleBy(LogisticRegression):
    """A custom class: skops will not rebuild it unless the caller trusts it."""


def test_skops_refuses_types_outside_sklearn_unless_named(sqlite_ws: Workspace) -> None:
    X, y = _data()
    version = headway.register_model("custom", ScaleBy().fit(X, y))
    with pytest.raises(UnsafeModelError, match="ScaleBy"):
        headway.load_model(version.uri)
    name = f"{ScaleBy.__module__}.ScaleBy"
    loaded = headway.load_model(version.uri, trusted_types=[name])
    assert loaded.predict(X).shape == (len(X),)


def test_regressors_predict_floats(sqlite_ws: Workspace) -> None:
    X, _ = _data()
    model = LinearRegression().fit(X, X["monthly_charges"] * 2)
    loaded = headway.load_model(headway.register_model("reg", model, input_example=X).uri)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
