"""``headway scheduler [--once]`` and ``headway scheduler list``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from headway.cli._app import app, console, fail_cleanly, format_time

scheduler_app = typer.Typer(
    help="Run pipelines when their triggers (cron, alerts, new labels) say so.",
    invoke_without_command=True,
)
app.add_typer(scheduler_app, name="scheduler")

_CONFIG_HELP = "The schedules file (default: schedules.toml in the workspace folder)."
_STYLE = {
    "ran": "green",
    "due": "green",
    "failed": "red",
    "error": "red",
    "waiting": "yellow",
    "not_due": "dim",
}


@scheduler_app.callback()
@fail_cleanly
def run(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, "--config", "-c", help=_CONFIG_HELP),
    once: bool = typer.Option(False, "--once", help="Check and run once, then exit."),
    interval: float = typer.Option(
        60.0, "--interval", min=1.0, help="Seconds between checks (without --once)."
    ),
) -> None:
    """Check every schedule's triggers and run the due pipelines, every --interval seconds."""
    if ctx.invoked_subcommand is not None:
        return
    from headway.pipelines.challenger import Decision, settle_all
    from headway.pipelines.scheduler import (
        ScheduleDecision,
        load_schedules,
        run_scheduler,
        tick,
    )

    schedules = load_schedules(config)

    def show(decisions: list[ScheduleDecision]) -> None:
        for d in decisions:
            style = _STYLE[d.action]
            console.print(f"[{style}]{escape(d.message())}[/]", soft_wrap=True)

    def settled(decisions: list[Decision]) -> None:
        for d in decisions:
            line = f"{d.deployment}: {d.challenger} {d.verdict}: {'; '.join(d.reasons)}"
            console.print(escape(line), soft_wrap=True)

    if once:
        show(tick(schedules, progress=True))
        settled(settle_all())
        return
    names = ", ".join(s.name for s in schedules)
    console.print(f"checking {len(schedules)} schedule(s) every {interval:g}s: {names}")
    run_scheduler(schedules, interval=interval, on_tick=show, progress=True, on_settle=settled)


@scheduler_app.command("list")
@fail_cleanly
def list_(
    config: Path | None = typer.Option(None, "--config", "-c", help=_CONFIG_HELP),
) -> None:
    """Schedules, their triggers, their last run, and whether each trigger is due now."""
    from headway.pipelines.scheduler import load_schedules, plan, schedule_state

    schedules = load_schedules(config)
    table = Table(title=f"{len(schedules)} schedule(s)")
    for col in ("schedule", "pipeline", "trigger", "due now", "last run"):
        table.add_column(col)
    for schedule, decision in zip(schedules, plan(schedules), strict=True):
        attempt = schedule_state(schedule.name).last_attempt
        last = (
            "never"
            if attempt is None
            else f"{format_time(attempt.start_time)} {attempt.status} ({attempt.id[:8]})"
        )
        for i, trigger in enumerate(schedule.triggers):
            check = decision.checks.get(trigger.key)
            if decision.action == "waiting":
                due = f"[yellow]waiting[/]: {escape(decision.note)}"
            elif check is None:
                due = f"[red]error[/]: {escape(decision.error or '')}"
            elif check.due:
                due = f"[green]due[/]: {escape(check.note)}"
            else:
                due = f"no: {escape(check.note)}"
            first = i == 0
            table.add_row(
                schedule.name if first else "",
                escape(schedule.reference) if first else "",
                escape(trigger.describe()),
                due,
                last if first else "",
            )
    console.print(table)
