"""A demo workspace with something on every dashboard page, and real `headway ui` servers.

The workspace is made the way a user makes one: tracked runs that profile, validate and
compare data and register two churn models (one evaluated, gated and carded); a
deployment in ``partial`` automation with a canary; real traffic through a real prediction
server (deferred predictions land in the review queue); twelve past hours of logged
traffic with ``monthly_charges`` shifted by a standard deviation in the last four, a
monitor computing those windows and the feature-drift alert they fire; some labels.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from serving_helpers import free_port, running
from sklearn.linear_model import LogisticRegression

import headway
from headway.monitoring import backfill, create_monitor
from headway.monitoring.alerting import evaluate_alerts
from headway.serving.deployments import create_deployment, set_canary
from headway.serving.log import FeedbackLog, PredictionLog
from headway.workspace import Workspace, init_workspace, use_workspace

FEATURES = ["tenure_months", "monthly_charges", "support_calls"]
DEPLOYMENT = "churn-api"
HOURS = 12
DRIFTED_HOURS = 4
TOKEN = "ui-test-token"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class Demo:
    ws: Workspace
    monitor_id: str
    run_ids: list[str]
    deferred: list[str]  # request ids waiting in the review queue


def _fit(train: pd.DataFrame, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=500).fit(train[FEATURES], train["churned"])


def _outputs(model: LogisticRegression, rows: pd.DataFrame) -> pd.DataFrame:
    proba = model.predict_proba(rows[FEATURES])
    return pd.DataFrame(
        {
            "prediction": model.predict(rows[FEATURES]),
            "proba_0": proba[:, 0],
            "proba_1": proba[:, 1],
        }
    )


def build_demo(root: Path) -> Demo:
    ws = init_workspace(root)
    use_workspace(ws)
    data = headway.make_churn(4000, seed=1)
    train, valid = data.iloc[:3000], data.iloc[3000:]
    run_ids = []
    for c in (1.0, 0.05):
        with headway.start_run(experiment="churn", params={"C": c, "max_iter": 500}) as run:
            run.log_input(train, name="churn-train")
            schema = headway.infer_schema(train, name="train")
            headway.profile(valid[FEATURES], name="valid")
            headway.validate(valid, schema, name="valid")
            headway.compare(train[FEATURES], valid[FEATURES], name="train-vs-valid")
            model = _fit(train, c)
            for step in range(8):
                run.log_metric("loss", 0.7 / (step + 1) + c / 10, step=step)
            run.log_metric("accuracy", float(model.score(valid[FEATURES], valid["churned"])))
            headway.register_model("churn", model, input_example=train[FEATURES].head())
            run_ids.append(run.id)
    report = headway.evaluate(
        "models:/churn/1",
        valid[[*FEATURES, "churned"]],
        label="churned",
        n_bootstrap=20,
        find=False,
    )
    headway.gate(report, "[thresholds]\nroc_auc = 0.6\n")
    headway.model_card("models:/churn/1")
    headway.set_alias("churn", "champion", 1, reason="passed its gate")
    create_deployment(DEPLOYMENT, "models:/churn/1", automation="partial", threshold=0.8)
    set_canary(DEPLOYMENT, "models:/churn/2", weight=0.1, reason="try the regularised one")

    # Windows end at the top of this hour; the served traffic falls after it.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    deferred = _serve_traffic(ws, valid)
    monitor_id = _backfill(ws, _fit(train, 1.0), train, valid, now)
    return Demo(ws, monitor_id, run_ids, deferred)


def _serve_traffic(ws: Workspace, rows: pd.DataFrame) -> list[str]:
    """Requests through a real prediction server; the unsure ones wait for review."""
    records = rows[FEATURES].head(40).to_dict(orient="records")
    with running(ws, DEPLOYMENT) as client:
        answers = [client.post("/predict", json={"records": [r]}).json() for r in records]
        time.sleep(0.5)  # the review writer and the log flush within a quarter second
    deferred = [a["request_id"] for a in answers if a.get("deferred")]
    assert deferred, "partial automation deferred nothing; raise the threshold"
    return deferred


def _backfill(
    ws: Workspace,
    model: LogisticRegression,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    now: datetime,
) -> str:
    """Twelve hours of logged traffic before ``now`` (the last four drifted), their
    windows computed by a backfill, the alerts they raise, and labels."""
    start = now - timedelta(hours=HOURS)
    rng = np.random.default_rng(7)
    with (
        PredictionLog(ws.log_root, fsync=False) as log,
        FeedbackLog(ws.log_root, fsync=False) as fb,
    ):
        for hour in range(HOURS):
            rows = valid.sample(400, replace=True, random_state=hour).reset_index(drop=True)
            if hour >= HOURS - DRIFTED_HOURS:
                rows["monthly_charges"] = rows["monthly_charges"] + rows["monthly_charges"].std()
            ids = [f"h{hour}-{i}" for i in range(len(rows))]
            at = np.datetime64((start + timedelta(hours=hour)).replace(tzinfo=None), "ms")
            times = at + np.linspace(0, 3_500_000, len(rows)).astype("timedelta64[ms]")
            log.log(
                ids,
                inputs=rows[FEATURES],
                outputs=_outputs(model, rows),
                deployment=DEPLOYMENT,
                revision=2,
                model_version="models:/churn/1",
                latency_ms=rng.lognormal(1.2, 0.4, len(rows)),
                status=np.where(rng.uniform(size=len(rows)) < 0.01, 500, 200).astype(np.int16),
                time=times,
            )
            fb.log(ids[:120], rows["churned"].head(120).astype(str).to_numpy(), time=times[:120])
    reference = train.assign(**_outputs(model, train)).rename(columns={"churned": "label"})
    monitor = create_monitor(
        DEPLOYMENT,
        "1h",
        reference[[*FEATURES, "prediction", "proba_0", "proba_1", "label"]],
        start=start,
    )
    windows = backfill(monitor, start, now + timedelta(minutes=1))
    assert len(windows) == HOURS, [w.start for w in windows]
    events = evaluate_alerts(monitor)
    assert any(e.kind == "firing" for e in events), [e.alert.summary for e in events]
    return monitor.id


@contextmanager
def ui_server(project: Path, token: str | None = None) -> Iterator[str]:
    """A real ``headway ui`` process on a free port of 127.0.0.1; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    if token is not None:
        env["HEADWAY_TOKEN"] = token
    command = [str(Path(sys.executable).parent / "headway"), "ui", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"headway ui did not start: {output}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
