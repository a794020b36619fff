"""``headway pipeline run|train|list|show``."""

from __future__ import annotations

import inspect
import json
from enum import StrEnum
from typing import Any

import typer
from rich.table import Table

from headway.cli._app import app, console, fail_cleanly, format_duration, format_time
from headway.errors import InvalidArgumentError

pipeline_app = typer.Typer(
    help="Pipelines: run, train (the standard pipeline), list, show.", no_args_is_help=True
)
app.add_typer(pipeline_app, name="pipeline")

STATUS_STYLE = {
    "finished": "green",
    "cached": "blue",
    "running": "cyan",
    "failed": "red",
    "skipped": "yellow",
    "killed": "yellow",
}


class ExecutorName(StrEnum):
    inline = "inline"
    process = "process"
    ray = "ray"


def _styled(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


@pipeline_app.command("run")
@fail_cleanly
def run(
    target: str = typer.Argument(
        ..., metavar="FILE_OR_MODULE:PIPELINE", help="e.g. pipelines.py:training"
    ),
    param: list[str] | None = typer.Option(
        None, "--param", "-p", help="A pipeline parameter as NAME=VALUE (repeatable)."
    ),
    executor: ExecutorName = typer.Option(
        ExecutorName.inline, "--executor", "-x", help="Where the steps run."
    ),
    resume: str | None = typer.Option(
        None, "--resume", metavar="RUN_ID", help="Reuse what this failed run finished."
    ),
) -> None:
    """Run a pipeline, reusing cached steps, with a progress bar; then show its steps."""
    from headway.pipelines import load_pipeline

    found = load_pipeline(target)
    _run_and_show(found, executor, resume, _parse_params(found.signature, param or []))


@pipeline_app.command("train")
@fail_cleanly
def train(
    config: str = typer.Argument(..., metavar="CONFIG.toml", help="The training config."),
    since: str | None = typer.Option(
        None, help="Train on data since this ISO time or duration (e.g. 14d)."
    ),
    executor: ExecutorName = typer.Option(
        ExecutorName.inline, "--executor", "-x", help="Where the steps run."
    ),
    resume: str | None = typer.Option(
        None, "--resume", metavar="RUN_ID", help="Reuse what this failed run finished."
    ),
) -> None:
    """Run the standard training pipeline: ingest, profile, validate, split, train (with
    an Optuna search), register, gate against the champion, and optionally deploy."""
    from headway.pipelines.training import load_training_config, standard_training

    load_training_config(config)  # a bad config fails here, before anything runs
    _run_and_show(standard_training, executor, resume, {"config": config, "since": since})


def _run_and_show(
    found: Any, executor: ExecutorName, resume: str | None, params: dict[str, Any]
) -> None:
    from headway.pipelines import StepFailedError

    try:
        result = found.run(executor=executor.value, resume=resume, progress=True, **params)
    except StepFailedError as exc:
        _steps_table(list(exc.result.steps.values()), f"pipeline {found.name}")
        raise
    _steps_table(list(result.steps.values()), f"pipeline {found.name}")
    cached = len(result.cached)
    console.print(
        f"[green]finished[/] in {result.seconds:.1f} s on {result.executor}: "
        f"{len(result.steps)} step(s), {cached} cached; run {result.run_id}"
    )
    console.print(f"output: {_short(result.output)}", soft_wrap=True)


@pipeline_app.command("list")
@fail_cleanly
def list_(
    pipeline: str | None = typer.Option(None, "--pipeline", help="Only this pipeline's runs."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Newest N runs."),
) -> None:
    """Pipeline runs, newest first, with how many steps ran, were cached or failed."""
    from headway.pipelines import list_pipeline_runs

    found = list_pipeline_runs(pipeline, limit)
    if not found:
        console.print("No pipeline runs yet. Run one with `headway pipeline run FILE.py:PIPELINE`.")
        return
    table = Table(title=f"{len(found)} pipeline run(s)")
    for col in ("run id", "pipeline", "status", "started", "duration", "executor", "steps"):
        table.add_column(col, no_wrap=col in ("run id", "started"))
    for item in found:
        r = item.run
        counts = ", ".join(f"{n} {s}" for s, n in sorted(item.counts.items())) or "-"
        table.add_row(
            r.id[:8],
            item.pipeline,
            _styled(r.status),
            format_time(r.start_time),
            format_duration(r.duration_ms),
            r.tags.get("pipeline.executor", "-"),
            counts,
        )
    console.print(table)


@pipeline_app.command("show")
@fail_cleanly
def show(
    run_id: str = typer.Argument(..., help="The pipeline run's id (or a unique prefix)."),
) -> None:
    """One pipeline run: its parameters, then each step with its status, whether it was
    cached, its duration, attempts and run id."""
    from headway.pipelines import get_pipeline_run

    found = get_pipeline_run(run_id)
    r = found.run
    console.print(f"[bold]Pipeline {found.pipeline}[/], run {r.id}")
    console.print(f"  status    {_styled(r.status)}" + (f": {r.error}" if r.error else ""))
    console.print(f"  started   {format_time(r.start_time)}, took {format_duration(r.duration_ms)}")
    console.print(f"  executor  {r.tags.get('pipeline.executor', '-')}")
    if "pipeline.resumed_from" in r.tags:
        console.print(f"  resumed   from run {r.tags['pipeline.resumed_from']}")
    params = ", ".join(f"{k}={v}" for k, v in sorted(r.params.items())) or "-"
    console.print(f"  params    {params}", soft_wrap=True)
    _steps_table(found.steps, "steps")


def _steps_table(steps: list[Any], title: str) -> None:
    table = Table(title=title)
    for col in ("step", "status", "cached", "duration", "attempts", "run id", "outputs", "error"):
        table.add_column(col, overflow="fold")
    for s in steps:
        table.add_row(
            s.node,
            _styled(s.status),
            f"from {s.run_id[:8]}" if s.cached and s.run_id else "no",
            f"{s.seconds:.2f}s" if s.status in ("finished", "failed") else "-",
            str(s.attempts) if s.attempts else "-",
            s.run_id[:8] if s.run_id and not s.cached else "-",
            ", ".join(a.format for a in s.outputs) or "-",
            s.error or "",
        )
    console.print(table)


def _parse_params(signature: inspect.Signature, items: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs, each VALUE converted to its parameter's type (from the annotation
    or the default), else read as JSON when it is JSON, else kept as text."""
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise InvalidArgumentError(f"--param {item!r} is not NAME=VALUE, e.g. --param n=5000")
        parameter = signature.parameters.get(name)
        if parameter is None:
            raise InvalidArgumentError(
                f"the pipeline has no parameter {name!r}; its parameters are {signature}"
            )
        params[name] = _convert(name, text, parameter)
    return params


def _convert(name: str, text: str, parameter: inspect.Parameter) -> Any:
    kind = parameter.annotation
    if isinstance(kind, str) or kind is inspect.Parameter.empty:
        kind = {"int": int, "float": float, "str": str, "bool": bool}.get(str(kind))
    if kind is None and parameter.default is not inspect.Parameter.empty:
        kind = type(parameter.default)
    if kind is bool:
        lowered = text.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise InvalidArgumentError(f"--param {name}={text!r}: expected true or false")
    if kind in (int, float, str):
        try:
            return kind(text)
        except ValueError:
            raise InvalidArgumentError(
                f"--param {name}={text!r}: expected {kind.__name__}"
            ) from None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."
