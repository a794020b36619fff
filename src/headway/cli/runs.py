"""``headway runs list|show|compare``."""

from __future__ import annotations

import math
from enum import StrEnum

import typer
from rich.table import Table

from headway.cli._app import app, console, fail_cleanly, format_duration, format_time
from headway.store.records import RunRecord
from headway.tracking import (
    get_run,
    get_run_environment,
    list_run_artifacts,
    list_run_inputs,
    list_runs,
)


class RunStatus(StrEnum):
    running = "running"
    finished = "finished"
    failed = "failed"
    killed = "killed"


runs_app = typer.Typer(help="Tracked runs: list, show, compare.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

STATUS_STYLE = {"finished": "green", "running": "cyan", "failed": "red", "killed": "yellow"}


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.6g}"


def _status(run: RunRecord) -> str:
    return f"[{STATUS_STYLE.get(run.status, 'white')}]{run.status}[/]"


@runs_app.command("list")
@fail_cleanly
def list_(
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Only this one."),
    status: RunStatus | None = typer.Option(None, help="Only runs with this status."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Newest N runs."),
    all_: bool = typer.Option(False, "--all", help="Every run, however many."),
) -> None:
    """List runs, newest first, with their params and latest metrics."""
    found = list_runs(experiment, status.value if status else None, None if all_ else limit)
    if not found:
        if experiment or status:
            console.print("No runs match these filters.")
        else:
            console.print(
                "No runs yet. Start one with headway.start_run() or `headway quickstart`."
            )
        return
    metric_keys = sorted({k for r in found for k in r.metrics})[:6]
    table = Table(title=f"{len(found)} run(s)" + (f" in {experiment}" if experiment else ""))
    for col in ("run id", "name", "experiment", "status", "started", "duration"):
        table.add_column(col, no_wrap=col in ("run id", "started"))
    for key in metric_keys:
        table.add_column(key, justify="right")
    for r in found:
        table.add_row(
            r.id[:8],
            r.name,
            r.experiment,
            _status(r),
            format_time(r.start_time),
            format_duration(r.duration_ms),
            *(_fmt(r.metrics[k].value) if k in r.metrics else "" for k in metric_keys),
        )
    console.print(table)


@runs_app.command("show")
@fail_cleanly
def show(run_id: str = typer.Argument(..., help="The run's id (or a unique prefix).")) -> None:
    """Show one run: status, environment, params, metrics, inputs and artifacts."""
    run = get_run(run_id)
    console.print(f"[bold]Run {run.id}[/] ({run.name}) in experiment [bold]{run.experiment}[/]")
    console.print(f"  status    {_status(run)}" + (f": {run.error}" if run.error else ""))
    console.print(
        f"  started   {format_time(run.start_time)}, took {format_duration(run.duration_ms)}"
    )
    commit = run.git_commit or "-"
    console.print(
        f"  code      git {commit}{' (dirty)' if run.git_dirty else ''}; "
        f"python {run.python_version or '-'}; user {run.user or '-'}"
    )
    console.print(f"  command   {run.command or '-'}")
    env = get_run_environment(run.id)
    console.print(
        f"  host      {env.get('hostname', '-')} ({env.get('platform', '-')}); "
        f"{len(env.get('packages', {}))} packages recorded"
    )
    _kv_table("params", run.params)
    metrics = Table(title="metrics (latest)")
    for col in ("key", "value", "step", "at"):
        metrics.add_column(col)
    for key, m in sorted(run.metrics.items()):
        metrics.add_row(key, _fmt(m.value), str(m.step), format_time(m.timestamp))
    console.print(metrics)
    _kv_table("tags", run.tags)
    inputs = Table(title="dataset inputs")
    for col in ("name", "rows", "columns", "digest", "source"):
        inputs.add_column(col)
    for d in list_run_inputs(run.id):
        inputs.add_row(d.name, f"{d.num_rows:,}", str(len(d.columns)), d.digest[:12], d.source)
    console.print(inputs)
    files = Table(title="artifacts")
    for col in ("path", "size", "sha256"):
        files.add_column(col)
    for a in list_run_artifacts(run.id):
        files.add_row(a.path, f"{a.size:,}", a.sha256[:12])
    console.print(files)


def _kv_table(title: str, values: dict[str, str]) -> None:
    table = Table(title=title)
    table.add_column("key")
    table.add_column("value")
    for key, value in sorted(values.items()):
        table.add_row(key, value)
    console.print(table)


@runs_app.command("compare")
@fail_cleanly
def compare(
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids (or prefixes)."),
) -> None:
    """Params and latest metrics of several runs side by side; differences highlighted."""
    if len(run_ids) < 2:
        raise typer.BadParameter("give two or more run ids to compare", param_hint="RUN_IDS")
    found = [get_run(r) for r in run_ids]
    table = Table(title="compare runs")
    table.add_column("")
    for r in found:
        table.add_column(f"{r.name}\n{r.id[:8]}")
    for label, rows in (
        ("param", [r.params for r in found]),
        ("metric", [{k: _fmt(m.value) for k, m in r.metrics.items()} for r in found]),
    ):
        for key in sorted({k for row in rows for k in row}):
            values = [row.get(key, "") for row in rows]
            style = "bold yellow" if len(set(values)) > 1 else ""
            table.add_row(f"{label} {key}", *values, style=style)
    console.print(table)
