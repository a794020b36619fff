"""Generated datasets, so examples, tests and the quickstart need no download."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_churn"]

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
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 12.0 * (1 - 0.5 * drift), n).round().astype("int64")
    monthly = rng.normal(65 + 25 * drift, 20, n).clip(10, 200).round(2)
    calls = rng.poisson(1.5 + 2 * drift, n).astype("int64")
    plan = PLANS[rng.choice(3, n, p=[0.5 - 0.3 * drift, 0.3, 0.2 + 0.3 * drift])]
    region = REGIONS[rng.integers(0, 4, n)]
    autopay = rng.random(n) < 0.55
    logit = (
        -1.0
        - 0.06 * tenure
        + 0.025 * (monthly - 65)
        + 0.45 * calls
        + np.where(plan == "basic", 0.6, 0.0)
        - 0.7 * autopay
        + 1.5 * drift
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "customer_id": np.arange(n, dtype="int64") + seed * 10_000_000,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "support_calls": calls,
            "plan": plan,
            "region": region,
            "autopay": autopay,
            "churned": churned,
        }
    )
