"""XGBoost models in XGBoost's own JSON format (no pickle).

scikit-learn wrappers (``XGBClassifier``...) are rebuilt as themselves, since XGBoost
stores their attributes in the same file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from headway.errors import FlavorError
from headway.registry.flavors._base import Predictor, Trust, module_of

__all__ = ["XGBoostFlavor"]

FILE = "model.json"
WRAPPERS = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")


class XGBoostFlavor:
    name: ClassVar[str] = "xgboost"
    packages: ClassVar[tuple[str, ...]] = ("xgboost", "numpy")

    def accepts(self, model: Any) -> bool:
        return module_of(model) == "xgboost"

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        estimator = type(model).__name__
        if estimator not in (*WRAPPERS, "Booster"):
            raise FlavorError(
                f"cannot store xgboost.{estimator}; register the Booster or one of {WRAPPERS}"
            )
        model.save_model(str(folder / FILE))
        return {"file": FILE, "estimator": estimator}

    def load(self, folder: Path, options: dict[str, Any], trust: Trust) -> Any:
        import xgboost

        path = str(folder / options.get("file", FILE))
        estimator = options.get("estimator", "Booster")
        if estimator == "Booster":
            booster = xgboost.Booster()
            booster.load_model(path)
            return Predictor(lambda X: booster.predict(xgboost.DMatrix(X)))
        model = getattr(xgboost, estimator)()
        model.load_model(path)
        return model
