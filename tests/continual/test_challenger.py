"""Champion/challenger on the deployment's recent labelled traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from continual_helpers import FEATURES, churn_model, log_labelled, stream

from headway.pipelines.challenger import challenge, settle
from headway.registry import get_model_version, register_model
from headway.serving.deployments import Ramp, active_revision, create_deployment, set_canary, switch
from headway.tracking import list_runs
from headway.workspace import Workspace

NOW = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def world(ws: Workspace) -> dict[str, str]:
    """v1 trained before the drift serves churn-api; v2 trained after it; 2 days of traffic."""
    data, day = stream()
    before, after = data[day < 4], data[(day >= 5) & (day < 10)]
    uris = {}
    for name, part in {"v1": before, "v2": after, "v3": before.head(300)}.items():
        model = churn_model().fit(part[FEATURES], part["churned"])
        uris[name] = register_model(
            "churn", model, input_example=part[FEATURES].head(), workspace=ws
        ).uri
    create_deployment("churn-api", uris["v1"], workspace=ws)
    log_labelled(ws, data[day >= 10], uris["v1"])
    return uris


def test_a_better_challenger_goes_to_canary_and_takes_the_alias_once_promoted(
    ws: Workspace, world: dict[str, str]
) -> None:
    ramp = Ramp(steps=(0.25, 1.0), min_requests=50, min_agreement=0.5)
    decision = challenge(
        "churn-api", world["v2"], label="churned", until=NOW, ramp=ramp, workspace=ws
    )
    assert decision.verdict == "canary", decision.reasons
    assert decision.rows > 1000
    assert any(r.startswith("beats the champion on roc_auc") for r in decision.reasons)
    mine, theirs = decision.metrics[world["v2"]], decision.metrics[world["v1"]]
    assert mine["roc_auc"] > theirs["roc_auc"]
    config = active_revision("churn-api", ws).config
    assert config["canary"] == world["v2"] and config["ramp"]["steps"] == [0.25, 1.0]
    assert settle("churn-api", workspace=ws) is None  # still ramping

    switch("churn-api", world["v2"], reason="ramp promoted", workspace=ws)
    settled = settle("churn-api", workspace=ws)
    assert settled is not None and settled.verdict == "promoted"
    assert get_model_version("models:/churn@champion", workspace=ws).uri == world["v2"]
    assert settle("churn-api", workspace=ws) is None  # nothing left pending

    history = list_runs(experiment="challenger/churn-api", workspace=ws)
    assert [r.tags["headway.verdict"] for r in history] == ["promoted", "canary"]
    assert "beats the champion" in history[1].tags["headway.reason"]


def test_a_worse_challenger_is_rejected_with_its_reasons(
    ws: Workspace, world: dict[str, str]
) -> None:
    decision = challenge("churn-api", world["v3"], label="churned", until=NOW, workspace=ws)
    assert decision.verdict == "rejected" and not decision.accepted
    assert any("does not beat the champion" in r for r in decision.reasons)
    assert active_revision("churn-api", ws).config.get("canary") is None
    assert settle("churn-api", workspace=ws) is None


def test_a_rolled_back_canary_is_recorded(ws: Workspace, world: dict[str, str]) -> None:
    challenge("churn-api", world["v2"], label="churned", until=NOW, workspace=ws)
    set_canary("churn-api", None, reason="canary rolled back: error rate", workspace=ws)
    settled = settle("churn-api", workspace=ws)
    assert settled is not None and settled.verdict == "rolled_back"


def test_too_little_labelled_traffic_is_a_reasoned_rejection(
    ws: Workspace, world: dict[str, str]
) -> None:
    long_ago = NOW - timedelta(days=30)
    decision = challenge("churn-api", world["v2"], label="churned", until=long_ago, workspace=ws)
    assert decision.verdict == "rejected" and decision.rows == 0
    assert "labelled requests" in decision.reasons[0]


def _shadow_traffic(ws: Workspace, challenger: str, n: int, agree: float, errors: float) -> None:
    """n requests answered by the primary and, in shadow, by the challenger."""
    import numpy as np
    import pandas as pd

    from headway.serving.log import PredictionLog

    rng = np.random.default_rng(4)
    ids = [f"s{i}" for i in range(n)]
    primary = rng.integers(0, 2, n)
    shadow = np.where(rng.uniform(size=n) < agree, primary, 1 - primary)
    status = np.where(rng.uniform(size=n) < errors, 500, 200).astype(np.int16)
    inputs = pd.DataFrame({"tenure_months": np.arange(n)})
    with PredictionLog(ws.log_root, fsync=False) as log:
        for route, version, answers, codes in [
            ("primary", "models:/churn/1", primary, np.full(n, 200, dtype=np.int16)),
            ("shadow", challenger, shadow, status),
        ]:
            log.log(
                ids,
                inputs=inputs,
                outputs=pd.DataFrame({"prediction": answers}),
                deployment="churn-api",
                revision=2,
                model_version=version,
                latency_ms=np.full(n, 2.0),
                status=codes,
                route=route,
            )


@pytest.mark.parametrize(
    ("agree", "errors", "verdict"), [(0.9, 0.0, "canary"), (0.4, 0.0, "rejected")]
)
def test_a_shadow_period_ends_in_a_canary_ramp_or_a_rejection(
    ws: Workspace, world: dict[str, str], agree: float, errors: float, verdict: str
) -> None:
    ramp = Ramp(steps=(0.5, 1.0), min_requests=100, min_agreement=0.7)
    decision = challenge(
        "churn-api",
        world["v2"],
        label="churned",
        until=NOW,
        rollout="shadow",
        shadow_period=timedelta(hours=6),
        ramp=ramp,
        workspace=ws,
    )
    assert decision.verdict == "shadow" and decision.shadow_until
    assert active_revision("churn-api", ws).config["shadows"] == [world["v2"]]
    later = datetime.now(UTC) + timedelta(hours=7)
    assert settle("churn-api", now=later, workspace=ws) is None  # no shadow answers yet
    _shadow_traffic(ws, world["v2"], 300, agree, errors)
    assert settle("churn-api", workspace=ws) is None  # the period is not over
    settled = settle("churn-api", now=later, workspace=ws)
    assert settled is not None and settled.verdict == verdict, settled
    config = active_revision("churn-api", ws).config
    assert config["shadows"] == []
    assert (config["canary"] == world["v2"]) == (verdict == "canary")
    if verdict == "canary":
        assert config["ramp"]["steps"] == [0.5, 1.0]
        assert "300 shadow answers" in settled.reasons[0]


def test_the_scheduler_settles_rollouts_on_every_tick(ws: Workspace, world: dict[str, str]) -> None:
    from headway.pipelines.scheduler import run_scheduler

    challenge("churn-api", world["v2"], label="churned", until=NOW, workspace=ws)
    switch("churn-api", world["v2"], reason="ramp promoted", workspace=ws)
    seen: list = []
    ticks = run_scheduler(
        [],
        interval=0.05,
        until=datetime.now(UTC) + timedelta(seconds=0.3),
        workspace=ws,
        on_settle=seen.extend,
    )
    assert ticks >= 1
    assert [d.verdict for d in seen] == ["promoted"]  # once, not on every tick
    assert get_model_version("models:/churn@champion", workspace=ws).uri == world["v2"]
