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
    assert settle("churn-api", ws) is None  # still ramping

    switch("churn-api", world["v2"], reason="ramp promoted", workspace=ws)
    settled = settle("churn-api", ws)
    assert settled is not None and settled.verdict == "promoted"
    assert get_model_version("models:/churn@champion", workspace=ws).uri == world["v2"]
    assert settle("churn-api", ws) is None  # nothing left pending

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
    assert settle("churn-api", ws) is None


def test_a_rolled_back_canary_is_recorded(ws: Workspace, world: dict[str, str]) -> None:
    challenge("churn-api", world["v2"], label="churned", until=NOW, workspace=ws)
    set_canary("churn-api", None, reason="canary rolled back: error rate", workspace=ws)
    settled = settle("churn-api", ws)
    assert settled is not None and settled.verdict == "rolled_back"


def test_too_little_labelled_traffic_is_a_reasoned_rejection(
    ws: Workspace, world: dict[str, str]
) -> None:
    long_ago = NOW - timedelta(days=30)
    decision = challenge("churn-api", world["v2"], label="churned", until=long_ago, workspace=ws)
    assert decision.verdict == "rejected" and decision.rows == 0
    assert "labelled requests" in decision.reasons[0]
