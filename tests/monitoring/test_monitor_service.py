from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from monitoring_helpers import features, outputs

from headway.errors import NotFoundError
from headway.monitoring import (
    Reference,
    backfill,
    create_monitor,
    get_monitor,
    list_windows,
    merged_profile,
    run_windows,
    window_results,
)
from headway.serving.log import FeedbackLog, PredictionLog
from headway.store import deployments as deployments_repo
from headway.workspace import Workspace

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def deploy(ws: Workspace, name: str = "churn") -> None:
    with ws.store.write() as conn:
        deployments_repo.create(conn, name, {"primary": f"models:/{name}/1"}, None, "test")


def send(
    ws: Workspace, hour: int, n: int, seed: int, shift: float = 0.0, prefix: str = "r"
) -> list[str]:
    """Log ``n`` requests spread over hour ``hour`` after T0 (and a shadow copy of each)."""
    data = features(n, seed=seed, shift=shift)
    outs = outputs(data, seed=seed)
    ids = [f"{prefix}{hour}-{i}" for i in range(n)]
    times = np.datetime64(T0.replace(tzinfo=None) + hour * HOUR, "ms") + np.linspace(
        0, 3_599_000, n
    ).astype("timedelta64[ms]")
    with PredictionLog(ws.log_root, fsync=False) as log:
        for route in ("primary", "shadow"):
            log.log(
                ids,
                inputs=data,
                outputs=outs,
                deployment="churn",
                revision=1,
                model_version="models:/churn/1",
                latency_ms=np.full(n, 4.0),
                status=np.where(np.arange(n) % 50 == 0, 500, 200).astype(np.int16),
                route=route,
                time=times,
            )
    return ids


def label(ws: Workspace, ids: list[str], labels: np.ndarray, at: datetime) -> None:
    with FeedbackLog(ws.log_root, fsync=False) as log:
        log.log(
            ids,
            labels.astype(str),
            time=np.full(len(ids), np.datetime64(at.replace(tzinfo=None), "ms")),
        )


@pytest.fixture
def reference() -> Reference:
    train = features(5000, seed=1)
    outs = outputs(train, seed=1)
    return Reference.from_table(
        train.assign(prediction=outs["prediction"], label=outs["prediction"])
    )


def test_windows_are_computed_once_stored_and_read_back(
    ws: Workspace, reference: Reference
) -> None:
    deploy(ws)
    for hour in range(3):
        send(ws, hour, 400, seed=hour)
    monitor = create_monitor("churn", "1h", reference, start=T0)
    first = run_windows(monitor, until=T0 + 3 * HOUR)
    assert [w.start for w in first] == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert [w.rows for w in first] == [400, 400, 400]  # shadow copies are not traffic
    assert run_windows(monitor, until=T0 + 3 * HOUR) == []  # idempotent

    send(ws, 3, 300, seed=3)
    later = run_windows(monitor.id, until=T0 + 4 * HOUR + timedelta(minutes=30))
    assert [w.start for w in later] == [T0 + 3 * HOUR]  # incremental, complete windows only

    frame = window_results("churn")
    assert list(frame["rows"]) == [400, 400, 400, 300]
    assert frame["start"].iloc[0] == pd.Timestamp(T0)
    assert frame["error_rate"].iloc[0] == pytest.approx(8 / 400)
    assert frame["latency_p50_ms"].iloc[0] == pytest.approx(4.0, rel=0.025)
    assert set(frame["feature_drift_status"]) == {"ok"}
    assert {"drift.charges", "drift.plan", "prediction_drift.prediction"} <= set(frame.columns)
    assert list_windows(monitor, T0 + HOUR, T0 + 3 * HOUR)[0].checks == first[1].checks

    merged = merged_profile(monitor, T0, T0 + 2 * HOUR)
    assert merged.rows == 800 and merged.ops.server_errors == 16
    assert sum(merged.inputs["plan"].histogram.counts) == 800


def test_drift_shows_in_the_time_series(ws: Workspace, reference: Reference) -> None:
    deploy(ws)
    send(ws, 0, 1500, seed=5)
    send(ws, 1, 1500, seed=6, shift=0.8)
    monitor = create_monitor("churn", "1h", reference, start=T0)
    run_windows(monitor, until=T0 + 2 * HOUR)
    frame = window_results(monitor)
    assert list(frame["feature_drift_status"]) == ["ok", "flagged"]
    assert frame["drifted_features"].iloc[1] == ["charges"]
    assert frame["drift.charges"].iloc[1] > 0.5


def test_performance_waits_for_labels_and_late_labels_count(
    ws: Workspace, reference: Reference
) -> None:
    deploy(ws)
    ids0 = send(ws, 0, 300, seed=7)
    ids1 = send(ws, 1, 300, seed=8)
    rng = np.random.default_rng(0)
    label(ws, ids0, rng.integers(0, 2, 300), T0 + HOUR)  # coin flips: much worse than the reference
    monitor = create_monitor("churn", "1h", reference, start=T0)
    run_windows(monitor, until=T0 + 2 * HOUR)
    frame = window_results(monitor)
    assert list(frame["labelled"]) == [300, 0]
    assert list(frame["performance_status"]) == ["flagged", "not_available"]
    assert np.isnan(frame["performance.accuracy"].iloc[1])  # not available, never zero

    truth = outputs(features(300, seed=8), seed=8)["prediction"].to_numpy()
    label(ws, ids1, truth, T0 + 2 * HOUR + timedelta(minutes=5))
    assert run_windows(monitor, until=T0 + 2 * HOUR + timedelta(minutes=10)) == []
    frame = window_results(monitor)
    assert list(frame["labelled"]) == [300, 300]
    assert frame["performance_status"].iloc[1] == "ok"
    assert frame["performance.accuracy"].iloc[1] == 1.0


def test_without_a_reference_the_first_hours_of_traffic_become_it(ws: Workspace) -> None:
    deploy(ws)
    for hour in range(3):
        send(ws, hour, 300, seed=20 + hour)
    monitor = create_monitor("churn", "1h", start=T0, reference_hours=2)
    assert run_windows(monitor, until=T0 + HOUR) == []  # still collecting the reference
    assert len(run_windows(monitor, until=T0 + 3 * HOUR)) == 3
    stored = get_monitor(monitor.id)
    assert stored.reference is not None and stored.reference["rows"] == 600
    assert stored.reference["source"].startswith("traffic")


def test_backfill_recomputes_history(ws: Workspace, reference: Reference) -> None:
    deploy(ws)
    send(ws, 0, 200, seed=30)
    monitor = create_monitor("churn", "30m", reference, start=T0)
    assert [w.rows for w in run_windows(monitor, until=T0 + HOUR)] == [100, 100]
    again = backfill(monitor, T0, T0 + HOUR)
    assert [w.rows for w in again] == [100, 100]
    assert len(list_windows(monitor)) == 2


def test_a_monitor_needs_an_existing_deployment(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no deployment named 'nope'"):
        create_monitor("nope", "1h", features(100, seed=1), start=T0)
    with pytest.raises(NotFoundError, match="no monitor"):
        get_monitor("nope")
