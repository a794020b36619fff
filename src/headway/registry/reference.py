"""A model version's reference: what its inputs and outputs looked like when it was made.

Monitors compare live traffic with a reference. The best one is the data the model was
validated on, with the model's own predictions on it and the labels: it says what the
features looked like, what the model answered, and how well it did. Stored with the
version (``reference/reference.json``, checksummed like every artefact), it lets a monitor
of any deployment serving the version find its reference without being told, and switch
to the new version's reference when a promotion changes what is served.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from headway._tabular import to_pandas
from headway.errors import InvalidArgumentError
from headway.monitoring.checks import OUTPUT_PREFIX, Reference
from headway.registry.models import (
    attach_text,
    get_model_version,
    load_model,
    read_attachment,
)
from headway.registry.signature import conform
from headway.workspace import Workspace, current_workspace

__all__ = [
    "REFERENCE_ARTIFACT",
    "attach_reference",
    "build_reference",
    "model_outputs",
    "model_reference",
]

REFERENCE_ARTIFACT = "reference/reference.json"


def attach_reference(
    uri: str,
    table: Any,
    label: str | None = "label",
    *,
    trusted: bool = False,
    workspace: Workspace | None = None,
) -> Reference:
    """Profile ``table`` with the model's predictions on it and store it with the version.

    Parameters
    ----------
    uri
        The version, ``models:/name/3`` (an alias is resolved now).
    table
        The validation (or training) rows: the model's input columns and, optionally, the
        ``label`` column, which with the predictions gives the reference performance.
    label
        The label column, or None when the table has none.
    trusted
        As for :func:`~headway.registry.load_model`.
    """
    ws = workspace or current_workspace()
    model = load_model(uri, trusted=trusted, workspace=ws)
    ref = build_reference(model.native, model.signature, table, label, model.uri)
    attach_text(ws, model.uri, REFERENCE_ARTIFACT, ref.to_json())
    return ref


def build_reference(
    model: Any, signature: dict[str, Any] | None, table: Any, label: str | None, uri: str
) -> Reference:
    """The reference of ``model`` (a native model) on ``table``, before it is stored."""
    df = to_pandas(table)
    if df.empty:
        raise InvalidArgumentError(
            f"the reference table for {uri} has no rows; pass the rows it was validated on"
        )
    spec = (signature or {}).get("inputs") or {}
    names = [c["name"] for c in spec.get("columns", [])]
    names = names or [str(c) for c in df.columns if c != label]
    missing = [c for c in names if c not in df]
    if missing:
        raise InvalidArgumentError(
            f"the reference table for {uri} lacks the model's input columns {missing}; it has "
            f"{list(df.columns)}"
        )
    features = conform(df[names], signature)
    frame = df[names].assign(**model_outputs(model, features))
    if label is not None and label in df:
        frame[label] = df[label].to_numpy()
    return Reference.from_table(frame, label=label, source=f"{uri} ({len(df)} rows)")


def model_reference(uri: str, workspace: Workspace | None = None) -> Reference | None:
    """The reference stored with a version, or None if it was registered without one."""
    ws = workspace or current_workspace()
    text = read_attachment(ws, get_model_version(uri, workspace=ws), REFERENCE_ARTIFACT)
    return None if text is None else Reference.from_json(text)


def model_outputs(model: Any, features: Any) -> dict[str, np.ndarray]:
    """The model's outputs named as the prediction log names them."""
    out = {"prediction": np.asarray(model.predict(features))}
    classes = getattr(model, "classes_", None)
    predict_proba = getattr(model, "predict_proba", None)
    if classes is not None and callable(predict_proba):
        proba = np.asarray(predict_proba(features), dtype=np.float64)
        out.update({f"{OUTPUT_PREFIX}{c}": proba[:, i] for i, c in enumerate(classes)})
    return out
