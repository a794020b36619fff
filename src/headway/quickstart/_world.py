"""The quickstart's world: churn traffic over two weeks in which customers change.

Two weeks of requests end now. On day 9 the world moves over a day (prices rise, plans
shift, support calls grow: a covariate shift; and customers react differently to them:
a concept shift). The truth about each customer (did they churn?) arrives as feedback
6 to 48 hours after their request, so the newest requests have no labels yet, as in
production.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from headway.data.synthetic import make_churn_stream
from headway.registry.reference import model_outputs
from headway.serving.log import FeedbackLog, PredictionLog
from headway.workspace import Workspace

LABEL = "churned"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "plan", "region", "autopay"]
CATEGORICAL = ["plan", "region"]
DAYS, DRIFT_DAY, PER_HOUR = 14, 9.0, 300
DEPLOYMENT = "churn-api"


def training_rows(start: datetime, rows: int) -> pd.DataFrame:
    """Customers of the weeks before the history, when the model was first trained."""
    hours = max(1, rows // (7 * 24))
    stream = make_churn_stream(7, hours, None, start=_ms(start - timedelta(days=7)), seed=7)
    return stream.drop(columns=["time"])


def history(start: datetime) -> pd.DataFrame:
    """The two weeks of traffic from ``start``, the world moving on day 9."""
    return make_churn_stream(DAYS, PER_HOUR, DRIFT_DAY, start=_ms(start), seed=11)


def live_rows(n: int, seed: int) -> pd.DataFrame:
    """Customers of today's world (after the shift), for live requests."""
    return make_churn_stream(1, n // 24 + 1, 0.0, seed=seed).head(n).reset_index(drop=True)


def replay(
    ws: Workspace, traffic: pd.DataFrame, model: object, version: str, now: datetime
) -> tuple[int, int]:
    """Log ``traffic`` as answered by ``model`` (``version``), and its delayed feedback.

    Returns the number of requests and of labels that have arrived by ``now``.
    """
    features = traffic[FEATURES].reset_index(drop=True)
    outputs = pd.DataFrame(model_outputs(model, features))
    ids = np.char.add("h", np.arange(len(traffic)).astype(str))
    times = traffic["time"].to_numpy().astype("datetime64[ms]")
    rng = np.random.default_rng(3)
    with PredictionLog(ws.log_root, fsync=False) as log:
        log.log(
            ids,
            inputs=features,
            outputs=outputs,
            deployment=DEPLOYMENT,
            revision=1,
            model_version=version,
            latency_ms=rng.gamma(2.0, 0.8, len(traffic)),
            status=np.full(len(traffic), 200, dtype=np.int16),
            route="primary",
            time=times,
        )
    arrives = times + (rng.uniform(6, 48, len(traffic)) * 3_600_000).astype("timedelta64[ms]")
    known = arrives < _ms(now)
    with FeedbackLog(ws.log_root, fsync=False) as log:
        log.log(ids[known], traffic[LABEL].to_numpy()[known], time=arrives[known])
    return len(traffic), int(known.sum())


def _ms(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.replace(tzinfo=None), "ms")
