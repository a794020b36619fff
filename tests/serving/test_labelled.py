"""labelled_traffic: a deployment's logged inputs joined with their latest feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from headway.errors import InvalidArgumentError
from headway.serving.labelled import labelled_traffic
from headway.serving.log import FeedbackLog, PredictionLog

T0 = datetime(2026, 5, 4, 10, tzinfo=UTC)


def _at(minutes: float) -> np.datetime64:
    return np.datetime64((T0 + timedelta(minutes=minutes)).replace(tzinfo=None), "ms")


def _log(root: Path, ids: list[str], deployment: str, route: str, minute: float) -> None:
    n = len(ids)
    with PredictionLog(root, fsync=False) as log:
        log.log(
            ids,
            inputs=pd.DataFrame({"x": np.arange(n, dtype=float), "plan": ["a"] * n}),
            outputs=pd.DataFrame({"prediction": np.zeros(n, dtype=np.int64)}),
            deployment=deployment,
            revision=1,
            model_version="models:/m/1",
            latency_ms=np.full(n, 1.0),
            status=np.full(n, 200, dtype=np.int16),
            route=route,
            time=np.full(n, _at(minute)),
        )


def _label(root: Path, ids: list[str], labels: list[object], minute: float) -> None:
    with FeedbackLog(root, fsync=False) as log:
        log.log(ids, labels, time=np.full(len(ids), _at(minute)))


def test_joins_the_latest_label_and_keeps_only_the_deployments_traffic(tmp_path: Path) -> None:
    _log(tmp_path, ["a1", "a2", "a3"], "churn-api", "primary", 0)
    _log(tmp_path, ["a1"], "churn-api", "shadow", 0)  # a copy, not traffic
    _log(tmp_path, ["b1"], "other", "primary", 0)
    _log(tmp_path, ["a4"], "churn-api", "canary", 90)  # after the window's end
    _label(tmp_path, ["a1", "a2", "b1", "a4"], [0, 1, 1, 1], 30)
    _label(tmp_path, ["a1"], [1], 600)  # a correction, hours later

    rows = labelled_traffic(tmp_path, "churn-api", T0, T0 + timedelta(hours=1), label="churned")
    assert sorted(rows["request_id"]) == ["a1", "a2"]
    by_id = rows.set_index("request_id")
    assert by_id.loc["a1", "churned"] == 1 and by_id.loc["a2", "churned"] == 1
    assert rows["churned"].dtype == np.int64
    assert list(rows.columns) == ["time", "request_id", "x", "plan", "churned"]
    assert len(labelled_traffic(tmp_path, "churn-api")) == 3  # the canary row too


def test_text_labels_stay_text_and_no_feedback_gives_no_rows(tmp_path: Path) -> None:
    _log(tmp_path, ["a1", "a2"], "churn-api", "primary", 0)
    assert labelled_traffic(tmp_path, "churn-api").empty
    _label(tmp_path, ["a1", "a2"], ["yes", "no"], 5)
    rows = labelled_traffic(tmp_path, "churn-api")
    assert sorted(rows["label"]) == ["no", "yes"]
    with pytest.raises(InvalidArgumentError, match="also an input"):
        labelled_traffic(tmp_path, "churn-api", label="plan")
