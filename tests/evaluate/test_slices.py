"""Slices: metrics per slice, and a finder that points at where the model fails."""

import numpy as np
import pandas as pd
import pytest

from headway.data import make_churn
from headway.errors import InvalidArgumentError
from headway.evaluate import define_slices, find_slices, slice_metrics


def _fails_on_premium_north(rows: int = 6000, seed: int = 0) -> tuple:
    """A model right 90% of the time, except 55% wrong for premium customers in the north."""
    rng = np.random.default_rng(seed)
    df = make_churn(rows, seed=seed)
    y = df["churned"].to_numpy()
    wrong = rng.random(rows) < 0.10
    bad = (df["plan"] == "premium").to_numpy() & (df["region"] == "north").to_numpy()
    wrong[bad] = rng.random(bad.sum()) < 0.55
    return df.drop(columns=["churned", "customer_id"]), y, np.where(wrong, 1 - y, y)


def test_slices_from_values_bins_and_predicates() -> None:
    df = make_churn(1000)
    slices = define_slices(df, ["plan", "tenure_months"], bins=4)
    assert {"plan=basic", "plan=standard", "plan=premium"} <= set(slices)
    binned = [n for n in slices if n.startswith("tenure_months in")]
    assert len(binned) == 4 and sum(slices[n].sum() for n in binned) == 1000
    custom = define_slices(df, {"new": lambda d: d.tenure_months < 6})
    assert custom["new"].sum() == int((df.tenure_months < 6).sum())
    with pytest.raises(InvalidArgumentError, match="no such column"):
        define_slices(df, ["nope"])
    with pytest.raises(InvalidArgumentError, match="one boolean per row"):
        define_slices(df, {"bad": lambda d: [True]})


def test_slice_metrics_have_intervals_and_match_the_slice() -> None:
    X, y, pred = _fails_on_premium_north()
    slices = define_slices(X, ["plan"])
    found = {s.name: s for s in slice_metrics(slices, y, pred, n_bootstrap=50)}
    premium = found["plan=premium"].report["accuracy"]
    assert premium.value == pytest.approx(
        (pred[slices["plan=premium"]] == y[slices["plan=premium"]]).mean()
    )
    assert premium.low is not None and premium.low <= premium.value <= premium.high
    assert found["plan=basic"].report["accuracy"].value > premium.value


def test_the_finder_ranks_the_failing_pair_first() -> None:
    X, y, pred = _fails_on_premium_north()
    findings = find_slices(X, y, pred, features=["plan", "region", "autopay"])
    assert findings[0].name in {"plan=premium & region=north", "region=north & plan=premium"}
    assert findings[0].error_rate > 0.4 and findings[0].p_adjusted < 1e-6


def test_the_finder_is_quiet_on_a_uniformly_good_model() -> None:
    rng = np.random.default_rng(1)
    df = make_churn(6000, seed=1)
    y = df["churned"].to_numpy()
    pred = np.where(rng.random(len(y)) < 0.1, 1 - y, y)
    assert find_slices(df.drop(columns=["churned", "customer_id"]), y, pred) == []


def test_min_support_keeps_tiny_slices_out() -> None:
    X, y, pred = _fails_on_premium_north(rows=600)
    assert all(f.rows >= 100 for f in find_slices(X, y, pred, min_support=100))
    with pytest.raises(InvalidArgumentError, match="one value per row"):
        find_slices(X, y[:10], pred[:10])
    assert pd.DataFrame([f.to_dict() for f in find_slices(X, y, pred)]).shape[1] == 8
