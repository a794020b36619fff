"""Tracking throughput: metric points per second, and `runs list` over 10,000 runs.

Run: ``.venv/bin/python bench/tracking.py`` (prints JSON, then a one-line summary).
Targets (issue "The ledger"): >= 50,000 points/s through ``run.log_metric`` on the embedded
SQLite store, and < 0.5 s to list 10,000 runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid

from headway.store import runs as run_repo
from headway.store.metadata import now_ms
from headway.store.tables import latest_metrics, params
from headway.tracking import start_run
from headway.workspace import init_workspace


def bench_log_metric(ws, points: int) -> float:
    """Points/s through one log_metric call per point, including the final flush."""
    start = time.perf_counter()
    with start_run("bench", workspace=ws) as run:
        for i in range(points):
            run.log_metric("loss", 1.0 / (i + 1))
    return points / (time.perf_counter() - start)


def bench_log_metrics(ws, points: int, width: int = 10) -> float:
    """Points/s through log_metrics with ``width`` keys a call, including the final flush."""
    keys = [f"m{i}" for i in range(width)]
    start = time.perf_counter()
    with start_run("bench", workspace=ws) as run:
        for step in range(points // width):
            run.log_metrics(dict.fromkeys(keys, step * 0.5), step=step)
    return points / (time.perf_counter() - start)


def seed_runs(ws, count: int) -> None:
    """Insert ``count`` finished runs with 3 params and 3 metrics each, in bulk."""
    with ws.store.write() as conn:
        exp = run_repo.get_or_create_experiment(conn, "many")
        base = now_ms()
        rows, prm, met = [], [], []
        for i in range(count):
            rid = uuid.uuid4().hex
            rows.append(
                {
                    "id": rid,
                    "experiment_id": exp.id,
                    "name": f"run-{i}",
                    "status": "finished",
                    "start_time": base + i,
                    "end_time": base + i + 5,
                    "environment": {},
                }
            )
            prm += [{"run_id": rid, "key": k, "value": str(i)} for k in ("C", "depth", "seed")]
            met += [
                {"run_id": rid, "key": k, "value": i / count, "step": 0, "timestamp": base}
                for k in ("auc", "loss", "f1")
            ]
        conn.execute(run_repo.runs.insert(), rows)
        conn.execute(params.insert(), prm)
        conn.execute(latest_metrics.insert(), met)


def bench_list_runs(ws, count: int) -> float:
    seed_runs(ws, count)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with ws.store.read() as conn:
            found = run_repo.list_runs(conn, experiment="many")
        best = min(best, time.perf_counter() - start)
        assert len(found) == count
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(tmp)
        result = {
            "log_metric_points_per_s": round(bench_log_metric(ws, args.points)),
            "log_metrics_points_per_s": round(bench_log_metrics(ws, args.points)),
            "runs_list_s": round(bench_list_runs(ws, args.runs), 4),
            "points": args.points,
            "runs": args.runs,
            "store": "sqlite (embedded)",
        }
        ws.close()
    print(json.dumps(result, indent=2))
    print(
        f"log_metric {result['log_metric_points_per_s']:,} points/s (target >= 50,000); "
        f"log_metrics {result['log_metrics_points_per_s']:,} points/s; "
        f"runs list over {args.runs:,} runs {result['runs_list_s']:.3f} s (target < 0.5 s)"
    )


if __name__ == "__main__":
    main()
