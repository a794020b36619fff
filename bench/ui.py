"""Dashboard: every page's HTML time with 30 days of 5-minute windows of 20 features.

Run: ``.venv/bin/python bench/ui.py`` (prints JSON, then a one-line summary).

The workspace: 60 tracked runs (20-step metric histories), a registered churn-like model
(evaluated, gated, with a model card) and its data reports, a deployment whose canary
ramped through four revisions and was promoted, 30 review items waiting, and a monitor
with ``--days`` of ``--window`` windows over ``--features`` features (8,640 by
default). Windows are stored through the store repository, as ``run_windows`` stores
them: each is a real summary of generated traffic (``summarise`` and ``run_checks``;
48 distinct ones, the last three days drifted, every window's own profile blob and
varied counts and latencies), which skips re-reading a month of prediction log that this
benchmark does not measure. Alert rules then run over the whole history, as
``headway monitor run`` would.

A real ``headway ui`` process serves the workspace; each page is fetched once cold (the
first request after start) and ``--repeat`` more times. Target: every page's HTML in
under 300 ms (median of the repeats).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from headway.monitoring import Monitor
    from headway.workspace import Workspace

TARGET_MS = 300.0
LETTERS = np.array(list("abcdefghij"))
BASES = 48  # distinct window summaries; the last DRIFTED of them drifted
DRIFTED = 8
DRIFT_DAYS = 3


def table(n: int, seed: int, features: int, shift: float = 0.0) -> pd.DataFrame:
    """``features`` columns (a fifth categorical); ``shift`` moves ``x0`` by that many sd."""
    rng = np.random.default_rng(seed)
    categorical = max(1, features // 5)
    cols = {
        f"x{i}": rng.normal(shift if i == 0 else 0.0, 1.0 + i / 10, n)
        for i in range(features - categorical)
    }
    cols |= {f"c{i}": LETTERS[rng.integers(0, 4 + i, n)] for i in range(categorical)}
    return pd.DataFrame(cols)


def build_workspace(root: Path, days: int = 30, window: str = "5m", features: int = 20) -> str:
    """Build the benchmark workspace in ``root``; returns the deployment's name."""
    import headway
    from headway.monitoring import create_monitor, window_seconds
    from headway.monitoring.alerting import evaluate_alerts
    from headway.serving.deployments import Ramp, change, create_deployment, set_canary, switch
    from headway.workspace import init_workspace, use_workspace

    ws = init_workspace(root)
    use_workspace(ws)
    train = table(20_000, 0, features)
    numeric = [c for c in train.columns if c.startswith("x")]
    label = (train["x1"] + np.random.default_rng(1).normal(0, 1, len(train)) > 0).astype(int)
    model, versions = _runs(headway, train, numeric, label)
    name = "churn-api"
    create_deployment(name, "models:/churn/1", automation="partial", threshold=0.7)
    ramp = Ramp(steps=(0.05, 0.25, 0.5, 1.0))
    set_canary(name, f"models:/churn/{versions}", ramp=ramp, reason="retrained on last month")
    for step in range(1, len(ramp.steps)):
        change(
            name,
            lambda c, s=step: replace(c, canary_weight=ramp.steps[s], ramp=replace(ramp, step=s)),
            f"canary step {step + 1} of {len(ramp.steps)}: its gates passed",
        )
    switch(name, f"models:/churn/{versions}", reason="canary promoted after its last step")
    _backdate(ws, name, [days * 24.0, 150.0, 138.0, 126.0, 114.0, 102.0])
    _review_items(ws, name, train[numeric], model)
    create_deployment("churn-eu", "models:/churn/1", reason="the EU region")
    create_deployment("churn-batch", f"models:/churn/{versions}", reason="nightly scoring")

    seconds = window_seconds(window)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    reference = train.assign(**_outputs(model, train[numeric]), label=label)
    watched = create_monitor(name, seconds, reference, start=end - timedelta(days=days))
    bases = _bases(reference, numeric, model, features, watched)
    _windows(ws, watched, bases, end - timedelta(days=days), end, DRIFT_DAYS)
    healthy = create_monitor("churn-eu", "1h", reference, start=end - timedelta(days=3))
    _windows(ws, healthy, bases, end - timedelta(days=3), end, 0)
    for monitor in (watched, healthy):
        evaluate_alerts(monitor, workspace=ws)
    use_workspace(None)
    return name


def _outputs(model: Any, x: pd.DataFrame) -> dict[str, np.ndarray]:
    proba = model.predict_proba(x)
    return {"prediction": model.predict(x), "proba_0": proba[:, 0], "proba_1": proba[:, 1]}


def _runs(
    headway: Any, train: pd.DataFrame, numeric: list[str], label: pd.Series
) -> tuple[Any, int]:
    """60 runs (two experiments), two model versions, an evaluation, a gate and a card."""
    from sklearn.linear_model import LogisticRegression

    valid = table(2_000, 99, len(train.columns))
    valid_label = (valid["x1"] > 0).astype(int)
    model = None
    versions = 0
    for i in range(60):
        experiment = "churn" if i % 3 else "churn-features"
        c = [0.01, 0.1, 1.0, 10.0][i % 4]
        with headway.start_run(experiment=experiment, params={"C": c, "seed": i}) as run:
            for step in range(20):
                run.log_metrics(
                    {"loss": 0.7 * 0.9**step + c / 100, "auc": 0.6 + step / 60}, step=step
                )
            run.log_metric("accuracy", 0.7 + (i % 10) / 50)
            if i in (0, 59):
                run.log_input(train, name="churn-train")
                headway.profile(train, name="train")
                schema = headway.infer_schema(train, name="train")
                headway.validate(valid, schema, name="valid")
                headway.compare(train, valid, name="train-vs-valid")
                model = LogisticRegression(C=c, max_iter=300).fit(train[numeric], label)
                headway.register_model("churn", model, input_example=train[numeric].head())
                versions += 1
    scored = valid[numeric].assign(churned=valid_label)
    report = headway.evaluate(
        "models:/churn/1", scored, label="churned", n_bootstrap=20, find=False
    )
    headway.gate(report, "[thresholds]\nroc_auc = 0.6\n")
    headway.model_card("models:/churn/1")
    headway.set_alias("churn", "champion", 1)
    return model, versions


def _backdate(ws: Workspace, name: str, hours_ago: list[float]) -> None:
    """Spread the deployment's revisions over the past, as a real rollout is (the service
    stamps them now): created a month ago, the canary ramped over a day, then promoted."""
    from sqlalchemy import update

    from headway.store.metadata import now_ms
    from headway.store.tables import deployment_revisions, deployments

    now = now_ms()
    with ws.store.write() as conn:
        for number, hours in enumerate(hours_ago, start=1):
            at = now - int(hours * 3_600_000)
            conn.execute(
                update(deployment_revisions)
                .where(deployment_revisions.c.deployment == name)
                .where(deployment_revisions.c.number == number)
                .values(created_at=at)
            )
        first = now - int(hours_ago[0] * 3_600_000)
        conn.execute(update(deployments).where(deployments.c.name == name).values(created_at=first))


def _review_items(ws: Workspace, name: str, rows: pd.DataFrame, model: Any) -> None:
    """30 requests the model was unsure of, deferred to a person."""
    from headway.store import deployments as deployments_repo
    from headway.store.metadata import now_ms

    proba = model.predict_proba(rows)[:, 1]
    unsure = np.flatnonzero(np.maximum(proba, 1 - proba) < 0.7)[:30]
    items = [
        {
            "request_id": f"bench-{i:04d}",
            "deployment": name,
            "revision": 5,
            "created_at": now_ms() - (len(unsure) - i) * 60_000,
            "reason": "low_confidence",
            "inputs": {k: [float(v)] for k, v in rows.iloc[at].items()},
            "advice": {
                "prediction": [int(proba[at] > 0.5)],
                "confidence": [float(max(proba[at], 1 - proba[at]))],
            },
            "status": "pending",
        }
        for i, at in enumerate(unsure)
    ]
    with ws.store.write() as conn:
        deployments_repo.add_review_items(conn, items)


def _bases(
    reference: pd.DataFrame, numeric: list[str], model: Any, features: int, monitor: Monitor
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Distinct window summaries of generated traffic (the last ones drifted): the window
    profile and the checks ``run_windows`` would store for each."""
    import pyarrow as pa

    from headway.monitoring import Reference, check_performance, run_checks, summarise

    ref = Reference.from_table(reference)
    bases = []
    for k in range(BASES):
        drifted = k >= BASES - DRIFTED
        rows = table(600, 1000 + k, features, 0.6 if drifted else 0.0)
        outs = pd.DataFrame(_outputs(model, rows[numeric]))
        batch = pa.table(
            {
                "inputs": pa.Table.from_pandas(rows, preserve_index=False).to_struct_array(),
                "outputs": pa.Table.from_pandas(outs, preserve_index=False).to_struct_array(),
                "latency_ms": np.random.default_rng(k).lognormal(1.5, 0.5, len(rows)),
                "status": np.where(np.arange(len(rows)) % 97 == 0, 500, 200).astype(np.int16),
            }
        )
        profile = summarise([batch], 0, 1, ref.inputs, ref.outputs)
        noise = np.random.default_rng(k).normal(0, 1.4 if drifted else 1, len(rows))
        truth = (rows["x1"] + noise > 0).astype(int).astype(str)
        policy = monitor.config.policy
        perf = check_performance(truth, outs["prediction"].astype(str), ref.performance, policy)
        bases.append((profile.to_dict(), run_checks(ref, profile, perf, policy).to_dict()))
    return bases


def _windows(
    ws: Workspace,
    monitor: Monitor,
    bases: list[tuple[dict[str, Any], dict[str, Any]]],
    start: datetime,
    end: datetime,
    drift_days: int,
) -> None:
    """Every window from ``start`` to ``end``, each one of ``bases`` (drifted ones in the
    last ``drift_days``) with its own counts, latencies and profile blob, stored as
    ``run_windows`` stores them; labels arrive for the last week."""
    from headway.store import monitors as repo
    from headway.store.metadata import now_ms

    step_ms = monitor.window_seconds * 1000
    starts = range(int(start.timestamp() * 1000), int(end.timestamp() * 1000), step_ms)
    drift_from = int((end - timedelta(days=drift_days)).timestamp() * 1000)
    labels_from = int((end - timedelta(days=7)).timestamp() * 1000)
    rng = np.random.default_rng(5)
    rows_out = []
    for i, s in enumerate(starts):
        k = (BASES - DRIFTED + i % DRIFTED) if s >= drift_from else i % (BASES - DRIFTED)
        profile, checks = bases[k]
        hour = (s // 3_600_000) % 24
        load = 0.6 + 0.4 * np.sin(np.pi * hour / 24) ** 2  # a daily traffic cycle
        n = int(600 * load * rng.uniform(0.9, 1.1) * step_ms / 300_000)
        slow = 1.0 + 0.5 * load
        ops = {**checks["ops"], "requests": n, "server_errors": n // 97}
        for q in ("latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_mean_ms"):
            ops[q] = checks["ops"][q] * slow
        labelled = checks["performance"]["labelled"] if s >= labels_from else 0
        stored = {**checks, "ops": ops}
        if not labelled:
            stored["performance"] = {
                **checks["performance"],
                "status": "not_available",
                "labelled": 0,
                "metrics": {},
                "reason": "no labels yet",
            }
        blob = ws.artifacts.put_bytes(
            json.dumps({**profile, "start_ms": s, "end_ms": s + step_ms, "rows": n}).encode()
        )
        rows_out.append(
            {
                "monitor_id": monitor.id,
                "start_ms": s,
                "end_ms": s + step_ms,
                "rows": n,
                "errors": n // 97,
                "labelled": labelled,
                "labels_until_ms": s + step_ms,
                "profile_sha256": blob.sha256,
                "ops": ops,
                "checks": stored,
                "computed_at": now_ms(),
            }
        )
    for lo in range(0, len(rows_out), 1000):
        with ws.store.write() as conn:
            repo.save_windows(conn, rows_out[lo : lo + 1000])


def _serve(project: Path, port: int) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "headway"), "ui", "--port", str(port)]
    process = subprocess.Popen(command, cwd=project, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/openapi.json").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("headway ui did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _time(client: httpx.Client, path: str, repeat: int) -> dict[str, float]:
    def once() -> float:
        begin = time.perf_counter()
        response = client.get(path)
        ms = (time.perf_counter() - begin) * 1000
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return ms

    cold = once()
    times = [once() for _ in range(repeat)]
    return {
        "cold_ms": round(cold, 1),
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--window", default="5m")
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        began = time.perf_counter()
        name = build_workspace(project, args.days, args.window, args.features)
        built = time.perf_counter() - began
        process = _serve(project, port := _free_port())
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                runs = [r["id"] for r in client.get("/api/runs?limit=3").json()["runs"]]
                report = client.get("/api/data-reports?kind=profile").json()["reports"][0]
                pages = {
                    "overview": "/",
                    "deployment 24h": f"/deployments/{name}?range=24h",
                    "deployment 7d": f"/deployments/{name}?range=7d",
                    "deployment 30d": f"/deployments/{name}?range=30d",
                    "runs": "/runs",
                    "runs filtered": "/runs?filter=metrics.accuracy+>+0.8+and+params.C+=+1",
                    "runs compare": "/runs/compare?" + "&".join(f"run={r}" for r in runs),
                    "models": "/models",
                    "model": "/models/churn",
                    "model version": "/models/churn/versions/1",
                    "data reports": "/data",
                    "review queue": "/review",
                }
                twins = {
                    "api overview": "/api/overview",
                    "api deployment 30d": f"/api/deployments/{name}?range=30d",
                }
                rendered = f"/data/report?run={report['run_id']}&path={report['path']}"
                documents = {"profile report": rendered}
                timings = {k: _time(client, p, args.repeat) for k, p in pages.items()}
                api = {k: _time(client, p, args.repeat) for k, p in twins.items()}
                docs = {k: _time(client, p, 1) for k, p in documents.items()}
                windows = client.get(f"/api/deployments/{name}?range=30d").json()["windows"]
        finally:
            process.terminate()
            process.wait(timeout=10)
    slowest = max(timings, key=lambda k: timings[k]["median_ms"])
    result = {
        "windows": windows["windows"],
        "window": args.window,
        "features": args.features,
        "points_30d": len(windows["series"]["t"]),
        "build_seconds": round(built, 1),
        "pages": timings,
        "api": api,
        "documents": docs,
        "target_ms": TARGET_MS,
        "all_pages_under_target": all(t["median_ms"] < TARGET_MS for t in timings.values()),
    }
    print(json.dumps(result, indent=2))
    coldest = max(timings, key=lambda k: timings[k]["cold_ms"])
    print(
        f"ui: {len(timings)} pages over {windows['windows']:,} windows; slowest {slowest} "
        f"{timings[slowest]['median_ms']:.0f} ms median (target < {TARGET_MS:.0f} ms), "
        f"slowest cold {coldest} {timings[coldest]['cold_ms']:.0f} ms"
    )


if __name__ == "__main__":
    main()
