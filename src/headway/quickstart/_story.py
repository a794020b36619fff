"""The quickstart: Headway's whole loop on the embedded default, on generated data.

validate -> train with baselines -> evaluate with slices -> register and bless -> deploy
-> serve two weeks of traffic (replayed into the prediction log) -> the world drifts,
labels arrive late -> monitoring detects it -> an alert fires with its runbook -> the
retraining pipeline runs -> the challenger beats the champion on the recent window ->
canary ramp on a live server -> promoted. Each step reports through ``say``; long ones
show progress on ``console`` when one is given.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from headway.errors import InvalidArgumentError
from headway.evaluate import GatePolicy
from headway.monitoring import create_monitor, run_windows
from headway.monitoring.alerting import evaluate_alerts
from headway.pipelines.challenger import settle
from headway.pipelines.scheduler import Schedule, tick
from headway.pipelines.triggers import AlertFiring
from headway.quickstart import _live
from headway.quickstart._world import (
    CATEGORICAL,
    DAYS,
    DEPLOYMENT,
    DRIFT_DAY,
    FEATURES,
    LABEL,
    history,
    live_rows,
    replay,
    training_rows,
)
from headway.registry import get_model_version, register_model, set_alias
from headway.registry.evaluation import evaluate, gate
from headway.serving.deployments import active_revision, create_deployment
from headway.tracking import list_runs, start_run
from headway.tracking.checks import infer_schema, validate
from headway.workspace import Workspace, init_workspace, use_workspace

__all__ = ["QuickstartResult", "run_quickstart"]

MARKER = ".headway-quickstart"  # a folder holding it was made by the quickstart
GATE_POLICY = GatePolicy(thresholds={"roc_auc": 0.7}, min_lift={"zero_rule": {"roc_auc": 0.1}})
TRAINING_TOML = """\
# The standard training pipeline (headway.pipelines.training) as the quickstart runs it.
model = "churn"
label = "churned"

[data]
source = "traffic:churn-api"   # the deployment's requests joined with their feedback
since = "7d"                   # a drift alert passes "since the drift began" instead
until = "2d"                   # keep the last 2 days to judge the challenger on

[split]
strategy = "stratified"
test_size = 0.25

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = {max_iter = 1000}
n_trials = 8
cv = 3
[train.search]
C = {low = 0.01, high = 10.0, log = true}

[evaluate]
slices = ["plan"]
[evaluate.gate]
thresholds = {roc_auc = 0.7}

[deploy]
deployment = "churn-api"
mode = "canary"
recent = "2d"
# After a concept shift the new model must answer differently: the ramp gates on errors
# and latency, and tolerates disagreement with the old model up to 40%.
ramp = {steps = [0.25, 0.5, 1.0], min_requests = 100, min_agreement = 0.6, max_output_shift = 0.5}
"""


@dataclass(frozen=True)
class QuickstartResult:
    project_dir: Path
    deployment: str
    run_id: str
    first_champion: str
    champion: str
    alerts: list[str]
    promoted: bool


def run_quickstart(
    directory: str | Path = "headway-quickstart",
    rows: int = 5000,
    say: Callable[[str], None] = print,
    console: Console | None = None,
) -> QuickstartResult:
    """Run the whole loop in ``directory`` (made fresh; see :data:`MARKER`)."""
    ws = _fresh_workspace(Path(directory))
    use_workspace(ws)  # pipeline steps record into the current workspace
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=DAYS)
    say(f"workspace   {ws.project_dir} (store: {ws.store.display_uri})")

    run_id, first = _train_and_bless(ws, start, rows, say)
    create_deployment(DEPLOYMENT, "models:/churn@champion", reason="quickstart", workspace=ws)
    say(f"deployed    {DEPLOYMENT}: revision 1 serves {first} (headway serve {DEPLOYMENT})")

    traffic = history(start)
    model = _native(ws, first)
    requests, labels = replay(ws, traffic, model, first, now)
    drift_at = start + timedelta(days=DRIFT_DAY)
    say(
        f"served      {requests:,} requests over {DAYS} days (replayed into the prediction "
        f"log); {labels:,} labels came back 6-48 h later. The world moved on "
        f"{drift_at:%b %d}: prices, plans and support calls shifted, and so did churn"
    )

    alerts = _monitor(ws, start, now, say, console)
    decision = _retrain(ws, now, say, console)
    promoted = False
    if decision.get("verdict") == "canary":
        promoted = _canary(ws, decision["challenger"], say)
    champion = get_model_version("models:/churn@champion", workspace=ws).uri
    return QuickstartResult(ws.project_dir, DEPLOYMENT, run_id, first, champion, alerts, promoted)


def _fresh_workspace(folder: Path) -> Workspace:
    """A new workspace in ``folder``; an earlier quickstart's is replaced, anything else kept."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise InvalidArgumentError(
                f"{folder} is not empty and was not made by the quickstart; pass another "
                "folder, e.g. headway quickstart ./headway-demo"
            )
        shutil.rmtree(folder)
    ws = init_workspace(folder)
    (folder / MARKER).write_text("made by `headway quickstart`; rerunning it starts over\n")
    return ws


def _train_and_bless(
    ws: Workspace, start: datetime, rows: int, say: Callable[[str], None]
) -> tuple[str, str]:
    data = training_rows(start, rows)
    train, test = train_test_split(data, test_size=0.25, random_state=0, stratify=data[LABEL])
    say(f"data        {len(data):,} customers from before the history: {len(train):,} to train")
    params = {"C": 0.5, "max_iter": 1000}
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL), remainder=StandardScaler()
        ),
        LogisticRegression(**params),
    )
    with start_run("churn-quickstart", params=params, tags={"source": "quickstart"}) as run:
        schema = infer_schema(train[FEATURES], name="churn-train")
        (ws.project_dir / "schema.yaml").write_text(schema.to_yaml())
        report = validate(test[FEATURES], schema, name="churn-test")
        say(
            f"validated   held-out rows against the schema inferred from training "
            f"(schema.yaml): {len(report.errors)} errors, {len(report.warnings)} warnings"
        )
        model.fit(train[FEATURES], train[LABEL])
        version = register_model(
            "churn",
            model,
            input_example=train[FEATURES].head(5),
            description="Logistic regression on the quickstart's churn data",
            reference=test[[*FEATURES, LABEL]],
            label=LABEL,
        )
    evaluation = evaluate(version.uri, test[[*FEATURES, LABEL]], label=LABEL, slices=["plan"])
    auc = evaluation.overall["roc_auc"]
    worst = evaluation.findings[0].name if evaluation.findings else "none"
    say(
        f"trained     {version.uri} in run {run.id[:8]}: ROC AUC {auc.value:.3f} "
        f"[{auc.low:.3f}, {auc.high:.3f}], lift over the zero-rule baseline "
        f"{evaluation.lift['zero_rule']['roc_auc']:+.3f}; weakest slice: {worst}"
    )
    outcome = gate(evaluation, GATE_POLICY)
    if not outcome.blessed:
        raise InvalidArgumentError(
            "the first model did not pass its gate: "
            + "; ".join(c.reason for c in outcome.checks if not c.passed)
            + " (try more --rows)"
        )
    set_alias("churn", "champion", version.version, reason="quickstart: gate passed")
    say(f"blessed     gate passed ({outcome.checks[0].reason}); models:/churn@champion -> 1")
    return run.id, version.uri


def _monitor(
    ws: Workspace,
    start: datetime,
    now: datetime,
    say: Callable[[str], None],
    console: Console | None,
) -> list[str]:
    mon = create_monitor(DEPLOYMENT, "1h", start=start)
    with _progress(console, "monitor: hourly windows", DAYS) as advance:
        for day in range(1, DAYS + 1):
            run_windows(mon, until=min(now, start + timedelta(days=day)))
            advance()
    say(
        f"monitored   {DAYS * 24} hourly windows against the reference stored with the "
        "model: data quality, feature and prediction drift, latency, errors, and accuracy "
        "once labels arrived"
    )
    events = [e for e in evaluate_alerts(mon) if e.kind == "firing"]
    for event in events[:3]:
        alert = event.alert
        at = datetime.fromtimestamp(event.at / 1000, UTC)
        what = ", ".join(list(alert.values)[:4]) if alert.check == "drift.feature" else alert.check
        say(f"ALERT       {at:%b %d %H:%M} {alert.severity} {alert.rule}: {what}")
    if events:
        say(f"runbook     {events[0].alert.runbook.splitlines()[0]}")
    return [e.alert.rule for e in events]


def _retrain(
    ws: Workspace, now: datetime, say: Callable[[str], None], console: Console | None
) -> dict[str, Any]:
    config = ws.project_dir / "training.toml"
    config.write_text(TRAINING_TOML)
    schedule = Schedule(
        "retrain-churn",
        "headway.pipelines.training:standard_training",
        (AlertFiring(DEPLOYMENT),),
        params={"config": str(config)},
    )
    [decided] = tick([schedule], now=now, progress=console is not None)
    reasons = "; ".join(c.firing.reason for c in decided.checks.values() if c.firing)
    if decided.action != "ran":
        say(f"retraining  did not run ({decided.action}): {decided.error or decided.note}")
        return {}
    say(f"retrained   the scheduler ran training.toml (run {decided.run_id}) because {reasons}")
    [latest] = list_runs(experiment=f"challenger/{DEPLOYMENT}", limit=1)
    tags, metrics = latest.tags, latest.metrics
    if "challenger.roc_auc" in metrics and "champion.roc_auc" in metrics:
        say(
            f"challenger  {tags['headway.challenger']} vs champion {tags['headway.champion']} "
            f"on the last 2 days' {int(tags['headway.rows']):,} labelled requests: ROC AUC "
            f"{metrics['challenger.roc_auc'].value:.3f} vs {metrics['champion.roc_auc'].value:.3f}"
        )
    say(f"decision    {tags['headway.verdict']}: {tags['headway.reason'].split('; ')[-1]}")
    return {"verdict": tags["headway.verdict"], "challenger": tags["headway.challenger"]}


def _canary(ws: Workspace, challenger: str, say: Callable[[str], None]) -> bool:
    steps = active_revision(DEPLOYMENT, ws).config["ramp"]["steps"]
    say(f"canary      {challenger} ramps {' -> '.join(f'{s:.0%}' for s in steps)} live")
    with _live.serving(ws, DEPLOYMENT, lambda line: say(f"            {line}")) as port:
        traffic, promoted = _live.ramp(ws, port, DEPLOYMENT, live_rows(2000, seed=21))
    routes = ", ".join(f"{n} {r}" for r, n in sorted(traffic.by_route.items()))
    say(f"live        {traffic.sent} requests to http://127.0.0.1:{port}/predict: {routes}")
    settled = settle(DEPLOYMENT, workspace=ws)
    if promoted and settled is not None and settled.verdict == "promoted":
        say(f"promoted    {challenger} serves all of {DEPLOYMENT}: models:/churn@champion -> 2")
    return promoted


def _native(ws: Workspace, uri: str) -> Any:
    from headway.registry import load_model

    return load_model(uri, workspace=ws).native


@contextmanager
def _progress(console: Console | None, what: str, total: int) -> Iterator[Callable[[], None]]:
    if console is None:
        yield lambda: None
        return
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda: bar.advance(task)
