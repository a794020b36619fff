"""LightGBM models in LightGBM's own text format (no pickle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from headway.registry.flavors._base import Predictor, Trust, module_of

__all__ = ["LightGBMFlavor"]

FILE = "model.txt"


class LightGBMFlavor:
    name: ClassVar[str] = "lightgbm"
    packages: ClassVar[tuple[str, ...]] = ("lightgbm", "numpy")

    def accepts(self, model: Any) -> bool:
        return module_of(model) == "lightgbm"

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        booster = getattr(model, "booster_", model)
        booster.save_model(str(folder / FILE))
        classes = getattr(model, "classes_", None)
        return {
            "file": FILE,
            "estimator": type(model).__name__,
            "classes": None if classes is None else classes.tolist(),
        }

    def load(self, folder: Path, options: dict[str, Any], trust: Trust) -> Any:
        import lightgbm

        booster = lightgbm.Booster(model_file=str(folder / options.get("file", FILE)))
        if options.get("estimator") == "Booster":
            return booster
        return Predictor(booster.predict, options.get("classes"))
