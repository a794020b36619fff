"""The overview and deployment pages' data: health, windows, revisions and alerts.

A deployment's **health** is the worst over its monitors of:

* ``critical`` — a critical alert is firing;
* ``warning`` — a warning alert is firing, or the latest window flagged a check;
* ``stale`` — the latest window ended more than two windows (and ten minutes) ago, so
  nobody is running ``headway monitor run``;
* ``unknown`` — no monitor, or no window computed yet;
* ``healthy`` — otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from headway.errors import NotFoundError
from headway.monitoring import Monitor, get_monitor, list_monitors, load_reference
from headway.monitoring.alerting import acknowledge_alert, firing_alerts
from headway.monitoring.alerts import Alert, AlertEvent
from headway.monitoring.monitor import FOLLOW_PRIMARY, WindowResult
from headway.serving.deployments import DeploymentConfig, list_deployments, list_revisions
from headway.store import alerts as alerts_repo
from headway.store import deployments as deployments_repo
from headway.store import monitors as monitors_repo
from headway.store.metadata import now_ms
from headway.store.records import Revision
from headway.ui.timeseries import (
    OutputDistribution,
    WindowSeries,
    output_distributions,
    range_length,
    span,
    window_series,
)
from headway.workspace import Workspace

__all__ = [
    "AlertEventView",
    "AlertView",
    "DeploymentSummary",
    "DeploymentView",
    "Health",
    "MonitorView",
    "Overview",
    "RevisionView",
    "acknowledge",
    "deployment_view",
    "health",
    "overview",
]

Status = Literal["critical", "warning", "stale", "unknown", "healthy"]
_WORST_FIRST: tuple[Status, ...] = ("critical", "warning", "stale", "unknown", "healthy")
STALE_SLACK_MS = 600_000
HISTORY = 30
# What happened to alerts, for people: "updated" (a grouped alert's subjects changed) is
# kept in the ledger but would drown the rest.
HISTORY_KINDS = ("firing", "resolved", "reminder", "acked")


@dataclass(frozen=True)
class Health:
    status: Status
    reason: str


@dataclass(frozen=True)
class AlertView:
    """An alert as the pages show it: the alert, and which deployment and monitor raised it."""

    id: str
    deployment: str
    monitor: str
    rule: str
    check: str
    subjects: list[str]
    severity: str
    state: str
    fired_at: int
    resolved_at: int | None
    summary: str
    runbook: str
    acked_by: str | None
    acked_at: int | None
    ack_note: str | None

    @classmethod
    def of(cls, alert: Alert, deployment: str) -> AlertView:
        return cls(
            alert.id,
            deployment,
            alert.monitor,
            alert.rule,
            alert.check,
            list(alert.subjects),
            alert.severity,
            alert.state,
            alert.fired_at,
            alert.resolved_at,
            alert.summary,
            alert.runbook,
            alert.acked_by,
            alert.acked_at,
            alert.ack_note,
        )


@dataclass(frozen=True)
class AlertEventView:
    kind: str
    at: int
    alert: AlertView


@dataclass(frozen=True)
class MonitorView:
    id: str
    window_seconds: int
    reference: str | None
    created_at: int
    last_window_end: int | None
    max_error_rate: float


@dataclass(frozen=True)
class RevisionView:
    """One revision: what served, the canary and its ramp step, who changed it and why."""

    number: int
    created_at: int
    created_by: str | None
    reason: str | None
    primary: str
    canary: str | None
    canary_weight: float
    ramp_steps: list[float]
    ramp_step: int | None
    shadows: list[str]
    standby: str | None
    automation: str
    threshold: float | None

    @classmethod
    def of(cls, revision: Revision) -> RevisionView:
        c = DeploymentConfig.from_dict(revision.config)
        return cls(
            revision.number,
            revision.created_at,
            revision.created_by,
            revision.reason,
            c.primary,
            c.canary,
            c.canary_weight,
            [] if c.ramp is None else list(c.ramp.steps),
            None if c.ramp is None else c.ramp.step,
            list(c.shadows),
            c.standby,
            c.automation,
            c.threshold,
        )


@dataclass(frozen=True)
class DeploymentSummary:
    """One row of the overview."""

    name: str
    revision: int
    primary: str
    canary: str | None
    canary_weight: float
    automation: str
    health: Health
    monitors: int
    last_window_end: int | None
    last_window_rows: int | None
    last_error_rate: float | None
    last_latency_p99_ms: float | None
    firing: int
    pending_reviews: int


@dataclass(frozen=True)
class Overview:
    deployments: list[DeploymentSummary]
    firing: list[AlertView]
    health_counts: dict[str, int]
    pending_reviews: int


@dataclass(frozen=True)
class DeploymentView:
    """The deployment page: its active revision, health, one monitor's span, alerts."""

    name: str
    active: RevisionView
    health: Health
    monitors: list[MonitorView]
    monitor: MonitorView | None
    windows: WindowSeries | None
    predictions: list[OutputDistribution]
    revisions: list[RevisionView]
    firing: list[AlertView]
    history: list[AlertEventView]
    pending_reviews: int
    generated_at: int


def health(firing: list[Alert], latest: WindowResult | None, window_ms: int, now: int) -> Health:
    """One monitor's health from its firing alerts and its latest window (see the module)."""
    for severity in ("critical", "warning"):
        hits = [a for a in firing if a.severity == severity]
        if hits:
            rules = ", ".join(sorted({a.rule for a in hits}))
            status: Status = "critical" if severity == "critical" else "warning"
            return Health(status, f"{len(hits)} {severity} alert(s) firing: {rules}")
    if latest is None:
        return Health("unknown", "no window computed yet: run `headway monitor run`")
    if latest.checks.flagged:
        return Health("warning", "the latest window flagged " + ", ".join(latest.checks.flagged))
    age = now - latest.end_ms
    if age > 2 * window_ms + STALE_SLACK_MS:
        return Health(
            "stale",
            f"the latest window ended {_ago(age)} ago; is `headway monitor run --follow` running?",
        )
    return Health("healthy", "no alert firing; the latest window's checks passed")


def _worst(found: list[Health], none: str) -> Health:
    if not found:
        return Health("unknown", none)
    return min(found, key=lambda h: _WORST_FIRST.index(h.status))


def _ago(ms: int) -> str:
    minutes = ms // 60_000
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


@dataclass(frozen=True)
class _Watched:
    """What the pages need of one monitor: its latest window, firing alerts and health."""

    monitor: Monitor
    latest: WindowResult | None
    firing: list[Alert]
    health: Health

    def view(self) -> MonitorView:
        m = self.monitor
        if m.reference is None:
            source = None
        elif m.reference == FOLLOW_PRIMARY:
            source = "the primary version's stored reference"
        else:
            source = str(m.reference.get("source", ""))
        end = None if self.latest is None else self.latest.end_ms
        limit = m.config.policy.max_error_rate
        return MonitorView(m.id, m.window_seconds, source, m.created_at, end, limit)


def _watch(ws: Workspace, monitors: list[Monitor], now: int) -> list[_Watched]:
    latest: dict[str, WindowResult | None] = {}
    with ws.store.read() as conn:
        for m in monitors:
            record = monitors_repo.latest_window(conn, m.id)
            latest[m.id] = None if record is None else WindowResult.from_record(record)
    watched = []
    for m in monitors:
        firing = firing_alerts(m, workspace=ws)
        watched.append(
            _Watched(m, latest[m.id], firing, health(firing, latest[m.id], m.window_ms, now))
        )
    return watched


def _no_monitor(name: str) -> str:
    return f"no monitor yet: headway monitor create {name}"


def overview(ws: Workspace) -> Overview:
    """Every deployment with its health, and every firing alert."""
    now = now_ms()
    revisions = list_deployments(workspace=ws)
    monitors = list_monitors(workspace=ws)
    with ws.store.read() as conn:
        pending = deployments_repo.count_reviews(conn)
    watched = _watch(ws, monitors, now)
    rows, firing = [], []
    for revision in revisions:
        name = revision.deployment
        mine = [w for w in watched if w.monitor.deployment == name]
        alerts = [a for w in mine for a in w.firing]
        firing += [AlertView.of(a, name) for a in alerts]
        newest = max(
            (w.latest for w in mine if w.latest is not None),
            key=lambda r: r.end_ms,
            default=None,
        )
        active = RevisionView.of(revision)
        rows.append(
            DeploymentSummary(
                name,
                revision.number,
                active.primary,
                active.canary,
                active.canary_weight,
                active.automation,
                _worst([w.health for w in mine], _no_monitor(name)),
                len(mine),
                None if newest is None else newest.end_ms,
                None if newest is None else newest.rows,
                None if newest is None else newest.checks.ops.error_rate,
                None if newest is None else newest.checks.ops.latency_p99_ms,
                len(alerts),
                pending.get(name, 0),
            )
        )
    rows.sort(key=lambda r: (_WORST_FIRST.index(r.health.status), r.name))
    firing.sort(key=lambda a: (a.severity != "critical", -a.fired_at))
    counts: dict[str, int] = {s: sum(r.health.status == s for r in rows) for s in _WORST_FIRST}
    return Overview(rows, firing, counts, sum(pending.values()))


def deployment_view(
    ws: Workspace, name: str, range_name: str = "7d", monitor: str | None = None
) -> DeploymentView:
    """The deployment page of ``name`` over the last ``range_name`` of ``monitor``'s
    windows (default: its first monitor), ending at its latest window."""
    revisions = list_revisions(name, workspace=ws)
    monitors = list_monitors(name, workspace=ws)
    with ws.store.read() as conn:
        pending = deployments_repo.count_reviews(conn).get(name, 0)
    range_length(range_name)  # a wrong range is refused even without a monitor
    now = now_ms()
    watched = _watch(ws, monitors, now)
    chosen = _choose(watched, monitor, name)
    windows, predictions, history = None, [], []
    if chosen is not None:
        mon = chosen.monitor
        if chosen.latest is not None:
            spanned = span(range_name, mon.window_ms, chosen.latest.end_ms, mon.config.start_ms)
            windows = window_series(ws, mon.id, spanned)
            at = datetime.fromtimestamp(chosen.latest.start_ms / 1000, UTC)
            reference = load_reference(mon, at, workspace=ws)
            outputs = None if reference is None else reference.outputs
            predictions = output_distributions(ws, mon.id, outputs, spanned, mon.window_ms)
        with ws.store.read() as conn:
            rows = alerts_repo.events(conn, mon.id, HISTORY, kinds=HISTORY_KINDS)
        history = [
            AlertEventView(e.kind, e.at, AlertView.of(e.alert, name))
            for e in (AlertEvent.from_dict(r["event"]) for r in rows)
        ]
    return DeploymentView(
        name,
        RevisionView.of(revisions[-1]),
        _worst([w.health for w in watched], _no_monitor(name)),
        [w.view() for w in watched],
        None if chosen is None else chosen.view(),
        windows,
        predictions,
        [RevisionView.of(r) for r in reversed(revisions)],
        [AlertView.of(a, name) for w in watched for a in w.firing],
        history,
        pending,
        now,
    )


def _choose(watched: list[_Watched], monitor: str | None, name: str) -> _Watched | None:
    if monitor is None:
        return watched[0] if watched else None
    for w in watched:
        if w.monitor.id == monitor:
            return w
    raise NotFoundError(
        f"deployment {name!r} has no monitor {monitor!r}; its monitors: "
        f"{', '.join(w.monitor.id for w in watched) or 'none'}"
    )


def acknowledge(
    ws: Workspace, monitor_id: str, alert_id: str, by: str | None, note: str | None
) -> AlertView:
    """Acknowledge a firing alert of a monitor; the alert as the pages show it."""
    monitor = get_monitor(monitor_id, workspace=ws)
    event = acknowledge_alert(monitor, alert_id, by=by or None, note=note or None, workspace=ws)
    return AlertView.of(event.alert, monitor.deployment)
