"""Windows: fixed spans of logged traffic, each summarised once into mergeable counts.

A window is ``[start, start + length)`` in epoch milliseconds, aligned to multiples of its
length (hourly windows start on the hour, daily ones at midnight UTC), so two monitors
with the same length agree on their windows and a backfill recomputes the same spans.

Each window keeps a :class:`WindowProfile`: a data-engine :class:`~headway.data.Profile`
of the model's inputs and one of its outputs, binned with the *reference's* bins, plus
operational counts (requests, errors, a log-spaced latency histogram) and data-quality
counts (out-of-range values, values of the wrong type, unknown and absent columns).
Everything in it merges by adding, so daily, sliding and cumulative views come from
:func:`merge_windows` over stored windows, never from re-reading raw logs.

Rows arrive in batches (:func:`summarise` takes any iterable of Arrow batches) and each
batch is folded into the running summary, so memory holds one batch, not a window.

What a window profile leaves out, to stay cheap (nothing is sorted or hashed; each count
is a vectorised comparison): distinct-value sketches (``distinct`` is 0, ``distinct_exact``
False), duplicate rows (0), and exact quantiles: a window's quantiles are interpolated in
its histogram over the reference's bins between its exact minimum and maximum
(``quantiles_exact`` False), as for any merged view, so one window and a merge of many
report the same kind of figure. Drift and quality checks use none of the three.

Latency percentiles are not mergeable, so they are read off the latency histogram: 50
log-spaced bins per decade from 1 microsecond to 1,000 s, so an estimate is within 2.3%
of the true value, for a single window and for any merge of windows alike.

Examples
--------
>>> window_seconds("1h"), window_seconds("15m"), window_seconds(90)
(3600, 900, 90)
>>> window_starts(0, 10_000, 3_000)
[0, 3000, 6000]
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from headway.data.profile import (
    BOOL_STRINGS,
    BOOLEAN,
    DATETIME,
    NUMERIC,
    ColumnProfile,
    Histogram,
    Moments,
    Profile,
    merge,
    quantiles_from_histogram,
)
from headway.errors import InvalidArgumentError

__all__ = [
    "LatencyHistogram",
    "OpsStats",
    "QualityCounts",
    "WindowProfile",
    "merge_windows",
    "summarise",
    "window_seconds",
    "window_starts",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WINDOW = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*")
# 50 bins per decade from 1e-3 ms to 1e6 ms: the geometric midpoint of a bin is within
# 10 ** (1 / 100) - 1 = 2.3% of every value in it.
LATENCY_EDGES = 10.0 ** np.linspace(-3.0, 6.0, 451)


def window_seconds(window: str | int | float | timedelta) -> int:
    """A window length in whole seconds, from ``"90s"``, ``"5m"``, ``"1h"``, ``"1d"`` or seconds."""
    if isinstance(window, timedelta):
        seconds = window.total_seconds()
    elif isinstance(window, int | float) and not isinstance(window, bool):
        seconds = float(window)
    elif isinstance(window, str) and (match := _WINDOW.fullmatch(window)):
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise InvalidArgumentError(
            f"window {window!r} is not a length; use seconds or text like '30s', '5m', '1h', '1d'"
        )
    if seconds < 1 or seconds != int(seconds):
        raise InvalidArgumentError(
            f"a window must be a whole number of seconds, at least 1; got {window!r}"
        )
    return int(seconds)


def window_starts(start_ms: int, end_ms: int, length_ms: int) -> list[int]:
    """Starts of the aligned windows that lie wholly within ``[start_ms, end_ms)``.

    The first window is the first aligned one starting at or after ``start_ms``.
    """
    if length_ms <= 0:
        raise InvalidArgumentError(f"window length must be positive, got {length_ms} ms")
    first = -(-start_ms // length_ms) * length_ms
    last = end_ms // length_ms * length_ms  # windows start before this one ends
    return list(range(first, last, length_ms))


@dataclass(frozen=True)
class LatencyHistogram:
    """Counts of latencies over :data:`LATENCY_EDGES`, stored sparsely (bins with rows)."""

    bins: tuple[int, ...] = ()
    counts: tuple[int, ...] = ()

    @classmethod
    def of(cls, latency_ms: np.ndarray) -> LatencyHistogram:
        values = np.sort(latency_ms[~np.isnan(latency_ms)])
        dense = np.diff(
            np.searchsorted(values, LATENCY_EDGES, side="left"), prepend=0, append=values.size
        )
        return cls._from_dense(dense)

    @classmethod
    def _from_dense(cls, dense: np.ndarray) -> LatencyHistogram:
        nonzero = np.flatnonzero(dense)
        return cls(tuple(nonzero.tolist()), tuple(dense[nonzero].tolist()))

    def _dense(self) -> np.ndarray:
        dense = np.zeros(LATENCY_EDGES.size + 1, dtype=np.int64)
        dense[list(self.bins)] = self.counts
        return dense

    def __add__(self, other: LatencyHistogram) -> LatencyHistogram:
        return self._from_dense(self._dense() + other._dense())

    @property
    def count(self) -> int:
        return int(sum(self.counts))

    def quantile(self, q: float) -> float | None:
        """The latency at quantile ``q`` (geometric midpoint of its bin); None when empty."""
        if not self.counts:
            return None
        cum = np.cumsum(self.counts)
        i = self.bins[int(np.searchsorted(cum, q * cum[-1], side="left"))]
        if i == 0:
            return float(LATENCY_EDGES[0])
        if i == LATENCY_EDGES.size:
            return float(LATENCY_EDGES[-1])
        return float(math.sqrt(LATENCY_EDGES[i - 1] * LATENCY_EDGES[i]))


@dataclass(frozen=True)
class OpsStats:
    """Operational counts of a window: requests, errors and latencies (mergeable)."""

    requests: int = 0
    server_errors: int = 0  # status >= 500: the model or the server failed
    client_errors: int = 0  # status 4xx: the request was wrong
    latency_sum_ms: float = 0.0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    @classmethod
    def of(cls, status: np.ndarray, latency_ms: np.ndarray) -> OpsStats:
        latency = latency_ms[~np.isnan(latency_ms)]
        return cls(
            int(status.size),
            int(np.count_nonzero(status >= 500)),
            int(np.count_nonzero((status >= 400) & (status < 500))),
            float(latency.sum()),
            LatencyHistogram.of(latency),
        )

    def __add__(self, other: OpsStats) -> OpsStats:
        return OpsStats(
            self.requests + other.requests,
            self.server_errors + other.server_errors,
            self.client_errors + other.client_errors,
            self.latency_sum_ms + other.latency_sum_ms,
            self.latency + other.latency,
        )

    @property
    def error_rate(self) -> float | None:
        """Share of requests that failed on the server side (status >= 500)."""
        return self.server_errors / self.requests if self.requests else None

    @property
    def latency_mean_ms(self) -> float | None:
        n = self.latency.count
        return self.latency_sum_ms / n if n else None

    def latency_ms(self, q: float) -> float | None:
        return self.latency.quantile(q)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OpsStats:
        hist = data["latency"]
        return cls(
            **{
                **data,
                "latency": LatencyHistogram(tuple(hist["bins"]), tuple(hist["counts"])),
            }
        )


@dataclass(frozen=True)
class QualityCounts:
    """Data-quality counts a profile cannot hold, by column (mergeable by adding).

    ``out_of_range``: present values below the reference's minimum or above its maximum;
    ``type_errors``: values that do not convert to the reference's kind (text in a numeric
    column); ``unknown_columns``: non-missing values of columns the reference lacks;
    ``absent_columns``: rows whose log had no such column at all.
    """

    out_of_range: dict[str, int] = field(default_factory=dict)
    type_errors: dict[str, int] = field(default_factory=dict)
    unknown_columns: dict[str, int] = field(default_factory=dict)
    absent_columns: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: QualityCounts) -> QualityCounts:
        def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {k: a.get(k, 0) + b.get(k, 0) for k in {**a, **b}}

        return QualityCounts(
            add(self.out_of_range, other.out_of_range),
            add(self.type_errors, other.type_errors),
            add(self.unknown_columns, other.unknown_columns),
            add(self.absent_columns, other.absent_columns),
        )


@dataclass(frozen=True)
class WindowProfile:
    """Everything a monitor keeps of one window (or of several merged): mergeable."""

    start_ms: int
    end_ms: int
    rows: int
    inputs: Profile
    outputs: Profile | None
    ops: OpsStats
    quality: QualityCounts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowProfile:
        outputs = data["outputs"]
        return cls(
            data["start_ms"],
            data["end_ms"],
            data["rows"],
            Profile.from_dict(data["inputs"]),
            None if outputs is None else Profile.from_dict(outputs),
            OpsStats.from_dict(data["ops"]),
            QualityCounts(**data["quality"]),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> WindowProfile:
        return cls.from_dict(json.loads(text))


def merge_windows(first: WindowProfile, *others: WindowProfile) -> WindowProfile:
    """One profile of several windows (any order, gaps allowed), spanning all of them."""
    result = first
    for other in others:
        result = WindowProfile(
            min(result.start_ms, other.start_ms),
            max(result.end_ms, other.end_ms),
            result.rows + other.rows,
            merge(result.inputs, other.inputs),
            None
            if result.outputs is None or other.outputs is None
            else merge(result.outputs, other.outputs),
            result.ops + other.ops,
            result.quality + other.quality,
        )
    return result


def summarise(
    batches: Iterable[pa.RecordBatch | pa.Table],
    start_ms: int,
    end_ms: int,
    inputs: Profile,
    outputs: Profile | None = None,
) -> WindowProfile:
    """Summarise a window's logged rows, batch by batch, over the reference's bins.

    Parameters
    ----------
    batches
        Prediction-log rows with (at least) the columns ``inputs`` and ``outputs``
        (structs), ``latency_ms`` and ``status``; already restricted to the window.
    start_ms, end_ms
        The window.
    inputs, outputs
        The reference profiles whose columns, kinds and bins the window uses.
    """
    result = _empty(start_ms, end_ms, inputs, outputs)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for batch in batches:
            if batch.num_rows:
                part = _summarise_batch(batch, start_ms, end_ms, inputs, outputs, pool)
                result = merge_windows(result, part)
    return result


def _empty(start_ms: int, end_ms: int, inputs: Profile, outputs: Profile | None) -> WindowProfile:
    """A window without rows: zero counts over the reference's bins."""
    none = pa.table({})
    with ThreadPoolExecutor(max_workers=1) as pool:
        empty_outputs = None if outputs is None else _start_struct(none, outputs, pool)()[0]
        return WindowProfile(
            start_ms,
            end_ms,
            0,
            _start_struct(none, inputs, pool)()[0],
            empty_outputs,
            OpsStats(),
            QualityCounts(),
        )


def _summarise_batch(
    batch: pa.RecordBatch | pa.Table,
    start_ms: int,
    end_ms: int,
    inputs: Profile,
    outputs: Profile | None,
    pool: ThreadPoolExecutor,
) -> WindowProfile:
    # Every column (and the ops counts) is one task, so both cores stay busy throughout.
    ops = pool.submit(
        lambda: OpsStats.of(_numbers(batch.column("status")), _numbers(batch.column("latency_ms")))
    )
    pending = [_start_struct(_fields(batch.column("inputs")), inputs, pool)]
    if outputs is not None:
        pending.append(_start_struct(_fields(batch.column("outputs")), outputs, pool, "outputs."))
    (profiled, quality), *rest = [finish() for finish in pending]
    out_profile = None
    if rest:
        out_profile, out_quality = rest[0]
        quality = quality + out_quality
    return WindowProfile(
        start_ms, end_ms, batch.num_rows, profiled, out_profile, ops.result(), quality
    )


def _numbers(column: Any) -> np.ndarray:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return np.asarray(pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _fields(column: Any) -> pa.Table:
    """A struct column's fields as a table (no copy); an empty table for a null column."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_struct(array.type):
        return pa.table({})
    return pa.Table.from_struct_array(array)


def _start_struct(
    table: pa.Table, reference: Profile, pool: ThreadPoolExecutor, prefix: str = ""
) -> Callable[[], tuple[Profile, QualityCounts]]:
    """Start profiling the reference's columns of ``table``; call the result to collect.

    Also counts what does not fit the reference: unknown and absent columns, values out
    of range or of the wrong type.
    """
    rows = table.num_rows
    present = set(table.column_names)

    def one(name: str) -> tuple[ColumnProfile, int, int]:
        column = table.column(name).combine_chunks() if name in present else pa.nulls(rows)
        return _profile_column(column, reference.columns[name])

    futures = [pool.submit(one, name) for name in reference.columns]

    def finish() -> tuple[Profile, QualityCounts]:
        results = [f.result() for f in futures]
        unknown = {
            prefix + name: rows - table.column(name).null_count
            for name in table.column_names
            if name not in reference.columns
        }
        quality = QualityCounts(
            out_of_range={prefix + c.name: below for c, below, _ in results if below},
            type_errors={prefix + c.name: bad for c, _, bad in results if bad},
            unknown_columns={k: v for k, v in unknown.items() if v},
            absent_columns={
                prefix + name: rows for name in reference.columns if name not in present and rows
            },
        )
        return Profile(rows, 0, {c.name: c for c, _, _ in results}), quality

    return finish


def _profile_column(column: pa.Array, ref: ColumnProfile) -> tuple[ColumnProfile, int, int]:
    """(profile, out-of-range count, type-error count) of one column over ``ref``'s bins."""
    if ref.kind in (NUMERIC, DATETIME):
        return _numeric(column, ref)
    return _categorical(column, ref)


def _as_float(column: pa.Array, kind: str) -> tuple[np.ndarray, int]:
    """The column as float64 with NaN for missing values, and how many did not convert."""
    if pa.types.is_null(column.type):
        return np.full(len(column), np.nan), 0
    if kind == DATETIME and pa.types.is_timestamp(column.type):
        column = pc.cast(column, pa.timestamp("ns", tz=column.type.tz)).cast(pa.int64())
    if (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_boolean(column.type)
        or pa.types.is_decimal(column.type)
    ):
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.float64), 0
    parsed = pd.to_numeric(column.to_pandas(), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return parsed, int(np.count_nonzero(np.isnan(parsed))) - column.null_count


def _numeric(column: pa.Array, ref: ColumnProfile) -> tuple[ColumnProfile, int, int]:
    # No sort: each count is one vectorised comparison per reference edge, and quantiles
    # are read off the histogram, as for any merged profile.
    values, bad = _as_float(column, ref.kind)
    missing = np.isnan(values)
    present = values[~missing] if missing.any() else values
    n = int(present.size)
    edges = np.asarray(ref.histogram.edges, dtype=np.float64)
    below = np.fromiter((np.count_nonzero(present < e) for e in edges), np.int64, edges.size)
    counts = np.diff(below, prepend=0, append=n)
    outside = 0
    if ref.moments is not None and ref.moments.min is not None and ref.moments.max is not None:
        outside = int(np.count_nonzero((present < ref.moments.min) | (present > ref.moments.max)))
    moments = Moments()
    if n:
        mean = float(present.mean())
        deviation = present - mean
        moments = Moments(
            n, mean, float(np.dot(deviation, deviation)), float(present.min()), float(present.max())
        )
    histogram = Histogram(tuple(counts.tolist()), ref.histogram.edges)
    profile = ColumnProfile(
        ref.name,
        ref.kind,
        len(values),
        len(values) - n,
        0,
        False,
        histogram,
        moments=moments,
        zeros=int(np.count_nonzero(present == 0.0)),
        quantiles=quantiles_from_histogram(histogram, moments) if n else None,
        quantiles_exact=False,
    )
    return profile, outside, bad


def _categorical(column: pa.Array, ref: ColumnProfile) -> tuple[ColumnProfile, int, int]:
    categories = ref.histogram.categories or ()
    rows = len(column)
    distinct = pa.array([], pa.string())
    seen = np.zeros(0, dtype=np.int64)
    if not (pa.types.is_null(column.type) or column.null_count == rows):
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            column = pc.cast(column, pa.string())
        counted = pc.value_counts(column.drop_null())
        distinct = counted.field("values")
        seen = np.asarray(counted.field("counts"), dtype=np.int64)
    values = distinct.to_pylist()
    if ref.kind == BOOLEAN:  # "true" / "True" / "false" all read as the profile's words
        values = [BOOL_STRINGS.get(v, v) for v in values]
    index = pd.Index(categories).get_indexer(pd.Index(values, dtype=object))
    binned = np.zeros(len(categories) + 1, dtype=np.int64)
    np.add.at(binned, np.where(index >= 0, index, len(categories)), seen)
    present = int(seen.sum())
    moments = None
    if ref.kind == BOOLEAN:
        trues = int(binned[categories.index("True")]) if "True" in categories else 0
        share = trues / present if present else 0.0
        moments = Moments(
            present,
            share,
            share * (1 - share) * present,
            (0.0 if trues < present else 1.0) if present else None,
            (1.0 if trues else 0.0) if present else None,
        )
    lengths = None
    if ref.lengths is not None:
        sizes = pc.utf8_length(distinct).to_numpy(zero_copy_only=False)
        lengths = _weighted_moments(np.asarray(sizes, dtype=np.float64), seen)
    profile = ColumnProfile(
        ref.name,
        ref.kind,
        rows,
        rows - present,
        0,
        False,
        Histogram(tuple(binned.tolist()), categories=ref.histogram.categories),
        moments=moments,
        lengths=lengths,
    )
    return profile, 0, 0


def _weighted_moments(values: np.ndarray, weights: np.ndarray) -> Moments:
    """Moments of ``values`` each seen ``weights`` times (per distinct value, not per row)."""
    n = int(weights.sum())
    if n == 0:
        return Moments()
    w = weights.astype(np.float64)
    mean = float(np.dot(values, w) / n)
    m2 = float(np.dot(np.square(values - mean), w))
    return Moments(n, mean, m2, float(values.min()), float(values.max()))
