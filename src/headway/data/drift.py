"""Drift: did a feature's distribution move between a reference and a current table?

Each feature gets a significance test and an effect size, chosen by kind and by what is
available (the table below is the documented default; every choice can be overridden per
feature). A feature counts as drifted only when BOTH hold:

* the test stays significant after Benjamini-Hochberg correction across all features, and
* the effect size reaches its threshold.

Large samples make tiny, harmless shifts significant; small samples make noise look large.
Requiring both keeps the monitor quiet when nothing that matters moved ("significant but
below the effect threshold" is reported, not flagged).

========================  =======================  ==================================
kind                      raw samples (exact)      binned (profiles, large tables)
========================  =======================  ==================================
numeric, datetime         KS test (``ks_2samp``);  chi-square over the reference's
                          effect: Wasserstein      quantile bins; effect: Wasserstein
                          distance / reference std from the binned CDFs / reference std
                          (threshold 0.1)          (threshold 0.1)
categorical, boolean,     chi-square test of the   the same, over the reference's
text                      category counts;         top values plus "other"
                          effect: L-infinity
                          distance between the
                          category shares, as TFDV
                          uses (threshold 0.1)
========================  =======================  ==================================

Other effect measures, selectable per feature: ``psi`` (population stability index,
threshold 0.2) and ``jensen_shannon`` (Jensen-Shannon distance, base 2, threshold 0.1).
Raw samples are used when both tables have at most ``raw_max_rows`` rows; otherwise both
are profiled (bounded memory) and binned tests run on the profiles — which is also how a
monitor compares per-window profiles without keeping raw data.

Statistics on raw samples are SciPy's own (``ks_2samp``, ``chi2_contingency``,
``wasserstein_distance``, ``jensenshannon``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from headway._tabular import is_table, to_pandas
from headway.data._read import count_rows, iter_batches
from headway.data.profile import (
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    NUMERIC,
    TEXT,
    ColumnProfile,
    Profile,
    infer_kind,
    profile,
)
from headway.errors import InvalidArgumentError

__all__ = ["DEFAULT_THRESHOLDS", "DriftReport", "FeatureDrift", "compare"]

DEFAULT_THRESHOLDS = {"wasserstein": 0.1, "linf": 0.1, "psi": 0.2, "jensen_shannon": 0.1}
EFFECTS = tuple(DEFAULT_THRESHOLDS)
_NUMERIC_KINDS = (NUMERIC, DATETIME)


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's comparison: the test, its statistic and p-value, the effect, the call."""

    feature: str
    kind: str
    test: str
    statistic: float
    p_value: float
    p_adjusted: float
    effect: str
    effect_size: float
    threshold: float
    drifted: bool
    status: Literal["drift", "significant_below_threshold", "no_drift"]
    reason: str
    reference_rows: int
    current_rows: int


@dataclass(frozen=True)
class DomainClassifier:
    """Multivariate drift: how well a classifier tells reference rows from current rows."""

    roc_auc: float
    drifted: bool
    threshold: float
    top_features: list[tuple[str, float]]
    rows: int


@dataclass(frozen=True)
class DriftReport:
    method: Literal["raw", "binned"]
    alpha: float
    features: list[FeatureDrift]
    verdict: Literal["drift", "no_drift"]
    reason: str
    multivariate: DomainClassifier | None = None

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    def __getitem__(self, feature: str) -> FeatureDrift:
        for f in self.features:
            if f.feature == feature:
                return f
        raise InvalidArgumentError(f"no feature {feature!r} in this report")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=float)


@dataclass(frozen=True)
class _Sides:
    """What a test needs of one feature: raw values or binned counts, per side."""

    kind: str
    ref_values: np.ndarray | None = None
    cur_values: np.ndarray | None = None
    ref_counts: np.ndarray | None = None
    cur_counts: np.ndarray | None = None
    edges: np.ndarray | None = None  # numeric bins
    ref_std: float | None = None
    bounds: tuple[float, float] | None = None  # min and max over both sides
    ks: tuple[float, float] | None = None  # raw samples: KS statistic and p-value
    wasserstein: float | None = None  # raw samples: W1 distance


def compare(
    reference: Any,
    current: Any,
    *,
    columns: list[str] | None = None,
    method: Literal["auto", "raw", "binned"] = "auto",
    alpha: float = 0.05,
    effects: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    raw_max_rows: int = 100_000,
    multivariate: bool = False,
    bins: int = 50,
) -> DriftReport:
    """Compare ``current`` with ``reference`` feature by feature.

    Parameters
    ----------
    reference, current
        Tables (pandas, polars, pyarrow), Parquet/CSV paths, or profiles.
    columns
        Features to compare (default: every column of the reference).
    method
        ``raw`` (exact tests on samples), ``binned`` (tests on profiles) or ``auto``.
    alpha
        Significance level after Benjamini-Hochberg correction across features.
    effects
        Per-feature effect measure override: ``{"age": "psi"}``.
    thresholds
        Per-feature (``{"age": 0.2}``) or per-measure (``{"psi": 0.25}``) thresholds.
    multivariate
        Also train a domain classifier (raw tables only) and report its ROC AUC and the
        features that separate the two tables most.

    Examples
    --------
    >>> from headway.data import make_churn
    >>> report = compare(make_churn(3000, seed=1), make_churn(3000, seed=2, drift=0.8))
    >>> report.verdict, "monthly_charges" in report.drifted
    ('drift', True)
    """
    if not 0 < alpha < 1:
        raise InvalidArgumentError(f"alpha must be between 0 and 1, got {alpha}")
    _check_overrides(effects, thresholds)
    use_raw = _choose_method(reference, current, method, raw_max_rows)
    if use_raw:
        ref_df, cur_df = _load(reference), _load(current)
        names = _columns(columns, list(map(str, ref_df.columns)), list(map(str, cur_df.columns)))
        sides = {n: _raw_sides(ref_df[n], cur_df[n]) for n in names}
        rows = (len(ref_df), len(cur_df))
    else:
        ref_p = reference if isinstance(reference, Profile) else profile(reference, bins=bins)
        cur_p = current if isinstance(current, Profile) else profile(current, bins_from=ref_p)
        names = _columns(columns, list(ref_p.columns), list(cur_p.columns))
        sides = {n: _binned_sides(ref_p[n], cur_p[n]) for n in names}
        rows = (ref_p.rows, cur_p.rows)
    tested = {n: _test(s) for n, s in sides.items()}
    adjusted = _benjamini_hochberg(np.asarray([t[1] for t in tested.values()], dtype=float))
    features = [
        _decide(
            name, sides[name], tested[name], p_adj, alpha, effects or {}, thresholds or {}, rows
        )
        for name, p_adj in zip(tested, adjusted, strict=True)
    ]
    drifted = [f.feature for f in features if f.drifted]
    domain = _domain_classifier(ref_df, cur_df, names) if multivariate and use_raw else None
    verdict: Literal["drift", "no_drift"] = "drift" if drifted else "no_drift"
    reason = (
        f"{len(drifted)} of {len(features)} features drifted: {', '.join(drifted)}"
        if drifted
        else f"none of {len(features)} features drifted"
    )
    return DriftReport("raw" if use_raw else "binned", alpha, features, verdict, reason, domain)


def _check_overrides(
    effects: Mapping[str, str] | None, thresholds: Mapping[str, float] | None
) -> None:
    for feature, effect in (effects or {}).items():
        if effect not in EFFECTS:
            raise InvalidArgumentError(
                f"unknown effect measure {effect!r} for {feature!r}; use one of {EFFECTS}"
            )
    for key, value in (thresholds or {}).items():
        if not (isinstance(value, int | float) and value >= 0):
            raise InvalidArgumentError(
                f"threshold for {key!r} must be a number >= 0, got {value!r}"
            )


def _choose_method(reference: Any, current: Any, method: str, raw_max_rows: int) -> bool:
    if method not in ("auto", "raw", "binned"):
        raise InvalidArgumentError(f"method must be 'auto', 'raw' or 'binned', got {method!r}")
    profiles = isinstance(reference, Profile) or isinstance(current, Profile)
    if method == "raw" and profiles:
        raise InvalidArgumentError("raw tests need tables, not profiles; use method='binned'")
    if method != "auto":
        return method == "raw"
    if profiles:
        return False
    sizes = [_rows(t) for t in (reference, current)]
    return all(n is not None and n <= raw_max_rows for n in sizes)


def _rows(table: Any) -> int | None:
    """Rows of a table or file, when cheap to know (None for a large CSV)."""
    if isinstance(table, str | os.PathLike):
        path = Path(table)
        rows = count_rows(path)
        if rows is None and path.stat().st_size <= 32 << 20:  # a small CSV: just count
            rows = sum(len(b) for b in iter_batches(path, 1_000_000))
        return rows
    if not is_table(table):
        raise InvalidArgumentError(
            f"cannot compare {type(table).__name__}; pass tables (pandas, polars, pyarrow), "
            "Parquet/CSV paths or profiles"
        )
    return len(to_pandas(table))


def _load(table: Any) -> pd.DataFrame:
    if isinstance(table, str | os.PathLike):
        return pd.concat(iter_batches(Path(table), 1_000_000), ignore_index=True)
    return to_pandas(table)


def _columns(wanted: list[str] | None, ref: list[str], cur: list[str]) -> list[str]:
    names = wanted or ref
    missing = [n for n in names if n not in ref or n not in cur]
    if missing:
        raise InvalidArgumentError(
            f"feature(s) {missing} are not in both tables; reference has {ref}, current has {cur}"
        )
    return names


# -- preparing each side ---------------------------------------------------------------


def _raw_sides(ref: pd.Series, cur: pd.Series) -> _Sides:
    kind = infer_kind(ref)
    if kind in _NUMERIC_KINDS:
        r, c = _numeric_values(ref, kind), _numeric_values(cur, kind)
        if r.size == 0 or c.size == 0:
            raise InvalidArgumentError(f"feature {ref.name!r} has no values on one side")
        statistic, p_value, distance = _ks_and_wasserstein(r, c)
        return _Sides(
            kind,
            r,
            c,
            ref_std=float(np.std(r)),
            bounds=(float(min(r.min(), c.min())), float(max(r.max(), c.max()))),
            ks=(statistic, p_value),
            wasserstein=distance,
        )
    codes, _ = pd.factorize(
        pd.concat([ref, cur], ignore_index=True).astype("string"), use_na_sentinel=True
    )
    width = int(codes.max()) + 1 if codes.size else 0
    r_codes, c_codes = codes[: len(ref)], codes[len(ref) :]
    return _Sides(
        kind,
        ref_counts=np.bincount(r_codes[r_codes >= 0], minlength=width),
        cur_counts=np.bincount(c_codes[c_codes >= 0], minlength=width),
    )


def _numeric_values(series: pd.Series, kind: str) -> np.ndarray:
    if kind == DATETIME:
        stamps = pd.to_datetime(series).dropna()
        return stamps.astype("datetime64[ns]").to_numpy().view(np.int64).astype(np.float64)
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values[~np.isnan(values)]


def _binned_sides(ref: ColumnProfile, cur: ColumnProfile) -> _Sides:
    if not ref.histogram.same_bins(cur.histogram):
        raise InvalidArgumentError(
            f"feature {ref.name!r} is binned differently in the two profiles; build the "
            "current one with profile(table, bins_from=reference)"
        )
    r, c = ref.histogram.array, cur.histogram.array
    if ref.kind in _NUMERIC_KINDS:
        lows = [m.min for m in (ref.moments, cur.moments) if m and m.min is not None]
        highs = [m.max for m in (ref.moments, cur.moments) if m and m.max is not None]
        return _Sides(
            ref.kind,
            ref_counts=r,
            cur_counts=c,
            edges=np.asarray(ref.histogram.edges, dtype=np.float64),
            ref_std=ref.moments.std if ref.moments else None,
            bounds=(min(lows), max(highs)) if lows else None,
        )
    return _Sides(ref.kind, ref_counts=r, cur_counts=c)


# -- tests and effects -----------------------------------------------------------------


def _ks_and_wasserstein(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float]:
    """Two-sample KS statistic and p-value, and the Wasserstein-1 distance, sharing sorts.

    Equal to ``scipy.stats.ks_2samp`` (method "auto", two-sided) and
    ``scipy.stats.wasserstein_distance``: both are integrals or maxima of the gap between
    the two empirical CDFs evaluated at the pooled, sorted values.
    """
    n1, n2 = ref.size, cur.size
    if max(n1, n2) <= 10_000:  # SciPy computes the exact p-value here; it is cheap
        result = stats.ks_2samp(ref, cur)
        return (
            float(result.statistic),
            float(result.pvalue),
            float(stats.wasserstein_distance(ref, cur)),
        )
    a, b = np.sort(ref), np.sort(cur)
    pooled = np.sort(np.concatenate([a, b]))
    gap = np.searchsorted(a, pooled, "right") / n1 - np.searchsorted(b, pooled, "right") / n2
    statistic = float(np.max(np.abs(gap)))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p_value = float(np.clip(stats.kstwo.sf(statistic, np.round(m * n / (m + n))), 0, 1))
    distance = float(np.sum(np.abs(gap[:-1]) * np.diff(pooled)))
    return statistic, p_value, distance


def _test(s: _Sides) -> tuple[str, float, float]:
    """(test name, p-value, statistic)."""
    if s.ks is not None:
        return "ks", s.ks[1], s.ks[0]
    assert s.ref_counts is not None and s.cur_counts is not None
    table = np.vstack([s.ref_counts, s.cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return "chi2", 1.0, 0.0
    statistic, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    return "chi2", float(p_value), float(statistic)


def _effect(s: _Sides, effect: str) -> float:
    """The named effect size for this feature (only what is asked for is computed)."""
    if s.ref_values is not None and s.cur_values is not None:
        if effect == "wasserstein":
            return _normalise(s.wasserstein or 0.0, s.ref_std or 0.0)
        edges = np.unique(np.quantile(s.ref_values, np.linspace(0, 1, 11))[1:-1])
        r = np.bincount(np.searchsorted(edges, s.ref_values, "right"), minlength=edges.size + 1)
        c = np.bincount(np.searchsorted(edges, s.cur_values, "right"), minlength=edges.size + 1)
    else:
        assert s.ref_counts is not None and s.cur_counts is not None
        r, c = s.ref_counts, s.cur_counts
        if effect == "wasserstein":
            return _normalise(_binned_wasserstein(r, c, s), s.ref_std or 0.0)
    if effect == "linf":
        return _linf(r, c)
    return _psi(r, c) if effect == "psi" else _js(r, c)


def _normalise(distance: float, std: float) -> float:
    if std > 0:
        return float(distance / std)
    return 0.0 if distance == 0 else math.inf


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros_like(counts, dtype=np.float64)


def _linf(r: np.ndarray, c: np.ndarray) -> float:
    return float(np.max(np.abs(_shares(r) - _shares(c)))) if r.size else 0.0


def _psi(r: np.ndarray, c: np.ndarray, floor: float = 1e-4) -> float:
    p, q = np.maximum(_shares(r), floor), np.maximum(_shares(c), floor)
    return float(np.sum((q - p) * np.log(q / p)))


def _js(r: np.ndarray, c: np.ndarray) -> float:
    if r.sum() == 0 or c.sum() == 0:
        return 0.0
    return float(jensenshannon(r, c, base=2))


def _binned_wasserstein(r: np.ndarray, c: np.ndarray, s: _Sides) -> float:
    """W1 = integral of |F_ref - F_cur|, with each bin's CDF step at its edges.

    Interior bins have known widths; the open tails run to the observed min and max.
    """
    assert s.edges is not None
    if s.bounds is None:
        return 0.0
    lo, hi = s.bounds
    points = np.concatenate([[min(lo, s.edges[0])], s.edges, [max(hi, s.edges[-1])]])
    widths = np.diff(points)
    gap = np.abs(np.cumsum(_shares(r)) - np.cumsum(_shares(c)))[:-1]
    # The CDF gap after bin i holds across the next bin's span (midpoint rule).
    spans = (widths[:-1] + widths[1:]) / 2
    return float(np.sum(gap * spans))


def _benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    if p.size == 0:
        return p
    return np.asarray(stats.false_discovery_control(np.clip(p, 0, 1), method="bh"))


def _decide(
    name: str,
    s: _Sides,
    tested: tuple[str, float, float],
    p_adj: float,
    alpha: float,
    effects: Mapping[str, str],
    thresholds: Mapping[str, float],
    rows: tuple[int, int],
) -> FeatureDrift:
    test, p, statistic = tested
    numeric = s.kind in _NUMERIC_KINDS
    effect = effects.get(name, "wasserstein" if numeric else "linf")
    if (effect == "wasserstein" and not numeric) or (effect == "linf" and numeric):
        raise InvalidArgumentError(
            f"effect {effect!r} does not apply to {s.kind} feature {name!r}; use linf, psi "
            "or jensen_shannon for categories and wasserstein, psi or jensen_shannon for numbers"
        )
    threshold = float(thresholds.get(name, thresholds.get(effect, DEFAULT_THRESHOLDS[effect])))
    size = _effect(s, effect)
    significant = p_adj < alpha
    big = size >= threshold
    label = {"ks": "KS", "chi2": "chi-square"}[test]
    what = f"{label} p={p:.3g} (BH-adjusted {p_adj:.3g})"
    how_big = f"{effect} {size:.3g}"
    if significant and big:
        status: Literal["drift", "significant_below_threshold", "no_drift"] = "drift"
        reason = f"{what} < {alpha} and {how_big} >= {threshold}"
    elif significant:
        status = "significant_below_threshold"
        reason = f"significant ({what} < {alpha}) but {how_big} < threshold {threshold}"
    else:
        status = "no_drift"
        reason = f"not significant ({what} >= {alpha}); {how_big}"
    return FeatureDrift(
        name,
        s.kind,
        test,
        statistic,
        p,
        float(p_adj),
        effect,
        size,
        threshold,
        status == "drift",
        status,
        reason,
        rows[0],
        rows[1],
    )


# -- multivariate ----------------------------------------------------------------------


def _domain_classifier(
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    names: list[str],
    max_rows: int = 20_000,
    threshold: float = 0.55,
    seed: int = 0,
) -> DomainClassifier:
    """Cross-validated ROC AUC of telling current rows from reference rows.

    0.5 means the tables are indistinguishable; the features whose permutation hurts the
    classifier most are the root-cause hint.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict, train_test_split

    rng = np.random.default_rng(seed)
    parts = []
    for df in (ref, cur):
        take = rng.choice(len(df), size=min(len(df), max_rows), replace=False)
        parts.append(df.iloc[np.sort(take)][names])
    X = pd.concat(parts, ignore_index=True)
    for name in names:
        if infer_kind(X[name]) in (CATEGORICAL, BOOLEAN, TEXT):
            X[name] = X[name].astype("string").astype("category")
        elif infer_kind(X[name]) == DATETIME:
            X[name] = pd.to_datetime(X[name]).astype("int64")
    y = np.r_[np.zeros(len(parts[0])), np.ones(len(parts[1]))]
    model = HistGradientBoostingClassifier(
        max_iter=100, categorical_features="from_dtype", random_state=seed
    )
    proba = cross_val_predict(model, X, y, cv=5, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, proba))
    X_fit, X_hold, y_fit, y_hold = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y
    )
    model.fit(X_fit, y_fit)
    imp = permutation_importance(
        model, X_hold, y_hold, scoring="roc_auc", n_repeats=3, random_state=seed
    )
    ranked = sorted(zip(names, imp.importances_mean.tolist(), strict=True), key=lambda kv: -kv[1])
    return DomainClassifier(
        auc, auc >= threshold, threshold, [(n, float(v)) for n, v in ranked[:5] if v > 0], len(X)
    )
