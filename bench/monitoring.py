"""Monitoring: window throughput over the prediction log, false alarms and detection delay.

Run: ``.venv/bin/python bench/monitoring.py`` (prints JSON, then a one-line summary).

1. Throughput. ``--rows`` predictions with 25 features (20 numeric, 5 categorical) and two
   outputs are logged in one hour with :class:`~headway.serving.log.PredictionLog` into a
   fresh workspace and compacted; then one ``run_windows`` call is timed: it reads the
   hour from the log, profiles it over the reference's bins, runs every check and stores
   the window (profile blob and ledger row). Target: at least 1,000,000 rows/s.
2. False alarms and detection. Streams of ``--days`` days of hourly windows with
   ``--per-hour`` requests and 20 features (16 numeric, 4 categorical) go through the same
   window code (:func:`~headway.monitoring.summarise` and
   :func:`~headway.monitoring.run_checks`) without the HTTP server or the log. An *alert*
   is a window whose feature-drift check flags the dataset (at least one feature drifted:
   effect above its threshold and significant after Benjamini-Hochberg). Targets: at
   most 1 alert in the stationary stream; with a 0.5-sd shift of one feature from day
   ``--shift-day``, the first alert within 2 windows of the shift.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

NUMERIC, CATEGORICAL = 20, 5
LETTERS = np.array(list("abcdefghij"))


def table(n: int, seed: int, numeric: int, categorical: int, shift: float = 0.0) -> pd.DataFrame:
    """Features; ``shift`` moves feature ``x0`` by that many standard deviations."""
    rng = np.random.default_rng(seed)
    cols = {
        f"x{i}": rng.normal(shift * (1 + i / 10) if i == 0 else 0.0, 1.0 + i / 10, n)
        for i in range(numeric)
    }
    cols |= {f"c{i}": LETTERS[rng.integers(0, 4 + i, n)] for i in range(categorical)}
    return pd.DataFrame(cols)


def outputs(features: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = 1 / (1 + np.exp(-features["x1"].to_numpy()))
    return pd.DataFrame(
        {"prediction": (rng.uniform(size=len(features)) < score).astype(np.int64), "proba_1": score}
    )


def throughput(rows: int, workdir: Path) -> dict[str, float]:
    from headway.monitoring import create_monitor, run_windows
    from headway.serving.log import PredictionLog, compact
    from headway.store import deployments as deployments_repo
    from headway.workspace import init_workspace

    ws = init_workspace(workdir / "project")
    with ws.store.write() as conn:
        deployments_repo.create(conn, "bench", {"primary": "models:/bench/1"}, None, "bench")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    train = table(50_000, 0, NUMERIC, CATEGORICAL)
    reference = train.assign(**outputs(train, 0))
    monitor = create_monitor("bench", "1h", reference, start=hour, workspace=ws)
    with PredictionLog(ws.log_root, fsync=False, max_buffer_rows=4_000_000) as log:
        chunk = 200_000
        for i, lo in enumerate(range(0, rows, chunk)):
            n = min(chunk, rows - lo)
            features = table(n, 100 + i, NUMERIC, CATEGORICAL)
            offsets = np.linspace(lo, lo + n, n, endpoint=False) * (3_599_000 / rows)
            log.log(
                np.char.add("r", np.arange(lo, lo + n).astype(str)),
                inputs=features,
                outputs=outputs(features, i),
                deployment="bench",
                revision=1,
                model_version="models:/bench/1",
                latency_ms=np.random.default_rng(i).lognormal(1.5, 0.5, n),
                time=np.datetime64(hour.replace(tzinfo=None), "ms")
                + offsets.astype("timedelta64[ms]"),
            )
    compact(ws.log_root, "predictions", before=datetime.now(UTC))
    start = time.perf_counter()
    results = run_windows(monitor, until=hour + timedelta(hours=1), workspace=ws)
    seconds = time.perf_counter() - start
    assert len(results) == 1 and results[0].rows == rows, results
    ws.close()
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}


def stream(days: int, per_hour: int, shift_day: int | None, seed: int) -> list[bool]:
    """Whether each hourly window of a generated stream raised a drift alert."""
    import pyarrow as pa

    from headway.monitoring import Reference, run_checks, summarise

    reference = Reference.from_table(table(20_000, seed, 16, 4))
    alerts = []
    for w in range(days * 24):
        shifted = shift_day is not None and w >= shift_day * 24
        features = table(per_hour, seed * 100_000 + w + 1, 16, 4, 0.5 if shifted else 0.0)
        batch = pa.table(
            {
                "inputs": pa.Table.from_pandas(features).to_struct_array(),
                "outputs": pa.Table.from_pandas(outputs(features, w)).to_struct_array(),
                "latency_ms": np.full(per_hour, 5.0),
                "status": np.full(per_hour, 200, dtype=np.int16),
            }
        )
        window = summarise([batch], w * 3_600_000, (w + 1) * 3_600_000, reference.inputs)
        alerts.append(run_checks(reference, window).feature_drift.status == "flagged")
    return alerts


def consecutive(alerts: list[bool], n: int = 2) -> int:
    """Alerts under the rule 'for n consecutive windows' (one per run of flagged windows)."""
    count, run = 0, 0
    for flagged in alerts:
        run = run + 1 if flagged else 0
        count += run == n
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-hour", type=int, default=2000)
    parser.add_argument("--shift-day", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        speed = throughput(args.rows, Path(tmp))
    stationary = stream(args.days, args.per_hour, None, args.seed)
    shifted = stream(args.days, args.per_hour, args.shift_day, args.seed + 1)
    first_shifted = args.shift_day * 24
    before = shifted[:first_shifted]
    after = shifted[first_shifted:]
    delay = after.index(True) + 1 if True in after else None  # 1: the first shifted window
    result = {
        "throughput": speed,
        "windows": len(stationary),
        "stationary_alerts": sum(stationary),
        "stationary_alerts_2_consecutive": consecutive(stationary),
        "shifted_false_alerts_before_shift": sum(before),
        "detection_windows": delay,
        "shifted_windows_flagged": f"{sum(after)}/{len(after)}",
    }
    print(json.dumps(result, indent=2))
    print(
        f"window computation {speed['rows_per_s']:,} rows/s (target >= 1,000,000); "
        f"{result['stationary_alerts']} drift alerts in {args.days} stationary days (target <= 1); "
        f"0.5-sd shift detected in {delay} window(s) (target <= 2)"
    )


if __name__ == "__main__":
    main()
