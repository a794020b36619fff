"""``headway models list|show|alias``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.tree import Tree

from headway.cli._app import app, console, fail_cleanly, format_time
from headway.registry import (
    alias_history,
    get_model_version,
    list_model_versions,
    list_models,
    set_alias,
)
from headway.registry.lineage import describe_lineage
from headway.store.records import ModelVersion

models_app = typer.Typer(help="Registered models: list, show, alias.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
@fail_cleanly
def list_() -> None:
    """List registered models with their latest version and aliases."""
    found = list_models()
    if not found:
        console.print("No registered models yet. Register one with headway.register_model().")
        return
    table = Table(title="registered models")
    for col in ("name", "latest", "aliases", "updated"):
        table.add_column(col)
    for m in found:
        aliases = ", ".join(f"{a}→v{v}" for a, v in m.aliases.items())
        table.add_row(m.name, f"v{m.latest_version}", aliases, format_time(m.updated_at))
    console.print(table)


@models_app.command("show")
@fail_cleanly
def show(ref: str = typer.Argument(..., help="NAME, NAME/VERSION or a models:/ URI.")) -> None:
    """Show a model version (for NAME: all versions, then the latest in detail): flavor,
    signature, files, requirements, lineage and alias history."""
    version = _lookup(ref)
    if "/" not in ref and "@" not in ref:
        _versions_table(version.name)
    console.print(
        f"[bold]{version.uri}[/]  flavor {version.flavor}  "
        f"aliases: {', '.join(version.aliases) or '-'}"
    )
    if version.description:
        console.print(f"  {version.description}")
    console.print(f"  registered {format_time(version.created_at)}; run {version.run_id or '-'}")
    signature = version.signature or {}
    inputs = signature.get("inputs", {})
    if inputs.get("type") == "columns":
        cols = ", ".join(f"{c['name']}: {c['type']}" for c in inputs["columns"])
        console.print(f"  inputs     {cols}")
    elif inputs:
        console.print(f"  inputs     tensor {inputs['dtype']} {inputs['shape']}")
    reqs = version.requirements
    console.print(
        f"  requires   python {reqs.get('python')}; "
        + ", ".join(f"{k}=={v}" for k, v in reqs.get("packages", {}).items())
    )
    files = Table(title="files")
    for col in ("path", "size", "sha256"):
        files.add_column(col)
    for f in version.files:
        files.add_row(f.path, f"{f.size:,}", f.sha256)
    console.print(files)
    tree = Tree(f"[bold]lineage of {version.uri}[/] (where it came from)")
    for line in describe_lineage(version):
        tree.add(line)
    console.print(tree)
    history = alias_history(version.name)
    if history:
        table = Table(title=f"alias history of {version.name}")
        for col in ("when", "alias", "change", "by", "reason"):
            table.add_column(col)
        for h in history:
            if h.version is None:
                change = f"removed (was v{h.previous_version})"
            elif h.previous_version is None:
                change = f"set to v{h.version}"
            else:
                change = f"v{h.previous_version} → v{h.version}"
            table.add_row(
                format_time(h.changed_at), h.alias, change, h.changed_by or "-", h.reason or ""
            )
        console.print(table)


def _versions_table(name: str) -> None:
    table = Table(title=f"versions of {name}")
    for col in ("version", "flavor", "registered", "run", "aliases", "description"):
        table.add_column(col)
    for v in list_model_versions(name):
        table.add_row(
            f"v{v.version}",
            v.flavor,
            format_time(v.created_at),
            (v.run_id or "-")[:8],
            ", ".join(v.aliases),
            v.description,
        )
    console.print(table)


def _lookup(ref: str) -> ModelVersion:
    if ref.startswith("models:/"):
        return get_model_version(ref)
    name, _, number = ref.partition("/")
    if number and not number.isdigit():
        raise typer.BadParameter(f"{ref!r}: the version after '/' must be a number")
    return get_model_version(name, int(number) if number else None)


@models_app.command("alias")
@fail_cleanly
def alias(
    name: str,
    alias_name: str = typer.Argument(..., metavar="ALIAS"),
    version: int = typer.Argument(..., min=1),
    reason: str | None = typer.Option(None, help="Why, kept in the alias history."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Make a version champion without a blessing gate (recorded in the alias history).",
    ),
) -> None:
    """Point ALIAS (e.g. champion) of model NAME at VERSION; champion needs a passed gate."""
    previous = set_alias(name, alias_name, version, reason=reason, force=force)
    was = f" (was v{previous})" if previous else ""
    console.print(f"models:/{name}@{alias_name} → v{version}{was}")


@models_app.command("card")
@fail_cleanly
def card(
    ref: str = typer.Argument(..., help="NAME/VERSION or a models:/ URI."),
    output_dir: Path = typer.Option(Path("."), "--output-dir", "-o", help="Where to write."),
) -> None:
    """Write the model card (HTML and Markdown) from the version's latest evaluation, and
    store it on the version."""
    from headway.registry.evaluation import model_card

    version = _lookup(ref)
    result = model_card(version.uri)
    output_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{version.name}-v{version.version}-card"
    (output_dir / f"{stem}.html").write_text(result.html, encoding="utf-8")
    (output_dir / f"{stem}.md").write_text(result.markdown, encoding="utf-8")
    console.print(
        f"model card of {version.uri} written to [bold]{output_dir / stem}.html[/] "
        "and .md, and stored on the version"
    )
