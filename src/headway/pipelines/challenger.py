"""Champion/challenger: a new version earns production on the most recent labelled data.

A retrained model is a *challenger*. :func:`challenge` judges it where it matters now —
on the deployment's most recent labelled traffic, which the challenger did not train
on — against the version serving that traffic (the champion): the promotion gate must
bless it (thresholds, lift, no regression beyond its deltas, decided by paired
bootstrap), and it must beat the champion on the headline metric with the paired
interval clear of zero. Then it is rolled out as configured: straight ``switch``, a
``shadow`` period, or a gated ``canary`` ramp (the prediction server advances or rolls
it back on live traffic). :func:`settle` closes the loop: once the ramp promoted the
challenger, the ``champion`` alias moves to it; if the ramp rolled it back, the
decision says so.

Every decision is a tracked run in the experiment ``challenger/<deployment>`` with
the verdict, the reasons, both models' metrics and the data window, so "why is version
7 serving?" has an answer in the ledger.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from headway.errors import InvalidArgumentError
from headway.evaluate.gates import GatePolicy
from headway.evaluate.metrics import LOWER_IS_BETTER
from headway.registry.evaluation import CHAMPION_METRICS, evaluate, gate
from headway.registry.models import get_model_version, load_model, set_alias
from headway.serving.deployments import (
    Ramp,
    active_revision,
    list_deployments,
    set_canary,
    set_shadows,
    switch,
)
from headway.serving.labelled import labelled_traffic
from headway.tracking.queries import list_runs
from headway.tracking.run import start_run
from headway.workspace import Workspace, current_workspace

__all__ = ["Decision", "challenge", "settle", "settle_all"]

Rollout = Literal["canary", "shadow", "switch", "none"]
Verdict = Literal["canary", "shadow", "switched", "blessed", "rejected", "promoted", "rolled_back"]
EXPERIMENT = "challenger/{}"


@dataclass(frozen=True)
class Decision:
    """What became of a challenger, and why."""

    deployment: str
    challenger: str
    champion: str
    verdict: Verdict
    reasons: list[str]
    rows: int
    window_start: str
    window_end: str
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    run_id: str = ""
    shadow_until: str = ""  # a shadow's period ends then; a canary ramp follows
    ramp: dict[str, Any] | None = None  # the ramp that follows the shadow period

    @property
    def accepted(self) -> bool:
        return self.verdict not in ("rejected", "rolled_back")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def challenge(
    deployment: str,
    challenger: str,
    *,
    label: str = "label",
    recent: timedelta = timedelta(days=2),
    until: datetime | None = None,
    policy: GatePolicy | None = None,
    metric: str | None = None,
    rollout: Rollout = "canary",
    ramp: Ramp | None = None,
    shadow_period: timedelta = timedelta(hours=24),
    min_rows: int = 200,
    slices: list[str] | None = None,
    n_bootstrap: int = 200,
    trusted_types: list[str] | None = None,
    workspace: Workspace | None = None,
) -> Decision:
    """Judge ``challenger`` against ``deployment``'s primary on its recent labelled traffic.

    Parameters
    ----------
    recent
        The window of labelled traffic to judge on, ending at ``until`` (default: now).
    policy
        The promotion gate (default: no regression beyond 0.01 on the task's metrics).
    metric
        The metric the challenger must beat the champion on (default: ROC AUC for binary
        tasks, accuracy for multiclass, RMSE for regression).
    rollout
        On success: ``canary`` (a gated ramp, ``ramp``), ``shadow`` (a shadow for
        ``shadow_period``, then, if its answers held up, the canary ramp: see
        :func:`settle`), ``switch`` or ``none`` (bless only).
    trusted_types
        Classes a skops file may rebuild beyond scikit-learn's, for both models (e.g. a
        LightGBM estimator inside a scikit-learn pipeline): see
        :func:`~headway.registry.load_model`.
    """
    ws = workspace or current_workspace()
    end = until or datetime.now(UTC)
    start = end - recent
    config = active_revision(deployment, ws).config
    champion = config["primary"]
    challenger = get_model_version(challenger, workspace=ws).uri
    if challenger == champion:
        raise InvalidArgumentError(f"{challenger} is already the primary of {deployment!r}")
    rolling: Verdict | None = "canary" if config.get("canary") == challenger else None
    if challenger in config.get("shadows", ()):
        rolling = "shadow"
    if rolling is not None:  # judged before: let its rollout play out (see settle)
        why = f"{challenger} is already the {rolling} of {deployment}; its rollout is running"
        return Decision(deployment, challenger, champion, rolling, [why], 0, "", "")
    table = labelled_traffic(ws.log_root, deployment, start, end, label)
    table = table.drop(columns=["time", "request_id"])
    decision = Decision(
        deployment, challenger, champion, "rejected", [], len(table), _iso(start), _iso(end)
    )
    if len(table) < min_rows:
        reason = (
            f"only {len(table)} labelled requests between {_iso(start)} and {_iso(end)} "
            f"(at least {min_rows} needed); wait for feedback or widen recent="
        )
        return _record(ws, decision, [reason])

    report = evaluate(
        load_model(challenger, trusted_types=trusted_types, workspace=ws),
        table,
        label=label,
        slices=slices,
        champion=load_model(champion, trusted_types=trusted_types, workspace=ws),
        n_bootstrap=n_bootstrap,
        name=f"challenge-{deployment}",
        workspace=ws,
    )
    headline = metric or CHAMPION_METRICS[report.task][0]
    metrics = _both_metrics(report, challenger, champion)
    decision = Decision(**{**decision.to_dict(), "metrics": metrics})
    outcome = gate(report, policy or _default_policy(report.task), workspace=ws)
    reasons = [c.reason for c in outcome.checks]
    beats, why = _beats(report, headline)
    reasons.append(why)
    if not (outcome.blessed and beats):
        return _record(ws, decision, reasons)
    verdict = _roll_out(ws, deployment, challenger, rollout, ramp)
    if verdict == "shadow":
        ends = datetime.now(UTC) + shadow_period
        decision = Decision(
            **{**decision.to_dict(), "shadow_until": _iso(ends), "ramp": asdict(ramp or Ramp())}
        )
    return _record(ws, replace_verdict(decision, verdict), reasons)


def settle(
    deployment: str, *, now: datetime | None = None, workspace: Workspace | None = None
) -> Decision | None:
    """Move the latest challenge of ``deployment`` on once its rollout has played out.

    A challenger that became the primary (its canary ramp promoted, or a switch) takes
    the ``champion`` alias; one whose canary was rolled back is recorded as such. A
    shadow whose period is over is judged on what it answered meanwhile (the shadow rows
    of the prediction log against the primary's, with the ramp's error-rate and
    agreement gates, after at least the ramp's ``min_requests``): it then starts its
    canary ramp, or is removed. Returns the new decision, or None while the rollout is
    still running (or nothing is pending). The scheduler calls it on every tick.
    """
    ws = workspace or current_workspace()
    pending = _pending(ws, deployment)
    if pending is None:
        return None
    config = active_revision(deployment, ws).config
    challenger = pending.challenger
    if config["primary"] == challenger:
        version = get_model_version(challenger, workspace=ws)
        set_alias(
            version.name,
            "champion",
            version.version,
            reason=f"won the challenge on {deployment} (run {pending.run_id})",
            workspace=ws,
        )
        reason = f"{challenger} serves all of {deployment}'s traffic: now the champion"
        return _record(ws, replace_verdict(pending, "promoted"), [reason])
    if config.get("canary") == challenger:
        return None  # still ramping
    if challenger in config.get("shadows", ()):
        return _end_shadow(ws, pending, now or datetime.now(UTC))
    reason = f"{challenger} left {deployment} without being promoted (rolled back)"
    return _record(ws, replace_verdict(pending, "rolled_back"), [reason])


def settle_all(now: datetime | None = None, workspace: Workspace | None = None) -> list[Decision]:
    """:func:`settle` every deployment; the decisions that moved."""
    ws = workspace or current_workspace()
    moved = [settle(r.deployment, now=now, workspace=ws) for r in list_deployments(ws)]
    return [d for d in moved if d is not None]


def _end_shadow(ws: Workspace, pending: Decision, now: datetime) -> Decision | None:
    if not pending.shadow_until or now < datetime.fromisoformat(pending.shadow_until):
        return None
    ramp = Ramp(
        **{**(pending.ramp or {}), "steps": tuple((pending.ramp or {}).get("steps", Ramp().steps))}
    )
    seen = _shadow_answers(ws, pending)
    if seen["requests"] < ramp.min_requests:
        return None  # too few answers to judge yet: the shadow keeps running
    health = (
        f"{seen['requests']} shadow answers: error rate {seen['error_rate']:.2%} (limit "
        f"{ramp.max_error_rate:.2%}), agreement with the primary {seen['agreement']:.1%} "
        f"(minimum {ramp.min_agreement:.0%})"
    )
    healthy = seen["error_rate"] <= ramp.max_error_rate and seen["agreement"] >= ramp.min_agreement
    if not healthy:
        why = f"shadow period of {pending.challenger} failed: {health}"
        set_shadows(pending.deployment, remove=[pending.challenger], reason=why, workspace=ws)
        return _record(ws, replace_verdict(pending, "rejected"), [why])
    why = f"shadow period of {pending.challenger} over: {health}; canary ramp starts"
    set_shadows(pending.deployment, remove=[pending.challenger], reason=why, workspace=ws)
    set_canary(pending.deployment, pending.challenger, ramp=ramp, reason=why, workspace=ws)
    return _record(ws, replace_verdict(pending, "canary"), [why])


_SHADOW_SQL = """
SELECT count(*) AS requests,
       coalesce(avg(CASE WHEN s.status >= 500 THEN 1.0 ELSE 0.0 END), 0) AS error_rate,
       coalesce(avg(CASE WHEN s.status < 500 AND p.status < 500
                         AND s.outputs.prediction = p.outputs.prediction
                    THEN 1.0 ELSE 0.0 END), 0) AS agreement
FROM predictions AS s JOIN predictions AS p USING (request_id)
WHERE s.deployment = $deployment AND p.deployment = $deployment
  AND s.route = 'shadow' AND s.model_version = $challenger AND p.route = 'primary'
  AND s.time >= $since
"""


def _shadow_answers(ws: Workspace, pending: Decision) -> dict[str, Any]:
    """What the shadow answered since the decision, against the primary's answers."""
    from headway.serving.log import connect

    con = connect(ws.log_root)
    try:
        row = con.execute(
            _SHADOW_SQL,
            {
                "deployment": pending.deployment,
                "challenger": pending.challenger,
                "since": datetime.fromisoformat(pending.window_end),
            },
        ).fetchone()
    finally:
        con.close()
    requests, error_rate, agreement = row if row is not None else (0, 0.0, 0.0)
    return {
        "requests": int(requests),
        "error_rate": float(error_rate),
        "agreement": float(agreement),
    }


def replace_verdict(decision: Decision, verdict: Verdict) -> Decision:
    return Decision(**{**decision.to_dict(), "verdict": verdict})


def _default_policy(task: str) -> GatePolicy:
    return GatePolicy(max_regression={m: 0.01 for m in CHAMPION_METRICS[task]})


def _beats(report: Any, metric: str) -> tuple[bool, str]:
    """Whether the paired interval of challenger - champion on ``metric`` is clear of 0."""
    overall = report.champion.differences.get("overall", {}) if report.champion else {}
    found = overall.get(metric)
    if found is None or found.low is None or found.high is None:
        return False, f"no paired comparison with the champion on {metric}"
    lower = metric in LOWER_IS_BETTER
    better = found.high < 0 if lower else found.low > 0
    word = "beats" if better else "does not beat"
    return better, (
        f"{word} the champion on {metric}: difference {found.diff:+.4f} "
        f"[{found.low:+.4f}, {found.high:+.4f}] (paired bootstrap)"
    )


def _both_metrics(report: Any, challenger: str, champion: str) -> dict[str, dict[str, float]]:
    """Both models' metrics on the window (the champion's from the paired differences)."""
    mine = {k: float(m.value) for k, m in report.overall.metrics.items()}
    paired = report.champion.differences.get("overall", {}) if report.champion else {}
    theirs = {k: mine[k] - d.diff for k, d in paired.items() if k in mine}
    return {challenger: mine, champion: theirs}


def _roll_out(
    ws: Workspace, deployment: str, challenger: str, rollout: Rollout, ramp: Ramp | None
) -> Verdict:
    why = f"challenger {challenger} beat the primary on recent labelled traffic"
    if rollout == "canary":
        set_canary(deployment, challenger, ramp=ramp or Ramp(), reason=why, workspace=ws)
        return "canary"
    if rollout == "shadow":
        set_shadows(deployment, add=[challenger], reason=why, workspace=ws)
        return "shadow"
    if rollout == "switch":
        switch(deployment, challenger, reason=why, workspace=ws)
        return "switched"
    return "blessed"


def _record(ws: Workspace, decision: Decision, reasons: list[str]) -> Decision:
    """Store the decision as a run of ``challenger/<deployment>``; the decision, with it."""
    decision = Decision(**{**decision.to_dict(), "reasons": reasons})
    with start_run(
        EXPERIMENT.format(decision.deployment),
        name=f"{decision.verdict} {decision.challenger}",
        tags={
            "headway.challenger": decision.challenger,
            "headway.champion": decision.champion,
            "headway.verdict": decision.verdict,
            "headway.reason": "; ".join(reasons)[:4000],
            "headway.window": f"{decision.window_start}/{decision.window_end}",
            "headway.rows": decision.rows,
            "headway.shadow_until": decision.shadow_until,
            "headway.ramp": json.dumps(decision.ramp),
        },
        workspace=ws,
    ) as run:
        for uri, values in decision.metrics.items():
            role = "challenger" if uri == decision.challenger else "champion"
            run.log_metrics({f"{role}.{k}": v for k, v in values.items()})
        decided = Decision(**{**decision.to_dict(), "run_id": run.id})
        run.log_text(json.dumps(decided.to_dict(), indent=2), "decision.json")
    return decided


def _pending(ws: Workspace, deployment: str) -> Decision | None:
    """The latest decision of the deployment, if it left a rollout running."""
    runs = list_runs(experiment=EXPERIMENT.format(deployment), limit=1, workspace=ws)
    if not runs or runs[0].tags.get("headway.verdict") not in ("canary", "shadow", "switched"):
        return None
    tags = runs[0].tags
    start, end = tags["headway.window"].split("/")
    return Decision(
        deployment,
        tags["headway.challenger"],
        tags["headway.champion"],
        tags["headway.verdict"],  # type: ignore[arg-type]
        [tags["headway.reason"]],
        int(tags["headway.rows"]),
        start,
        end,
        run_id=runs[0].id,
        shadow_until=tags.get("headway.shadow_until", ""),
        ramp=json.loads(tags.get("headway.ramp", "null")),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
