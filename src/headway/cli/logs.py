"""``headway logs query|compact``: query and compact the prediction and feedback logs."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
import pyarrow as pa
import typer
from rich.table import Table
from rich.text import Text

from headway.cli._app import app, console, err_console, fail_cleanly
from headway.serving.log import FEEDBACK, PREDICTIONS, compact, query
from headway.workspace import current_workspace


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class Stream(StrEnum):
    predictions = PREDICTIONS
    feedback = FEEDBACK
    all = "all"


logs_app = typer.Typer(
    help="The prediction and feedback logs: query them with SQL, compact them.",
    no_args_is_help=True,
)
app.add_typer(logs_app, name="logs")


@logs_app.command("query")
@fail_cleanly
def query_(
    sql: str = typer.Argument(
        ...,
        help="SQL over the tables predictions and feedback, e.g. "
        '"SELECT route, count(*) FROM predictions GROUP BY route".',
    ),
    format_: OutputFormat = typer.Option(
        OutputFormat.table, "--format", "-f", help="json prints one object per line."
    ),
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="Print at most N rows."),
    all_: bool = typer.Option(False, "--all", help="Print every row, however many."),
) -> None:
    """Query the prediction and feedback logs with DuckDB SQL (struct fields: inputs.age)."""
    result = query(current_workspace().log_root, sql, limit=None if all_ else limit + 1)
    truncated = not all_ and result.num_rows > limit
    if truncated:
        result = result.slice(0, limit)
    if format_ is OutputFormat.csv:
        typer.echo(_csv(result), nl=False)
    elif format_ is OutputFormat.json:
        for row in result.to_pylist():
            typer.echo(orjson.dumps(row, default=str).decode())
    else:
        console.print(_table(result))
    if truncated:
        err_console.print(f"(first {limit} rows; pass --limit N or --all for more)")


@logs_app.command("compact")
@fail_cleanly
def compact_(
    stream: Stream = typer.Option(Stream.all, "--stream", "-s", help="Which log to compact."),
) -> None:
    """Merge the segment files of each closed hour into one Parquet file."""
    root = current_workspace().log_root
    for name in (PREDICTIONS, FEEDBACK) if stream is Stream.all else (stream.value,):
        done = compact(root, name)
        if done.segments == 0:
            console.print(f"{name}: nothing to compact")
        else:
            console.print(
                f"{name}: {done.segments} segment file(s) of {done.hours} hour(s) -> "
                f"{done.files} Parquet file(s), {done.rows:,} rows"
            )


def _table(result: pa.Table) -> Table:
    table = Table(title=f"{result.num_rows} row(s)")
    numeric = [
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        for t in result.schema.types
    ]
    for name, right in zip(result.column_names, numeric, strict=True):
        table.add_column(name, justify="right" if right else "left")
    for row in _rows(result):
        table.add_row(*(Text(_cell(value)) for value in row))
    return table


def _rows(result: pa.Table) -> list[tuple[Any, ...]]:
    """Rows as tuples: unlike dicts, they keep columns that share a name."""
    return list(zip(*(column.to_pylist() for column in result.columns), strict=True))


def _cell(value: Any, precise: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if precise else "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def _csv(result: pa.Table) -> str:
    while any(pa.types.is_struct(t) for t in result.schema.types):
        result = result.flatten()  # inputs.age, outputs.prediction, ...
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.column_names)
    writer.writerows([_cell(value, precise=True) for value in row] for row in _rows(result))
    return out.getvalue()
