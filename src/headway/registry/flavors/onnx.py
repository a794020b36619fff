"""ONNX models, run with ONNX Runtime: portable, and no Python code in the file.

A model with one input gets the signature's columns as one 2-D tensor; a model with one
input per column gets each column by name. Classifiers converted with skl2onnx return
labels first and probabilities second; both ZipMap and plain tensor outputs are handled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from headway.registry.flavors._base import Trust

__all__ = ["OnnxFlavor"]

FILE = "model.onnx"
_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(string)": object,
    "tensor(bool)": np.bool_,
}


class OnnxFlavor:
    name: ClassVar[str] = "onnx"
    packages: ClassVar[tuple[str, ...]] = ("onnxruntime", "numpy")

    def accepts(self, model: Any) -> bool:
        return type(model).__name__ == "ModelProto" and hasattr(model, "SerializeToString")

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        (folder / FILE).write_bytes(model.SerializeToString())
        return {"file": FILE}

    def load(self, folder: Path, options: dict[str, Any], trust: Trust) -> Any:
        import onnxruntime

        session = onnxruntime.InferenceSession(
            str(folder / options.get("file", FILE)), providers=["CPUExecutionProvider"]
        )
        return OnnxModel(session)


class OnnxModel:
    """``predict``/``predict_proba`` over an ONNX Runtime session."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._inputs = session.get_inputs()
        self._outputs = [o.name for o in session.get_outputs()]

    def _feed(self, X: Any) -> dict[str, np.ndarray]:
        if len(self._inputs) == 1:
            spec = self._inputs[0]
            array = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
            return {spec.name: array.astype(_DTYPES.get(spec.type, np.float32))}
        return {
            spec.name: X[spec.name]
            .to_numpy()
            .astype(_DTYPES.get(spec.type, np.float32))
            .reshape(-1, 1)
            for spec in self._inputs
        }

    def _run(self, X: Any) -> list[Any]:
        return list(self.session.run(self._outputs, self._feed(X)))

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self._run(X)[0]).ravel()

    def predict_proba(self, X: Any) -> np.ndarray:
        if len(self._outputs) < 2:
            raise AttributeError("this ONNX model has no probability output")
        proba = self._run(X)[1]
        if isinstance(proba, list):  # ZipMap: one {label: probability} dict per row
            return pd.DataFrame(proba).to_numpy()
        return np.asarray(proba)
