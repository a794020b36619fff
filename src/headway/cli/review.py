"""``headway review list|label``: the human side of human-in-the-loop deployments."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from headway.cli._app import app, console, fail_cleanly, format_time
from headway.serving.feedback import label_from_text
from headway.serving.review import decide, list_pending

review_app = typer.Typer(help="The review queue: requests a person decides.", no_args_is_help=True)
app.add_typer(review_app, name="review")


@review_app.command("list")
@fail_cleanly
def list_(
    deployment: str | None = typer.Option(None, help="Only this deployment's queue."),
    limit: int = typer.Option(50, help="Most items to show, oldest first."),
) -> None:
    """Requests waiting for a decision, with the model's advice."""
    items = list_pending(deployment, limit)
    if not items:
        console.print("The review queue is empty.")
        return
    table = Table(title="review queue")
    for col in ("request", "deployment", "why", "queued", "inputs", "advice"):
        table.add_column(col)
    for i in items:
        advice = "-" if i.advice is None else json.dumps(i.advice)
        table.add_row(
            i.request_id,
            f"{i.deployment} r{i.revision}",
            i.reason,
            format_time(i.created_at),
            json.dumps(i.inputs)[:80],
            advice[:60],
        )
    console.print(table)


@review_app.command("label")
@fail_cleanly
def label(
    request_id: str = typer.Argument(..., help="The queued request's id."),
    value: str = typer.Argument(..., help="The label a person decided on."),
    note: str | None = typer.Option(None, help="Why, for the record."),
) -> None:
    """Decide a queued request; the label is logged as feedback."""
    item = decide(request_id, label_from_text(value), note=note)
    console.print(f"{item.request_id} labelled {value!r}; logged as feedback (source review)")
