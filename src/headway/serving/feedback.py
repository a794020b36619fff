"""Bodies of ``POST /feedback`` and ``POST /review/{id}``: labels for request ids.

Feedback is one object ``{"request_id": "...", "label": ...}``, a list of them, or
``{"labels": [...]}`` of them; labels may come hours after the prediction. A review
decision is ``{"label": ..., "note": "...", "user": "..."}``.
"""

from __future__ import annotations

from typing import Any

import orjson

from headway.errors import InvalidArgumentError
from headway.serving.codec import RequestError

__all__ = ["label_from_text", "parse_decision", "parse_feedback"]

MAX_LABELS = 100_000


def _object(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"the body is not valid JSON ({exc})") from None


def _label(value: Any, where: str) -> Any:
    if isinstance(value, str | int | float | bool) and value == value:  # not NaN
        return value
    raise RequestError(f"{where}: label must be a string, number or boolean, got {value!r}")


def parse_feedback(body: bytes) -> tuple[list[str], list[Any]]:
    """Request ids and their labels, in order."""
    data = _object(body)
    if isinstance(data, dict) and "labels" in data:
        data = data["labels"]
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_LABELS:
        raise RequestError(
            f"send 1 to {MAX_LABELS:,} labels as {{'request_id': ..., 'label': ...}} objects"
        )
    ids, labels = [], []
    for i, item in enumerate(items):
        where = f"labels[{i}]"
        if not isinstance(item, dict) or "request_id" not in item or "label" not in item:
            raise RequestError(f"{where} must be an object with 'request_id' and 'label'")
        request_id = item["request_id"]
        if not isinstance(request_id, str) or not request_id:
            raise RequestError(f"{where}: request_id must be a non-empty string")
        ids.append(request_id)
        labels.append(_label(item["label"], where))
    return ids, labels


def parse_decision(body: bytes) -> dict[str, Any]:
    """A reviewer's decision: the label, and optionally a note and who decided."""
    data = _object(body)
    if not isinstance(data, dict) or "label" not in data:
        raise RequestError('a decision is an object with a "label" (and optional "note")')
    decision = {"label": _label(data["label"], "decision")}
    for key in ("note", "user"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise RequestError(f"decision: {key} must be a string")
        decision[key] = value
    return decision


def label_from_text(text: str) -> Any:
    """A label typed by a person (a form, the command line): a JSON number or boolean
    stays one, so ``1`` matches the model's class 1; anything else is the text."""
    stripped = text.strip()
    if not stripped:
        raise InvalidArgumentError("the label is empty; give the label a person decided on")
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return stripped
    return value if isinstance(value, int | float | bool | str) else stripped
