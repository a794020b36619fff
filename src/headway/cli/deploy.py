"""``headway deploy create|list|status|shadow|canary|switch|rollback|automation``."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from headway.cli._app import app, console, fail_cleanly, format_time
from headway.errors import InvalidArgumentError
from headway.serving import deployments as dep
from headway.store.records import Revision

deploy_app = typer.Typer(
    help="Deployments: which model versions serve a name, and how traffic is split.",
    no_args_is_help=True,
)
app.add_typer(deploy_app, name="deploy")

REASON = typer.Option(None, "--reason", "-m", help="Why: kept in the revision history.")


def _done(revision: Revision) -> None:
    console.print(
        f"[bold]{revision.deployment}[/] revision {revision.number}: {revision.reason}; "
        "running servers pick it up within a second"
    )


@deploy_app.command("create")
@fail_cleanly
def create(
    name: str = typer.Argument(..., help="The deployment's name (used in URLs)."),
    model: str = typer.Option(..., "--model", help="Model URI, e.g. models:/churn@champion."),
    automation: str = typer.Option("full", help="full, partial, assist or human."),
    threshold: float | None = typer.Option(
        None, help="partial: confidence below which a person decides."
    ),
    timeout_ms: float = typer.Option(1000.0, help="Per-request budget before the fallback."),
    fallback: str | None = typer.Option(None, help="Model URI answering when the primary fails."),
    fallback_value: str | None = typer.Option(
        None, help="Without a fallback model: answer this (JSON, e.g. 0) when the primary fails."
    ),
    reason: str | None = REASON,
) -> None:
    """Create a deployment serving one model version."""
    _done(
        dep.create_deployment(
            name,
            model,
            automation=_automation(automation),
            threshold=threshold,
            timeout_ms=timeout_ms,
            fallback=fallback,
            fallback_value=None if fallback_value is None else _json_value(fallback_value),
            reason=reason or "created",
        )
    )


@deploy_app.command("list")
@fail_cleanly
def list_() -> None:
    """Every deployment with its active revision."""
    found = dep.list_deployments()
    if not found:
        console.print("No deployments yet. Create one with headway deploy create NAME --model URI.")
        return
    table = Table(title="deployments")
    for col in ("name", "revision", "primary", "canary", "shadows", "automation", "changed"):
        table.add_column(col)
    for r in found:
        c = dep.DeploymentConfig.from_dict(r.config)
        canary = f"{c.canary} @ {c.canary_weight:.0%}" if c.canary else "-"
        table.add_row(
            r.deployment,
            str(r.number),
            c.primary,
            canary,
            ", ".join(c.shadows) or "-",
            c.automation,
            format_time(r.created_at),
        )
    console.print(table)


@deploy_app.command("status")
@fail_cleanly
def status(name: str = typer.Argument(..., help="Deployment name.")) -> None:
    """The active configuration and the revision history (who, when, why)."""
    revisions = dep.list_revisions(name)
    c = dep.DeploymentConfig.from_dict(revisions[-1].config)
    console.print(f"[bold]{name}[/] revision {revisions[-1].number}")
    console.print(f"  primary   {c.primary}")
    if c.canary:
        ramp = "" if c.ramp is None else f" (ramp step {c.ramp.step + 1}/{len(c.ramp.steps)})"
        console.print(f"  canary    {c.canary} at {c.canary_weight:.0%}{ramp}")
    for s in c.shadows:
        console.print(f"  shadow    {s}")
    if c.standby:
        console.print(f"  standby   {c.standby}")
    if c.fallback_model or c.fallback_value is not None:
        what = c.fallback_model or f"the value {json.dumps(c.fallback_value)}"
        console.print(f"  fallback  {what} after {c.timeout_ms:g} ms or an error")
    threshold = f" below {c.threshold}" if c.threshold is not None else ""
    console.print(f"  automation {c.automation}{threshold}")
    table = Table(title="revisions")
    for col in ("#", "when", "who", "why"):
        table.add_column(col)
    for r in revisions:
        table.add_row(str(r.number), format_time(r.created_at), r.created_by or "-", r.reason or "")
    console.print(table)


@deploy_app.command("shadow")
@fail_cleanly
def shadow(
    name: str = typer.Argument(..., help="Deployment name."),
    model: str = typer.Option(..., "--model", help="Model URI to shadow (or stop shadowing)."),
    remove: bool = typer.Option(False, "--remove", help="Stop shadowing this model."),
    reason: str | None = REASON,
) -> None:
    """Send a copy of every request to MODEL after answering; its outputs are logged."""
    if remove:
        _done(dep.set_shadows(name, remove=[model], reason=reason))
    else:
        _done(dep.set_shadows(name, add=[model], reason=reason))


@deploy_app.command("canary")
@fail_cleanly
def canary(
    name: str = typer.Argument(..., help="Deployment name."),
    model: str | None = typer.Option(None, "--model", help="Model URI of the canary."),
    weight: float | None = typer.Option(None, help="Fixed share of traffic, 0-1 (no ramp)."),
    ramp: str | None = typer.Option(
        None, help="Automatic ramp, e.g. 0.05,0.25,0.5,1 (the default without --weight)."
    ),
    min_requests: int = typer.Option(200, help="Canary requests per ramp step before deciding."),
    stop: bool = typer.Option(False, "--stop", help="Remove the canary."),
    reason: str | None = REASON,
) -> None:
    """Send a share of traffic to MODEL: fixed, or ramped with health gates."""
    if stop:
        _done(dep.set_canary(name, None, reason=reason))
        return
    if model is None:
        raise InvalidArgumentError("give the canary's --model (or --stop to remove it)")
    plan = None
    if weight is None:
        steps = tuple(_weights(ramp)) if ramp else dep.Ramp().steps
        plan = dep.Ramp(steps=steps, min_requests=min_requests)
    _done(dep.set_canary(name, model, weight=weight, ramp=plan, reason=reason))


@deploy_app.command("switch")
@fail_cleanly
def switch(
    name: str = typer.Argument(..., help="Deployment name."),
    model: str = typer.Option(..., "--model", help="Model URI that takes all traffic."),
    reason: str | None = REASON,
) -> None:
    """Blue-green: all traffic to MODEL at once; the old version stays loaded."""
    _done(dep.switch(name, model, reason=reason))


@deploy_app.command("rollback")
@fail_cleanly
def rollback(
    name: str = typer.Argument(..., help="Deployment name."), reason: str | None = REASON
) -> None:
    """Re-activate the previous revision."""
    _done(dep.rollback(name, reason=reason))


@deploy_app.command("automation")
@fail_cleanly
def automation(
    name: str = typer.Argument(..., help="Deployment name."),
    mode: str = typer.Argument(..., help="full, partial, assist or human."),
    threshold: float | None = typer.Option(None, help="partial: the confidence threshold."),
    reason: str | None = REASON,
) -> None:
    """Change how much the model decides alone."""
    _done(dep.set_automation(name, _automation(mode), threshold, reason=reason))


def _automation(mode: str) -> dep.Automation:
    if mode not in dep.AUTOMATION:
        raise InvalidArgumentError(
            f"automation must be one of {list(dep.AUTOMATION)}, not {mode!r}"
        )
    return mode


def _weights(text: str) -> list[float]:
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise InvalidArgumentError(
            f"--ramp takes comma-separated weights such as 0.05,0.25,0.5,1, got {text!r}"
        ) from None


def _json_value(text: str) -> object:
    """A JSON scalar (0, 1.5, true, "no") or, failing that, the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
