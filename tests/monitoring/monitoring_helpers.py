"""Generated traffic for the monitoring tests: features, outputs and log batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

PLANS = np.array(["basic", "plus", "pro"])


def features(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Three features; ``shift`` moves ``charges`` by that many standard deviations."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.normal(24.0, 6.0, n),
            "charges": rng.normal(70.0 + 10.0 * shift, 10.0, n),
            "plan": PLANS[rng.integers(0, 3, n)],
        }
    )


def outputs(inputs: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = 1 / (1 + np.exp(-(inputs["charges"].to_numpy() - 70.0) / 10.0))
    return pd.DataFrame(
        {"prediction": (rng.uniform(size=len(inputs)) < score).astype(np.int64), "proba_1": score}
    )


def log_batch(
    inputs: pd.DataFrame,
    outs: pd.DataFrame | None = None,
    latency_ms: np.ndarray | None = None,
    status: np.ndarray | None = None,
) -> pa.Table:
    """Rows shaped like the prediction log's (the columns a window reads)."""
    n = len(inputs)
    outs = outs if outs is not None else outputs(inputs, seed=0)
    return pa.table(
        {
            "inputs": pa.Table.from_pandas(inputs, preserve_index=False).to_struct_array(),
            "outputs": pa.Table.from_pandas(outs, preserve_index=False).to_struct_array(),
            "latency_ms": latency_ms if latency_ms is not None else np.full(n, 5.0),
            "status": status if status is not None else np.full(n, 200, dtype=np.int16),
        }
    )
