"""Data engine speed: profile and compare against the raw floor, and memory vs file size.

Run: ``.venv/bin/python bench/data.py`` (prints JSON, then a one-line summary).

Generated Parquet, 25 columns (20 numeric, 5 categorical). The floor is what any tool
must do at least: read the file with pyarrow, then one ``np.histogram`` per numeric
column and one Arrow ``value_counts`` per categorical column. Targets (issue "Data
engine"): ``headway.profile`` of a file at most 3x the floor with peak memory flat in file
size (1M vs 4M rows); ``headway.compare`` of two files at most 5x the floor of the two.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NUMERIC, CATEGORICAL = 20, 5


def make_file(path: Path, rows: int, seed: int, shift: float = 0.0) -> Path:
    """Write the benchmark table in row groups of 250k rows (bounded memory)."""
    rng = np.random.default_rng(seed)
    schema = None
    writer = None
    for start in range(0, rows, 250_000):
        n = min(250_000, rows - start)
        cols = {
            f"x{i}": rng.normal(shift if i == 0 else 0.0, 1.0 + i / 10, n) for i in range(NUMERIC)
        }
        letters = np.array(list("abcdefghij"))
        cols |= {f"c{i}": letters[rng.integers(0, 4 + i, n)] for i in range(CATEGORICAL)}
        table = pa.table(cols)
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(path, schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    return path


def floor(path: Path) -> float:
    start = time.perf_counter()
    table = pq.read_table(path)
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_floating(column.type):
            np.histogram(column.to_numpy())
        else:
            pc.value_counts(column)
    return time.perf_counter() - start


def _profile_peak(path: str, queue: mp.Queue) -> None:
    from headway.data import profile

    start = time.perf_counter()
    profile(path)
    queue.put(
        (time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    )


def profile_in_fresh_process(path: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of profiling ``path`` in a fresh process."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_profile_peak, args=(str(path), queue))
    proc.start()
    seconds, peak = queue.get()
    proc.join()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=4_000_000)
    args = parser.parse_args()
    from headway.data import compare, profile

    with tempfile.TemporaryDirectory() as tmp:
        ref = make_file(Path(tmp) / "ref.parquet", args.rows, seed=1)
        cur = make_file(Path(tmp) / "cur.parquet", args.rows, seed=2, shift=0.3)
        profile(ref)  # warm imports and caches
        floor_s = min(floor(ref) for _ in range(3))
        start = time.perf_counter()
        profile(ref)
        profile_s = time.perf_counter() - start
        floor_two = min(floor(ref) + floor(cur) for _ in range(2))
        start = time.perf_counter()
        report = compare(ref, cur)
        compare_s = time.perf_counter() - start
        _, peak_small = profile_in_fresh_process(ref)
        big = make_file(Path(tmp) / "big.parquet", args.big_rows, seed=3)
        _, peak_big = profile_in_fresh_process(big)
    result = {
        "rows": args.rows,
        "floor_s": round(floor_s, 3),
        "profile_s": round(profile_s, 3),
        "profile_vs_floor": round(profile_s / floor_s, 2),
        "compare_s": round(compare_s, 3),
        "floor_two_files_s": round(floor_two, 3),
        "compare_vs_floor": round(compare_s / floor_two, 2),
        "drifted_features": report.drifted,
        "peak_mib_profile_1x": round(peak_small),
        "peak_mib_profile_4x": round(peak_big),
        "big_rows": args.big_rows,
    }
    print(json.dumps(result, indent=2))
    print(
        f"profile {result['profile_vs_floor']}x floor (target <= 3), compare "
        f"{result['compare_vs_floor']}x floor (target <= 5), peak memory "
        f"{result['peak_mib_profile_1x']} MiB at {args.rows:,} rows vs "
        f"{result['peak_mib_profile_4x']} MiB at {args.big_rows:,} rows"
    )


if __name__ == "__main__":
    main()
