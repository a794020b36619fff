import weakref
from collections.abc import Iterator

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from headway.data.sample import reservoir_sample, stratified_sample, weighted_sample
from headway.data.synthetic import make_churn
from headway.errors import InvalidArgumentError


def batches_of(sizes: list[int]) -> Iterator[pd.DataFrame]:
    """Batches of a stream whose column ``row`` is each row's position in the stream."""
    start = 0
    for size in sizes:
        yield pd.DataFrame({"row": np.arange(start, start + size), "y": np.ones(size)})
        start += size


# --- reservoir_sample ---------------------------------------------------------------------


def test_reservoir_sample_includes_every_row_with_the_same_probability() -> None:
    sizes = [3, 17, 1, 9, 0, 12, 5, 13]  # uneven, one empty, first batch smaller than k
    n, k, runs = sum(sizes), 12, 500
    counts = np.zeros(n)
    for seed in range(runs):
        sample = reservoir_sample(batches_of(sizes), k, seed=seed)
        assert len(sample) == k and sample.index.is_unique
        counts[sample["row"].to_numpy()] += 1
    frequency = counts / runs
    assert np.abs(frequency - k / n).max() < 0.08  # about 4.5 standard errors
    assert chisquare(counts).pvalue > 0.001


def test_reservoir_sample_indexes_rows_by_stream_position_in_stream_order() -> None:
    sample = reservoir_sample(batches_of([40, 25, 35]), 10, seed=7)
    assert (sample.index == sample["row"]).all()
    assert sample.index.is_monotonic_increasing


def test_reservoir_sample_holds_at_most_k_rows_plus_one_batch() -> None:
    handed_over: list[weakref.ref[pd.DataFrame]] = []
    most_alive = 0
    consumed = 0

    def stream() -> Iterator[pd.DataFrame]:
        nonlocal most_alive, consumed
        for batch in batches_of([200] * 100):
            # Batches already handed over and still alive are held by the sampler.
            most_alive = max(most_alive, sum(ref() is not None for ref in handed_over))
            handed_over.append(weakref.ref(batch))
            consumed += 1
            yield batch
            del batch

    sample = reservoir_sample(stream(), 50, seed=0)
    assert consumed == 100
    assert len(sample) == 50 and sample["row"].is_unique
    assert most_alive <= 1, f"the sampler kept {most_alive} earlier batches alive"
    assert sample["row"].max() > 10_000  # late batches reach the sample too


def test_reservoir_sample_reads_pyarrow_and_polars_batches_like_pandas() -> None:
    sizes = [30, 10, 50, 20]
    expected = reservoir_sample(batches_of(sizes), 15, seed=2)
    arrow = (pa.RecordBatch.from_pandas(b, preserve_index=False) for b in batches_of(sizes))
    polars = (pl.from_pandas(b) for b in batches_of(sizes))
    pd.testing.assert_frame_equal(reservoir_sample(arrow, 15, seed=2), expected)
    pd.testing.assert_frame_equal(reservoir_sample(polars, 15, seed=2), expected)


def test_a_stream_shorter_than_k_is_returned_whole() -> None:
    sample = reservoir_sample(batches_of([3, 4]), 10)
    assert sample["row"].tolist() == list(range(7))
    assert reservoir_sample(iter([]), 5).empty


def test_reservoir_sample_rejects_bad_k_and_mixed_columns() -> None:
    with pytest.raises(InvalidArgumentError, match="k must be a positive integer"):
        reservoir_sample(batches_of([5]), 0)
    mixed = [pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"b": [3]})]
    with pytest.raises(InvalidArgumentError, match="batch 1 has columns"):
        reservoir_sample(mixed, 2)


# --- stratified_sample --------------------------------------------------------------------


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return make_churn(5000, seed=3)


def test_stratified_sample_keeps_each_stratum_share(churn: pd.DataFrame) -> None:
    sample = stratified_sample(churn, "plan", n=500, seed=1)
    assert len(sample) == 500 and sample.index.is_unique
    pd.testing.assert_frame_equal(sample, churn.loc[sample.index])
    expected = churn["plan"].value_counts(normalize=True) * 500
    got = sample["plan"].value_counts()
    assert (got - expected).abs().max() < 1


def test_stratified_sample_by_several_columns_with_frac(churn: pd.DataFrame) -> None:
    sample = stratified_sample(churn, ["plan", "region"], frac=0.1)
    assert len(sample) == 500
    expected = churn.groupby(["plan", "region"]).size() * 0.1
    got = sample.groupby(["plan", "region"]).size()
    assert (got - expected).abs().max() < 1


def test_stratified_sample_draws_at_random_within_strata(churn: pd.DataFrame) -> None:
    first = stratified_sample(churn, "plan", n=100, seed=1)
    again = stratified_sample(churn, "plan", n=100, seed=1)
    other = stratified_sample(churn, "plan", n=100, seed=2)
    assert first.index.equals(again.index) and not first.index.equals(other.index)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "plan"}, "exactly one of n and frac"),
        ({"by": "plan", "n": 5, "frac": 0.1}, "exactly one of n and frac"),
        ({"by": "tier", "n": 5}, "available columns"),
        ({"by": "plan", "n": 6000}, "more than the 5000 rows"),
        ({"by": "plan", "frac": 1.5}, r"frac must be in \(0, 1\]"),
        ({"by": "plan", "n": 0}, "positive integer"),
    ],
)
def test_stratified_sample_bad_arguments(
    churn: pd.DataFrame, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        stratified_sample(churn, **kwargs)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 1000))
def test_stratified_sample_size_is_exact_and_each_stratum_is_within_one_row(
    n: int, seed: int
) -> None:
    table = pd.DataFrame({"s": np.repeat(["a", "b", "c", "d"], [150, 90, 50, 10])})
    sample = stratified_sample(table, "s", n=n, seed=seed)
    assert len(sample) == n and sample.index.is_unique
    expected = table["s"].value_counts() * n / len(table)
    got = sample["s"].value_counts().reindex(expected.index, fill_value=0)
    assert (got - expected).abs().max() < 1


# --- weighted_sample ----------------------------------------------------------------------


def test_heavier_rows_are_drawn_more_often() -> None:
    table = pd.DataFrame({"x": range(4), "w": [1.0, 2.0, 3.0, 4.0]})
    counts = np.zeros(4)
    runs = 2000
    for seed in range(runs):
        counts[weighted_sample(table, "w", n=1, seed=seed)["x"].to_numpy()] += 1
    # One draw without replacement picks a row with probability weight / total.
    assert counts / runs == pytest.approx([0.1, 0.2, 0.3, 0.4], abs=0.035)


def test_with_replacement_frequencies_follow_the_weights() -> None:
    table = pd.DataFrame({"x": range(4)})
    sample = weighted_sample(table, np.array([1, 2, 3, 4]), n=20_000, replace=True)
    frequency = sample["x"].value_counts(normalize=True).sort_index().to_numpy()
    assert frequency == pytest.approx([0.1, 0.2, 0.3, 0.4], abs=0.015)


def test_without_replacement_rows_are_distinct_and_zero_weights_never_drawn(
    churn: pd.DataFrame,
) -> None:
    weights = np.where(churn["plan"] == "premium", 0.0, churn["monthly_charges"].to_numpy())
    sample = weighted_sample(churn, weights, n=1000, seed=4)
    assert len(sample) == 1000 and sample.index.is_unique
    assert not (sample["plan"] == "premium").any()
    # Charges weigh the draw, so the sample is pricier than the table it came from.
    eligible = churn[churn["plan"] != "premium"]
    assert sample["monthly_charges"].mean() > eligible["monthly_charges"].mean() + 2


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.array([1.0, -1.0, 1.0]), "1 negative"),
        (np.array([1.0, np.nan, 1.0]), "1 missing or NaN"),
        (np.array([0.0, 0.0, 0.0]), "zero for every row"),
        (np.array([1.0, 2.0]), "one weight per row"),
        ("weight", "available columns: x, w"),
    ],
)
def test_bad_weights_raise_clear_errors(weights: object, message: str) -> None:
    table = pd.DataFrame({"x": range(3), "w": [1.0, 1.0, 1.0]})
    with pytest.raises(InvalidArgumentError, match=message):
        weighted_sample(table, weights, n=1)


def test_more_rows_than_positive_weights_needs_replacement() -> None:
    table = pd.DataFrame({"x": range(3), "w": [0.0, 1.0, 1.0]})
    with pytest.raises(InvalidArgumentError, match="2 rows with a positive weight"):
        weighted_sample(table, "w", n=3)
    assert len(weighted_sample(table, "w", n=3, replace=True)) == 3
