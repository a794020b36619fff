"""Generated datasets, so examples, tests and the quickstart need no download."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_churn", "make_churn_stream"]

PLANS = np.array(["basic", "standard", "premium"])
REGIONS = np.array(["north", "south", "east", "west"])


def make_churn(n: int = 5000, seed: int = 0, drift: float = 0.0) -> pd.DataFrame:
    """A customer-churn table: numeric, categorical and boolean features, label ``churned``.

    ``drift`` (0 to 1) shifts the feature distributions and the label relation, to stand in
    for a world that moved since training.

    Examples
    --------
    >>> df = make_churn(100, seed=1)
    >>> df.shape
    (100, 8)
    >>> sorted(df["churned"].unique().tolist())
    [0, 1]
    """
    return _churn(np.random.default_rng(seed), np.full(n, float(drift)), seed * 10_000_000)


def make_churn_stream(
    days: int = 21,
    rows_per_hour: int = 400,
    drift_day: float | None = 14.0,
    drift: float = 0.8,
    start: str | np.datetime64 = "2026-01-05",
    seed: int = 0,
) -> pd.DataFrame:
    """Churn traffic over time: a ``time`` column, the features, and the true ``churned``.

    From ``drift_day`` the world moves over one day to ``drift``: a covariate shift
    (charges rise, premium plans grow, more support calls) and a concept shift (customers
    become more sensitive to price and to support calls, less loyal with tenure), so a
    model trained before it loses accuracy, and one retrained after it wins it back.

    Examples
    --------
    >>> stream = make_churn_stream(days=2, rows_per_hour=10, drift_day=1.0)
    >>> len(stream), stream["time"].is_monotonic_increasing
    (480, True)
    """
    n = days * 24 * rows_per_hour
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.uniform(0.0, days * 86_400.0, n))
    if drift_day is None:
        level = np.zeros(n)
    else:
        level = drift * np.clip((offsets / 86_400.0 - drift_day), 0.0, 1.0)
    df = _churn(rng, level, seed * 10_000_000)
    origin = np.asarray(start, dtype="datetime64[ms]")
    df.insert(0, "time", origin + (offsets * 1000).astype("timedelta64[ms]"))
    return df


def _churn(rng: np.random.Generator, drift: np.ndarray, first_id: int) -> pd.DataFrame:
    """Customers whose world has moved by ``drift`` (one value per row, 0 to 1)."""
    n = len(drift)
    tenure = rng.gamma(2.0, 12.0 * (1 - 0.5 * drift), n).round().astype("int64")
    monthly = rng.normal(65 + 25 * drift, 20, n).clip(10, 200).round(2)
    calls = rng.poisson(1.5 + 2 * drift, n).astype("int64")
    u = rng.random(n)
    basic, standard = 0.5 - 0.3 * drift, 0.3
    plan = PLANS[(u >= basic).astype(int) + (u >= basic + standard).astype(int)]
    region = REGIONS[rng.integers(0, 4, n)]
    autopay = rng.random(n) < 0.55
    logit = (
        -1.0
        - 0.06 * (1 - 0.7 * drift) * tenure
        + 0.025 * (1 + 2.5 * drift) * (monthly - 65 - 25 * drift)
        + (0.45 + 0.5 * drift) * (calls - 2 * drift)
        + np.where(plan == "basic", 0.6, 0.0)
        - 0.7 * (1 - drift) * autopay
        + 0.5 * drift
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "customer_id": np.arange(n, dtype="int64") + first_id,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "support_calls": calls,
            "plan": plan,
            "region": region,
            "autopay": autopay,
            "churned": churned,
        }
    )
