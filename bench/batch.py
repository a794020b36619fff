"""Batch prediction speed and memory: ``headway.batch.predict`` against in-memory predict.

Run: ``.venv/bin/python bench/batch.py`` (prints JSON, then a one-line summary per model;
``--models lr,rf`` adds the random forest).

A Parquet file of 10,000,000 rows (default) and 20 float features, written in row groups
of 500,000 rows; a LogisticRegression (``lr``) and a RandomForest of 50 trees of depth 8
(``rf``) fitted on a 100,000-row sample and registered in a temporary workspace. For each
model, in the same run:

- the batch job, file to file, in a fresh process, after a first job of 1,000 rows there
  that pays the one-off start of the worker pool's fork server (reported apart, as a CLI
  call pays it once). Its peak memory is its own and its workers' PSS, sampled from /proc
  (so Linux only); the same job over a tenth of the rows shows whether memory grows
  with the file;
- the reference: the whole table loaded once, then ``model.predict`` on it, timed
  without the load: its first call, and the best of ``--repeat``.

Target (issue "Batch prediction"): batch throughput at least 80% of the reference's best
call, memory bounded by the chunk size. The time to merely stream-read the file is
reported as the floor that any file-to-file job pays.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

TARGET_RATIO = 0.8
FEATURES = [f"x{i}" for i in range(20)]
ROW_GROUP = 500_000
COEF = np.linspace(1.0, -1.0, len(FEATURES))


def make_file(path: Path, rows: int, seed: int) -> Path:
    """Write the features in row groups (never more than one group in memory)."""
    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, ROW_GROUP):
        block = rng.normal(0.0, 1.0, (min(ROW_GROUP, rows - start), len(FEATURES)))
        table = pa.table(dict(zip(FEATURES, block.T, strict=True)))
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    return path


def make_models(seed: int) -> dict[str, tuple[Any, pd.DataFrame]]:
    """Each model fitted on a 100,000-row sample, with a few rows as the input example."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(0.0, 1.0, (100_000, len(FEATURES))), columns=FEATURES)
    y = (X.to_numpy() @ COEF + rng.normal(0.0, 1.0, len(X)) > 0).astype(np.int64)
    makers: dict[str, Callable[[], Any]] = {
        "lr": lambda: LogisticRegression(max_iter=1000),
        "rf": lambda: RandomForestClassifier(50, max_depth=8, random_state=seed),
    }
    return {name: (make().fit(X, y), X.head()) for name, make in makers.items()}


def _tree_memory(root: int, peaks: dict[int, int]) -> float:
    """PSS (MiB) of ``root`` and its descendants now, shared pages counted once; records
    each process's peak RSS (VmHWM, KiB) in ``peaks`` on the way."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    pss_kib = 0
    for pid in tree:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        pss_kib += _field(rollup, "Pss:")
        peaks[pid] = max(peaks.get(pid, 0), _field(status, "VmHWM:"))
    return pss_kib / 1024


def _field(text: str, name: str) -> int:
    """A /proc figure in KiB; 0 when absent (a process that is exiting has no memory left)."""
    found = (int(line.split()[1]) for line in text.splitlines() if line.startswith(name))
    return next(found, 0)


def _batch_job(project: str, uri: str, src: str, dst: str, options: dict, queue: mp.Queue) -> None:
    import headway.batch

    ws = headway.use_workspace(project)
    # A fresh process pays once for starting the worker pool's fork server; measured apart.
    head = Path(dst).with_name("head.parquet")
    pq.write_table(pq.ParquetFile(src).read_row_group(0).slice(0, 1000), head)
    start = time.perf_counter()
    headway.batch.predict(uri, head, head.with_suffix(".out.parquet"), workspace=ws, **options)
    startup = time.perf_counter() - start
    result = headway.batch.predict(uri, src, dst, workspace=ws, **options)
    queue.put((startup, result.seconds, result.rows))


def batch_in_fresh_process(
    project: Path, uri: str, src: Path, dst: Path, options: dict[str, Any]
) -> dict[str, float]:
    """Seconds, rows/s and memory of one batch job after a first job of 1,000 rows (whose
    time is the fresh process's startup): the peak PSS of the process and its workers
    together, sampled every 0.1 s, and the sum of each one's peak RSS (an upper bound)."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(
        target=_batch_job, args=(str(project), uri, str(src), str(dst), options, queue)
    )
    proc.start()
    assert proc.pid is not None
    peak, peaks = 0.0, {}
    while proc.is_alive() and queue.empty():
        peak = max(peak, _tree_memory(proc.pid, peaks))
        time.sleep(0.1)
    startup, seconds, rows = queue.get()
    proc.join()
    return {
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds),
        "peak_mib": round(peak),
        "sum_of_process_peaks_mib": round(sum(peaks.values()) / 1024),
        "first_job_1000_rows_seconds": round(startup, 3),
    }


def in_memory(uri: str, src: Path, repeat: int, workspace: Any) -> tuple[dict[str, Any], Any]:
    """The reference: load the whole table once, then time ``model.predict`` on it."""
    import headway

    model = headway.load_model(uri, workspace=workspace)
    start = time.perf_counter()
    table = pq.read_table(src).to_pandas()
    load = time.perf_counter() - start
    model.predict(table.head(1000))  # warm caches, not the timing
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        predictions = model.predict(table)
        seconds.append(time.perf_counter() - start)
    best = min(seconds)
    return {
        "load_seconds": round(load, 3),
        "seconds_first": round(seconds[0], 3),
        "seconds_best": round(best, 3),
        "rows_per_s": round(len(table) / best),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }, predictions


def read_floor(src: Path, chunk_rows: int) -> float:
    """Seconds to stream every batch of the file and do nothing with it (best of 2)."""
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        for _ in pq.ParquetFile(src).iter_batches(batch_size=chunk_rows):
            pass
        seconds.append(time.perf_counter() - start)
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=None, help="Default: one per CPU.")
    parser.add_argument("--models", default="lr", help="Comma-separated: lr, rf.")
    parser.add_argument("--repeat", type=int, default=3, help="Reference timings per model.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import headway
    from headway.store.artifacts import sha256_file

    options = {"chunk_rows": args.chunk_rows, "workers": args.workers}
    results: dict[str, Any] = {"rows": args.rows, "cpus": os.cpu_count(), **options}
    with tempfile.TemporaryDirectory(prefix="headway-bench-batch-") as tmp:
        folder = Path(tmp)
        src = make_file(folder / "features.parquet", args.rows, args.seed)
        tenth = make_file(folder / "tenth.parquet", args.rows // 10, args.seed)
        results["file_mib"] = round(src.stat().st_size / 2**20)
        results["read_floor_seconds"] = round(read_floor(src, args.chunk_rows), 3)
        start = time.perf_counter()
        sha256_file(src)  # what logging the input costs the batch job, on another thread
        results["input_sha256_seconds"] = round(time.perf_counter() - start, 3)
        ws = headway.init(folder / "project")
        fitted = make_models(args.seed)
        for name in args.models.split(","):
            model, example = fitted[name]
            uri = headway.register_model(name, model, input_example=example, workspace=ws).uri
            dst = folder / f"predictions-{name}.parquet"
            batch = batch_in_fresh_process(folder / "project", uri, src, dst, options)
            small = batch_in_fresh_process(
                folder / "project", uri, tenth, dst.with_suffix(".tenth.parquet"), options
            )
            batch["peak_mib_tenth_of_the_rows"] = small["peak_mib"]
            batch["sum_of_process_peaks_mib_tenth_of_the_rows"] = small["sum_of_process_peaks_mib"]
            reference, expected = in_memory(uri, src, args.repeat, ws)
            same = bool(np.array_equal(pq.read_table(dst)["prediction"].to_numpy(), expected))
            first_rate = args.rows / reference["seconds_first"]
            results[name] = {
                "batch": batch,
                "in_memory": reference,
                "ratio": round(batch["rows_per_s"] / reference["rows_per_s"], 3),
                "ratio_vs_first_call": round(batch["rows_per_s"] / first_rate, 3),
                "same_predictions": same,
            }
            del expected
    print(json.dumps(results, indent=2))
    for name in args.models.split(","):
        r = results[name]
        verdict = "ok" if r["ratio"] >= TARGET_RATIO and r["same_predictions"] else "BELOW TARGET"
        print(
            f"batch {name}: {args.rows:,} rows in {r['batch']['seconds']:.1f} s = "
            f"{r['batch']['rows_per_s']:,} rows/s vs in-memory predict "
            f"{r['in_memory']['rows_per_s']:,} rows/s (best of {args.repeat}) = "
            f"{r['ratio']:.2f} (target >= {TARGET_RATIO}, {verdict}; "
            f"{r['ratio_vs_first_call']:.2f} vs its first call); peak "
            f"{r['batch']['peak_mib']:,} MiB ({r['batch']['peak_mib_tenth_of_the_rows']:,} MiB "
            f"over a tenth of the rows) vs {r['in_memory']['peak_mib']:,} MiB in memory; "
            f"reading the file alone {results['read_floor_seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
