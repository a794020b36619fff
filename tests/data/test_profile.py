"""Profiles: correct per column, mergeable exactly, JSON round-trip, bounded-memory files."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headway.data import Profile, make_churn, merge, profile
from headway.errors import InvalidArgumentError


def _mixed(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = make_churn(rows, seed=seed)
    df["note"] = [f"customer said {i}" for i in rng.integers(0, 10**6, rows)]
    df["signup"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        rng.integers(0, 365, rows), unit="D"
    )
    df.loc[rng.random(rows) < 0.1, "monthly_charges"] = np.nan
    df.loc[rng.random(rows) < 0.05, "plan"] = None
    return df


def test_columns_get_kinds_counts_and_statistics_pandas_agrees_with() -> None:
    df = _mixed()
    p = profile(df)
    kinds = {n: c.kind for n, c in p.columns.items()}
    assert kinds["monthly_charges"] == "numeric" and kinds["plan"] == "categorical"
    assert kinds["autopay"] == "boolean" and kinds["signup"] == "datetime"
    assert kinds["note"] == "text"
    col = p["monthly_charges"]
    values = df["monthly_charges"]
    assert (col.count, col.missing) == (len(df), int(values.isna().sum()))
    assert col.moments is not None
    assert col.moments.mean == pytest.approx(values.mean(), rel=1e-12)
    assert col.std == pytest.approx(values.std(), rel=1e-12)
    assert (col.moments.min, col.moments.max) == (values.min(), values.max())
    assert col.quantiles is not None
    assert col.quantiles["p50"] == pytest.approx(values.quantile(0.5), rel=1e-12)
    assert col.quantiles["p99"] == pytest.approx(values.quantile(0.99), rel=1e-12)
    assert col.distinct == values.nunique() and col.distinct_exact
    assert sum(col.histogram.counts) == col.present
    assert p["support_calls"].zeros == int((df["support_calls"] == 0).sum())
    plan = p["plan"]
    assert dict(plan.top_values) == df["plan"].value_counts().to_dict()
    assert plan.missing == int(df["plan"].isna().sum())
    signup = p["signup"]
    assert signup.moments is not None
    assert signup.display(signup.moments.min) == df["signup"].min().isoformat()
    assert p["note"].lengths is not None
    assert p["note"].lengths.mean == pytest.approx(df["note"].str.len().mean())


def test_duplicate_rows_are_counted() -> None:
    df = make_churn(500)
    doubled = pd.concat([df, df.iloc[:37]], ignore_index=True)
    assert profile(doubled).duplicate_rows == 37
    assert profile(df).duplicate_rows == 0


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400), st.integers(0, 10_000))
def test_merge_equals_the_profile_of_the_concatenation(n1: int, n2: int, seed: int) -> None:
    reference = profile(_mixed(300, seed=seed + 1))
    a, b = _mixed(n1, seed=seed), _mixed(n2, seed=seed + 2)
    merged = merge(profile(a, bins_from=reference), profile(b, bins_from=reference))
    whole = profile(pd.concat([a, b], ignore_index=True), bins_from=reference)
    assert merged.rows == whole.rows
    for name, w in whole.columns.items():
        m = merged.columns[name]
        assert (m.count, m.missing) == (w.count, w.missing)
        assert m.histogram == w.histogram
        if w.moments is not None and w.moments.count:
            assert m.moments is not None
            assert m.moments.count == w.moments.count
            assert (m.moments.min, m.moments.max) == (w.moments.min, w.moments.max)
            assert m.moments.mean == pytest.approx(w.moments.mean, rel=1e-9, abs=1e-9)
            if w.std is not None:
                assert m.std == pytest.approx(w.std, rel=1e-9, abs=1e-9)


def test_profiles_with_different_bins_refuse_to_merge() -> None:
    with pytest.raises(InvalidArgumentError, match="bins_from"):
        merge(profile(make_churn(300, seed=1)), profile(make_churn(300, seed=2)))


def test_json_round_trip_is_exact() -> None:
    p = profile(_mixed())
    assert Profile.from_json(p.to_json()) == p
    merged = merge(profile(_mixed(seed=3), bins_from=p), profile(_mixed(seed=4), bins_from=p))
    assert Profile.from_json(merged.to_json()) == merged


def test_files_are_read_in_batches_with_the_same_result(tmp_path: Path) -> None:
    df = make_churn(5000, seed=4)
    pq.write_table(pa.Table.from_pandas(df), tmp_path / "d.parquet", row_group_size=700)
    df.to_csv(tmp_path / "d.csv", index=False)
    reference = profile(df)
    seen: list[int] = []
    from_parquet = profile(
        tmp_path / "d.parquet", bins_from=reference, batch_rows=1000, on_progress=seen.append
    )
    from_csv = profile(tmp_path / "d.csv", bins_from=reference, batch_rows=1000)
    in_memory = profile(df, bins_from=reference)
    assert seen[-1] == 5000 and len(seen) > 1
    for other in (from_parquet, from_csv):
        assert other.rows == 5000
        for name, col in in_memory.columns.items():
            assert other.columns[name].histogram == col.histogram
            assert other.columns[name].missing == col.missing
    assert from_parquet["tenure_months"].distinct == pytest.approx(
        in_memory["tenure_months"].distinct, rel=0.1
    )


def test_polars_and_pyarrow_tables_profile_like_pandas() -> None:
    pl = pytest.importorskip("polars")
    df = make_churn(800)
    expected = profile(df)
    for other in (profile(pa.Table.from_pandas(df)), profile(pl.from_pandas(df))):
        assert {n: c.histogram for n, c in other.columns.items()} == {
            n: c.histogram for n, c in expected.columns.items()
        }


def test_distinct_counts_are_sketched_after_merging() -> None:
    ref = profile(pd.DataFrame({"x": np.arange(1000, dtype=float)}))
    parts = [
        profile(
            pd.DataFrame({"x": np.arange(i * 20_000, (i + 1) * 20_000, dtype=float)}), bins_from=ref
        )
        for i in range(5)
    ]
    merged = merge(*parts)
    assert not merged["x"].distinct_exact
    assert merged["x"].distinct == pytest.approx(100_000, rel=0.1)


def test_unreadable_input_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidArgumentError, match="Parquet"):
        profile(tmp_path / "notes.txt")
    with pytest.raises(InvalidArgumentError, match="cannot profile"):
        profile(42)
    with pytest.raises(InvalidArgumentError, match="lacks column"):
        profile(make_churn(10).drop(columns=["plan"]), bins_from=profile(make_churn(50)))


def test_columns_with_non_string_labels_are_profiled_by_their_text() -> None:
    p = profile(pd.DataFrame(np.arange(12.0).reshape(4, 3)))
    assert list(p.columns) == ["0", "1", "2"] and p["1"].moments.max == 10.0
