"""A monitor's windows as dashboard time series: a bounded number of points, any history.

A deployment page covers up to 30 days. Rather than send 8,640 five-minute windows to the
browser, stored windows are merged into buckets (the shortest of the :data:`BUCKETS_MS`
ladder that gives at most :data:`MAX_POINTS` of them, and never shorter than a window):
counts add up; latency percentiles become the request-weighted mean of the windows'
percentiles (exact when a bucket holds one window); drift is the largest effect size in
the bucket; each check family shows the share of the bucket's windows it flagged. The
database returns only the values the charts draw (:func:`headway.store.monitors.window_values`).

The prediction distribution needs the window profiles (blobs in the artifact store), so
it reads at most :data:`MAX_PROFILES` windows, evenly spaced, and keeps their output
histograms in memory by sha256: a blob's content never changes, so the cache never goes
stale.
"""

from __future__ import annotations

import gc
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import orjson

from headway.data.profile import Profile
from headway.errors import InvalidArgumentError
from headway.reports.render import bin_shares
from headway.store import monitors as repo
from headway.workspace import Workspace

__all__ = [
    "FAMILIES",
    "RANGES",
    "DriftMap",
    "OutputDistribution",
    "PerformanceSeries",
    "Series",
    "Span",
    "WindowSeries",
    "output_distributions",
    "range_length",
    "span",
    "window_series",
]

MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
RANGES = {"24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}
BUCKETS_MS = (MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY)
MAX_POINTS = 720  # hourly points over 30 days
MAX_PROFILES = 360  # window profiles read for the prediction distribution
MAX_DISTRIBUTION_BUCKETS = 60
FAMILIES = ("quality", "feature_drift", "prediction_drift", "ops", "performance")
_PATHS = [
    "ops.latency_p50_ms",
    "ops.latency_p90_ms",
    "ops.latency_p99_ms",
    *[f"{family}.status" for family in FAMILIES],
    "feature_drift.scores",
    "feature_drift.drifted",
    "performance.metrics",
    "performance.reference",
]


@dataclass(frozen=True)
class Span:
    """The stretch of time a page shows, and the bucket its points merge windows into."""

    range: str
    start_ms: int
    end_ms: int
    bucket_ms: int


def span(range_name: str, window_ms: int, end_ms: int, first_ms: int | None = None) -> Span:
    """The last ``range_name`` (``24h``, ``7d``, ``30d``) before ``end_ms``, starting no
    earlier than ``first_ms`` (a monitor's start: no empty days before it), bucketed."""
    start = end_ms - range_length(range_name)
    if first_ms is not None:
        start = max(start, first_ms // window_ms * window_ms)
    start = min(start, end_ms - window_ms)
    return Span(range_name, start, end_ms, _bucket(end_ms - start, window_ms, MAX_POINTS))


def range_length(range_name: str) -> int:
    """The length of a named range in milliseconds."""
    if range_name not in RANGES:
        raise InvalidArgumentError(
            f"range {range_name!r} is not one of {', '.join(RANGES)}; pick one of those"
        )
    return RANGES[range_name]


def _bucket(length_ms: int, window_ms: int, points: int) -> int:
    """The shortest bucket on the ladder that is a whole number of windows and gives at
    most ``points`` buckets over ``length_ms``."""
    for size in BUCKETS_MS:
        if size >= window_ms and size % window_ms == 0 and length_ms / size <= points:
            return size
    return max(window_ms, -(-length_ms // points // window_ms) * window_ms)


@dataclass(frozen=True)
class Series:
    """Per bucket (start in epoch ms): traffic, errors, latency and flagged checks.

    ``None`` marks a bucket without windows (or without requests), never zero.
    ``flagged`` maps a check family to the share of the bucket's windows it flagged.
    """

    t: list[int]
    windows: list[int]
    requests: list[int | None]
    errors: list[int | None]
    error_rate: list[float | None]
    latency_p50_ms: list[float | None]
    latency_p90_ms: list[float | None]
    latency_p99_ms: list[float | None]
    labelled: list[int]
    flagged: dict[str, list[float | None]]


@dataclass(frozen=True)
class DriftMap:
    """Feature drift per bucket: the largest effect size, and the windows that flagged it."""

    t: list[int]
    features: list[str]
    effect: list[list[float | None]]  # [feature][bucket]
    drifted: list[list[int]]  # [feature][bucket]


@dataclass(frozen=True)
class PerformanceSeries:
    """Task metrics of labelled windows per bucket (weighted by labels), and the reference."""

    t: list[int]
    labelled: list[int]
    metrics: dict[str, list[float | None]]
    reference: dict[str, float]
    flagged: list[int]


@dataclass(frozen=True)
class WindowSeries:
    """Everything the deployment page draws from the stored windows of one span."""

    span: Span
    windows: int
    series: Series
    drift: DriftMap
    performance: PerformanceSeries


def window_series(ws: Workspace, monitor_id: str, spanned: Span) -> WindowSeries:
    """Read the windows of ``spanned`` (values only) and merge them into its buckets."""
    with ws.store.read() as conn:
        rows = repo.window_values(conn, monitor_id, spanned.start_ms, spanned.end_ms, _PATHS)
    with _no_gc():  # tens of thousands of small objects, none in a cycle
        values = orjson.loads("[" + ",".join(r[4] for r in rows) + "]")  # one parse
        starts = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        counts = np.array([r[1:4] for r in rows], dtype=np.float64).reshape(-1, 3)
        grid = _Grid(spanned, starts)
        series = _series(grid, counts, values)
        drift = _drift(grid, values)
        performance = _performance(grid, counts[:, 2], values)
    return WindowSeries(spanned, len(rows), series, drift, performance)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic collector while parsing many small acyclic objects (it would
    otherwise run full collections over everything the server holds, several times)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Grid:
    """Every bucket of a span (empty ones too, so gaps show), and each window's bucket."""

    def __init__(self, spanned: Span, starts: np.ndarray) -> None:
        size = spanned.bucket_ms
        first = spanned.start_ms // size * size
        self.size = -(-(spanned.end_ms - first) // size)
        self.t = [first + i * size for i in range(self.size)]
        self.index = ((starts - first) // size).astype(np.intp)

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per bucket, the sum of ``values`` (one row per window; any trailing shape)."""
        if values.ndim == 1:
            return np.bincount(self.index, weights=values, minlength=self.size)
        out = np.zeros((self.size, *values.shape[1:]))
        np.add.at(out, self.index, values)
        return out

    def max(self, values: np.ndarray) -> np.ndarray:
        out = np.full((self.size, *values.shape[1:]), np.nan)
        np.fmax.at(out, self.index, values)
        return out


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values.tolist()]


def _counts(values: np.ndarray, windows: np.ndarray) -> list[int | None]:
    """Counts per bucket; None where the bucket has no window (no data is not zero)."""
    return [int(v) if n else None for v, n in zip(values.tolist(), windows.tolist(), strict=True)]


def _weighted(grid: _Grid, values: np.ndarray, weights: np.ndarray) -> list[float | None]:
    """Per bucket: the mean of the finite ``values`` weighted by ``weights``."""
    known = np.isfinite(values) & (weights > 0)
    total = grid.sum(np.where(known, weights, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = grid.sum(np.where(known, values * weights, 0.0)) / total
    return _nullable(np.where(total > 0, mean, np.nan))


def _series(grid: _Grid, counts: np.ndarray, values: list[list[Any]]) -> Series:
    latency = np.array([v[0:3] for v in values], dtype=np.float64).reshape(-1, 3)
    windows = grid.sum(np.ones(len(values)))
    requests, errors, labelled = (grid.sum(counts[:, i]) for i in range(3))
    with np.errstate(invalid="ignore", divide="ignore"):
        error_rate = np.where(requests > 0, errors / requests, np.nan)
    flagged = {}
    for i, family in enumerate(FAMILIES):
        hits = np.fromiter((v[3 + i] == "flagged" for v in values), np.float64, len(values))
        with np.errstate(invalid="ignore", divide="ignore"):
            flagged[family] = _nullable(np.where(windows > 0, grid.sum(hits) / windows, np.nan))
    p50, p90, p99 = (_weighted(grid, latency[:, i], counts[:, 0]) for i in range(3))
    return Series(
        grid.t,
        windows.astype(int).tolist(),
        _counts(requests, windows),
        _counts(errors, windows),
        _nullable(error_rate),
        p50,
        p90,
        p99,
        labelled.astype(int).tolist(),
        flagged,
    )


def _drift(grid: _Grid, values: list[list[Any]]) -> DriftMap:
    scores: list[dict[str, float]] = [v[8] or {} for v in values]
    newest = tuple(scores[-1]) if scores else ()
    if newest and all(tuple(s) == newest for s in scores):  # the usual case: fixed features
        names = list(newest)
        order = {name: j for j, name in enumerate(names)}
        effect = np.array([list(s.values()) for s in scores], dtype=np.float64)
    else:  # features came and went: the newest windows' first, each window's by name
        order = {}
        for found in reversed(scores):
            for name in found:
                order.setdefault(name, len(order))
        names = list(order)
        effect = np.full((len(scores), len(names)), np.nan)
        for i, found in enumerate(scores):
            for name, value in found.items():
                effect[i, order[name]] = value
    if not names:
        return DriftMap(grid.t, [], [], [])
    flags = np.zeros((len(values), len(names)))
    for i, v in enumerate(values):
        for name in v[9] or ():
            if name in order:
                flags[i, order[name]] = 1.0
    biggest = grid.max(effect).T
    drifted = grid.sum(flags).T
    return DriftMap(
        grid.t,
        names,
        [_nullable(row) for row in biggest],
        drifted.astype(int).tolist(),
    )


def _performance(grid: _Grid, labelled: np.ndarray, values: list[list[Any]]) -> PerformanceSeries:
    has = [i for i, v in enumerate(values) if v[10]]
    names = sorted({k for i in has for k in values[i][10]})
    metrics = {}
    for name in names:
        column = np.full(len(values), np.nan)
        for i in has:
            found = values[i][10].get(name)
            if isinstance(found, int | float):
                column[i] = found
        metrics[name] = _weighted(grid, column, labelled)
    reference: dict[str, Any] = next((values[i][11] for i in reversed(has) if values[i][11]), {})
    flagged = np.fromiter((v[7] == "flagged" for v in values), np.float64, len(values))
    return PerformanceSeries(
        grid.t,
        grid.sum(labelled).astype(int).tolist(),
        metrics,
        {k: float(v) for k, v in reference.items() if isinstance(v, int | float)},
        grid.sum(flagged).astype(int).tolist(),
    )


# -- prediction distribution -----------------------------------------------------------


@dataclass(frozen=True)
class OutputDistribution:
    """One output column's distribution per bucket, over the reference's bins.

    ``shares[bin][bucket]`` is the bucket's share of values in that bin (None: no rows);
    ``reference`` the reference's shares. Read from ``windows_read`` of the span's
    ``windows_total`` windows, evenly spaced.
    """

    column: str
    t: list[int]
    bins: list[str]
    shares: list[list[float | None]]
    reference: list[float]
    windows_read: int
    windows_total: int


class _OutputCache:
    """Output histograms of window profiles by blob sha256, least recently used out."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._items: OrderedDict[str, dict[str, list[int]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ws: Workspace, sha256: str) -> dict[str, list[int]]:
        with self._lock:
            found = self._items.get(sha256)
            if found is not None:
                self._items.move_to_end(sha256)
                return found
        outputs = orjson.loads(ws.artifacts.get_bytes(sha256)).get("outputs") or {}
        found = {
            name: column["histogram"]["counts"]
            for name, column in (outputs.get("columns") or {}).items()
        }
        with self._lock:
            self._items[sha256] = found
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return found


_outputs = _OutputCache()


def output_distributions(
    ws: Workspace,
    monitor_id: str,
    reference: Profile | None,
    spanned: Span,
    window_ms: int,
    columns: int = 3,
) -> list[OutputDistribution]:
    """The outputs' distributions over time: ``prediction`` and the class scores (for a
    binary classifier only the positive class's, the other being its complement)."""
    if reference is None or not reference.columns:
        return []
    scores = sorted(c for c in reference.columns if c != "prediction")
    if len(scores) == 2 and all(c.startswith("proba_") for c in scores):
        scores = scores[1:]
    names = (["prediction"] if "prediction" in reference.columns else []) + scores
    names = names[:columns]
    possible = (spanned.end_ms - spanned.start_ms) // window_ms
    every = max(1, -(-possible // MAX_PROFILES)) * window_ms
    with ws.store.read() as conn:
        stored = repo.count_windows(conn, monitor_id, spanned.start_ms, spanned.end_ms)
        sampled = repo.window_profiles(
            conn, monitor_id, spanned.start_ms, spanned.end_ms, every, spanned.end_ms - window_ms
        )
    length = spanned.end_ms - spanned.start_ms
    bucket = _bucket(length, window_ms, MAX_DISTRIBUTION_BUCKETS)
    grid = _Grid(
        Span(spanned.range, spanned.start_ms, spanned.end_ms, bucket),
        np.array([s for s, _, _ in sampled], dtype=np.int64),
    )
    histograms = [_outputs.get(ws, sha) for _, _, sha in sampled]
    result = []
    for name in names:
        column = reference.columns[name]
        labels, ref_shares = bin_shares(column)
        counts = np.zeros((len(sampled), len(labels)))
        for i, histogram in enumerate(histograms):
            values = histogram.get(name)
            if values is not None and len(values) == len(labels):
                counts[i] = values
        per_bucket = grid.sum(counts).T
        total = per_bucket.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(total > 0, per_bucket / total, np.nan)
        seen = (per_bucket.sum(axis=1) > 0) | (np.asarray(ref_shares) > 0)  # drop empty bins
        shown = _class_labels(labels, column.histogram.edges)
        result.append(
            OutputDistribution(
                name,
                grid.t,
                [label for label, keep in zip(shown, seen, strict=True) if keep],
                [_nullable(row) for row, keep in zip(shares, seen, strict=True) if keep],
                [float(v) for v, keep in zip(ref_shares, seen, strict=True) if keep],
                len(sampled),
                stored,
            )
        )
    return result


def _class_labels(labels: list[str], edges: tuple[float, ...] | None) -> list[str]:
    """Bins between consecutive whole-number edges hold one class: name it (``0``, not
    ``0 to 1``), as a numeric 0/1 ``prediction`` column has them."""
    if not edges or any(b - a != 1 or a != int(a) for a, b in pairwise(edges)):
        return labels
    return [labels[0], *(f"{int(e):d}" for e in edges[:-1]), f"{int(edges[-1]):d} or more"]
