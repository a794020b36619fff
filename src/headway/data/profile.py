"""Profiles: small, mergeable summaries of a table, one per column.

A column profile keeps counts over fixed bins — numeric bins whose edges are quantiles of
a reference, with open tails; categorical bins that are the reference's top values plus
"other" — together with missing counts, moments (count, mean, sum of squared deviations)
and a HyperLogLog sketch of distinct values. Two profiles over the same bins merge by
adding, so a monitor profiles each window once and gets hourly, daily, sliding and
cumulative views by merging: constant memory, any data size.

Files are read in batches (Parquet row groups, CSV blocks), so a file larger than memory
profiles in bounded memory. Per column the work is one sort (exact quantiles, distinct
count and histogram from the sorted values) plus a sketch update, run on a thread per
column batch so both cores work.

Examples
--------
>>> from headway.data import make_churn, merge, profile
>>> ref = profile(make_churn(1000, seed=1))
>>> ref.columns["plan"].kind, ref.columns["tenure_months"].kind
('categorical', 'numeric')
>>> both = merge(profile(make_churn(500, seed=2), bins_from=ref),
...              profile(make_churn(500, seed=3), bins_from=ref))
>>> both.rows
1000
"""

from __future__ import annotations

import base64
import json
import math
import os
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from headway._tabular import is_table, to_pandas
from headway.data import _hll
from headway.data._read import iter_batches
from headway.errors import InvalidArgumentError

__all__ = [
    "ColumnProfile",
    "Histogram",
    "Moments",
    "Profile",
    "merge",
    "profile",
    "quantiles_from_histogram",
]

NUMERIC, CATEGORICAL, BOOLEAN, DATETIME, TEXT = (
    "numeric",
    "categorical",
    "boolean",
    "datetime",
    "text",
)
KINDS = (NUMERIC, CATEGORICAL, BOOLEAN, DATETIME, TEXT)
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
DEFAULT_BINS = 50
TOP_K = 100  # categorical bins kept per column; the rest count as "other"
CATEGORICAL_MAX_DISTINCT = 1000
# How boolean cells read as categories, whichever way a table spells them.
BOOL_STRINGS: dict[Any, str] = {
    True: "True",
    False: "False",
    "true": "True",
    "false": "False",
    "True": "True",
    "False": "False",
}


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations: mergeable (Chan et al., 1979)."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float | None = None
    max: float | None = None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (ddof=1), as pandas reports it."""
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else None

    @classmethod
    def of(cls, sorted_values: np.ndarray) -> Moments:
        n = int(sorted_values.size)
        if n == 0:
            return cls()
        mean = float(np.mean(sorted_values))
        m2 = float(np.sum(np.square(sorted_values - mean)))
        return cls(n, mean, m2, float(sorted_values[0]), float(sorted_values[-1]))

    def __add__(self, other: Moments) -> Moments:
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        delta = other.mean - self.mean
        return Moments(
            n,
            self.mean + delta * other.count / n,
            self.m2 + other.m2 + delta * delta * self.count * other.count / n,
            _pick(min, self.min, other.min),
            _pick(max, self.max, other.max),
        )


def _pick(
    choose: Callable[[float, float], float], a: float | None, b: float | None
) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return choose(a, b)


@dataclass(frozen=True)
class Histogram:
    """Counts over fixed bins.

    Numeric: ``edges`` e0 < e1 < ... < ek give k + 2 bins, (-inf, e0), [e0, e1), ...,
    [ek, +inf). Categorical: ``categories`` give one bin each plus a last "other" bin.
    """

    counts: tuple[int, ...]
    edges: tuple[float, ...] | None = None
    categories: tuple[str, ...] | None = None

    def same_bins(self, other: Histogram) -> bool:
        return self.edges == other.edges and self.categories == other.categories

    def __add__(self, other: Histogram) -> Histogram:
        return replace(
            self, counts=tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        )

    @property
    def array(self) -> np.ndarray:
        return np.asarray(self.counts, dtype=np.int64)


@dataclass(frozen=True)
class ColumnProfile:
    """The summary of one column. Fields that do not apply to its kind are None."""

    name: str
    kind: str
    count: int  # rows, missing included
    missing: int
    distinct: int
    distinct_exact: bool
    histogram: Histogram
    moments: Moments | None = None  # numeric, datetime (ns), boolean (share of True)
    zeros: int | None = None
    quantiles: dict[str, float] | None = None
    quantiles_exact: bool = True
    lengths: Moments | None = None  # string lengths, for categorical and text
    sketch: str = ""  # HyperLogLog registers, base64

    @property
    def present(self) -> int:
        return self.count - self.missing

    @property
    def missing_rate(self) -> float:
        return self.missing / self.count if self.count else 0.0

    @property
    def top_values(self) -> list[tuple[str, int]]:
        """Categories by count, most frequent first ("other" excluded)."""
        cats = self.histogram.categories or ()
        pairs = zip(cats, self.histogram.counts[: len(cats)], strict=True)
        return sorted(pairs, key=lambda kv: -kv[1])

    @property
    def other_count(self) -> int:
        return self.histogram.counts[-1] if self.histogram.categories is not None else 0

    @property
    def std(self) -> float | None:
        return self.moments.std if self.moments else None

    def display(self, value: float | None) -> str:
        """A value of this column for people: a timestamp for datetimes (stored as ns)."""
        if value is None or math.isnan(value):
            return ""
        if self.kind == DATETIME:
            return pd.Timestamp(int(value)).isoformat()
        return f"{value:.4g}"


@dataclass(frozen=True)
class Profile:
    """A table's profile: per-column summaries plus row and duplicate counts."""

    rows: int
    duplicate_rows: int
    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    source: str = ""

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            raise InvalidArgumentError(
                f"the profile has no column {name!r}; it has {list(self.columns)}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        return cls(
            data["rows"],
            data["duplicate_rows"],
            {k: _column_from_dict(v) for k, v in data["columns"].items()},
            data.get("source", ""),
        )

    @classmethod
    def from_json(cls, text: str) -> Profile:
        return cls.from_dict(json.loads(text))


def _column_from_dict(d: dict[str, Any]) -> ColumnProfile:
    h = d["histogram"]
    hist = Histogram(
        tuple(h["counts"]),
        None if h["edges"] is None else tuple(h["edges"]),
        None if h["categories"] is None else tuple(h["categories"]),
    )
    return ColumnProfile(
        **{
            **d,
            "histogram": hist,
            "moments": None if d["moments"] is None else Moments(**d["moments"]),
            "lengths": None if d["lengths"] is None else Moments(**d["lengths"]),
        }
    )


# -- profiling -------------------------------------------------------------------------


def profile(
    table: Any,
    bins_from: Profile | None = None,
    bins: int = DEFAULT_BINS,
    batch_rows: int = 250_000,
    on_progress: Callable[[int], None] | None = None,
) -> Profile:
    """Profile a pandas, polars or pyarrow table, or a Parquet/CSV file read in batches.

    Parameters
    ----------
    table
        The data, or the path of a Parquet or CSV file.
    bins_from
        A reference profile whose kinds and bins to use, so the result merges with it and
        compares bin by bin. Without it, bins come from this data's quantiles and values.
    bins
        Number of quantile bins for numeric columns when ``bins_from`` is not given.
    batch_rows
        Rows held in memory at once when reading files.
    on_progress
        Called with the number of rows done after each batch (for progress bars).
    """
    if bins < 2:
        raise InvalidArgumentError(f"bins must be at least 2, got {bins}")
    batches = _batches(table, batch_rows)
    result: Profile | None = bins_from and _empty_like(bins_from)
    hashes: list[np.ndarray] = []
    done = 0
    for batch in batches:
        part, row_hashes = _profile_batch(batch, result, bins)
        hashes.append(row_hashes)
        result = part if result is None else _merge(result, part, check_bins=False)
        done += len(batch)
        if on_progress:
            on_progress(done)
    if result is None:
        raise InvalidArgumentError("the table has no columns to profile")
    distinct_rows = _distinct(np.concatenate(hashes)).size if hashes else 0
    source = str(table) if isinstance(table, str | os.PathLike) else ""
    return replace(result, duplicate_rows=result.rows - distinct_rows, source=source)


def _batches(table: Any, batch_rows: int) -> Iterator[pd.DataFrame]:
    if isinstance(table, str | os.PathLike):
        yield from iter_batches(Path(table), batch_rows)
    elif is_table(table) or isinstance(table, dict):
        df = to_pandas(table)
        # Profiles name columns by strings (they go to JSON); 0 and "0" are one column.
        yield df if all(isinstance(c, str) for c in df.columns) else df.rename(columns=str)
    else:
        raise InvalidArgumentError(
            f"cannot profile {type(table).__name__}; pass a pandas, polars or pyarrow table "
            "or the path of a Parquet or CSV file"
        )


def _empty_like(reference: Profile) -> Profile:
    columns = {}
    for name, col in reference.columns.items():
        hist = Histogram(
            (0,) * len(col.histogram.counts), col.histogram.edges, col.histogram.categories
        )
        columns[name] = ColumnProfile(
            name,
            col.kind,
            0,
            0,
            0,
            True,
            hist,
            moments=Moments() if col.moments is not None else None,
            zeros=0 if col.zeros is not None else None,
            quantiles=None,
            lengths=Moments() if col.lengths is not None else None,
            sketch=_encode(_hll.empty()),
        )
    return Profile(0, 0, columns)


def _profile_batch(
    df: pd.DataFrame, reference: Profile | None, bins: int
) -> tuple[Profile, np.ndarray]:
    """The batch's profile and the distinct hashes of its rows (for duplicate counting)."""
    if reference is not None:
        missing = [c for c in reference.columns if c not in df.columns]
        if missing:
            raise InvalidArgumentError(
                f"the table lacks column(s) {missing} of the reference profile; profile the "
                "same columns, or build the reference from this table"
            )
    names = list(reference.columns) if reference is not None else [str(c) for c in df.columns]

    def one(name: str) -> tuple[ColumnProfile, np.ndarray]:
        ref = reference.columns[name] if reference is not None else None
        return _profile_column(name, df[name], ref, bins)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(one, names))
    rows = np.zeros(len(df), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for _, hashes in results:  # order-sensitive combination: a row hash
            rows = rows * np.uint64(0x100000001B3) ^ hashes
    return Profile(len(df), 0, {c.name: c for c, _ in results}), _distinct(rows)


def infer_kind(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return BOOLEAN
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERIC
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return DATETIME
    if isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    present = series.dropna()
    if len(present) and pd.api.types.infer_dtype(present.head(1000), skipna=True) == "boolean":
        return BOOLEAN
    distinct = present.nunique()
    if distinct <= TOP_K or (
        distinct <= CATEGORICAL_MAX_DISTINCT and distinct <= 0.05 * len(present)
    ):
        return CATEGORICAL
    return TEXT


def _profile_column(
    name: str, series: pd.Series, ref: ColumnProfile | None, bins: int
) -> tuple[ColumnProfile, np.ndarray]:
    """The column's profile and a 64-bit hash of each of its values, row-aligned."""
    kind = ref.kind if ref is not None else infer_kind(series)
    if kind in (NUMERIC, DATETIME):
        return _numeric(name, series, kind, ref, bins)
    return _categorical(name, series, kind, ref)


def _numeric(
    name: str, series: pd.Series, kind: str, ref: ColumnProfile | None, bins: int
) -> tuple[ColumnProfile, np.ndarray]:
    try:
        values = _as_float(series, kind)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"column {name!r} should be {kind} (as in the reference) but holds "
            f"{series.dtype} values that do not convert: {exc}"
        ) from exc
    hashes = _hll.hash64(values)  # NaN hashes to one value, so missing cells match
    nan = np.isnan(values)
    present = np.sort(values[~nan])
    n = present.size
    if ref is not None and ref.histogram.edges is not None:
        edges = np.asarray(ref.histogram.edges)
    else:
        edges = (
            _distinct(_quantiles(present, np.linspace(0, 1, bins + 1)))
            if n
            else (np.asarray([0.0]))
        )
    counts = np.diff(np.searchsorted(present, edges, side="left"), prepend=0, append=n)
    zeros = int(np.searchsorted(present, 0.0, "right") - np.searchsorted(present, 0.0, "left"))
    distinct = int(np.count_nonzero(np.diff(present)) + 1) if n else 0
    column = ColumnProfile(
        name,
        kind,
        len(values),
        len(values) - n,
        distinct,
        True,
        Histogram(tuple(int(c) for c in counts), tuple(float(e) for e in edges)),
        moments=Moments.of(present),
        zeros=zeros,
        quantiles=_quantile_dict(present) if n else None,
        sketch=_encode(_hll.update(_hll.empty(), hashes[~nan])),
    )
    return column, hashes


def _as_float(series: pd.Series, kind: str) -> np.ndarray:
    if kind == DATETIME:
        stamps = (
            pd.to_datetime(series).dt.tz_localize(None)
            if getattr(series.dtype, "tz", None)
            else pd.to_datetime(series)
        )
        ns = stamps.astype("datetime64[ns]").to_numpy().view(np.int64).astype(np.float64)
        ns[stamps.isna().to_numpy()] = np.nan
        return ns
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort and a mask: faster than hash-based ``np.unique``)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if ordered.size else ordered


def _quantiles(sorted_values: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles of already-sorted values (NumPy's default method)."""
    pos = qs * (sorted_values.size - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, sorted_values.size - 1)
    return sorted_values[lo] + (pos - lo) * (sorted_values[hi] - sorted_values[lo])


def _quantile_dict(sorted_values: np.ndarray) -> dict[str, float]:
    found = _quantiles(sorted_values, np.asarray(QUANTILES))
    return {f"p{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, found, strict=True)}


def _categorical(
    name: str, series: pd.Series, kind: str, ref: ColumnProfile | None
) -> tuple[ColumnProfile, np.ndarray]:
    codes, uniques = pd.factorize(_as_strings(series, kind), use_na_sentinel=True)
    values = np.asarray(uniques, dtype=object)
    counts = np.bincount(codes[codes >= 0], minlength=len(values))
    present = int(counts.sum())
    order = np.argsort(-counts, kind="stable")
    if ref is not None and ref.histogram.categories is not None:
        categories = list(ref.histogram.categories)
    elif kind == BOOLEAN:
        categories = ["False", "True"]
    else:
        categories = [str(v) for v in values[order[:TOP_K]]]
    by_value = dict(zip(values.tolist(), counts.tolist(), strict=True))
    binned = [by_value.get(c, 0) for c in categories]
    unique_hashes = (
        pd.util.hash_array(values, categorize=False) if len(values) else (np.zeros(0, np.uint64))
    )
    hashes = np.where(
        codes >= 0, unique_hashes[np.maximum(codes, 0)] if len(values) else 0, _NA_HASH
    ).astype(np.uint64)
    lengths = None
    if kind in (CATEGORICAL, TEXT):
        lengths = _weighted_moments(
            pd.Series(values, dtype="string").str.len().to_numpy(dtype=np.float64), counts
        )
    moments = None
    if kind == BOOLEAN:
        share = by_value.get("True", 0) / present if present else 0.0
        moments = Moments(
            present,
            share,
            share * (1 - share) * present,
            0.0 if by_value.get("False") else 1.0,
            1.0 if by_value.get("True") else 0.0,
        )
    column = ColumnProfile(
        name,
        kind,
        len(series),
        len(series) - present,
        len(values),
        True,
        Histogram((*binned, present - sum(binned)), categories=tuple(categories)),
        moments=moments,
        lengths=lengths,
        sketch=_encode(_hll.update(_hll.empty(), unique_hashes)),
    )
    return column, hashes


_NA_HASH = np.uint64(0x5BD1E9955BD1E995)


def _weighted_moments(values: np.ndarray, weights: np.ndarray) -> Moments:
    """Moments of ``values`` each seen ``weights`` times (no expansion to rows)."""
    keep = weights > 0
    values, weights = values[keep], weights[keep].astype(np.float64)
    n = int(weights.sum())
    if n == 0:
        return Moments()
    mean = float(np.dot(values, weights) / n)
    m2 = float(np.dot(np.square(values - mean), weights))
    return Moments(n, mean, m2, float(values.min()), float(values.max()))


def _as_strings(series: pd.Series, kind: str) -> pd.Series:
    if kind == BOOLEAN:
        mapped = series.map(BOOL_STRINGS)
        return mapped.astype(object).where(series.notna(), None)
    if (
        pd.api.types.is_string_dtype(series.dtype)
        and not isinstance(series.dtype, pd.CategoricalDtype)
        and series.dtype != object
    ):
        return series
    return series.astype("string")


# -- merging ---------------------------------------------------------------------------


def merge(first: Profile, *others: Profile) -> Profile:
    """The profile of the concatenated data, from profiles built over the same bins.

    Counts, missing values, min/max, mean/std and histograms merge exactly; distinct
    counts merge through their sketches; quantiles are re-estimated from the merged
    histogram (``quantiles_exact`` is then False); duplicate rows are added, so rows
    duplicated across the merged tables are not counted.
    """
    result = first
    for other in others:
        result = _merge(result, other, check_bins=True)
    return result


def _merge(a: Profile, b: Profile, check_bins: bool) -> Profile:
    if list(a.columns) != list(b.columns):
        raise InvalidArgumentError(
            f"profiles have different columns ({list(a.columns)} vs {list(b.columns)}); "
            "merge profiles of the same table shape"
        )
    columns = {}
    for name, x in a.columns.items():
        y = b.columns[name]
        if check_bins and (x.kind != y.kind or not x.histogram.same_bins(y.histogram)):
            raise InvalidArgumentError(
                f"column {name!r} was binned differently in the two profiles; build the "
                "second with profile(table, bins_from=first) so they merge"
            )
        columns[name] = _merge_column(x, y)
    return Profile(a.rows + b.rows, a.duplicate_rows + b.duplicate_rows, columns, a.source)


def _merge_column(x: ColumnProfile, y: ColumnProfile) -> ColumnProfile:
    if x.count == 0:
        return (
            replace(
                y,
                histogram=Histogram(y.histogram.counts, x.histogram.edges, x.histogram.categories),
            )
            if y.count
            else x
        )
    if y.count == 0:
        return x
    sketch = _hll.merge(_decode(x.sketch), _decode(y.sketch))
    hist = x.histogram + y.histogram
    moments = _add_optional(x.moments, y.moments)
    exact_distinct = x.histogram.categories is not None and hist.counts[-1] == 0
    quantiles = None
    if moments is not None and x.kind in (NUMERIC, DATETIME) and moments.count:
        quantiles = quantiles_from_histogram(hist, moments)
    return replace(
        x,
        count=x.count + y.count,
        missing=x.missing + y.missing,
        distinct=(
            int(np.count_nonzero(hist.counts[:-1])) if exact_distinct else _hll.estimate(sketch)
        ),
        distinct_exact=exact_distinct,
        histogram=hist,
        moments=moments,
        zeros=None if x.zeros is None else x.zeros + (y.zeros or 0),
        quantiles=quantiles,
        quantiles_exact=quantiles is None,
        lengths=_add_optional(x.lengths, y.lengths),
        sketch=_encode(sketch),
    )


def _add_optional(a: Moments | None, b: Moments | None) -> Moments | None:
    if a is None or b is None:
        return a or b
    return a + b


def quantiles_from_histogram(hist: Histogram, moments: Moments) -> dict[str, float]:
    """Quantiles by linear interpolation in the histogram; the tails end at min and max."""
    assert hist.edges is not None and moments.min is not None and moments.max is not None
    lows = np.clip(np.concatenate([[moments.min], hist.edges]), moments.min, moments.max)
    highs = np.clip(np.concatenate([hist.edges, [moments.max]]), moments.min, moments.max)
    cum = np.cumsum(hist.array)
    total = cum[-1]
    out = {}
    for q in QUANTILES:
        target = q * total
        i = int(np.searchsorted(cum, target, side="left"))
        before = cum[i - 1] if i else 0
        share = (target - before) / hist.counts[i] if hist.counts[i] else 0.0
        out[f"p{round(q * 100):02d}"] = float(lows[i] + share * (highs[i] - lows[i]))
    return out


def _encode(registers: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(registers.tobytes(), 9)).decode("ascii")


def _decode(text: str) -> np.ndarray:
    if not text:
        return _hll.empty()
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=np.uint8).copy()
