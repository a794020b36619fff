"""Experiments, runs, params and metrics in the ledger."""

from __future__ import annotations

import gc
import math
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, select, update

from headway.errors import InvalidArgumentError, NotFoundError
from headway.store._sql import fetch_all, insert_many, upsert
from headway.store.metadata import now_ms
from headway.store.records import Experiment, Metric, RunRecord
from headway.store.tables import experiments, latest_metrics, metrics, params, runs, tags

__all__ = [
    "MetricRow",
    "create_run",
    "finish_run",
    "get_experiment",
    "get_or_create_experiment",
    "get_run",
    "insert_metrics",
    "list_experiments",
    "list_runs",
    "log_params",
    "metric_history",
]

MetricRow = tuple[str, float | None, int, int]  # key, value (None for NaN), step, timestamp


def new_id() -> str:
    return uuid.uuid4().hex


def get_or_create_experiment(conn: Connection, name: str) -> Experiment:
    row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
    if row is not None:
        return Experiment(row.id, row.name, row.created_at)
    exp = Experiment(new_id(), name, now_ms())
    upsert(conn, experiments, [exp.to_dict()], ["name"])
    return get_experiment(conn, name)


def get_experiment(conn: Connection, name: str) -> Experiment:
    row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no experiment named {name!r}; `headway runs list` shows them")
    return Experiment(row.id, row.name, row.created_at)


def list_experiments(conn: Connection) -> list[Experiment]:
    rows = conn.execute(select(experiments).order_by(experiments.c.created_at))
    return [Experiment(r.id, r.name, r.created_at) for r in rows]


def create_run(
    conn: Connection,
    experiment_id: str,
    name: str | None,
    environment: Mapping[str, Any],
    start_time: int | None = None,
) -> tuple[str, str]:
    """Insert a running run; returns its id and name (``run-<id prefix>`` when unnamed)."""
    run_id = new_id()
    name = name or f"run-{run_id[:8]}"
    env = dict(environment)
    conn.execute(
        runs.insert().values(
            id=run_id,
            experiment_id=experiment_id,
            name=name,
            status="running",
            start_time=start_time or now_ms(),
            user=env.pop("user", None),
            git_commit=env.pop("git_commit", None),
            git_dirty=env.pop("git_dirty", None),
            command=env.pop("command", None),
            python_version=env.pop("python_version", None),
            environment=env,
        )
    )
    return run_id, name


def finish_run(conn: Connection, run_id: str, status: str, error: str | None = None) -> None:
    conn.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(status=status, end_time=now_ms(), error=error)
    )


def log_params(conn: Connection, run_id: str, values: Mapping[str, str]) -> None:
    """Record params; a param is set once, so a different second value is an error."""
    if not values:
        return
    existing = dict(
        conn.execute(
            select(params.c.key, params.c.value).where(
                params.c.run_id == run_id, params.c.key.in_(list(values))
            )
        ).all()
    )
    clashes = {k: (existing[k], v) for k, v in values.items() if k in existing and existing[k] != v}
    if clashes:
        detail = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in clashes.items())
        raise InvalidArgumentError(
            f"params are set once per run and these already have other values ({detail}); "
            "log the new value under another key or start a new run"
        )
    rows = [
        {"run_id": run_id, "key": k, "value": v} for k, v in values.items() if k not in existing
    ]
    if rows:
        conn.execute(params.insert(), rows)


def insert_metrics(conn: Connection, run_id: str, rows: Sequence[MetricRow]) -> None:
    """Append metric points and keep each key's latest point (highest step, then time)."""
    if not rows:
        return
    insert_many(
        conn,
        metrics,
        ("run_id", "key", "value", "step", "timestamp"),
        [(run_id, *row) for row in rows],
    )
    last: dict[str, MetricRow] = {}
    for row in rows:
        seen = last.get(row[0])
        if seen is None or (row[2], row[3]) >= (seen[2], seen[3]):
            last[row[0]] = row
    lm = latest_metrics

    def newer(excluded: Any) -> Any:
        return (lm.c.step < excluded.step) | (
            (lm.c.step == excluded.step) & (lm.c.timestamp <= excluded.timestamp)
        )

    upsert(
        conn,
        lm,
        [
            {"run_id": run_id, "key": k, "value": v, "step": s, "timestamp": t}
            for k, v, s, t in last.values()
        ],
        ["run_id", "key"],
        update=["value", "step", "timestamp"],
        where=newer,
    )


def metric_history(conn: Connection, run_id: str, key: str) -> list[Metric]:
    rows = conn.execute(
        select(metrics.c.key, metrics.c.value, metrics.c.step, metrics.c.timestamp)
        .where(metrics.c.run_id == run_id, metrics.c.key == key)
        .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.id)
    )
    return [Metric.from_row(*row) for row in rows]


_RUN_COLUMNS = (
    runs.c.id,
    experiments.c.name.label("experiment"),
    runs.c.name,
    runs.c.status,
    runs.c.start_time,
    runs.c.end_time,
    runs.c.error,
    runs.c.user,
    runs.c.git_commit,
    runs.c.git_dirty,
    runs.c.command,
    runs.c.python_version,
)


def get_run(conn: Connection, run_id: str) -> RunRecord:
    """A run by its id, or by a unique prefix of it (as ``headway runs list`` shows)."""
    found = _runs_with_details(conn, [runs.c.id == run_id], None)
    if not found and 4 <= len(run_id) < 32 and run_id.isalnum():
        found = _runs_with_details(conn, [runs.c.id.startswith(run_id)], 2)
        if len(found) > 1:
            raise InvalidArgumentError(
                f"run id prefix {run_id!r} matches several runs; give more characters"
            )
    if not found:
        raise NotFoundError(f"no run with id {run_id!r}; `headway runs list` shows run ids")
    return found[0]


def list_runs(
    conn: Connection,
    experiment: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[RunRecord]:
    """Runs newest first, each with its params, latest metrics and tags."""
    conditions = []
    if experiment is not None:
        conditions.append(experiments.c.name == experiment)
    if status is not None:
        conditions.append(runs.c.status == status)
    with _bulk_allocation():
        return _runs_with_details(conn, conditions, limit)


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Tens of thousands of new tuples, dicts and records would otherwise trigger repeated
    full collections over everything the process holds (half the time of listing 10,000
    runs); nothing built here forms cycles, so nothing is lost by waiting.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _runs_with_details(
    conn: Connection, conditions: list[ColumnElement[bool]], limit: int | None
) -> list[RunRecord]:
    query = (
        select(*_RUN_COLUMNS)
        .join(experiments, experiments.c.id == runs.c.experiment_id)
        .where(*conditions)
        .order_by(runs.c.start_time.desc(), runs.c.id)
        .limit(limit)
    )
    rows = fetch_all(conn, query)
    if not rows:
        return []
    ids = [r[0] for r in rows] if limit is not None else None

    def scoped(stmt: Select[Any], run_id: Any) -> Select[Any]:
        # A join on the same filter beats a long IN list when listing many runs.
        if ids is not None:
            return stmt.where(run_id.in_(ids))
        return (
            stmt.join(runs, runs.c.id == run_id)
            .join(experiments, experiments.c.id == runs.c.experiment_id)
            .where(*conditions)
        )

    found_params: dict[str, dict[str, str]] = defaultdict(dict)
    for run_id, key, value in fetch_all(
        conn, scoped(select(params.c.run_id, params.c.key, params.c.value), params.c.run_id)
    ):
        found_params[run_id][key] = value
    found_metrics: dict[str, dict[str, Metric]] = defaultdict(dict)
    lm = latest_metrics
    for run_id, key, value, step, ts in fetch_all(
        conn,
        scoped(select(lm.c.run_id, lm.c.key, lm.c.value, lm.c.step, lm.c.timestamp), lm.c.run_id),
    ):
        found_metrics[run_id][key] = Metric(key, math.nan if value is None else value, step, ts)
    found_tags: dict[str, dict[str, str]] = defaultdict(dict)
    for run_id, key, value in fetch_all(
        conn,
        scoped(
            select(tags.c.object_id, tags.c.key, tags.c.value).where(tags.c.object_type == "run"),
            tags.c.object_id,
        ),
    ):
        found_tags[run_id][key] = value
    return [
        RunRecord(
            id=r[0],
            experiment=r[1],
            name=r[2],
            status=r[3],
            start_time=r[4],
            end_time=r[5],
            error=r[6],
            user=r[7],
            git_commit=r[8],
            git_dirty=None if r[9] is None else bool(r[9]),
            command=r[10],
            python_version=r[11],
            params=found_params.get(r[0], {}),
            metrics=found_metrics.get(r[0], {}),
            tags=found_tags.get(r[0], {}),
        )
        for r in rows
    ]


def get_environment(conn: Connection, run_id: str) -> dict[str, Any]:
    """Platform, hostname and installed packages captured when the run started."""
    row = conn.execute(select(runs.c.environment).where(runs.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"no run with id {run_id!r}; `headway runs list` shows run ids")
    return dict(row[0] or {})
