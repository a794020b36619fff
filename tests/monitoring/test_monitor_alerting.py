"""Monitors raise alerts: rules over stored windows, state and history in the ledger, CLI."""

from __future__ import annotations

import json

import pytest
from monitoring_helpers import features, outputs
from test_monitor_service import HOUR, T0, deploy, send
from typer.testing import CliRunner

from headway.cli import app
from headway.errors import NotFoundError
from headway.monitoring import Monitor, Reference, create_monitor, run_windows
from headway.monitoring.alerting import (
    acknowledge_alert,
    alert_events,
    evaluate_alerts,
    firing_alerts,
    load_rules,
)
from headway.monitoring.channels import LogFileChannel
from headway.workspace import Workspace


def drifted(ws: Workspace) -> Monitor:
    """Deployment ``churn``: two calm hours, then two in which ``charges`` moved by 0.8 sd;
    its monitor has computed the four windows (no alert evaluated yet)."""
    deploy(ws)
    for hour in range(4):
        send(ws, hour, 1500, seed=10 + hour, shift=0.8 if hour >= 2 else 0.0)
    train = features(5000, seed=1)
    outs = outputs(train, seed=1)
    ref = Reference.from_table(
        train.assign(prediction=outs["prediction"], label=outs["prediction"])
    )
    monitor = create_monitor("churn", "1h", ref, start=T0, workspace=ws)
    run_windows(monitor, until=T0 + 4 * HOUR, workspace=ws)
    return monitor


@pytest.fixture
def drifting(ws: Workspace) -> str:
    return drifted(ws).id


def test_drift_for_two_windows_fires_once_grouped_with_its_runbook(
    ws: Workspace, drifting: str, tmp_path
) -> None:
    log = tmp_path / "alerts.log"
    events = evaluate_alerts(drifting, channels={"log": LogFileChannel(log)})
    fired = {e.alert.rule: e.alert for e in events if e.kind == "firing"}
    assert set(fired) == {"feature-drift", "prediction-drift"}  # the score follows charges
    alert = fired["feature-drift"]
    assert "charges" in alert.subjects and "tenure" not in alert.subjects
    assert alert.runbook and alert.severity == "warning"
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert [s["kind"] for s in sent] == ["firing", "firing"]

    assert evaluate_alerts(drifting, channels={"log": LogFileChannel(log)}) == []  # no repeat
    assert {a.id for a in firing_alerts(drifting)} == {a.id for a in fired.values()}
    acked = acknowledge_alert(drifting, alert.id, by="ana", note="checking the upstream job")
    assert acked.alert.acked_by == "ana"
    assert [a.acknowledged for a in firing_alerts(drifting) if a.id == alert.id] == [True]
    assert [e.kind for e in alert_events(drifting)] == ["acked", "firing", "firing"]
    with pytest.raises(NotFoundError):
        acknowledge_alert(drifting, "nope", by="ana")


def test_alerts_toml_tunes_the_default_rules(ws: Workspace, drifting: str) -> None:
    (ws.project_dir / "alerts.toml").write_text(
        '[[rules]]\nname = "error-rate"\nabove = 0.01\n\n[[rules]]\nname = "feature-drift"\n'
        'enabled = false\n\n[[rules]]\nname = "prediction-drift"\nenabled = false\n'
    )
    rules = {r.name: r for r in load_rules(ws)}
    assert "feature-drift" not in rules and rules["error-rate"].threshold == 0.01
    assert "prediction-drift" not in rules
    events = evaluate_alerts(drifting, channels={})
    assert [(e.kind, e.alert.rule, e.alert.severity) for e in events] == [
        ("firing", "error-rate", "critical")
    ]  # 2% of requests fail, for two windows and more


def test_the_cli_runs_monitors_and_lists_alerts(ws: Workspace, drifting: str) -> None:
    runner = CliRunner()
    until = (T0 + 4 * HOUR).strftime("%Y-%m-%d %H:%M:%S")
    ran = runner.invoke(app, ["monitor", "run", drifting, "--until", until])
    assert ran.exit_code == 0, ran.output
    assert "firing warning" in ran.output and "0 new window(s), 2 alert event(s)" in ran.output
    shown = runner.invoke(app, ["monitor", "show", drifting])
    assert "charges" in shown.output and "feature_drift" in shown.output
    listed = runner.invoke(app, ["alerts", "list"])
    assert "runbook:" in listed.output
    alert_id = firing_alerts(drifting)[0].id
    assert alert_id in listed.output
    acked = runner.invoke(app, ["alerts", "ack", drifting, alert_id, "--note", "on it"])
    assert acked.exit_code == 0 and "acknowledged by" in acked.output
    history = runner.invoke(app, ["alerts", "list", "--history"])
    assert "acked" in history.output and "firing" in history.output
