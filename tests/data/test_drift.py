"""Drift: equal to SciPy on raw samples, quiet on same-distribution data, sharp on real shifts."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from headway.data import compare, make_churn, merge, profile
from headway.errors import InvalidArgumentError

LETTERS = np.array(list("abcde"))
SHARES = np.array([0.35, 0.25, 0.2, 0.12, 0.08])


def _table(
    rng: np.random.Generator, rows: int, shift: float = 0.0, category_shift: float = 0.0
) -> pd.DataFrame:
    """20 numeric and 5 categorical features; optional drift in x0 and c0."""
    numeric = rng.normal(size=(rows, 20))
    numeric[:, 0] += shift
    data = {f"x{i}": numeric[:, i] for i in range(20)}
    for i in range(5):
        p = SHARES.copy()
        if i == 0 and category_shift:
            p = p + np.array([category_shift, -category_shift, 0, 0, 0])
        data[f"c{i}"] = LETTERS[rng.choice(5, size=rows, p=p)]
    return pd.DataFrame(data)


def test_raw_statistics_equal_scipy() -> None:
    rng = np.random.default_rng(0)
    ref, cur = _table(rng, 3000), _table(rng, 2000, shift=0.2, category_shift=0.1)
    report = compare(ref, cur)
    ks = stats.ks_2samp(ref["x0"], cur["x0"])
    assert report["x0"].statistic == pytest.approx(ks.statistic, abs=1e-9)
    assert report["x0"].p_value == pytest.approx(ks.pvalue, abs=1e-9)
    w = stats.wasserstein_distance(ref["x0"], cur["x0"]) / np.std(ref["x0"])
    assert report["x0"].effect_size == pytest.approx(w, abs=1e-9)
    table = pd.crosstab(np.r_[np.zeros(3000), np.ones(2000)], np.r_[ref["c0"], cur["c0"]])
    chi2, p, _, _ = stats.chi2_contingency(table.to_numpy(), correction=False)
    assert report["c0"].statistic == pytest.approx(chi2, abs=1e-9)
    assert report["c0"].p_value == pytest.approx(p, abs=1e-9)
    shares = table.to_numpy() / table.to_numpy().sum(axis=1, keepdims=True)
    assert report["c0"].effect_size == pytest.approx(np.abs(shares[0] - shares[1]).max(), abs=1e-9)
    js = compare(ref, cur, effects={"c0": "jensen_shannon"})["c0"].effect_size
    assert js == pytest.approx(
        jensenshannon(table.to_numpy()[0], table.to_numpy()[1], base=2), abs=1e-9
    )


@pytest.mark.parametrize("block", range(4))
def test_same_distribution_rarely_cries_wolf(block: int) -> None:
    """200 repetitions (4 blocks of 50) at 50,000 rows: 'drift' in at most 1% overall."""
    alarms = 0
    for seed in range(block * 50, block * 50 + 50):
        rng = np.random.default_rng(seed)
        report = compare(_table(rng, 50_000), _table(rng, 50_000))
        alarms += report.verdict == "drift"
    assert alarms <= 0  # 1% of 200 is 2; no block may spend the whole budget


def _detections(feature: str, **shift: float) -> int:
    """In how many of 100 repetitions at 5,000 rows ``feature`` is flagged as drifted."""
    found = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        found += feature in compare(_table(rng, 5000), _table(rng, 5000, **shift)).drifted
    return found


def test_half_a_std_mean_shift_is_caught() -> None:
    assert _detections("x0", shift=0.5) >= 99


def test_a_fifteen_point_category_shift_is_caught() -> None:
    assert _detections("c0", category_shift=0.15) >= 99


def test_a_tiny_shift_on_a_million_rows_is_significant_but_not_drift() -> None:
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"x": rng.normal(size=1_000_000)})
    cur = pd.DataFrame({"x": rng.normal(0.02, 1, size=1_000_000)})
    result = compare(ref, cur)["x"]
    assert result.status == "significant_below_threshold"
    assert not result.drifted and "< threshold 0.1" in result.reason
    assert result.p_adjusted < 1e-6 and result.effect_size < 0.05


def test_binned_comparison_works_from_merged_window_profiles() -> None:
    rng = np.random.default_rng(3)
    reference = profile(_table(rng, 20_000))
    windows = [profile(_table(rng, 2000, shift=0.6), bins_from=reference) for _ in range(5)]
    report = compare(reference, merge(*windows))
    assert report.method == "binned"
    assert report.drifted == ["x0"]
    assert report["x0"].effect_size == pytest.approx(0.6, abs=0.08)
    quiet = compare(
        reference, merge(*[profile(_table(rng, 2000), bins_from=reference) for _ in range(5)])
    )
    assert quiet.verdict == "no_drift"


def test_overrides_and_thresholds() -> None:
    rng = np.random.default_rng(1)
    ref, cur = _table(rng, 5000), _table(rng, 5000, shift=0.3)
    assert compare(ref, cur).drifted == ["x0"]
    assert compare(ref, cur, thresholds={"x0": 0.5}).drifted == []
    psi = compare(ref, cur, effects={"x0": "psi"})["x0"]
    assert psi.effect == "psi" and psi.threshold == 0.2
    with pytest.raises(InvalidArgumentError, match="unknown effect"):
        compare(ref, cur, effects={"x0": "vibes"})
    with pytest.raises(InvalidArgumentError, match="does not apply"):
        compare(ref, cur, effects={"c0": "wasserstein"})
    with pytest.raises(InvalidArgumentError, match="not in both tables"):
        compare(ref, cur.drop(columns=["x3"]))


def test_the_domain_classifier_points_at_the_moved_feature() -> None:
    ref = make_churn(3000, seed=1)
    cur = make_churn(3000, seed=2)
    cur["monthly_charges"] = cur["monthly_charges"] + 15
    features = ["tenure_months", "monthly_charges", "support_calls", "plan", "autopay"]
    report = compare(ref[features], cur[features], multivariate=True)
    assert report.multivariate is not None
    assert report.multivariate.drifted and report.multivariate.roc_auc > 0.6
    assert report.multivariate.top_features[0][0] == "monthly_charges"
    same = compare(ref[features], make_churn(3000, seed=3)[features], multivariate=True)
    assert same.multivariate is not None and same.multivariate.roc_auc < 0.55


def test_report_serialises_to_json() -> None:
    import json

    rng = np.random.default_rng(2)
    report = compare(_table(rng, 1000), _table(rng, 1000, shift=1.0))
    data = json.loads(report.to_json())
    assert data["verdict"] == "drift" and data["features"][0]["feature"] == "x0"


@pytest.mark.parametrize("rows", [(800, 1200), (30_000, 20_000)])
def test_large_sample_path_equals_scipy(rows: tuple[int, int]) -> None:
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"x": rng.normal(size=rows[0])})
    cur = pd.DataFrame({"x": rng.normal(0.05, 1.1, size=rows[1]).round(2)})  # with ties
    result = compare(ref, cur)["x"]
    ks = stats.ks_2samp(ref["x"], cur["x"])
    assert result.statistic == pytest.approx(ks.statistic, abs=1e-9)
    assert result.p_value == pytest.approx(ks.pvalue, abs=1e-9)
    w = stats.wasserstein_distance(ref["x"], cur["x"]) / np.std(ref["x"])
    assert result.effect_size == pytest.approx(w, abs=1e-9)
