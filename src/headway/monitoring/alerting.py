"""Alerting for monitors: turn stored windows into alert events, keep state, notify.

After :func:`~headway.monitoring.run_windows`, :func:`evaluate_alerts` feeds every window
the monitor's alert state has not seen, in order, to the rules' state machine
(:mod:`headway.monitoring.alerts`), stores the new state and every event in the ledger,
and sends the events that notify to their channels.

Rules and channels come from ``alerts.toml`` in the workspace folder when it exists
(``[[rules]]`` tables change or add to the default rules, ``[channels.NAME]`` tables add
channels); a ``log`` channel writing JSON lines to ``.headway/alerts.log`` is always there.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from headway._identity import current_user
from headway.errors import ConfigError
from headway.monitoring.alerts import (
    AlertEvent,
    AlertRule,
    AlertState,
    WindowObservation,
    acknowledge,
    default_rules,
    evaluate,
    rules_from_file,
)
from headway.monitoring.channels import Channel, LogFileChannel, channels_from_file, deliver
from headway.monitoring.monitor import Monitor, WindowResult, get_monitor, list_windows
from headway.store import alerts as repo
from headway.workspace import Workspace, current_workspace

__all__ = [
    "ALERTS_FILE",
    "acknowledge_alert",
    "alert_events",
    "evaluate_alerts",
    "firing_alerts",
    "load_channels",
    "load_rules",
    "observation",
]

ALERTS_FILE = "alerts.toml"


def observation(monitor: Monitor, window: WindowResult) -> WindowObservation:
    """The check values of one stored window, named as the alert rules name them."""
    checks = window.checks
    values: dict[str, Any] = {}
    if checks.feature_drift.status != "not_available":
        values["drift.feature"] = {
            c: c in checks.feature_drift.drifted for c in checks.feature_drift.scores
        }
    if checks.prediction_drift.status != "not_available":
        values["drift.prediction"] = checks.prediction_drift.status == "flagged"
    if checks.quality.status != "not_available":
        # How far each column's missing rate is past what the quality check allows.
        values["quality.missing_rate_increase"] = {c: 0.0 for c in checks.quality.missing_rate} | {
            i.column: i.rate - i.threshold for i in checks.quality.issues if i.problem == "missing"
        }
    if checks.ops.error_rate is not None:
        values["ops.error_rate"] = checks.ops.error_rate
    if checks.ops.latency_p99_ms is not None:
        values["ops.latency_p99_ms"] = checks.ops.latency_p99_ms
    if checks.performance.status != "not_available":
        values["performance.degraded"] = checks.performance.status == "flagged"
    details = {
        "rows": window.rows,
        "drift_scores": checks.feature_drift.scores,
        "drifted_features": list(checks.feature_drift.drifted),
        "performance": checks.performance.metrics,
    }
    return WindowObservation(monitor.id, window.start_ms, window.end_ms, values, details)


def _alerts_file(ws: Workspace) -> Path | None:
    path = ws.project_dir / ALERTS_FILE
    return path if path.is_file() else None


def load_rules(workspace: Workspace | None = None) -> list[AlertRule]:
    """The default rules (the missing-rate rule fires on any column the quality check
    flags), changed by ``alerts.toml`` when it has ``[[rules]]``."""
    ws = workspace or current_workspace()
    base = default_rules(missing_rate_increase=0.0)
    path = _alerts_file(ws)
    if path is None or "rules" not in _toml(path):
        return base
    return rules_from_file(path, base=base)


def load_channels(workspace: Workspace | None = None) -> dict[str, Channel]:
    """The ``log`` channel (``.headway/alerts.log``) and those of ``alerts.toml``."""
    ws = workspace or current_workspace()
    channels: dict[str, Channel] = {
        "log": LogFileChannel(ws.project_dir / ".headway" / "alerts.log")
    }
    path = _alerts_file(ws)
    if path is not None and "channels" in _toml(path):
        channels.update(channels_from_file(path))
    return channels


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix it or remove it") from exc


def _state(ws: Workspace, monitor: Monitor) -> AlertState:
    with ws.store.read() as conn:
        saved = repo.load_state(conn, monitor.id)
    return AlertState(monitor=monitor.id) if saved is None else AlertState.from_dict(saved)


def _record(event: AlertEvent) -> dict[str, Any]:
    return {
        "alert_id": event.alert.id,
        "rule": event.alert.rule,
        "kind": event.kind,
        "severity": event.alert.severity,
        "at": event.at,
        "event": event.to_dict(),
    }


def evaluate_alerts(
    monitor: str | Monitor,
    rules: list[AlertRule] | None = None,
    channels: dict[str, Channel] | None = None,
    workspace: Workspace | None = None,
) -> list[AlertEvent]:
    """Run the alert rules over the windows not yet seen; store and send the events."""
    ws = workspace or current_workspace()
    mon = get_monitor(monitor, workspace=ws)
    rules = load_rules(ws) if rules is None else rules
    state = _state(ws, mon)
    new: list[AlertEvent] = []
    for window in list_windows(mon, workspace=ws):
        if state.last_end is not None and window.end_ms <= state.last_end:
            continue
        state, events = evaluate(rules, state, observation(mon, window))
        new += events
    with ws.store.write() as conn:
        repo.save_state(conn, mon.id, state.to_dict())
        repo.add_events(conn, mon.id, [_record(e) for e in new])
    deliver(new, load_channels(ws) if channels is None else channels)
    return new


def firing_alerts(monitor: str | Monitor, workspace: Workspace | None = None) -> list[Any]:
    """The alerts firing now for ``monitor``."""
    ws = workspace or current_workspace()
    return _state(ws, get_monitor(monitor, workspace=ws)).firing


def alert_events(
    monitor: str | Monitor | None = None, limit: int = 100, workspace: Workspace | None = None
) -> list[AlertEvent]:
    """The alert history, newest first."""
    ws = workspace or current_workspace()
    monitor_id = None if monitor is None else get_monitor(monitor, workspace=ws).id
    with ws.store.read() as conn:
        rows = repo.events(conn, monitor_id, limit)
    return [AlertEvent.from_dict(r["event"]) for r in rows]


def acknowledge_alert(
    monitor: str | Monitor,
    alert_id: str,
    by: str | None = None,
    note: str | None = None,
    workspace: Workspace | None = None,
) -> AlertEvent:
    """Someone is on it: the alert keeps firing but sends no more reminders."""
    ws = workspace or current_workspace()
    mon = get_monitor(monitor, workspace=ws)
    state, event = acknowledge(_state(ws, mon), alert_id, by or current_user() or "unknown", note)
    with ws.store.write() as conn:
        repo.save_state(conn, mon.id, state.to_dict())
        repo.add_events(conn, mon.id, [_record(event)])
    return event
