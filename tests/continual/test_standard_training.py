"""The standard training pipeline, configured in TOML, on a deployment's labelled traffic."""

from __future__ import annotations

from pathlib import Path

import pytest
from continual_helpers import FEATURES, churn_model, log_labelled, stream

from headway.errors import DataValidationError, InvalidArgumentError
from headway.pipelines import StepFailedError
from headway.pipelines.training import load_training_config, standard_training
from headway.registry import get_model_version, register_model, set_alias
from headway.serving.deployments import active_revision, create_deployment
from headway.tracking import list_runs
from headway.workspace import Workspace

CONFIG = """
model = "churn"
label = "churned"

[data]
source = "traffic:churn-api"
since = "2026-01-25T00:00:00+00:00"
until = "2026-01-30T00:00:00+00:00"

[split]
strategy = "stratified"
test_size = 0.3

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = {max_iter = 500}
n_trials = 4
cv = 3
[train.search]
C = {low = 0.05, high = 5.0, log = true}

[evaluate]
slices = ["plan"]
[evaluate.gate]
thresholds = {roc_auc = 0.7}

[deploy]
deployment = "churn-api"
mode = "canary"
recent = "2d"
until = "2026-02-01T00:00:00+00:00"
ramp = {steps = [0.5, 1.0], min_requests = 50, min_agreement = 0.5}
"""


@pytest.fixture
def served(ws: Workspace) -> str:
    """v1, trained before the drift, is champion and serves churn-api; 12 days logged."""
    data, day = stream()
    model = churn_model().fit(data[day < 4][FEATURES], data[day < 4]["churned"])
    v1 = register_model("churn", model, input_example=data[FEATURES].head(), workspace=ws)
    set_alias("churn", "champion", v1.version, force=True, workspace=ws)
    create_deployment("churn-api", v1.uri, workspace=ws)
    log_labelled(ws, data, v1.uri)
    return v1.uri


def test_retrains_on_the_window_registers_gates_and_starts_a_canary(
    ws: Workspace, served: str, tmp_path: Path
) -> None:
    config = tmp_path / "training.toml"
    config.write_text(CONFIG)
    result = standard_training.run(config=str(config), workspace=ws)
    decision = result.output
    assert decision["verdict"] == "canary", decision["reasons"]
    challenger = decision["challenger"]
    assert challenger == "models:/churn/2"
    assert active_revision("churn-api", ws).config["canary"] == challenger
    assert get_model_version("models:/churn@challenger", workspace=ws).uri == challenger
    assert [s.status for s in result.steps.values()] == ["finished"] * 8
    version = get_model_version(challenger, workspace=ws)
    assert version.run_id is not None  # lineage: the register step's run produced it
    assert list_runs(experiment="search", workspace=ws) == []  # trials stay in the step

    revisions = active_revision("churn-api", ws).number
    again = standard_training.run(config=str(config), workspace=ws)  # same data: cached
    assert again.steps["train_model"].cached and again.steps["register_version"].cached
    assert again.output["verdict"] == "canary"  # already rolling out: left alone
    assert "already the canary" in again.output["reasons"][0]
    assert active_revision("churn-api", ws).number == revisions


def test_the_pipeline_stops_on_schema_errors_with_the_report(
    ws: Workspace, served: str, tmp_path: Path
) -> None:
    schema = tmp_path / "schema.yaml"
    schema.write_text(
        "columns:\n"
        "  monthly_charges: {kind: numeric, min: 0, max: 80}\n"  # the drift broke this range
    )
    config = tmp_path / "training.toml"
    config.write_text(CONFIG + '\n[validate]\nschema = "schema.yaml"\n')
    with pytest.raises(StepFailedError) as failed:
        standard_training.run(config=str(config), workspace=ws)
    assert failed.value.result.steps["validate_data"].status == "failed"
    assert failed.value.result.steps["train_model"].status == "skipped"
    assert isinstance(failed.value.__cause__, DataValidationError)
    assert "monthly_charges" in str(failed.value.__cause__)


def test_a_bad_config_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="source"):
        load_training_config({"model": "m", "label": "y", "data": {}})
    with pytest.raises(InvalidArgumentError, match="mode"):
        load_training_config(
            {"model": "m", "label": "y", "data": {"source": "x"}, "deploy": {"mode": "yolo"}}
        )
    with pytest.raises(InvalidArgumentError, match="no training config"):
        load_training_config(tmp_path / "missing.toml")


def test_headway_pipeline_train_runs_a_config(ws: Workspace, served: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from headway.cli import app

    config = tmp_path / "training.toml"
    config.write_text(CONFIG.split("[deploy]")[0])  # no deploy table: register and gate only
    done = CliRunner().invoke(app, ["pipeline", "train", str(config)])
    assert done.exit_code == 0, done.output
    assert "finished" in done.output and "8 step(s)" in done.output
    assert get_model_version("models:/churn@challenger", workspace=ws).version == 2
    bad = CliRunner().invoke(app, ["pipeline", "train", str(tmp_path / "nope.toml")])
    assert bad.exit_code != 0 and "no training config" in bad.output


def test_warm_start_continues_from_the_champions_weights(ws: Workspace, served: str) -> None:
    from headway.pipelines.training import _Estimator, _warm_from
    from headway.registry import load_model

    data, _ = stream()
    X = data[FEATURES].head(500)
    fresh = _Estimator("sklearn.linear_model.LogisticRegression", {"max_iter": 300}, X)()
    warm = _warm_from(served, fresh)
    champion = load_model(served, workspace=ws).native
    assert warm is not fresh and warm.steps[-1][1].warm_start is True
    assert (warm.steps[-1][1].coef_ == champion.steps[-1][1].coef_).all()  # the start point
    assert warm.steps[-1][1].max_iter == 300  # the new configuration, the old weights
    other = _Estimator("sklearn.ensemble.RandomForestClassifier", {}, X)()
    assert _warm_from(served, other) is other  # another kind of model: from scratch


def fit_forest(X: object, y: object, params: dict) -> object:
    """A user's own training function, named in the config as module:function."""
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]), remainder="passthrough"
    )
    return make_pipeline(encode, RandomForestClassifier(**params)).fit(X, y)


@pytest.mark.parametrize("source", ["parquet", "csv", "duckdb"])
def test_file_and_query_sources_with_a_named_estimator_or_a_function(
    ws: Workspace, tmp_path: Path, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = stream()
    rows = data.head(3000).drop(columns=["time"])
    path = tmp_path / "rows.parquet"
    rows.to_parquet(path)
    if source == "csv":
        path = tmp_path / "rows.csv"
        rows.to_csv(path, index=False)
    where = f"duckdb:SELECT * FROM '{path}'" if source == "duckdb" else str(path)
    lightgbm = [
        "collections.OrderedDict",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
    ]
    train: dict = {
        "estimator": "lightgbm.LGBMClassifier",
        "params": {"n_estimators": 20, "verbose": -1},
        "trusted_types": lightgbm,  # inside a scikit-learn pipeline: skops asks for trust
    }
    if source == "csv":
        monkeypatch.syspath_prepend(str(Path(__file__).parent))
        train = {"function": "test_standard_training:fit_forest", "params": {"n_estimators": 20}}
    config = {
        "model": "churn",
        "label": "churned",
        "data": {"source": where, "drop": ["customer_id"]},
        "train": train,
        "evaluate": {"gate": {"thresholds": {"roc_auc": 0.6}}},
    }
    result = standard_training.run(config=config, workspace=ws)
    assert result.output["verdict"] == "not deployed"  # no [deploy]: registered and gated
    version = get_model_version("models:/churn@challenger", workspace=ws)
    assert version.flavor == "sklearn"
    assert "customer_id" not in {c["name"] for c in version.signature["inputs"]["columns"]}


def test_a_model_with_foreign_types_is_not_loaded_without_trust(
    ws: Workspace, tmp_path: Path
) -> None:
    data, _ = stream()
    path = tmp_path / "rows.parquet"
    data.head(2000).drop(columns=["time"]).to_parquet(path)
    config = {
        "model": "churn",
        "label": "churned",
        "data": {"source": str(path), "drop": ["customer_id"]},
        "train": {"estimator": "lightgbm.LGBMClassifier", "params": {"verbose": -1}},
    }
    with pytest.raises(StepFailedError, match="trusted_types"):
        standard_training.run(config=config, workspace=ws)
