"""The workspace and models every serving test serves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serving_helpers import MIXED, NUMERIC, Flaky, Slow
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import headway
from headway.workspace import Workspace, init_workspace, use_workspace


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace with churn models: v1 LR on numbers, v2 LR on numbers + plan, v3 flaky,
    v4 a weaker LR on numbers, v5 a slow LR."""
    root: Path = tmp_path_factory.mktemp("serving")
    ws = init_workspace(root / "project")
    use_workspace(ws)
    train = headway.make_churn(3000, seed=1)
    numeric = LogisticRegression(max_iter=500).fit(train[NUMERIC], train["churned"])
    headway.register_model("churn", numeric, input_example=train[NUMERIC].head())
    mixed = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["plan"]), remainder="passthrough"),
        LogisticRegression(max_iter=500),
    ).fit(train[MIXED], train["churned"])
    headway.register_model("churn", mixed, input_example=train[MIXED].head())
    flaky = Flaky(numeric, float(train["monthly_charges"].quantile(0.7)))  # fails on 30%
    headway.register_model("churn", flaky, input_example=train[NUMERIC].head())
    weaker = LogisticRegression(C=0.001, max_iter=500).fit(train[NUMERIC], train["churned"])
    headway.register_model("churn", weaker, input_example=train[NUMERIC].head())
    headway.register_model("churn", Slow(numeric), input_example=train[NUMERIC].head())
    yield ws
    use_workspace(None)
