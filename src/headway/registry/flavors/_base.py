"""The flavor contract: how one kind of model is saved to a folder and loaded back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

__all__ = ["Flavor", "Predictor", "Trust", "module_of"]


@dataclass(frozen=True)
class Trust:
    """What the caller vouches for when loading: all code (``trusted``) or named types."""

    trusted: bool = False
    types: tuple[str, ...] = field(default_factory=tuple)


class Flavor(Protocol):
    """One model family. ``load`` returns an object with ``predict`` (and ``predict_proba``
    when the model is a classifier)."""

    name: ClassVar[str]
    packages: ClassVar[tuple[str, ...]]  # distributions a loader needs, recorded as requirements

    def accepts(self, model: Any) -> bool: ...

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """Write the model's files into ``folder``; return options ``load`` will need."""
        ...

    def load(self, folder: Path, options: dict[str, Any], trust: Trust) -> Any: ...


def module_of(model: Any) -> str:
    return type(model).__module__.split(".")[0]


class Predictor:
    """A loaded model that predicts through a function, with class labels when known.

    Native boosters and ONNX sessions return scores or probabilities; this turns them into
    the scikit-learn shape users expect: ``predict`` gives labels, ``predict_proba`` one
    column per class.
    """

    def __init__(self, predict: Any, classes: list[Any] | None = None) -> None:
        self._predict = predict
        self.classes_ = None if classes is None else np.asarray(classes)

    def predict(self, X: Any) -> np.ndarray:
        out = np.asarray(self._predict(X))
        if self.classes_ is None:
            return out
        return self.classes_[self._proba(out).argmax(axis=1)]

    @property
    def predict_proba(self) -> Any:
        """Probabilities per class; absent (``hasattr`` is False) for regressors."""
        if self.classes_ is None:
            raise AttributeError("predict_proba is only available for classifiers")
        return lambda X: self._proba(np.asarray(self._predict(X)))

    @staticmethod
    def _proba(scores: np.ndarray) -> np.ndarray:
        return np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores
