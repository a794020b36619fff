"""``headway predict``: batch prediction over files."""

from __future__ import annotations

from pathlib import Path

import typer

from headway.cli._app import app, console, fail_cleanly


@app.command("predict")
@fail_cleanly
def predict_cmd(
    model: str = typer.Argument(
        ..., metavar="MODEL_URI", help="A model URI, e.g. models:/churn@champion."
    ),
    source: Path = typer.Argument(
        ..., metavar="INPUT", help="A Parquet or CSV file of features, of any size."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Where to write the predictions: .parquet, .csv or .tsv."
    ),
    chunk_rows: int = typer.Option(
        100_000, "--chunk-rows", min=1, help="Rows predicted at once by one worker."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Worker processes (default: one per CPU)."
    ),
    keep: list[str] | None = typer.Option(
        None, "--keep", help="Copy this input column to the output, e.g. an id (repeatable)."
    ),
    proba: bool = typer.Option(
        False, "--proba", help="Also write class probabilities, as proba_<class> columns."
    ),
    trusted: bool = typer.Option(
        False, "--trusted", help="Allow a model whose loading runs code from its file."
    ),
    executor: str = typer.Option(
        "process",
        "--executor",
        "-x",
        help="process (a local pool) or ray ([pipelines] ray_address).",
    ),
) -> None:
    """Predict every row of a file in chunks, with several processes and bounded memory.

    The output appears complete or not at all, and the job is a run in the ledger
    (experiment batch-predict) linking the input, the model version and the output."""
    from headway.batch import predict

    result = predict(
        model,
        source,
        output,
        chunk_rows=chunk_rows,
        workers=workers,
        passthrough=keep or [],
        proba=proba,
        trusted=trusted,
        progress=True,
        executor=executor,
    )
    console.print(
        f"{result.rows:,} rows predicted by {result.model} in {result.seconds:.1f} s "
        f"({result.rows_per_second:,.0f} rows/s) into [bold]{result.output}[/]; "
        f"sha256 {result.sha256[:12]}, run {result.run_id}"
    )
