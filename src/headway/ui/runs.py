"""The runs pages' data: a filtered list, and several runs compared with metric histories.

Filters read like MLflow's search syntax, clauses joined by ``and``::

    metrics.accuracy > 0.8 and params.C = 0.5 and tags.team = 'search'

A metric compares as a number; a param or tag compares as a number when both sides are
numbers, else as text (``=`` and ``!=`` only). A run that lacks the key does not match.

Examples
--------
>>> clauses = parse_filter("metrics.auc >= 0.7 and params.plan = 'pro'")
>>> [(c.kind, c.key, c.op, c.value) for c in clauses]
[('metric', 'auc', '>=', 0.7), ('param', 'plan', '=', 'pro')]
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headway.errors import InvalidArgumentError
from headway.store import runs as runs_repo
from headway.store.records import RunRecord
from headway.tracking.queries import get_metric_history, get_run
from headway.workspace import Workspace

__all__ = [
    "Clause",
    "MetricHistory",
    "RunComparison",
    "RunList",
    "RunRow",
    "compare_runs",
    "list_runs",
    "parse_filter",
]

STATUSES = ("running", "finished", "failed", "killed")
SEARCHED = 5_000  # the newest runs a filter looks through
MAX_COMPARED = 10
MAX_POINTS = 1_000  # per metric history
MAX_CHARTS = 12

_CLAUSE = re.compile(
    r"^\s*(?P<kind>metrics?|params?|tags?)\.(?P<key>`[^`]+`|[\w.\-/:]+)\s*"
    r"(?P<op>==|=|!=|>=|<=|>|<)\s*(?P<value>.+?)\s*$"
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Clause:
    """One condition: ``kind`` (metric, param or tag), key, operator and value."""

    kind: str
    key: str
    op: str
    value: float | str

    def matches(self, run: RunRecord) -> bool:
        if self.kind == "metric":
            metric = run.metrics.get(self.key)
            return metric is not None and _OPS[self.op](metric.value, self.value)
        found = (run.params if self.kind == "param" else run.tags).get(self.key)
        if found is None:
            return False
        number = _number(found)
        if isinstance(self.value, float) and number is not None:
            return _OPS[self.op](number, self.value)
        return _OPS[self.op](found, str(self.value))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_filter(text: str) -> list[Clause]:
    """The clauses of a filter (see the module docstring); an empty filter has none."""
    clauses = []
    for part in _AND.split(text.strip()) if text.strip() else []:
        match = _CLAUSE.match(part)
        if match is None:
            raise InvalidArgumentError(
                f"filter clause {part!r} is not KIND.KEY OP VALUE; write e.g. "
                "\"metrics.accuracy > 0.8 and params.C = 0.5 and tags.team = 'search'\""
            )
        kind = match["kind"].rstrip("s")
        key = match["key"].strip("`")
        op, raw = match["op"], match["value"]
        value: float | str
        if raw[:1] in "'\"" and raw[-1:] == raw[:1] and len(raw) >= 2:
            value = raw[1:-1]
        elif (number := _number(raw)) is not None:
            value = number
        elif kind == "metric":
            raise InvalidArgumentError(f"metric {key!r} compares with a number, got {raw!r}")
        else:
            value = raw
        if isinstance(value, str) and op not in ("=", "==", "!="):
            raise InvalidArgumentError(
                f"{kind} {key!r}: text compares with = or != only, got {op} {raw!r}"
            )
        if kind == "metric" and isinstance(value, str):
            raise InvalidArgumentError(f"metric {key!r} compares with a number, got {raw!r}")
        clauses.append(Clause(kind, key, op, value))
    return clauses


@dataclass(frozen=True)
class RunRow:
    id: str
    name: str
    experiment: str
    status: str
    start_time: int
    duration_ms: int | None
    params: dict[str, str]
    metrics: dict[str, float | None]
    tags: dict[str, str]

    @classmethod
    def of(cls, run: RunRecord) -> RunRow:
        return cls(
            run.id,
            run.name,
            run.experiment,
            run.status,
            run.start_time,
            run.duration_ms,
            dict(run.params),
            {k: None if m.value != m.value else m.value for k, m in run.metrics.items()},
            dict(run.tags),
        )


@dataclass(frozen=True)
class RunList:
    """The runs matching the filters (newest first), and the keys worth columns."""

    experiments: list[str]
    experiment: str | None
    status: str | None
    filter: str
    runs: list[RunRow]
    metric_keys: list[str]
    param_keys: list[str]
    searched: int
    truncated: bool


def list_runs(
    ws: Workspace,
    experiment: str | None = None,
    status: str | None = None,
    filter: str = "",
    limit: int = 100,
) -> RunList:
    """The newest ``limit`` runs matching ``experiment``, ``status`` and ``filter``."""
    if status is not None and status not in STATUSES:
        raise InvalidArgumentError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if not 1 <= limit <= 10_000:
        raise InvalidArgumentError(f"limit must be between 1 and 10000, got {limit}")
    clauses = parse_filter(filter)
    with ws.store.read() as conn:
        experiments = [e.name for e in runs_repo.list_experiments(conn)]
        if experiment is not None:
            runs_repo.get_experiment(conn, experiment)  # a clear error for an unknown name
        found = runs_repo.list_runs(conn, experiment, status, SEARCHED if clauses else limit + 1)
    searched = len(found)
    matched = [r for r in found if all(c.matches(r) for c in clauses)]
    shown = matched[:limit]
    return RunList(
        experiments,
        experiment,
        status,
        filter,
        [RunRow.of(r) for r in shown],
        sorted({k for r in shown for k in r.metrics})[:6],
        _varying_params(shown)[:4],
        searched,
        len(matched) > limit or (bool(clauses) and searched == SEARCHED),
    )


def _varying_params(runs: list[RunRecord]) -> list[str]:
    """Param keys whose values differ between the runs (the interesting columns)."""
    keys = sorted({k for r in runs for k in r.params})
    return [k for k in keys if len({r.params.get(k) for r in runs}) > 1]


@dataclass(frozen=True)
class MetricHistory:
    """One metric of one run: steps and values (evenly thinned past ``MAX_POINTS``)."""

    run_id: str
    key: str
    steps: list[int]
    values: list[float | None]
    points: int


@dataclass(frozen=True)
class RunComparison:
    runs: list[RunRow]
    params: list[str]
    metrics: list[str]
    differing: list[str]  # "param KEY" / "metric KEY" rows whose values differ
    histories: list[MetricHistory]


def compare_runs(ws: Workspace, run_ids: list[str]) -> RunComparison:
    """Params and latest metrics side by side, and the histories of their metrics."""
    if not 1 <= len(run_ids) <= MAX_COMPARED:
        raise InvalidArgumentError(
            f"compare 1 to {MAX_COMPARED} runs (select them on the runs page); got {len(run_ids)}"
        )
    records = [get_run(i, workspace=ws) for i in dict.fromkeys(run_ids)]
    params = sorted({k for r in records for k in r.params})
    metrics = sorted({k for r in records for k in r.metrics})
    differing = [f"param {k}" for k in params if len({r.params.get(k) for r in records}) > 1]
    differing += [
        f"metric {k}"
        for k in metrics
        if len({None if k not in r.metrics else r.metrics[k].value for r in records}) > 1
    ]
    histories = []
    for key in metrics[:MAX_CHARTS]:
        for run in records:
            if key in run.metrics:
                points = get_metric_history(run.id, key, workspace=ws)
                step = max(1, -(-len(points) // MAX_POINTS))
                kept = points[::step]
                if kept[-1] is not points[-1]:
                    kept.append(points[-1])  # the latest point always shows
                histories.append(
                    MetricHistory(
                        run.id,
                        key,
                        [p.step for p in kept],
                        [None if p.value != p.value else p.value for p in kept],
                        len(points),
                    )
                )
    return RunComparison([RunRow.of(r) for r in records], params, metrics, differing, histories)
