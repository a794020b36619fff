"""``headway init`` and ``headway quickstart``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import typer

from headway.cli._app import app, console, fail_cleanly
from headway.config import CONFIG_FILE
from headway.workspace import init_workspace


@app.command()
@fail_cleanly
def init(directory: Path = typer.Argument(Path("."), help="Folder for the workspace.")) -> None:
    """Create headway.toml and .headway/ (SQLite database and artifact folder)."""
    existed = (directory / CONFIG_FILE).exists()
    ws = init_workspace(directory)
    verb = "Using existing" if existed else "Created"
    console.print(f"{verb} workspace in [bold]{ws.project_dir}[/]")
    console.print(f"  metadata store  {ws.store.display_uri}")
    console.print(f"  artifact store  {ws.artifacts.root}")
    console.print(f"  settings        {ws.settings.config_file} (HEADWAY_* variables override)")


@app.command()
@fail_cleanly
def quickstart(
    directory: Path = typer.Argument(Path("headway-quickstart"), help="Workspace folder."),
    rows: int = typer.Option(5000, min=1000, help="Customers to train the first model on."),
) -> None:
    """Run Headway's whole loop: train, deploy, drift, alert, retrain, canary, promote."""
    from headway.quickstart import run_quickstart

    console.rule("[bold]Headway quickstart")
    result = run_quickstart(
        directory, rows=rows, say=lambda line: console.print(f"  {line}"), console=console
    )
    console.rule()
    command = _headway_command()
    console.print("Where to look:")
    console.print(f"  cd {result.project_dir}")
    console.print(f"  {command} ui                        # the dashboard tells it in charts")
    console.print(
        f"  {command} monitor show {result.deployment}   # the windows, drift and accuracy"
    )
    console.print(f"  {command} alerts list --history")
    console.print(f"  {command} deploy status {result.deployment}  # revisions: the canary's steps")
    console.print(f"  {command} runs list                 # every run, and why it ran")


def _headway_command() -> str:
    """How to call this headway: its full path when it is not on PATH (a fresh .venv)."""
    here = Path(sys.executable).with_name("headway")
    on_path = shutil.which("headway")
    return "headway" if on_path and Path(on_path).resolve() == here.resolve() else str(here)
