"""Error analysis by tag: shares, rates, gap to human level, sorted by potential."""

import json

import numpy as np
import pandas as pd
import pytest

from headway.errors import InvalidArgumentError
from headway.evaluate.analysis import TagAnalysis, error_analysis


def _tagged(rows: int = 10_000, seed: int = 0) -> tuple:
    """Blurry rows (10%) are wrong 40% of the time, dark rows (15%) 50%, the rest 5%."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    blurry = rng.random(rows) < 0.10
    dark = ~blurry & (rng.random(rows) < 0.1667)
    p_wrong = np.where(blurry, 0.40, np.where(dark, 0.50, 0.05))
    pred = np.where(rng.random(rows) < p_wrong, 1 - y, y)
    # A second annotator: 95% right on blurry rows, only 55% right on dark ones.
    p_human_wrong = np.where(blurry, 0.05, np.where(dark, 0.45, 0.01))
    human = np.where(rng.random(rows) < p_human_wrong, 1 - y, y)
    return y, pred, human, {"blurry": blurry, "dark": dark}


def test_shares_and_rates_match_a_direct_count() -> None:
    y, pred, _, tags = _tagged()
    wrong = pred != y
    found = {t.tag: t for t in error_analysis(y, pred, tags)}
    for name, mask in tags.items():
        t = found[name]
        assert t.rows == mask.sum() and t.errors == (wrong & mask).sum()
        assert t.share_of_data == pytest.approx(mask.mean())
        assert t.share_of_errors == pytest.approx((wrong & mask).sum() / wrong.sum())
        assert t.error_rate == pytest.approx(wrong[mask].mean())
        assert t.accuracy == pytest.approx(1 - wrong[mask].mean())
        assert t.human_accuracy is None and t.gap_to_human is None
        assert t.potential_basis == "error_rate"
        assert t.potential == pytest.approx(t.error_rate * t.share_of_data)


def test_human_level_reorders_by_gap_times_share() -> None:
    y, pred, human, tags = _tagged()
    without = error_analysis(y, pred, tags)
    with_human = error_analysis(y, pred, tags, human=human)
    # Dark rows hold the most errors, but they are hard for people too: closing the gap
    # to human level on blurry rows pays more.
    assert [t.tag for t in without] == ["dark", "blurry"]
    assert [t.tag for t in with_human] == ["blurry", "dark"]
    blurry, dark = with_human
    assert blurry.potential_basis == "gap_to_human"
    assert blurry.human_accuracy == pytest.approx(1 - (human != y)[tags["blurry"]].mean())
    assert blurry.gap_to_human == pytest.approx(blurry.human_accuracy - blurry.accuracy)
    assert blurry.potential == pytest.approx(blurry.gap_to_human * blurry.share_of_data)
    assert dark.potential < blurry.potential


def test_a_tag_where_the_model_beats_the_human_has_no_potential() -> None:
    y = np.array([1, 0, 1, 0])
    pred = y.copy()
    human = 1 - y
    (t,) = error_analysis(y, pred, {"all": [True] * 4}, human=human)
    assert t.gap_to_human == -1.0 and t.potential == 0.0


def test_sorted_by_potential_descending() -> None:
    y, pred, human, tags = _tagged()
    more = {**tags, "none": np.zeros(len(y), bool), "everything": np.ones(len(y), bool)}
    table = error_analysis(y, pred, more, human=human)
    potentials = [t.potential for t in table]
    assert potentials == sorted(potentials, reverse=True)
    empty = next(t for t in table if t.tag == "none")
    assert empty.rows == 0 and empty.error_rate is None and empty.potential == 0.0


def test_dataframe_of_boolean_columns_and_round_trip() -> None:
    y, pred, human, tags = _tagged(500)
    frame = pd.DataFrame(tags)
    assert error_analysis(y, pred, frame, human=human) == error_analysis(y, pred, tags, human=human)
    for t in error_analysis(y, pred, frame, human=human):
        assert TagAnalysis.from_dict(json.loads(json.dumps(t.to_dict()))) == t


def test_bad_tags_say_what_to_do() -> None:
    y = np.array([0, 1, 1])
    with pytest.raises(InvalidArgumentError, match="boolean mask"):
        error_analysis(y, y, {"plan": ["a", "b", "a"]})
    with pytest.raises(InvalidArgumentError, match="has 2 rows but y_true has 3"):
        error_analysis(y, y, {"short": [True, False]})
    with pytest.raises(InvalidArgumentError, match="missing values"):
        error_analysis(y, y, {"gaps": pd.Series([True, None, False], dtype="boolean")})
    with pytest.raises(InvalidArgumentError, match="tags is empty"):
        error_analysis(y, y, {})
    with pytest.raises(InvalidArgumentError, match="human has 2 rows"):
        error_analysis(y, y, {"t": [1, 0, 1]}, human=[0, 1])
