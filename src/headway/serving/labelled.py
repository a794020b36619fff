"""Production's labelled rows: what a deployment was asked, joined with what turned out true.

Feedback labels arrive after the predictions they judge, sometimes days later. Joining
them by request id gives the freshest labelled data there is: the table a retraining
pipeline trains on ("the last 7 days", "since the drift began") and the recent window on
which a challenger must beat the champion.
"""

from __future__ import annotations

import os
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from headway.errors import InvalidArgumentError
from headway.serving import log as prediction_log

__all__ = ["labelled_traffic", "latest_labels"]

TRAFFIC_ROUTES = ("primary", "canary", "fallback")  # shadow rows are copies, not traffic


def labelled_traffic(
    log_root: str | os.PathLike[str],
    deployment: str,
    start: datetime | None = None,
    end: datetime | None = None,
    label: str = "label",
) -> pd.DataFrame:
    """The deployment's logged inputs in ``[start, end)`` that have a feedback label.

    One row per labelled request: ``time``, ``request_id``, the input columns, and
    ``label`` (the latest label given for the request; numeric when every label is a
    number, else text). Requests without feedback are left out.

    Raises
    ------
    InvalidArgumentError
        ``label`` collides with an input column's name.
    """
    requests = prediction_log.read(
        log_root, "predictions", start, end, ["request_id", "time", "deployment", "route", "inputs"]
    )
    keep = pc.and_(
        pc.equal(requests.column("deployment"), deployment),
        pc.is_in(requests.column("route"), value_set=pa.array(TRAFFIC_ROUTES)),
    )
    requests = requests.filter(keep)
    labels = latest_labels(prediction_log.read(log_root, "feedback", start, None))
    found = pc.index_in(requests.column("request_id"), value_set=labels.column("request_id"))
    has = pc.is_valid(found)
    requests, at = requests.filter(has), pc.filter(found, has)
    inputs = pa.Table.from_struct_array(requests.column("inputs").combine_chunks())
    if label in inputs.column_names:
        raise InvalidArgumentError(
            f"the label column name {label!r} is also an input of {deployment}; pass another "
            "name with label="
        )
    frame = inputs.to_pandas()
    frame.insert(0, "request_id", requests.column("request_id").to_numpy(zero_copy_only=False))
    frame.insert(0, "time", requests.column("time").to_pandas())
    frame[label] = _label_values(labels.take(at))
    return frame


def latest_labels(feedback: pa.Table) -> pa.Table:
    """One row per request id of feedback rows: its latest (a later label replaces one)."""
    if feedback.num_rows == 0:
        return feedback
    order = feedback.sort_by([("request_id", "ascending"), ("time", "descending")])
    ids = order.column("request_id").combine_chunks()
    first = np.ones(len(ids), dtype=bool)
    first[1:] = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)).to_numpy(
        zero_copy_only=False
    )
    return order.filter(pa.array(first))


def _label_values(labels: pa.Table) -> np.ndarray:
    """Numbers when every label is one (integers stay integers), else the label text."""
    values = labels.column("label_value")
    if labels.num_rows and values.null_count == 0:
        numbers = values.to_numpy()
        if np.all(numbers == np.round(numbers)):
            return numbers.astype(np.int64)
        return np.asarray(numbers)
    return np.asarray(labels.column("label").to_numpy(zero_copy_only=False), dtype=object)
