"""``headway evaluate``: a model on a data file, with intervals, baselines and slices."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from headway.cli._app import app, console, fail_cleanly
from headway.evaluate.report import EvaluationReport


@app.command("evaluate")
@fail_cleanly
def evaluate_cmd(
    model: str = typer.Argument(..., help="A model URI, e.g. models:/churn/3."),
    data: Path = typer.Argument(..., help="A Parquet or CSV file with features and label."),
    label: str = typer.Option(..., "--label", "-l", help="The label column."),
    slice_by: list[str] | None = typer.Option(None, "--slice", help="Slice by this column."),
    champion: bool = typer.Option(
        False, "--champion", help="Compare with models:/NAME@champion (paired bootstrap)."
    ),
    human: str | None = typer.Option(None, help="Column of a second annotator's labels."),
    resamples: int = typer.Option(200, help="Bootstrap resamples for the intervals."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    html: Path | None = typer.Option(None, "--html", help="Write the model card HTML here."),
) -> None:
    """Evaluate a registered model: metrics with 95% intervals, lift over baselines,
    slices, the worst slices found automatically and, with --champion, the regression test."""
    import pandas as pd

    from headway.data._read import iter_batches
    from headway.registry import parse_model_uri
    from headway.registry.evaluation import evaluate

    table = pd.concat(iter_batches(data, 1_000_000), ignore_index=True)
    against = f"models:/{parse_model_uri(model).name}@champion" if champion else None
    with console.status(f"evaluating {model} on {data.name}..."):
        report = evaluate(
            model,
            table,
            label=label,
            slices=slice_by or None,
            human=human,
            champion=against,
            n_bootstrap=resamples,
            name=data.stem,
        )
    if as_json:
        console.print_json(report.to_json())
    else:
        _print(report)
    if html:
        from headway.registry.evaluation import model_card

        html.write_text(model_card(report.model, report).html, encoding="utf-8")
        console.print(f"model card written to [bold]{html}[/] and stored on {report.model}")


def _interval(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


def _print(report: EvaluationReport) -> None:
    table = Table(title=f"{report.model} on {report.rows:,} rows ({report.task})")
    for col in ("metric", "value", "95% interval", "lift vs zero-rule", "lift vs random"):
        table.add_column(col)
    for name, m in report.overall.metrics.items():
        lifts = [report.lift.get(b, {}).get(name) for b in ("zero_rule", "random")]
        table.add_row(
            name,
            f"{m.value:.4g}",
            _interval(m.low, m.high),
            *("" if v is None else f"{v:+.3f}" for v in lifts),
        )
    console.print(table)
    if report.slices:
        key = next(iter(report.overall.metrics))
        slices = Table(title=f"slices ({key})")
        for col in ("slice", "rows", key, "95% interval"):
            slices.add_column(col)
        for s in report.slices:
            m = s.report[key]
            slices.add_row(s.name, f"{s.rows:,}", f"{m.value:.4g}", _interval(m.low, m.high))
        console.print(slices)
    if report.findings:
        found = Table(title="slices significantly worse than the whole (ranked by cost)")
        for col in ("slice", "rows", "error rate", "rest", "p (BH)"):
            found.add_column(col)
        for f in report.findings[:10]:
            found.add_row(
                f.name,
                f"{f.rows:,}",
                f"{f.error_rate:.3f}",
                f"{f.rest_error_rate:.3f}",
                f"{f.p_adjusted:.2g}",
            )
        console.print(found)
    if report.champion is not None:
        champ = Table(
            title=f"against the champion {report.champion.champion} "
            "(candidate - champion, paired bootstrap)"
        )
        for col in ("scope", "metric", "difference", "95% interval", "p"):
            champ.add_column(col)
        for scope, by_metric in report.champion.differences.items():
            for metric, d in by_metric.items():
                champ.add_row(
                    scope,
                    metric,
                    f"{d.diff:+.4f}",
                    _interval(d.low, d.high),
                    "" if d.p_value is None else f"{d.p_value:.3g}",
                )
        console.print(champ)
    size = f"{report.size_bytes:,} bytes" if report.size_bytes else "unknown size"
    console.print(f"predict p99 latency {report.latency_p99_ms:.1f} ms per 1,000-row batch; {size}")
