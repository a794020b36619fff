"""A churn world that moved: models from before and after, and logged labelled traffic."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from headway.data.synthetic import make_churn_stream
from headway.serving.log import FeedbackLog, PredictionLog
from headway.workspace import Workspace

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "plan", "region", "autopay"]


def churn_model() -> object:
    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
            remainder=StandardScaler(),
        ),
        LogisticRegression(max_iter=1000),
    )


def stream() -> tuple[pd.DataFrame, pd.Series]:
    """12 days from 2026-01-20 at 60 requests an hour; the world moves on day 4."""
    data = make_churn_stream(days=12, rows_per_hour=60, drift_day=4.0, start="2026-01-20")
    return data, (data["time"] - data["time"].min()).dt.total_seconds() / 86_400


def log_labelled(ws: Workspace, rows: pd.DataFrame, model_version: str) -> None:
    """Log ``rows`` as churn-api's primary traffic, with their labels 3 hours later."""
    ids = [f"r{i}" for i in range(len(rows))]
    times = rows["time"].to_numpy().astype("datetime64[ms]")
    with PredictionLog(ws.log_root, fsync=False) as log:
        log.log(
            ids,
            inputs=rows[FEATURES].reset_index(drop=True),
            outputs=pd.DataFrame({"prediction": np.zeros(len(rows), dtype=np.int64)}),
            deployment="churn-api",
            revision=1,
            model_version=model_version,
            latency_ms=np.full(len(rows), 2.0),
            status=np.full(len(rows), 200, dtype=np.int16),
            route="primary",
            time=times,
        )
    with FeedbackLog(ws.log_root, fsync=False) as log:
        log.log(ids, rows["churned"].to_numpy(), time=times + np.timedelta64(3, "h"))
