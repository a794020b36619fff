"""Each kind of problem, injected into real traffic, fires its alert; calm traffic fires none.

Three calm hours, then three with the problem; windows are computed from the prediction
log and the feedback log, and the default rules judge them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from monitoring_helpers import features
from test_monitor_service import HOUR, T0, deploy

from headway.monitoring import Reference, create_monitor, run_windows
from headway.monitoring.alerting import evaluate_alerts
from headway.serving.log import FeedbackLog, PredictionLog
from headway.workspace import Workspace

N = 1500


def _score(data: pd.DataFrame) -> np.ndarray:
    return 1 / (1 + np.exp(-(data["charges"].to_numpy() - 70.0) / 10.0))


def _draw(score: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).uniform(size=len(score)) < score).astype(np.int64)


def _hour(ws: Workspace, hour: int, problem: str | None) -> None:
    """Log one hour of traffic (and its labels), with ``problem`` injected."""
    data = features(N, seed=100 + hour, shift=1.0 if problem == "drift" else 0.0)
    score = _score(data)
    prediction = (score > 0.5).astype(np.int64)
    truth = _draw(score, seed=200 + hour)
    if problem == "concept":  # the same inputs now mean the opposite
        truth = 1 - truth
    if problem == "quality":
        data.loc[data.sample(frac=0.2, random_state=hour).index, "tenure"] = np.nan
    rng = np.random.default_rng(hour)
    latency = rng.gamma(2.0, 2.0, N)
    if problem == "latency":
        latency[rng.uniform(size=N) < 0.05] = 2500.0
    status = np.full(N, 200, dtype=np.int16)
    if problem == "errors":
        status[rng.uniform(size=N) < 0.1] = 500
    ids = [f"r{hour}-{i}" for i in range(N)]
    start = np.datetime64(T0.replace(tzinfo=None) + hour * HOUR, "ms")
    times = start + np.linspace(0, 3_599_000, N).astype("timedelta64[ms]")
    with PredictionLog(ws.log_root, fsync=False) as log:
        log.log(
            ids,
            inputs=data,
            outputs=pd.DataFrame({"prediction": prediction, "proba_1": score}),
            deployment="churn",
            revision=1,
            model_version="models:/churn/1",
            latency_ms=latency,
            status=status,
            route="primary",
            time=times,
        )
    with FeedbackLog(ws.log_root, fsync=False) as log:
        log.log(ids, truth.astype(str), time=times + np.timedelta64(10, "m"))


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        (None, set()),
        ("drift", {"feature-drift", "prediction-drift"}),
        ("quality", {"missing-rate"}),
        ("errors", {"error-rate"}),
        ("latency", {"latency-p99"}),
        ("concept", {"performance-drop"}),
    ],
)
def test_an_injected_problem_fires_its_alert_and_calm_traffic_none(
    ws: Workspace, problem: str | None, expected: set[str]
) -> None:
    deploy(ws)
    for hour in range(6):
        _hour(ws, hour, problem if hour >= 3 else None)
    train = features(6000, seed=1)
    score = _score(train)
    reference = Reference.from_table(
        train.assign(
            prediction=(score > 0.5).astype(np.int64), proba_1=score, label=_draw(score, 7)
        )
    )
    monitor = create_monitor("churn", "1h", reference, start=T0)
    run_windows(monitor, until=T0 + 6 * HOUR)
    fired = [e for e in evaluate_alerts(monitor, channels={}) if e.kind == "firing"]
    assert {e.alert.rule for e in fired} == expected
    assert all(e.at > int((T0 + 3 * HOUR).timestamp() * 1000) for e in fired)  # not before
    assert all(e.alert.runbook for e in fired)
