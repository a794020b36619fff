"""A version registered with its validation rows gives monitors their reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from monitoring_helpers import features
from sklearn.linear_model import LogisticRegression
from sqlalchemy import update

from headway.errors import InvalidArgumentError, NotFoundError
from headway.monitoring import (
    FOLLOW_PRIMARY,
    create_monitor,
    load_reference,
    run_windows,
    window_results,
)
from headway.registry import register_model
from headway.registry.reference import attach_reference, model_reference
from headway.serving.deployments import create_deployment, rollback, switch
from headway.serving.log import PredictionLog
from headway.store.tables import deployment_revisions
from headway.workspace import Workspace

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
NUMERIC = ["tenure", "charges"]


def _labelled(n: int, seed: int, shift: float) -> pd.DataFrame:
    df = features(n, seed=seed, shift=shift)[NUMERIC]
    rng = np.random.default_rng(seed)
    centre = df["charges"].mean()
    return df.assign(label=(df["charges"] + rng.normal(0, 5, n) > centre).astype(int))


def _register(ws: Workspace, shift: float, seed: int) -> str:
    train, valid = _labelled(2000, seed, shift), _labelled(1000, seed + 1, shift)
    model = LogisticRegression().fit(train[NUMERIC], train["label"])
    version = register_model(
        "churn", model, input_example=train[NUMERIC].head(), reference=valid, workspace=ws
    )
    return version.uri


def _send(ws: Workspace, hour: int, shift: float, version: str) -> None:
    data = features(1000, seed=100 + hour, shift=shift)[NUMERIC]
    times = np.datetime64(T0.replace(tzinfo=None) + hour * HOUR, "ms") + np.linspace(
        0, 3_599_000, len(data)
    ).astype("timedelta64[ms]")
    with PredictionLog(ws.log_root, fsync=False) as log:
        log.log(
            [f"r{hour}-{i}" for i in range(len(data))],
            inputs=data,
            outputs=pd.DataFrame({"prediction": np.zeros(len(data), dtype=np.int64)}),
            deployment="churn-api",
            revision=1,
            model_version=version,
            latency_ms=np.full(len(data), 3.0),
            status=np.full(len(data), 200, dtype=np.int16),
            route="primary",
            time=times,
        )


def _backdate(ws: Workspace, number: int, at: datetime) -> None:
    """Revisions are stamped with the wall clock; the test's traffic lives in the past."""
    with ws.store.write() as conn:
        conn.execute(
            update(deployment_revisions)
            .where(deployment_revisions.c.number == number)
            .values(created_at=int(at.timestamp() * 1000))
        )


def test_registration_stores_the_reference_with_predictions_and_performance(
    ws: Workspace,
) -> None:
    uri = _register(ws, shift=0.0, seed=1)
    ref = model_reference(uri, ws)
    assert ref is not None
    assert set(ref.inputs.columns) == set(NUMERIC)
    assert ref.outputs is not None and {"prediction", "proba_0", "proba_1"} <= set(
        ref.outputs.columns
    )
    assert ref.performance is not None and ref.performance.n == 1000
    assert ref.performance.metrics["accuracy"] > 0.7
    # Attached files are not part of the model's package.
    assert "reference/reference.json" in {f.path for f in ws_files(ws, uri)}


def ws_files(ws: Workspace, uri: str) -> list:
    from headway.registry import get_model_version

    return list(get_model_version(uri, workspace=ws).files)


def test_a_bad_reference_table_is_refused_before_anything_is_registered(ws: Workspace) -> None:
    train = _labelled(200, 1, 0.0)
    model = LogisticRegression().fit(train[NUMERIC], train["label"])
    with pytest.raises(InvalidArgumentError, match="lacks the model's input columns"):
        register_model(
            "churn",
            model,
            input_example=train[NUMERIC].head(),
            reference=train[["tenure", "label"]],
            workspace=ws,
        )
    with pytest.raises(NotFoundError):
        model_reference("models:/churn/1", ws)


def test_attach_reference_to_an_existing_version(ws: Workspace) -> None:
    train = _labelled(500, 3, 0.0)
    model = LogisticRegression().fit(train[NUMERIC], train["label"])
    uri = register_model("churn", model, input_example=train[NUMERIC].head(), workspace=ws).uri
    assert model_reference(uri, ws) is None
    attach_reference(uri, _labelled(300, 4, 0.0), workspace=ws)
    found = model_reference(uri, ws)
    assert found is not None and found.inputs.rows == 300


def test_monitor_follows_the_primary_reference_through_a_switch_and_rollback(
    ws: Workspace,
) -> None:
    v1 = _register(ws, shift=0.0, seed=1)
    v2 = _register(ws, shift=3.0, seed=2)  # retrained after the world moved
    create_deployment("churn-api", v1, workspace=ws)
    switch("churn-api", v2, reason="retrained on the new data", workspace=ws)
    rollback("churn-api", reason="back to v1", workspace=ws)
    _backdate(ws, 1, T0 - HOUR)
    _backdate(ws, 2, T0 + 2 * HOUR)  # v2 serves from hour 2
    _backdate(ws, 3, T0 + 4 * HOUR)  # v1 again from hour 4

    following = create_monitor("churn-api", "1h", start=T0, workspace=ws)
    fixed = create_monitor("churn-api", "1h", reference=v1, start=T0, workspace=ws)
    assert following.reference == FOLLOW_PRIMARY
    assert fixed.reference is not None and "sha256" in fixed.reference
    for hour, shift, version in [(0, 0, v1), (1, 0, v1), (2, 3, v2), (3, 3, v2), (4, 0, v1)]:
        _send(ws, hour, shift, version)

    until = T0 + 5 * HOUR
    run_windows(following, until=until, workspace=ws)
    run_windows(fixed, until=until, workspace=ws)
    followed = window_results(following, workspace=ws)["feature_drift_status"].tolist()
    pinned = window_results(fixed, workspace=ws)["feature_drift_status"].tolist()
    assert followed == ["ok"] * 5  # each window against the version serving it
    assert pinned == ["ok", "ok", "flagged", "flagged", "ok"]

    at_hour_3 = load_reference(following, at=T0 + 3 * HOUR, workspace=ws)
    assert at_hour_3 is not None and at_hour_3.source.startswith("churn at registration")
    assert at_hour_3 == model_reference(v2, ws)


def test_monitor_of_a_version_without_reference_waits_for_traffic(ws: Workspace) -> None:
    train = _labelled(500, 3, 0.0)
    model = LogisticRegression().fit(train[NUMERIC], train["label"])
    uri = register_model("churn", model, input_example=train[NUMERIC].head(), workspace=ws).uri
    create_deployment("churn-api", uri, workspace=ws)
    assert create_monitor("churn-api", workspace=ws).reference is None
    with pytest.raises(NotFoundError, match="registered without a reference"):
        create_monitor("churn-api", reference=uri, workspace=ws)


def test_cli_create_defaults_to_the_primary_reference_and_takes_a_uri(ws: Workspace) -> None:
    from typer.testing import CliRunner

    from headway.cli import app

    v1 = _register(ws, shift=0.0, seed=1)
    create_deployment("churn-api", v1, workspace=ws)
    runner = CliRunner()
    made = runner.invoke(app, ["monitor", "create", "churn-api", "--window", "1h"])
    assert made.exit_code == 0, made.output
    assert "primary version's reference" in made.output
    pinned = runner.invoke(app, ["monitor", "create", "churn-api", "--reference", v1])
    assert pinned.exit_code == 0, pinned.output
    assert v1 in pinned.output
    missing = runner.invoke(app, ["monitor", "create", "churn-api", "--reference", "models:/x/1"])
    assert missing.exit_code != 0 and "x" in missing.output
