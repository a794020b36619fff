"""The canary controller: judge each ramp step on its own traffic, then advance or roll back.

Each ramp step is a revision, so "this step's traffic" is the prediction log's rows of the
active revision. From them :func:`step_health` measures the canary's error rate, its p99
latency against the primary's, its agreement with the primary on the same requests (the
server runs the primary as a shadow on every canary request) and the shift of its output
distribution from the primary's (Kolmogorov-Smirnov statistic for numeric outputs with
many values, total variation distance between label frequencies otherwise).
:func:`decide` turns that into wait, advance, promote or rollback with every reason, and
:func:`tick` records the decision as a new revision. Servers call :func:`tick` on a timer;
with several workers, the first to append wins and the others see a conflict and stop.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from headway.errors import RevisionConflictError
from headway.serving.deployments import DeploymentConfig, Ramp, change
from headway.serving.log import read
from headway.store.records import Revision
from headway.workspace import Workspace

__all__ = ["Decision", "StepHealth", "decide", "step_health", "tick"]

Action = Literal["wait", "advance", "promote", "rollback"]
LATENCY_SLACK_MS = 5.0  # tiny models: 0.2 ms vs 0.5 ms is not a regression worth acting on


@dataclass(frozen=True)
class StepHealth:
    """What the canary did on one ramp step's traffic."""

    canary_requests: int
    canary_errors: int
    canary_p99_ms: float | None
    primary_p99_ms: float | None
    agreement: float | None  # share of canary requests where both models agreed
    output_shift: float | None

    @property
    def error_rate(self) -> float:
        return self.canary_errors / self.canary_requests if self.canary_requests else 0.0


@dataclass(frozen=True)
class Decision:
    action: Action
    reasons: list[str]
    health: StepHealth

    def to_dict(self) -> dict[str, object]:
        return {"action": self.action, "reasons": self.reasons, "health": asdict(self.health)}


def step_health(log_root: Path, deployment: str, revision: int, since: int) -> StepHealth:
    """Measure the canary on the rows the server logged under ``revision``.

    Only the log's hours from ``since`` (when the revision was made, in ms) are read: the
    controller runs every second, and a long-lived deployment's log is large.
    """
    start = datetime.fromtimestamp(since / 1000, UTC)
    table = read(log_root, "predictions", start=start, columns=COLUMNS)
    rows = pd.DataFrame(
        {
            "deployment": table.column("deployment").to_numpy(zero_copy_only=False),
            "revision": table.column("revision").to_numpy(zero_copy_only=False),
            "route": table.column("route").to_numpy(zero_copy_only=False),
            "status": table.column("status").to_numpy(zero_copy_only=False),
            "latency_ms": table.column("latency_ms").to_numpy(zero_copy_only=False),
            "request_id": table.column("request_id").to_numpy(zero_copy_only=False),
            "prediction": _predictions(table),
        }
    )
    rows = rows[(rows.deployment == deployment) & (rows.revision == revision)]
    canary = rows[rows.route == "canary"]
    primary = rows[rows.route == "primary"]
    ok = canary[canary.status < 400]
    shadow = rows[rows.route == "shadow"].drop_duplicates("request_id")
    paired = ok.merge(shadow, on="request_id", suffixes=("", "_primary"))
    return StepHealth(
        canary_requests=len(canary),
        canary_errors=int((canary.status >= 500).sum()),
        canary_p99_ms=_p99(ok.latency_ms.to_numpy()),
        primary_p99_ms=_p99(primary[primary.status < 400].latency_ms.to_numpy()),
        agreement=(
            float((paired.prediction == paired.prediction_primary).mean()) if len(paired) else None
        ),
        output_shift=_shift(ok.prediction.to_numpy(), primary.prediction.dropna().to_numpy()),
    )


COLUMNS = ["deployment", "revision", "route", "status", "latency_ms", "request_id", "outputs"]


def _predictions(table: pa.Table) -> np.ndarray:
    """Each row's prediction as text (so labels and numbers compare alike), None if absent."""
    outputs = table.column("outputs").combine_chunks()
    if outputs.type.num_fields == 0 or outputs.type.get_field_index("prediction") < 0:
        return np.full(table.num_rows, None, dtype=object)
    values = pc.cast(outputs.field("prediction"), pa.string())
    return values.to_numpy(zero_copy_only=False)


def _p99(values: np.ndarray) -> float | None:
    return float(np.percentile(values, 99)) if len(values) else None


def _shift(canary: np.ndarray, primary: np.ndarray) -> float | None:
    if len(canary) == 0 or len(primary) == 0:
        return None
    a, b = _numbers(canary), _numbers(primary)
    if a is not None and b is not None and len(np.unique(b)) > 20:
        return float(stats.ks_2samp(a, b).statistic)
    labels = np.union1d(canary.astype(str), primary.astype(str))
    pa = np.array([(canary.astype(str) == v).mean() for v in labels])
    pb = np.array([(primary.astype(str) == v).mean() for v in labels])
    return float(0.5 * np.abs(pa - pb).sum())


def _numbers(values: np.ndarray) -> np.ndarray | None:
    try:
        out = values.astype(np.float64)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out).all() else None


def decide(health: StepHealth, ramp: Ramp) -> Decision:
    """Advance, promote, roll back or wait, with the reasons.

    A step is judged once the canary has served ``ramp.min_requests`` requests; it is
    rolled back early as soon as its errors alone exceed what the whole step may have.
    """
    allowed = ramp.max_error_rate * ramp.min_requests
    if health.canary_errors > max(allowed, 1):
        return Decision(
            "rollback",
            [
                f"{health.canary_errors} errors in {health.canary_requests} canary requests, "
                f"more than the step allows ({ramp.max_error_rate:.1%} of {ramp.min_requests})"
            ],
            health,
        )
    if health.canary_requests < ramp.min_requests:
        return Decision(
            "wait",
            [f"{health.canary_requests} of {ramp.min_requests} canary requests so far"],
            health,
        )
    failed, passed = _gates(health, ramp)
    if failed:
        return Decision("rollback", failed, health)
    last = ramp.step == len(ramp.steps) - 1
    return Decision("promote" if last else "advance", passed, health)


def _gates(health: StepHealth, ramp: Ramp) -> tuple[list[str], list[str]]:
    failed: list[str] = []
    passed: list[str] = []

    def check(ok: bool, text: str) -> None:
        (passed if ok else failed).append(text)

    check(
        health.error_rate <= ramp.max_error_rate,
        f"error rate {health.error_rate:.2%} (limit {ramp.max_error_rate:.2%})",
    )
    if health.canary_p99_ms is not None and health.primary_p99_ms is not None:
        limit = ramp.max_latency_ratio * health.primary_p99_ms + LATENCY_SLACK_MS
        check(
            health.canary_p99_ms <= limit,
            f"p99 latency {health.canary_p99_ms:.1f} ms (limit {limit:.1f} ms)",
        )
    if health.agreement is not None:
        check(
            health.agreement >= ramp.min_agreement,
            f"agreement with the primary {health.agreement:.1%} (minimum {ramp.min_agreement:.0%})",
        )
    if health.output_shift is not None and not math.isnan(health.output_shift):
        check(
            health.output_shift <= ramp.max_output_shift,
            f"output shift {health.output_shift:.3f} (limit {ramp.max_output_shift})",
        )
    return failed, passed


def tick(
    ws: Workspace, deployment: str, revision: int, config: DeploymentConfig, since: int
) -> Revision | None:
    """Judge the active ramp step and record the decision; None while waiting."""
    if config.ramp is None or config.canary is None:
        return None
    decision = decide(step_health(ws.log_root, deployment, revision, since), config.ramp)
    if decision.action == "wait":
        return None
    ramp = config.ramp
    why = "; ".join(decision.reasons)
    if decision.action == "rollback":
        new = replace(config, canary=None, canary_weight=0.0, ramp=None)
        reason = f"canary {config.canary} rolled back at {ramp.weight:.0%}: {why}"
    elif decision.action == "advance":
        step = replace(ramp, step=ramp.step + 1)
        new = replace(config, canary_weight=step.weight, ramp=step)
        reason = (
            f"canary {config.canary} healthy at {ramp.weight:.0%}, now {step.weight:.0%}: {why}"
        )
    else:
        new = replace(
            config,
            primary=config.canary,
            standby=config.primary,
            canary=None,
            canary_weight=0.0,
            ramp=None,
        )
        reason = f"canary {config.canary} promoted after its last step: {why}"
    try:
        return change(deployment, lambda _: new, reason, expect_active=revision, workspace=ws)
    except RevisionConflictError:  # another worker (or a person) got there first
        return None
