"""Deployments: which model versions serve a name, and how traffic is split between them.

A deployment's configuration is a sequence of revisions, append-only, each with who made
it, when and why; the newest is active. Every change — a shadow added, a canary started
or advanced, a blue-green switch, a rollback — appends one. Rollback re-activates the
configuration of the revision before the active one (so rolling back twice undoes the
rollback, like ``kubectl rollout undo``).

Model URIs are pinned when a revision is written: ``models:/churn@champion`` is stored as
the version it points at then, so moving an alias never changes what is served behind
the operator's back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from headway._identity import current_user
from headway.errors import InvalidArgumentError
from headway.registry.models import get_model_version
from headway.store import deployments as repo
from headway.store.records import Revision
from headway.workspace import Workspace, current_workspace

__all__ = [
    "AUTOMATION",
    "DeploymentConfig",
    "Ramp",
    "active_revision",
    "change",
    "create_deployment",
    "list_deployments",
    "list_revisions",
    "rollback",
    "set_automation",
    "set_canary",
    "set_shadows",
    "switch",
]

Automation = Literal["full", "partial", "assist", "human"]
AUTOMATION: tuple[Automation, ...] = ("full", "partial", "assist", "human")


@dataclass(frozen=True)
class Ramp:
    """A canary's ramp schedule and the health gates checked on each step's traffic.

    The canary's weight goes through ``steps``; after ``min_requests`` canary requests at
    a step, the gates decide: advance to the next step (or promote after the last), or
    roll back. Gates: the canary's error rate at most ``max_error_rate``; its p99 latency
    at most ``max_latency_ratio`` times the primary's (plus 5 ms of slack for tiny models);
    agreement with the primary on the same requests at least ``min_agreement``; and the
    shift of its output distribution from the primary's (Kolmogorov-Smirnov statistic on
    scores, total variation on labels) at most ``max_output_shift``.
    """

    steps: tuple[float, ...] = (0.05, 0.25, 0.5, 1.0)
    step: int = 0
    min_requests: int = 200
    max_error_rate: float = 0.01
    max_latency_ratio: float = 2.0
    min_agreement: float = 0.8
    max_output_shift: float = 0.2

    def __post_init__(self) -> None:
        steps = tuple(float(s) for s in self.steps)
        if not steps or any(not 0 < s <= 1 for s in steps) or list(steps) != sorted(steps):
            raise InvalidArgumentError(
                f"ramp steps must be increasing weights in (0, 1], got {list(self.steps)}; "
                "e.g. 0.05,0.25,0.5,1"
            )
        if self.min_requests < 1:
            raise InvalidArgumentError("ramp min_requests must be at least 1")
        object.__setattr__(self, "steps", steps)

    @property
    def weight(self) -> float:
        return self.steps[self.step]


@dataclass(frozen=True)
class DeploymentConfig:
    """One revision's configuration.

    Parameters
    ----------
    primary
        The model version answering requests (a pinned ``models:/name/N`` URI).
    canary, canary_weight, ramp
        A candidate receiving ``canary_weight`` of the traffic (sticky by the request's
        key when it has one), moved along ``ramp`` automatically when given.
    shadows
        Versions that receive a copy of every request after the response is sent; their
        outputs are logged beside the primary's.
    standby
        A version kept loaded but not routed: the other side of a blue-green switch, so a
        rollback is instant. It is also the default fallback.
    fallback, fallback_value
        What answers when the primary fails or exceeds ``timeout_ms``: the version
        ``fallback`` (default: ``standby``), else the rule "answer ``fallback_value``"
        (e.g. 0, "no churn"). Such answers are marked in the response.
    automation, threshold
        ``full``: the model decides. ``partial``: predictions whose confidence is below
        ``threshold`` are deferred to the review queue. ``assist``: the prediction is
        returned as advice and the request queued for a human. ``human``: every request
        goes to the review queue; the model runs only in shadow.
    """

    primary: str
    canary: str | None = None
    canary_weight: float = 0.0
    ramp: Ramp | None = None
    shadows: tuple[str, ...] = ()
    standby: str | None = None
    fallback: str | None = None
    fallback_value: Any = None
    timeout_ms: float = 1000.0
    automation: Automation = "full"
    threshold: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.canary_weight <= 1:
            raise InvalidArgumentError(f"canary weight must be in [0, 1], got {self.canary_weight}")
        if self.automation not in AUTOMATION:
            raise InvalidArgumentError(
                f"automation must be one of {list(AUTOMATION)}, got {self.automation!r}"
            )
        if self.automation == "partial" and (self.threshold is None or not 0 < self.threshold <= 1):
            raise InvalidArgumentError(
                "partial automation needs a confidence threshold in (0, 1], e.g. --threshold 0.8"
            )
        if self.timeout_ms <= 0:
            raise InvalidArgumentError(f"timeout_ms must be positive, got {self.timeout_ms}")

    @property
    def fallback_model(self) -> str | None:
        return self.fallback or self.standby

    @property
    def models(self) -> list[str]:
        """Every version a server must hold in memory for this revision, primary first."""
        found = [self.primary, self.canary, *self.shadows, self.standby, self.fallback]
        return list(dict.fromkeys(m for m in found if m))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shadows"] = list(self.shadows)
        if self.ramp is not None:
            data["ramp"]["steps"] = list(self.ramp.steps)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentConfig:
        ramp = data.get("ramp")
        return cls(
            **{
                **data,
                "shadows": tuple(data.get("shadows", ())),
                "ramp": None if ramp is None else Ramp(**{**ramp, "steps": tuple(ramp["steps"])}),
            }
        )


def _pin(uri: str, ws: Workspace) -> str:
    """The exact version ``uri`` names now (``models:/churn@champion`` -> ``models:/churn/3``)."""
    return get_model_version(uri, workspace=ws).uri


def active_revision(name: str, workspace: Workspace | None = None) -> Revision:
    """The revision serving ``name`` now."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return repo.revisions(conn, name, last=1)[-1]


def list_revisions(name: str, workspace: Workspace | None = None) -> list[Revision]:
    """Every revision of ``name``, oldest first."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return repo.revisions(conn, name)


def list_deployments(workspace: Workspace | None = None) -> list[Revision]:
    """The active revision of each deployment."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return repo.list_deployments(conn)


def create_deployment(
    name: str,
    model: str,
    *,
    automation: Automation = "full",
    threshold: float | None = None,
    timeout_ms: float = 1000.0,
    fallback: str | None = None,
    fallback_value: Any = None,
    reason: str = "created",
    workspace: Workspace | None = None,
) -> Revision:
    """Create deployment ``name`` serving ``model``; its first revision is active at once."""
    ws = workspace or current_workspace()
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidArgumentError(
            f"deployment name {name!r} must be letters, digits, '-' or '_' (it appears in URLs)"
        )
    config = DeploymentConfig(
        primary=_pin(model, ws),
        automation=automation,
        threshold=threshold,
        timeout_ms=timeout_ms,
        fallback=None if fallback is None else _pin(fallback, ws),
        fallback_value=fallback_value,
    )
    with ws.store.write() as conn:
        return repo.create(conn, name, config.to_dict(), current_user(), reason)


def change(
    name: str,
    edit: Any,
    reason: str,
    *,
    expect_active: int | None = None,
    workspace: Workspace | None = None,
) -> Revision:
    """Append a revision whose config is ``edit(active config)``, atomically."""
    ws = workspace or current_workspace()
    with ws.store.write() as conn:
        active = repo.revisions(conn, name, last=1)[-1]
        config = edit(DeploymentConfig.from_dict(active.config))
        return repo.append_revision(
            conn, name, config.to_dict(), current_user(), reason, expect_active=expect_active
        )


def set_shadows(
    name: str,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    reason: str | None = None,
    workspace: Workspace | None = None,
) -> Revision:
    """Add or remove shadow versions."""
    ws = workspace or current_workspace()
    added = [_pin(m, ws) for m in add]
    removed = {_pin(m, ws) for m in remove}

    def edit(c: DeploymentConfig) -> DeploymentConfig:
        kept = [s for s in c.shadows if s not in removed]
        return replace(c, shadows=tuple(dict.fromkeys([*kept, *added])))

    why = reason or "; ".join(
        [f"shadow {m}" for m in added] + [f"stop shadowing {m}" for m in sorted(removed)]
    )
    return change(name, edit, why, workspace=ws)


def set_canary(
    name: str,
    model: str | None,
    weight: float | None = None,
    ramp: Ramp | None = None,
    reason: str | None = None,
    workspace: Workspace | None = None,
) -> Revision:
    """Send ``weight`` of the traffic to ``model`` (or move it along ``ramp`` automatically);
    ``model=None`` stops the canary."""
    ws = workspace or current_workspace()
    if model is None:
        return change(
            name,
            lambda c: replace(c, canary=None, canary_weight=0.0, ramp=None),
            reason or "canary stopped",
            workspace=ws,
        )
    pinned = _pin(model, ws)
    if weight is None and ramp is None:
        ramp = Ramp()
    start = ramp.weight if ramp is not None else float(weight or 0.0)

    def edit(c: DeploymentConfig) -> DeploymentConfig:
        if pinned == c.primary:
            raise InvalidArgumentError(f"{pinned} is already the primary of {name!r}")
        return replace(c, canary=pinned, canary_weight=start, ramp=ramp)

    plan = "" if ramp is None else f" (ramp {', '.join(f'{s:.0%}' for s in ramp.steps)})"
    return change(name, edit, reason or f"canary {pinned} at {start:.0%}{plan}", workspace=ws)


def switch(
    name: str, model: str, reason: str | None = None, workspace: Workspace | None = None
) -> Revision:
    """Blue-green: all traffic to ``model`` at once; the old primary stays loaded as standby."""
    ws = workspace or current_workspace()
    pinned = _pin(model, ws)

    def edit(c: DeploymentConfig) -> DeploymentConfig:
        if pinned == c.primary:
            raise InvalidArgumentError(f"{pinned} already serves {name!r}")
        return replace(
            c,
            primary=pinned,
            standby=c.primary,
            canary=None,
            canary_weight=0.0,
            ramp=None,
            shadows=tuple(s for s in c.shadows if s != pinned),
        )

    return change(name, edit, reason or f"switch to {pinned}", workspace=ws)


def rollback(name: str, reason: str | None = None, workspace: Workspace | None = None) -> Revision:
    """Re-activate the configuration of the revision before the active one."""
    ws = workspace or current_workspace()
    with ws.store.write() as conn:
        recent = repo.revisions(conn, name, last=2)
        if len(recent) < 2:
            raise InvalidArgumentError(
                f"deployment {name!r} has only revision {recent[-1].number}; there is nothing "
                "to roll back to"
            )
        previous, active = recent
        why = f"rollback to revision {previous.number}" + (f": {reason}" if reason else "")
        return repo.append_revision(
            conn, name, previous.config, current_user(), why, expect_active=active.number
        )


def set_automation(
    name: str,
    automation: Automation,
    threshold: float | None = None,
    reason: str | None = None,
    workspace: Workspace | None = None,
) -> Revision:
    """Change the degree of automation (``full``, ``partial``, ``assist``, ``human``)."""
    return change(
        name,
        lambda c: replace(c, automation=automation, threshold=threshold),
        reason or f"automation {automation}" + (f" below {threshold}" if threshold else ""),
        workspace=workspace,
    )
