"""``headway monitor create|run|backfill|show`` and ``headway alerts list|ack``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from headway.cli._app import app, console, fail_cleanly, format_time

monitor_app = typer.Typer(
    help="Monitors: windows of a deployment's traffic, checked and alerted on.",
    no_args_is_help=True,
)
alerts_app = typer.Typer(help="Alerts: what is firing, and the history.", no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")
app.add_typer(alerts_app, name="alerts")


@monitor_app.command("create")
@fail_cleanly
def create(
    deployment: str = typer.Argument(..., help="The deployment to watch."),
    window: str = typer.Option("1h", help="Window length: 5m, 1h, 1d or seconds."),
    reference: str | None = typer.Option(
        None,
        help="Parquet or CSV reference data, a model URI, or 'traffic' (default: the primary "
        "version's stored reference, following promotions, else the first 24 h of traffic).",
    ),
) -> None:
    """Watch DEPLOYMENT: data quality, drift, operations and performance per window."""
    import pandas as pd

    from headway.data._read import iter_batches
    from headway.monitoring import FOLLOW_PRIMARY, create_monitor

    given: Any = reference
    if reference is not None and reference != "traffic" and not reference.startswith("models:/"):
        given = pd.concat(iter_batches(Path(reference), 1_000_000))
    mon = create_monitor(deployment, window=window, reference=given)
    if mon.reference == FOLLOW_PRIMARY:
        source = "the primary version's reference (following promotions)"
    elif mon.reference is None:
        source = "the first 24 hours of traffic"
    else:
        source = str(reference)
    console.print(
        f"monitor [bold]{mon.id}[/] watches {deployment} in {mon.window_seconds} s windows "
        f"against {source}; run it with headway monitor run {mon.id}"
    )


@monitor_app.command("run")
@fail_cleanly
def run(
    monitor: str = typer.Argument(..., help="Monitor id, or the deployment's name."),
    follow: bool = typer.Option(False, "--follow", help="Keep going as new windows close."),
    every: float = typer.Option(60.0, help="With --follow: seconds between passes."),
    until: datetime | None = typer.Option(
        None, help="Only windows ending by this time (UTC; default: now)."
    ),
) -> None:
    """Compute the windows that closed since the last pass, then evaluate alert rules."""
    from headway.monitoring import run_windows
    from headway.monitoring.alerting import evaluate_alerts

    while True:
        windows = run_windows(monitor, until=None if until is None else until.replace(tzinfo=UTC))
        events = evaluate_alerts(monitor)
        for w in windows:
            flagged = ", ".join(w.checks.flagged) or "ok"
            console.print(f"{format_time(w.start_ms)}  {w.rows:>8,} rows  {flagged}")
        for e in events:
            console.print(f"[bold]{e.kind}[/] {e.alert.severity}: {e.alert.summary}")
        if not follow:
            console.print(f"{len(windows)} new window(s), {len(events)} alert event(s)")
            return
        time.sleep(every)


@monitor_app.command("backfill")
@fail_cleanly
def backfill_cmd(
    monitor: str = typer.Argument(..., help="Monitor id, or the deployment's name."),
    start: datetime | None = typer.Option(None, help="First window start (UTC)."),
    end: datetime | None = typer.Option(None, help="Windows starting before this (UTC)."),
) -> None:
    """Recompute stored windows from the raw log (after changing the reference or checks)."""
    from headway.monitoring import backfill

    windows = backfill(monitor, start, end)
    console.print(f"recomputed {len(windows)} window(s)")


@monitor_app.command("show")
@fail_cleanly
def show(
    monitor: str = typer.Argument(..., help="Monitor id, or the deployment's name."),
    last: int = typer.Option(24, help="How many of the latest windows."),
) -> None:
    """The latest windows: traffic, errors, latency, drift and performance."""
    from headway.monitoring import list_windows

    windows = list_windows(monitor)[-last:]
    table = Table(title=f"monitor {monitor}: last {len(windows)} window(s)")
    for col in ("start", "rows", "error rate", "p99 ms", "drifted", "performance", "flagged"):
        table.add_column(col)
    for w in windows:
        c = w.checks
        perf = ", ".join(f"{k} {v:.3f}" for k, v in list(c.performance.metrics.items())[:2])
        table.add_row(
            format_time(w.start_ms),
            f"{w.rows:,}",
            "-" if c.ops.error_rate is None else f"{c.ops.error_rate:.2%}",
            "-" if c.ops.latency_p99_ms is None else f"{c.ops.latency_p99_ms:.1f}",
            ", ".join(c.feature_drift.drifted) or "-",
            perf or "-",
            ", ".join(c.flagged) or "ok",
        )
    console.print(table)


@alerts_app.command("list")
@fail_cleanly
def list_(
    monitor: str | None = typer.Option(None, help="Monitor id or deployment (default: all)."),
    history: bool = typer.Option(False, "--history", help="Every event, not just firing."),
    limit: int = typer.Option(50, help="Most events to show with --history."),
) -> None:
    """Alerts firing now (with their runbooks), or the event history."""
    from headway.monitoring import list_monitors
    from headway.monitoring.alerting import alert_events, firing_alerts

    if history:
        table = Table(title="alert history (newest first)")
        for col in ("when", "event", "severity", "alert", "summary"):
            table.add_column(col)
        for e in alert_events(monitor, limit):
            table.add_row(format_time(e.at), e.kind, e.alert.severity, e.alert.id, e.alert.summary)
        console.print(table)
        return
    monitors = [monitor] if monitor else [m.id for m in list_monitors()]
    firing = [a for m in monitors for a in firing_alerts(m)]
    if not firing:
        console.print("No alerts are firing.")
        return
    for a in firing:
        acked = f" (acknowledged by {a.acked_by})" if a.acknowledged else ""
        console.print(f"[bold]{a.severity}[/] {a.id} since {format_time(a.fired_at)}{acked}")
        console.print(f"  {a.summary}")
        console.print(f"  runbook: {a.runbook}")


@alerts_app.command("ack")
@fail_cleanly
def ack(
    monitor: str = typer.Argument(..., help="Monitor id or deployment."),
    alert_id: str = typer.Argument(..., help="The alert's id (headway alerts list)."),
    note: str | None = typer.Option(None, help="What is being done about it."),
) -> None:
    """Acknowledge an alert: it keeps firing until resolved, without reminders."""
    from headway.monitoring.alerting import acknowledge_alert

    event = acknowledge_alert(monitor, alert_id, note=note)
    console.print(f"{event.alert.id} acknowledged by {event.alert.acked_by}")
