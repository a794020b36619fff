"""The quickstart: Headway end to end on the embedded default, on generated data.

Creates a workspace; inside a tracked run, infers a schema from a generated churn table,
validates held-out data against it and trains a scikit-learn model; registers the model
with its lineage, evaluates it (intervals, baselines, slices, the current champion), passes
it through a promotion gate, aliases it ``champion``, loads it back by alias and predicts.
Each step reports through ``say`` so the CLI can show it as it happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from headway.data.synthetic import make_churn
from headway.evaluate import GatePolicy
from headway.registry import load_model, register_model, set_alias
from headway.registry.evaluation import evaluate, gate
from headway.registry.models import list_models
from headway.tracking import start_run
from headway.tracking.checks import infer_schema, validate
from headway.workspace import init_workspace

__all__ = ["QuickstartResult", "run_quickstart"]

LABEL = "churned"
# Promote only a model that is clearly better than guessing and no worse than the champion.
GATE_POLICY = GatePolicy(
    thresholds={"roc_auc": 0.7},
    min_lift={"zero_rule": {"roc_auc": 0.1}},
    max_regression={"roc_auc": 0.02},
)
CATEGORICAL = ["plan", "region"]


@dataclass(frozen=True)
class QuickstartResult:
    project_dir: Path
    run_id: str
    model_uri: str
    alias_uri: str
    metrics: dict[str, float]
    predictions: list[int]


def run_quickstart(
    directory: str | Path = "headway-quickstart",
    rows: int = 5000,
    say: Callable[[str], None] = print,
) -> QuickstartResult:
    ws = init_workspace(directory)
    say(f"workspace   {ws.project_dir} (store: {ws.store.display_uri})")
    data = make_churn(rows, seed=7)
    train, test = train_test_split(data, test_size=0.25, random_state=0, stratify=data[LABEL])
    features = [c for c in data.columns if c not in (LABEL, "customer_id")]
    say(
        f"data        generated {len(data):,} customers; {len(train):,} to train, "
        f"{len(test):,} to test"
    )

    params = {"C": 0.5, "max_iter": 1000}
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL), remainder=StandardScaler()
        ),
        LogisticRegression(**params),
    )
    with start_run(
        "churn-quickstart", params=params, tags={"source": "quickstart"}, workspace=ws
    ) as run:
        schema = infer_schema(train, name="churn-train")
        report = validate(test, schema, name="churn-test")
        say(
            f"validated   held-out data against the schema inferred from training data: "
            f"{len(report.errors)} errors, {len(report.warnings)} warnings"
        )
        model.fit(train[features], train[LABEL])
        scores = model.predict_proba(test[features])[:, 1]
        metrics = {
            "test_auc": float(roc_auc_score(test[LABEL], scores)),
            "test_accuracy": float(accuracy_score(test[LABEL], scores >= 0.5)),
        }
        run.log_metrics(metrics)
        say(
            f"run         {run.id} in experiment churn-quickstart: "
            + ", ".join(f"{k}={v:.3f}" for k, v in metrics.items())
        )
        version = register_model(
            "churn",
            model,
            run=run,
            input_example=train[features].head(5),
            description="Logistic regression on generated churn data",
            workspace=ws,
        )
    say(
        f"registered  {version.uri} ({version.flavor}, {len(version.files)} files, sha256 "
        "checked), lineage: datasets -> run -> model version"
    )
    has_champion = any(
        m.name == "churn" and "champion" in m.aliases for m in list_models(workspace=ws)
    )
    evaluation = evaluate(
        version.uri,
        test.drop(columns=["customer_id"]),
        label=LABEL,
        slices=["plan"],
        champion="models:/churn@champion" if has_champion else None,
        n_bootstrap=100,
        workspace=ws,
    )
    auc = evaluation.overall["roc_auc"]
    worst = evaluation.findings[0].name if evaluation.findings else "none"
    say(
        f"evaluated   ROC AUC {auc.value:.3f} [{auc.low:.3f}, {auc.high:.3f}], lift over "
        f"zero-rule {evaluation.lift['zero_rule']['roc_auc']:+.3f}; worst slice: {worst}"
    )
    outcome = gate(evaluation, GATE_POLICY, workspace=ws)
    say(
        f"gate        {'blessed' if outcome.blessed else 'NOT blessed'}: "
        + "; ".join(c.reason for c in outcome.checks[:2])
    )
    if not outcome.blessed:
        say("not promoted: the gate did not bless this version (try more --rows)")
        return QuickstartResult(ws.project_dir, run.id, version.uri, "", metrics, [])
    previous = set_alias("churn", "champion", version.version, reason="quickstart", workspace=ws)
    moved = f" (was version {previous})" if previous else ""
    say(f"alias       models:/churn@champion -> version {version.version}{moved}")
    champion = load_model("models:/churn@champion", workspace=ws)
    sample = test[features].head(5)
    predictions = [int(p) for p in champion.predict(sample)]
    say(f"predicted   {predictions} for 5 held-out customers with models:/churn@champion")
    return QuickstartResult(
        ws.project_dir, run.id, version.uri, "models:/churn@champion", metrics, predictions
    )
