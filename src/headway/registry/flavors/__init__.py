"""Model flavors: one small class per model family, all behind one contract.

Detection tries them in order: LightGBM and XGBoost first (their scikit-learn wrappers are
also scikit-learn estimators, but their native formats avoid pickle-like storage), then
scikit-learn, ONNX, and finally any object with ``predict``.
"""

from __future__ import annotations

from typing import Any

from headway.errors import FlavorError
from headway.registry.flavors._base import Flavor, Trust
from headway.registry.flavors.lightgbm import LightGBMFlavor
from headway.registry.flavors.onnx import OnnxFlavor
from headway.registry.flavors.python import PythonFlavor
from headway.registry.flavors.sklearn import SklearnFlavor
from headway.registry.flavors.xgboost import XGBoostFlavor

__all__ = ["FLAVORS", "Flavor", "Trust", "detect_flavor", "get_flavor"]

FLAVORS: dict[str, Flavor] = {
    f.name: f
    for f in (LightGBMFlavor(), XGBoostFlavor(), SklearnFlavor(), OnnxFlavor(), PythonFlavor())
}


def detect_flavor(model: Any) -> Flavor:
    for flavor in FLAVORS.values():
        if flavor.accepts(model):
            return flavor
    raise FlavorError(
        f"cannot register a {type(model).__name__}: it is not a scikit-learn, LightGBM, "
        "XGBoost or ONNX model and has no predict method; wrap it in a class with "
        "predict(table)"
    )


def get_flavor(name: str) -> Flavor:
    try:
        return FLAVORS[name]
    except KeyError:
        raise FlavorError(
            f"unknown flavor {name!r}; known flavors: {sorted(FLAVORS)}. "
            "The model may come from a newer Headway"
        ) from None
