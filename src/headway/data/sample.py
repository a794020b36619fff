"""Sample rows from a table, or from a stream of tables too big to hold at once.

- :func:`reservoir_sample`: a uniform sample of ``k`` rows from batches seen once, holding at
  most ``k`` rows plus the batch at hand.
- :func:`stratified_sample`: a sample in which every stratum keeps its share of the table.
- :func:`weighted_sample`: rows drawn with probability proportional to a weight.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from headway._tabular import to_pandas
from headway.errors import InvalidArgumentError

__all__ = ["reservoir_sample", "stratified_sample", "weighted_sample"]


def _check_count(name: str, value: Any, *, at_most: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidArgumentError(f"{name} must be a positive integer but is {value!r}")
    if at_most is not None and value > at_most:
        raise InvalidArgumentError(
            f"{name}={value} is more than the {at_most} rows there are to sample from; "
            f"pass {name} of at most {at_most}"
        )
    return int(value)


def reservoir_sample(batches: Iterable[Any], k: int, seed: int = 0) -> pd.DataFrame:
    """A uniform sample without replacement of ``k`` rows from a stream of tables.

    Every row gets a uniform random key and the sample is the ``k`` rows with the smallest
    keys, which is a uniform sample (Efraimidis & Spirakis, "Weighted random sampling with a
    reservoir", 2006, with equal weights). The stream is read once; at any moment only the
    ``k`` kept rows and the current batch are held, and a batch's rows whose keys cannot beat
    the kept ones are dropped before any copy.

    Parameters
    ----------
    batches
        An iterable (a generator is fine) of pandas, polars or pyarrow tables or record
        batches, all with the same columns.
    k
        The sample size. A stream of fewer than ``k`` rows is returned whole.
    seed
        Seed of the random keys.

    Returns
    -------
    pandas.DataFrame
        The sampled rows in stream order, indexed by their 0-based position in the stream.

    Examples
    --------
    >>> import pandas as pd
    >>> stream = (pd.DataFrame({"x": range(start, start + 100)}) for start in range(0, 1000, 100))
    >>> sample = reservoir_sample(stream, k=5, seed=1)
    >>> len(sample), bool((sample["x"] == sample.index).all())
    (5, True)
    """
    k = _check_count("k", k)
    rng = np.random.default_rng(seed)
    kept: pd.DataFrame | None = None
    kept_keys = np.empty(0)
    kept_positions = np.empty(0, dtype=np.int64)
    seen = 0
    for number, batch in enumerate(batches):
        frame = to_pandas(batch)
        if kept is not None and list(frame.columns) != list(kept.columns):
            raise InvalidArgumentError(
                f"batch {number} has columns {list(frame.columns)} but the batches before it "
                f"have {list(kept.columns)}; every batch must have the same columns"
            )
        keys = rng.random(len(frame))
        positions = np.arange(seen, seen + len(frame), dtype=np.int64)
        seen += len(frame)
        if len(kept_keys) == k:
            # Only rows whose key beats the largest kept key can enter the sample.
            entering = keys < kept_keys.max()
            frame, keys, positions = frame[entering], keys[entering], positions[entering]
        if kept is None:
            kept = frame
        elif len(frame):
            kept = pd.concat([kept, frame], ignore_index=True)
        else:
            continue
        kept_keys = np.concatenate([kept_keys, keys])
        kept_positions = np.concatenate([kept_positions, positions])
        if len(kept_keys) > k:
            smallest = np.argpartition(kept_keys, k - 1)[:k]
            kept, kept_keys = kept.iloc[smallest], kept_keys[smallest]
            kept_positions = kept_positions[smallest]
    if kept is None:
        return pd.DataFrame()
    order = np.argsort(kept_positions)
    return kept.iloc[order].set_axis(pd.Index(kept_positions[order]), axis=0)


def _largest_remainder(counts: np.ndarray, total: int) -> np.ndarray:
    """Integer quotas proportional to ``counts`` that add up to ``total`` (Hamilton's method)."""
    exact = counts * (total / counts.sum())
    quotas = np.floor(exact).astype(np.int64)
    short = total - int(quotas.sum())
    # Stable, so ties in the remainder go to the stratum met first in the table.
    quotas[np.argsort(-(exact - quotas), kind="stable")[:short]] += 1
    return quotas


def stratified_sample(
    table: Any,
    by: str | Sequence[str],
    n: int | None = None,
    frac: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """A sample without replacement in which every stratum keeps its share of the table.

    Each stratum's quota is its share of the sample size, rounded by the largest-remainder
    method so the quotas add up to the sample size exactly; a stratum too small for a whole
    row at this size gets none. Within a stratum, rows are drawn uniformly.

    Parameters
    ----------
    table
        A pandas, polars or pyarrow table.
    by
        The column, or columns, whose values (missing values included) make the strata.
    n
        The sample size, between 1 and the number of rows. Pass exactly one of n and frac.
    frac
        The sample size as a share of the rows, in (0, 1].
    seed
        Seed of the draw.

    Returns
    -------
    pandas.DataFrame
        The sampled rows in table order, with their index labels.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"plan": ["a"] * 80 + ["b"] * 20, "x": range(100)})
    >>> stratified_sample(df, "plan", n=10)["plan"].value_counts().to_dict()
    {'a': 8, 'b': 2}
    """
    df = to_pandas(table)
    columns = [by] if isinstance(by, str) else list(by)
    missing = [column for column in columns if column not in df.columns]
    if missing or not columns:
        raise InvalidArgumentError(
            f"by={by!r} names no column of the table ({missing or 'none given'}); "
            f"available columns: {', '.join(map(str, df.columns))}"
        )
    if (n is None) == (frac is None):
        raise InvalidArgumentError(f"pass exactly one of n and frac (got n={n!r}, frac={frac!r})")
    if frac is not None:
        if not 0 < frac <= 1:
            raise InvalidArgumentError(f"frac must be in (0, 1] but is {frac!r}")
        n = max(1, round(frac * len(df)))
    size = _check_count("n", n, at_most=len(df))
    strata = df.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()
    counts = np.bincount(strata)
    quotas = _largest_remainder(counts, size)
    # Shuffle rows within each stratum by sorting on random keys; keep each one's first rows.
    keys = np.random.default_rng(seed).random(len(df))
    order = np.lexsort((keys, strata))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_strata = strata[order]
    rank = np.arange(len(df)) - starts[sorted_strata]
    chosen = np.sort(order[rank < quotas[sorted_strata]])
    return df.iloc[chosen]


def _weights(df: pd.DataFrame, weights: str | Any) -> np.ndarray:
    if isinstance(weights, str):
        if weights not in df.columns:
            raise InvalidArgumentError(
                f"weights={weights!r} is not a column of the table; "
                f"available columns: {', '.join(map(str, df.columns))}"
            )
        source = f"weights column {weights!r}"
        values = df[weights]
    else:
        source = "weights"
        values = weights
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{source} must be numbers: {exc}") from exc
    if array.shape != (len(df),):
        raise InvalidArgumentError(
            f"{source} has shape {array.shape} but the table has {len(df)} rows; "
            "pass one weight per row"
        )
    bad = {
        "missing or NaN": int(np.isnan(array).sum()),
        "infinite": int(np.isinf(array).sum()),
        "negative": int((array < 0).sum()),
    }
    problems = [f"{count} {what}" for what, count in bad.items() if count]
    if problems:
        raise InvalidArgumentError(
            f"{source} has {', '.join(problems)} values; weights must be finite and at least "
            "0: fill or drop those rows first"
        )
    if not array.any():
        raise InvalidArgumentError(
            f"{source} is zero for every row, so no row can be drawn; give some rows a "
            "positive weight"
        )
    return array


def weighted_sample(
    table: Any, weights: str | Any, n: int, seed: int = 0, replace: bool = False
) -> pd.DataFrame:
    """A sample of ``n`` rows, each drawn with probability proportional to its weight.

    Without replacement, rows are drawn one after another, each with probability
    proportional to its weight among the rows not yet drawn; this is done in one pass by
    keeping the ``n`` rows with the smallest ``Exponential(1) / weight`` keys (Efraimidis &
    Spirakis, 2006). A row of weight 0 is never drawn.

    Parameters
    ----------
    table
        A pandas, polars or pyarrow table.
    weights
        A column name, or an array with one non-negative weight per row.
    n
        The sample size; without replacement, at most the number of rows of positive weight.
    seed
        Seed of the draw.
    replace
        Draw with replacement, so a row can appear more than once.

    Returns
    -------
    pandas.DataFrame
        The sampled rows in table order, with their index labels (repeated when drawn with
        replacement).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": range(4), "w": [0.0, 1.0, 1.0, 0.0]})
    >>> weighted_sample(df, "w", n=2)["x"].tolist()
    [1, 2]
    """
    df = to_pandas(table)
    array = _weights(df, weights)
    rng = np.random.default_rng(seed)
    if replace:
        size = _check_count("n", n)
        chosen = rng.choice(len(df), size=size, p=array / array.sum())
    else:
        positive = int(np.count_nonzero(array))
        if isinstance(n, int) and not isinstance(n, bool) and n > positive:
            raise InvalidArgumentError(
                f"n={n} is more than the {positive} rows with a positive weight, so a sample "
                "without replacement cannot be drawn; lower n or pass replace=True"
            )
        size = _check_count("n", n)
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=len(df)) / array
        chosen = np.argpartition(keys, size - 1)[:size] if size < len(df) else np.arange(len(df))
    return df.iloc[np.sort(chosen)]
