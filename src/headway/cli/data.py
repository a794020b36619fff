"""``headway data profile|schema|validate|drift|split``: the data engine from the shell."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from headway.cli._app import app, console, fail_cleanly
from headway.data._read import count_rows
from headway.data.profile import Profile
from headway.errors import InvalidArgumentError

data_app = typer.Typer(
    help="Profile, validate, compare and split data files.", no_args_is_help=True
)
app.add_typer(data_app, name="data")

FILE_HELP = "A Parquet or CSV file."


class Method(StrEnum):
    auto = "auto"
    raw = "raw"
    binned = "binned"


class Strategy(StrEnum):
    random = "random"
    stratified = "stratified"
    time = "time"
    rolling = "rolling"
    group = "group"


def _profile_with_progress(path: Path, bins_from: Profile | None = None) -> Profile:
    from headway.tracking.checks import profile

    total = count_rows(path)
    columns = [
        TextColumn(f"profiling {path.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("rows", total=total)
        return profile(
            path,
            bins_from=bins_from,
            name=path.stem,
            on_progress=lambda done: bar.update(task, completed=done),
        )


def _load_side(path: Path) -> Any:
    """A profile JSON file as a Profile; a data file as its path."""
    if path.suffix.lower() == ".json":
        try:
            return Profile.from_json(path.read_text())
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"{path} is not a Headway profile ({exc}); write one "
                "with `headway data profile FILE -o profile.json`"
            ) from exc
    if not path.is_file():
        raise InvalidArgumentError(f"{path} does not exist")
    return path


def _write_html(html: str, path: Path) -> None:
    path.write_text(html, encoding="utf-8")
    console.print(f"report written to [bold]{path}[/]")


@data_app.command("profile")
@fail_cleanly
def profile_cmd(
    file: Path = typer.Argument(..., help=FILE_HELP),
    output: Path | None = typer.Option(None, "--output", "-o", help="Save the profile JSON."),
    html: Path | None = typer.Option(None, "--html", help="Write an HTML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON."),
) -> None:
    """Profile a file in bounded memory: kinds, missing values, distributions, top values."""
    result = _profile_with_progress(_load_side(file))
    if output:
        output.write_text(result.to_json())
    if as_json:
        console.print_json(result.to_json())
    else:
        _print_profile(result)
    if html:
        from headway.reports import render_profile

        _write_html(render_profile(result, title=f"Profile of {file.name}"), html)


def _print_profile(result: Profile) -> None:
    table = Table(title=f"{result.rows:,} rows, {result.duplicate_rows:,} duplicate rows")
    for col in ("column", "kind", "missing", "distinct", "mean", "std", "min", "max", "top"):
        table.add_column(col, justify="right" if col in ("missing", "distinct") else "left")
    for c in result.columns.values():
        m = c.moments
        numeric = c.kind in ("numeric", "datetime") and m is not None and m.count > 0
        table.add_row(
            c.name,
            c.kind,
            f"{c.missing:,}",
            f"{c.distinct:,}" + ("" if c.distinct_exact else "~"),
            f"{m.mean:.4g}" if m and m.count else "",
            f"{c.std:.4g}" if c.std else "",
            c.display(m.min) if numeric and m else "",
            c.display(m.max) if numeric and m else "",
            ", ".join(f"{v} ({n:,})" for v, n in c.top_values[:3]),
        )
    console.print(table)


@data_app.command("schema")
@fail_cleanly
def schema_cmd(
    file: Path = typer.Argument(..., help=FILE_HELP),
    output: Path = typer.Option(Path("schema.yaml"), "--output", "-o", help="Where to write."),
) -> None:
    """Infer a schema (kinds, nullability, domains, key, row range) as editable YAML."""
    from headway.tracking.checks import infer_schema

    prof = _profile_with_progress(_load_side(file))
    result = infer_schema(prof)
    output.write_text(result.to_yaml())
    console.print(
        f"schema of {len(result.columns)} columns written to [bold]{output}[/]; "
        "edit it by hand and keep it in git"
    )


@data_app.command("validate")
@fail_cleanly
def validate_cmd(
    file: Path = typer.Argument(..., help=FILE_HELP),
    schema: Path = typer.Option(..., "--schema", "-s", help="The schema YAML."),
    reference: Path | None = typer.Option(
        None, help="Training data (file or profile JSON) to check serving skew against."
    ),
    html: Path | None = typer.Option(None, "--html", help="Write an HTML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Validate a file against a schema; exit 1 on error-severity anomalies (for CI)."""
    import pandas as pd

    from headway.data import Schema
    from headway.data._read import iter_batches
    from headway.tracking.checks import validate

    rules = Schema.load(schema)
    ref = None
    if reference is not None:
        side = _load_side(reference)
        ref = side if isinstance(side, Profile) else _profile_with_progress(side)
    with console.status(f"validating {file.name}..."):
        table = pd.concat(iter_batches(_load_side(file), 1_000_000), ignore_index=True)
        report = validate(table, rules, reference=ref, name=file.stem)
    if as_json:
        console.print_json(report.to_json())
    else:
        _print_validation(report)
    if html:
        from headway.reports import render_validation

        _write_html(render_validation(report, title=f"Validation of {file.name}"), html)
    if not report.ok:
        raise typer.Exit(1)


def _print_validation(report: Any) -> None:
    if not report.anomalies:
        console.print(f"[green]valid[/]: {report.rows:,} rows, no anomalies")
        return
    table = Table(
        title=f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) "
        f"in {report.rows:,} rows"
    )
    for col in ("severity", "kind", "column", "rows", "examples", "what to do"):
        table.add_column(col)
    for a in report.errors + report.warnings:
        colour = "red" if a.severity == "error" else "yellow"
        table.add_row(
            f"[{colour}]{a.severity}[/]",
            a.kind,
            a.column or "",
            f"{a.count:,}",
            ", ".join(map(str, a.examples[:3])),
            a.hint,
        )
    console.print(table)


@data_app.command("drift")
@fail_cleanly
def drift_cmd(
    reference: Path = typer.Argument(..., help="Reference data file, or a profile JSON."),
    current: Path = typer.Argument(..., help="Current data file, or a profile JSON."),
    columns: str | None = typer.Option(None, help="Comma-separated features to compare."),
    method: Method = typer.Option(Method.auto, help="raw (exact), binned, or auto by size."),
    alpha: float = typer.Option(0.05, help="Significance level after BH correction."),
    multivariate: bool = typer.Option(False, help="Also train a domain classifier."),
    html: Path | None = typer.Option(None, "--html", help="Write an HTML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    fail_on_drift: bool = typer.Option(False, help="Exit 1 when the verdict is drift."),
) -> None:
    """Compare two datasets feature by feature, with false-alarm control."""
    from headway.data import profile
    from headway.tracking.checks import compare

    ref, cur = _load_side(reference), _load_side(current)
    with console.status("comparing..."):
        report = compare(
            ref,
            cur,
            columns=columns.split(",") if columns else None,
            method=method.value,
            alpha=alpha,
            multivariate=multivariate,
        )
    if as_json:
        console.print_json(report.to_json())
    else:
        _print_drift(report)
    if html:
        from headway.reports import render_drift

        ref_p = ref if isinstance(ref, Profile) else profile(ref)
        cur_p = cur if isinstance(cur, Profile) else profile(cur, bins_from=ref_p)
        _write_html(
            render_drift(report, ref_p, cur_p, title=f"Drift: {reference.name} → {current.name}"),
            html,
        )
    if fail_on_drift and report.verdict == "drift":
        raise typer.Exit(1)


def _print_drift(report: Any) -> None:
    style = {"drift": "red", "significant_below_threshold": "yellow", "no_drift": "green"}
    table = Table(title=f"{report.verdict.replace('_', ' ')}: {report.reason}")
    for col in ("feature", "kind", "status", "test", "p (BH)", "effect", "size", "threshold"):
        table.add_column(col)
    for f in report.features:
        table.add_row(
            f.feature,
            f.kind,
            f"[{style[f.status]}]{f.status.replace('_', ' ')}[/]",
            f.test,
            f"{f.p_adjusted:.3g}",
            f.effect,
            f"{f.effect_size:.3g}",
            f"{f.threshold:g}",
        )
    console.print(table)
    if report.multivariate:
        mv = report.multivariate
        top = ", ".join(f"{n} ({v:.3f})" for n, v in mv.top_features)
        console.print(
            f"domain classifier ROC AUC {mv.roc_auc:.3f} "
            f"({'drift' if mv.drifted else 'no drift'}); top features: {top or '-'}"
        )


@data_app.command("split")
@fail_cleanly
def split_cmd(
    file: Path = typer.Argument(..., help=FILE_HELP),
    output_dir: Path = typer.Option(..., "--output-dir", "-o", help="Folder for the splits."),
    strategy: Strategy = typer.Option(Strategy.random, help="How to split."),
    label: str | None = typer.Option(None, help="Label column (stratified, leakage checks)."),
    time_column: str | None = typer.Option(None, help="Time column (time, rolling)."),
    group_column: str | None = typer.Option(None, help="Group column (group)."),
    test_size: float = typer.Option(0.2, help="Share of rows (or groups) to test on."),
    validation_size: float = typer.Option(0.0, help="Share held out for validation."),
    cutoff: str | None = typer.Option(None, help="Time split: test starts at this time."),
    n_splits: int = typer.Option(3, help="Rolling origin: number of folds."),
    seed: int = typer.Option(0, help="Random seed."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Split a file into Parquet files per split, with a leakage report."""
    import pandas as pd

    from headway.data import split
    from headway.data._read import iter_batches

    table = pd.concat(iter_batches(_load_side(file), 1_000_000), ignore_index=True)
    result = split(
        table,
        strategy.value,
        label=label,
        time_column=time_column,
        group_column=group_column,
        test_size=test_size,
        validation_size=validation_size,
        cutoff=cutoff,
        n_splits=n_splits,
        seed=seed,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, part in result.splits.items():
        target = output_dir / f"{name.replace('/', '-')}.parquet"
        part.to_parquet(target, index=False)
    (output_dir / "split-report.json").write_text(json.dumps(result.report.to_dict(), indent=2))
    if as_json:
        console.print_json(json.dumps(result.report.to_dict()))
        return
    table_out = Table(title=f"{strategy.value} split of {file.name} into {output_dir}")
    table_out.add_column("split")
    table_out.add_column("rows", justify="right")
    for stats in result.report.splits:
        table_out.add_row(stats.name, f"{stats.size:,}")
    console.print(table_out)
    for check in result.report.checks:
        mark = "[green]ok[/]" if check.passed else "[red]LEAK[/]"
        console.print(f"  {mark}  {check.name}: {check.detail}")
    if not result.report.ok:
        raise typer.Exit(1)
