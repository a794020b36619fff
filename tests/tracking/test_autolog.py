from collections.abc import Iterator

import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import headway
from headway.workspace import Workspace


@pytest.fixture
def autologging() -> Iterator[None]:
    headway.autolog()
    yield
    headway.autolog(disable=True)


def _xy() -> tuple:
    df = headway.make_churn(400)
    return df[["tenure_months", "monthly_charges", "support_calls"]], df["churned"]


def test_fit_logs_params_score_input_and_model(sqlite_ws: Workspace, autologging: None) -> None:
    X, y = _xy()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.3)).fit(X, y)
    [run] = headway.list_runs()
    assert run.status == "finished"
    assert run.params["estimator"] == "Pipeline"
    assert run.params["logisticregression__C"] == "0.3"
    assert run.metrics["training_score"].value == pytest.approx(model.score(X, y))
    assert [a.path for a in headway.list_run_artifacts(run.id)] == ["model.skops"]
    assert [d.num_rows for d in headway.list_run_inputs(run.id)] == [400]


def test_fit_inside_an_active_run_logs_into_it(sqlite_ws: Workspace, autologging: None) -> None:
    X, y = _xy()
    with headway.start_run("mine") as run:
        RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    assert [r.id for r in headway.list_runs()] == [run.id]
    assert headway.get_run(run.id).params["n_estimators"] == "5"


def test_disable_restores_plain_fit(sqlite_ws: Workspace) -> None:
    headway.autolog()
    headway.autolog(disable=True)
    X, y = _xy()
    LogisticRegression().fit(X, y)
    assert headway.list_runs() == []


def test_several_fits_in_one_run_keep_their_params_apart(
    sqlite_ws: Workspace, autologging: None
) -> None:
    X, y = _xy()
    with headway.start_run("mine") as run:
        LogisticRegression(C=0.1).fit(X, y)
        LogisticRegression(C=2.0).fit(X, y)
    info = headway.get_run(run.id)
    assert (info.params["C"], info.params["fit1.C"]) == ("0.1", "2.0")
    assert [m.step for m in headway.get_metric_history(run.id, "training_score")] == [0, 1]
    assert {a.path for a in headway.list_run_artifacts(run.id)} == {
        "model.skops",
        "fit1.model.skops",
    }
