"""A registered model held in a server's memory, predicting on parsed request inputs.

The hot path avoids pandas: when every input column is numeric, a batch goes to the model
as one float matrix, which for a small scikit-learn model is several times faster than a
DataFrame. Whether the model accepts a matrix (a pipeline that selects columns by name
does not) is found out once, on the first batch, by predicting both ways and comparing;
the DataFrame path is always the reference.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from headway.errors import SignatureError
from headway.registry.models import LoadedModel
from headway.serving.codec import Inputs
from headway.serving.linear import compile_linear
from headway.serving.trees import compile_trees

__all__ = ["Outputs", "ServedModel"]

log = logging.getLogger("headway.serving")

# scikit-learn warns when a model fitted on a DataFrame gets a matrix; the matrix path is
# only taken after it was checked to give the same answers, so the warning is noise here.
_FEATURE_NAMES = "X does not have valid feature names"


@dataclass(frozen=True)
class Outputs:
    """Predictions for a batch: labels or values, and class probabilities for classifiers."""

    prediction: np.ndarray
    probabilities: np.ndarray | None = None  # rows x classes
    classes: list[Any] | None = None

    @property
    def confidence(self) -> np.ndarray | None:
        """The probability of the predicted class (classifiers only)."""
        return None if self.probabilities is None else self.probabilities.max(axis=1)

    @classmethod
    def concat(cls, parts: list[Outputs]) -> Outputs:
        """The outputs of several batches of one model, in order."""
        if len(parts) == 1:
            return parts[0]
        probabilities = [p.probabilities for p in parts]
        return cls(
            np.concatenate([p.prediction for p in parts]),
            None if any(p is None for p in probabilities) else np.vstack(probabilities),  # type: ignore[arg-type]
            parts[0].classes,
        )

    def take(self, start: int, stop: int) -> Outputs:
        probabilities = None if self.probabilities is None else self.probabilities[start:stop]
        return Outputs(self.prediction[start:stop], probabilities, self.classes)

    def columns(self) -> dict[str, np.ndarray]:
        """Flat columns for the prediction log: ``prediction`` and ``proba_<class>``."""
        out = {"prediction": self.prediction}
        if self.probabilities is not None and self.classes is not None:
            for i, label in enumerate(self.classes):
                out[f"proba_{label}"] = self.probabilities[:, i]
        return out


def _predicts_by_argmax(native: Any) -> bool:
    """Whether ``predict`` is, by construction, the class of largest ``predict_proba``.

    True for scikit-learn's logistic regression, trees, forests, gradient boosting and
    naive Bayes (also at the end of a pipeline); not for models such as SVC, whose
    probabilities come from a separate calibration and may disagree with ``predict``.
    """
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    final = native.steps[-1][1] if isinstance(native, Pipeline) else native
    return isinstance(
        final,
        LogisticRegression
        | DecisionTreeClassifier
        | ExtraTreeClassifier
        | RandomForestClassifier
        | ExtraTreesClassifier
        | GradientBoostingClassifier
        | HistGradientBoostingClassifier
        | GaussianNB,
    )


class ServedModel:
    """One model version in memory: thread-safe predict on :class:`Inputs`."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.uri = loaded.uri
        self.signature = loaded.signature
        native = loaded.native
        self._predict = native.predict
        self._proba = getattr(native, "predict_proba", None)
        classes = getattr(native, "classes_", None)
        self._classes = None if classes is None else np.asarray(classes)
        self.classes = None if self._classes is None else self._classes.tolist()
        self._argmax = self._classes is not None and _predicts_by_argmax(native)
        self._matrix_ok: bool | None = None  # unknown until the first numeric batch
        # The model as arrays (trees.py, linear.py), checked against it on a first batch.
        self._compiled = compile_trees(native) or compile_linear(native)
        self._compiled_ok: bool | None = None
        self._probe = threading.Lock()
        spec = (self.signature or {}).get("inputs", {})
        self._input_names: list[str] | None = (
            [c["name"] for c in spec["columns"]] if spec.get("type") == "columns" else None
        )

    @property
    def is_classifier(self) -> bool:
        return self._proba is not None

    def predict(self, inputs: Inputs) -> Outputs:
        """Predict a batch. Warnings are ignored while the model runs: a server cannot print
        one per request, and one filter instead of the process's dozen matters, because
        scikit-learn's ensembles copy every active filter into the call of each of their
        estimators (measured: 40% of a 50-tree forest's one-row predict)."""
        features = self._features(inputs)
        predict, proba = self._predict, self._proba
        if self._use_compiled(features):
            assert self._compiled is not None
            predict, proba = self._compiled.predict, self._compiled.predict_proba
        with warnings.catch_warnings():
            warnings.resetwarnings()  # inside catch_warnings: restored on the way out
            warnings.simplefilter("ignore")
            if self._proba is None:
                return Outputs(np.asarray(predict(features)))
            assert proba is not None
            probabilities = np.asarray(proba(features), dtype=np.float64)
            if self._argmax:  # one model call instead of two
                assert self._classes is not None
                prediction = self._classes[probabilities.argmax(axis=1)]
            else:
                prediction = np.asarray(predict(features))
        return Outputs(prediction, probabilities, self.classes)

    def _use_compiled(self, features: Any) -> bool:
        """Whether this batch goes to the compiled model, which is trusted once it gave the
        model's own answers on a first batch."""
        compiled = self._compiled
        if compiled is None or self._compiled_ok is False or not compiled.suits(features):
            return False
        return self._settled("_compiled_ok", lambda: self._compiled_agrees(features))

    def _settled(self, verdict: str, check: Callable[[], bool]) -> bool:
        """The verdict kept in attribute ``verdict``, found by ``check`` on the first batch
        that needs it (once, whichever thread gets there first)."""
        if getattr(self, verdict) is None:
            with self._probe:
                if getattr(self, verdict) is None:
                    setattr(self, verdict, check())
        return bool(getattr(self, verdict))

    def _compiled_agrees(self, matrix: np.ndarray) -> bool:
        assert self._compiled is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self._proba is not None:
                expected, got = self._proba(matrix), self._compiled.predict_proba(matrix)
            else:
                expected, got = self._predict(matrix), self._compiled.predict(matrix)
        agree = bool(np.array_equal(np.asarray(expected), got))
        if not agree:
            log.warning(
                "%s: the compiled model disagrees with the model; serving it as is", self.uri
            )
        return agree

    def _features(self, inputs: Inputs) -> Any:
        if inputs.tensor is not None:
            return inputs.tensor
        inputs = self._own_columns(inputs)
        if self._matrix_ok is False:
            return inputs.to_frame()
        matrix = inputs.to_matrix()
        if matrix is None:
            return inputs.to_frame()
        if not self._settled("_matrix_ok", lambda: self._same_answers(matrix, inputs)):
            return inputs.to_frame()
        return matrix

    def _own_columns(self, inputs: Inputs) -> Inputs:
        """The columns this model takes, in its order: a shadow or canary may use fewer
        columns than the primary whose signature parsed the request."""
        names = self._input_names
        if names is None or inputs.names is None or inputs.names == names:
            return inputs
        assert inputs.columns is not None
        missing = [n for n in names if n not in inputs.columns]
        if missing:
            raise SignatureError(
                f"{self.uri} needs column(s) {missing} that the request does not carry"
            )
        return Inputs(columns={n: inputs.columns[n] for n in names}, rows=inputs.rows)

    def _same_answers(self, matrix: np.ndarray, inputs: Inputs) -> bool:
        reference = np.asarray(self._predict(inputs.to_frame()))
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_FEATURE_NAMES)
                fast = np.asarray(self._predict(matrix))
        except Exception:  # the model needs column names; keep the DataFrame path
            return False
        if fast.shape != reference.shape:
            return False
        if reference.dtype.kind == "f":  # a matrix may sum in another order: last bits differ
            return bool(np.allclose(fast, reference, rtol=1e-9, atol=1e-12, equal_nan=True))
        return bool(np.all(fast == reference))

    def __repr__(self) -> str:
        return f"ServedModel({self.uri!r})"
