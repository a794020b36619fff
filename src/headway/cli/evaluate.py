"""``headway evaluate``: a model on a data file, with intervals, baselines and slices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from headway.cli._app import app, console, fail_cleanly
from headway.errors import InvalidArgumentError
from headway.evaluate.fairness import RATES
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
    tag: list[str] | None = typer.Option(
        None, "--tag", help="A boolean tag column: a slice and a row of the error analysis."
    ),
    sensitive: list[str] | None = typer.Option(
        None, "--sensitive", help="Compare selection, TPR and FPR across this column's groups."
    ),
    invariant: list[str] | None = typer.Option(
        None, "--invariant", help="Test that swapping this column's values changes nothing."
    ),
    increases: list[str] | None = typer.Option(
        None, "--increases", help="Test that raising this column raises the prediction."
    ),
    decreases: list[str] | None = typer.Option(
        None, "--decreases", help="Test that raising this column lowers the prediction."
    ),
    noise: list[str] | None = typer.Option(
        None, "--noise", help="Test that small noise on this column changes nothing."
    ),
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
    tests = behavioural_tests(table, invariant or [], increases or [], decreases or [], noise or [])
    with console.status(f"evaluating {model} on {data.name}..."):
        report = evaluate(
            model,
            table,
            label=label,
            slices=slice_by or None,
            baselines={"human": human} if human else None,
            tags=tag or None,
            behaviour=tests,
            sensitive=sensitive or [],
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


def behavioural_tests(
    table: Any,
    invariant: list[str],
    increases: list[str],
    decreases: list[str],
    noise: list[str],
) -> list[dict[str, Any]]:
    """Behavioural tests from column names: an invariance test swaps in each of the
    column's values (up to 20), a directional test adds one standard deviation (a whole
    number of steps for an integer column)."""
    tests: list[dict[str, Any]] = [
        {
            "kind": "invariance",
            "column": c,
            "values": list(_column(table, c).dropna().unique()[:20]),
        }
        for c in invariant
    ]
    for direction, columns in (("increase", increases), ("decrease", decreases)):
        tests += [
            {
                "kind": "directional",
                "column": c,
                "delta": _step(_column(table, c)),
                "direction": direction,
            }
            for c in columns
        ]
    if noise:
        tests.append({"kind": "perturbation", "columns": noise})
    return tests


def _step(column: Any) -> float:
    """One standard deviation, rounded to a whole step for integer columns."""
    import pandas as pd

    std = float(column.std()) or 1.0
    return max(1.0, round(std)) if pd.api.types.is_integer_dtype(column) else std


def _column(table: Any, name: str) -> Any:
    if name not in table.columns:
        raise InvalidArgumentError(f"no column {name!r} in the data; it has {list(table.columns)}")
    return table[name]


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
    _print_analyses(report)
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


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_analyses(report: EvaluationReport) -> None:
    """Error analysis by tag, behavioural tests and fairness, when the report has them."""
    if report.error_analysis:
        errors = Table(title="error analysis by tag (sorted by potential improvement)")
        for col in (
            "tag",
            "share of data",
            "share of errors",
            "error rate",
            "human acc.",
            "gap to human",
            "potential",
        ):
            errors.add_column(col)
        for t in report.error_analysis:
            errors.add_row(
                t.tag,
                f"{t.share_of_data:.3f}",
                f"{t.share_of_errors:.3f}",
                _rate(t.error_rate),
                _rate(t.human_accuracy),
                _rate(t.gap_to_human),
                f"{t.potential:.4f}",
            )
        console.print(errors)
    if report.behaviour:
        tests = Table(title="behavioural tests")
        for col in ("test", "result", "violating rows", "tolerance"):
            tests.add_column(col)
        for b in report.behaviour:
            verdict = "[green]pass[/]" if b.passed else "[red]FAIL[/]"
            tests.add_row(b.name, verdict, f"{b.violation_rate:.3f}", f"{b.threshold:.3f}")
        console.print(tests)
    for column, f in report.fairness.items():
        fair = Table(title=f"fairness by {column}")
        for col in ("group", "rows", "selection rate", "TPR", "FPR"):
            fair.add_column(col)
        for g in f.groups:
            fair.add_row(
                str(g.group),
                f"{g.count:,}",
                f"{g.selection_rate:.3f}",
                _rate(g.true_positive_rate),
                _rate(g.false_positive_rate),
            )
        fair.add_row("largest gap", "", *(_rate(f.gaps[r]) for r in RATES))
        fair.add_row("smallest ratio", "", *(_rate(f.ratios[r]) for r in RATES))
        console.print(fair)
