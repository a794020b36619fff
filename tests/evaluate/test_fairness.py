"""Fairness: per-group rates and their gaps and ratios, as fairlearn defines them."""

import json

import numpy as np
import pandas as pd
import pytest

from headway.errors import InvalidArgumentError
from headway.evaluate.fairness import RATES, FairnessReport, fairness


def _biased(rows: int = 4000, seed: int = 0) -> tuple:
    """A classifier that selects group B half as often as group A at the same labels."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B", "C"], rows)
    y = rng.integers(0, 2, rows)
    p_select = np.where(y == 1, 0.8, 0.2) * np.where(group == "B", 0.5, 1.0)
    pred = (rng.random(rows) < p_select).astype(int)
    return y, pred, group


def test_rates_match_a_direct_count_per_group() -> None:
    y, pred, group = _biased()
    report = fairness(y, pred, group)
    assert [g.group for g in report.groups] == ["A", "B", "C"]
    for name in ["A", "B", "C"]:
        g, m = report[name], group == name
        assert g.count == m.sum()
        assert g.selection_rate == pytest.approx(pred[m].mean())
        assert g.true_positive_rate == pytest.approx(pred[m & (y == 1)].mean())
        assert g.false_positive_rate == pytest.approx(pred[m & (y == 0)].mean())


def test_gaps_and_ratios_are_max_minus_min_and_min_over_max() -> None:
    y, pred, group = _biased()
    report = fairness(y, pred, group)
    for rate in RATES:
        values = [getattr(g, rate) for g in report.groups]
        assert report.gaps[rate] == pytest.approx(max(values) - min(values))
        assert report.ratios[rate] == pytest.approx(min(values) / max(values))
    # B is selected about half as often as the others.
    assert report.ratios["selection_rate"] == pytest.approx(0.5, abs=0.08)
    assert report.gaps["true_positive_rate"] == pytest.approx(0.4, abs=0.06)


def test_a_fair_classifier_has_small_gaps() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 20_000)
    group = rng.choice(["x", "y"], 20_000)
    pred = np.where(rng.random(20_000) < 0.9, y, 1 - y)
    report = fairness(y, pred, group)
    assert all(gap < 0.03 for gap in report.gaps.values() if gap is not None)
    assert all(ratio > 0.9 for ratio in report.ratios.values() if ratio is not None)


def test_undefined_rates_are_none_and_left_out() -> None:
    report = fairness([0, 0, 1, 0], [1, 0, 1, 0], ["a", "a", "b", "b"])
    assert report["a"].true_positive_rate is None
    assert report.gaps["true_positive_rate"] == 0.0  # only b has positives
    nobody = fairness([1, 0, 1, 0], [0, 0, 0, 0], ["a", "a", "b", "b"])
    assert nobody.ratios["selection_rate"] == 1.0 and nobody.gaps["selection_rate"] == 0.0


def test_string_labels_and_intersectional_groups() -> None:
    y = np.array(["no", "yes", "yes", "no", "yes", "no"])
    pred = np.array(["no", "yes", "no", "yes", "yes", "no"])
    groups = pd.DataFrame({"sex": list("FFFMMM"), "old": [0, 0, 1, 1, 1, 1]})
    report = fairness(y, pred, groups)
    assert report.positive_label == "yes"
    assert [g.group for g in report.groups] == [
        "sex=F, old=0",
        "sex=F, old=1",
        "sex=M, old=1",
    ]
    assert report["sex=M, old=1"].count == 3


def test_round_trips_through_json() -> None:
    y, pred, group = _biased(300)
    report = fairness(y, pred, group)
    assert FairnessReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_bad_input_says_what_to_do() -> None:
    with pytest.raises(InvalidArgumentError, match="binary task"):
        fairness([0, 1, 2], [0, 1, 2], ["a", "b", "c"])
    with pytest.raises(InvalidArgumentError, match="missing values"):
        fairness([0, 1], [0, 1], ["a", None])
    with pytest.raises(InvalidArgumentError, match="has 1 rows but y_true has 2"):
        fairness([0, 1], [0, 1], ["a"])
    with pytest.raises(InvalidArgumentError, match="no group 'z'"):
        fairness([0, 1], [0, 1], ["a", "b"])["z"]
