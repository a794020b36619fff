"""Evaluation speed: metrics with bootstrap intervals against the same metrics once.

Run: ``.venv/bin/python bench/evaluate.py`` (prints JSON, then a one-line summary).

Synthetic binary task (1,000,000 rows by default): labels with a 30% positive rate and
the probabilities of a decent model. Target (issue "Evaluation"): evaluating with 200
bootstrap resamples takes at most 10x computing the same metrics once without intervals.
The headline figure evaluates the whole table and 20 slices, as the issue asks; the whole
table alone is reported too. Each step is one entry of ``STEPS``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

TARGET_RATIO = 10.0


def make_task(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of a decent model (ROC AUC about 0.8)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.3).astype(np.int64)
    logit = -1.0 + 1.6 * y + rng.normal(0.0, 1.0, rows)
    return y, 1.0 / (1.0 + np.exp(-logit))


def overall(y: np.ndarray, score: np.ndarray, resamples: int, seed: int) -> dict[str, Any]:
    """Seconds for the metrics once and with intervals, and the intervals' ratio."""
    from headway.evaluate import compute_metrics

    start = time.perf_counter()
    compute_metrics(y, y_score=score, n_bootstrap=0)
    once = time.perf_counter() - start
    start = time.perf_counter()
    report = compute_metrics(y, y_score=score, n_bootstrap=resamples, seed=seed)
    with_intervals = time.perf_counter() - start
    return {
        "seconds_once": round(once, 3),
        "seconds_with_intervals": round(with_intervals, 3),
        "ratio": round(with_intervals / once, 2),
        "metrics": {name: m.to_dict() for name, m in report.metrics.items()},
    }


def slices(y: np.ndarray, score: np.ndarray, resamples: int, seed: int) -> dict[str, Any]:
    """The whole table plus 20 slices (a 20-valued segment column), once vs with intervals."""
    from headway.evaluate import compute_metrics, define_slices, slice_metrics

    segment = np.random.default_rng(seed + 1).integers(0, 20, y.size)
    masks = define_slices({"segment": segment}, ["segment"])
    timings = {}
    for label, n in (("once", 0), ("with_intervals", resamples)):
        start = time.perf_counter()
        compute_metrics(y, y_score=score, n_bootstrap=n, seed=seed)
        slice_metrics(masks, y, y_score=score, n_bootstrap=n, seed=seed)
        timings[label] = time.perf_counter() - start
    return {
        "slices": len(masks),
        "seconds_once": round(timings["once"], 3),
        "seconds_with_intervals": round(timings["with_intervals"], 3),
        "ratio": round(timings["with_intervals"] / timings["once"], 2),
    }


STEPS: dict[str, Callable[[np.ndarray, np.ndarray, int, int], dict[str, Any]]] = {
    "overall": overall,
    "with_20_slices": slices,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from headway.evaluate import compute_metrics

    y, score = make_task(args.rows, args.seed)
    compute_metrics(y[:1000], y_score=score[:1000], n_bootstrap=10)  # warm imports
    results = {name: step(y, score, args.resamples, args.seed) for name, step in STEPS.items()}
    print(json.dumps({"rows": args.rows, "resamples": args.resamples, **results}, indent=2))
    o = results["with_20_slices"]
    verdict = "ok" if o["ratio"] <= TARGET_RATIO else "OVER TARGET"
    print(
        f"evaluate: {args.rows:,} rows, binary, 20 slices, {args.resamples} resamples: "
        f"{o['seconds_with_intervals']:.2f} s with intervals vs {o['seconds_once']:.2f} s once "
        f"= {o['ratio']:.1f}x (target <= {TARGET_RATIO:g}x, {verdict}); whole table alone "
        f"{results['overall']['ratio']:.1f}x"
    )


if __name__ == "__main__":
    main()
