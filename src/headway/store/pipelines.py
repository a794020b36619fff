"""Pipeline steps in the ledger: each step of each pipeline run, and the step cache.

A step's row says how it ended, which run produced its outputs and what they are (blobs
by sha256). The same rows are the cache: a step whose cache key was seen before, in a
step that finished, can reuse that step's outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from headway.store.tables import experiments, pipeline_steps, runs, tags

__all__ = [
    "PIPELINE_ROLE",
    "ROLE_TAG",
    "StepRow",
    "find_cached",
    "finish_runs",
    "list_pipeline_runs",
    "save_steps",
    "steps_of",
]

ROLE_TAG = "pipeline.role"  # "pipeline" on a pipeline's run, "step" on its steps' runs
PIPELINE_ROLE = "pipeline"
REUSABLE = ("finished", "cached")


@dataclass(frozen=True)
class StepRow:
    """One step of one pipeline run, as stored."""

    pipeline_run_id: str
    node: str
    step: str
    position: int
    upstream: list[str]
    status: str
    run_id: str | None
    cache_key: str
    outputs: list[dict[str, Any]]
    attempts: int
    started_at: int | None
    ended_at: int | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def save_steps(conn: Connection, rows: Sequence[StepRow]) -> None:
    """Insert step rows in one statement."""
    if rows:
        conn.execute(pipeline_steps.insert(), [row.to_dict() for row in rows])


def finish_runs(conn: Connection, ends: Sequence[dict[str, Any]]) -> None:
    """End many runs at once, each with its own times: ``{id, status, start, end, error}``.

    Step runs are ended in batches, after the fact, so their real times are passed in
    rather than read from the clock at write time.
    """
    if not ends:
        return
    stmt = (
        update(runs)
        .where(runs.c.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            start_time=bindparam("b_start"),
            end_time=bindparam("b_end"),
            error=bindparam("b_error"),
        )
    )
    conn.execute(stmt, [{f"b_{k}": v for k, v in end.items()} for end in ends])


def find_cached(
    conn: Connection, keys: Iterable[str], pipeline_run_id: str | None = None
) -> dict[str, StepRow]:
    """The newest reusable step row for each cache key found (only in one pipeline run,
    when ``pipeline_run_id`` is given: what resuming that run may reuse)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    query = (
        select(pipeline_steps)
        .where(pipeline_steps.c.cache_key.in_(wanted), pipeline_steps.c.status.in_(REUSABLE))
        .order_by(pipeline_steps.c.ended_at)
    )
    if pipeline_run_id is not None:
        query = query.where(pipeline_steps.c.pipeline_run_id == pipeline_run_id)
    return {row.cache_key: _row(row) for row in conn.execute(query)}


def steps_of(conn: Connection, pipeline_run_id: str) -> list[StepRow]:
    """A pipeline run's steps, in the order the pipeline called them."""
    rows = conn.execute(
        select(pipeline_steps)
        .where(pipeline_steps.c.pipeline_run_id == pipeline_run_id)
        .order_by(pipeline_steps.c.position)
    )
    return [_row(row) for row in rows]


def list_pipeline_runs(
    conn: Connection, pipeline: str | None = None, limit: int | None = None
) -> list[tuple[str, dict[str, int]]]:
    """Pipeline run ids (of one pipeline, if named), newest first, each with its count of
    steps per status."""
    query = (
        select(runs.c.id)
        .join(tags, (tags.c.object_type == "run") & (tags.c.object_id == runs.c.id))
        .where(tags.c.key == ROLE_TAG, tags.c.value == PIPELINE_ROLE)
        .order_by(runs.c.start_time.desc(), runs.c.id)
        .limit(limit)
    )
    if pipeline is not None:
        query = query.join(experiments, experiments.c.id == runs.c.experiment_id).where(
            experiments.c.name == pipeline
        )
    ids = list(conn.execute(query).scalars())
    counts: dict[str, dict[str, int]] = {run_id: {} for run_id in ids}
    if ids:
        tally = conn.execute(
            select(pipeline_steps.c.pipeline_run_id, pipeline_steps.c.status, func.count())
            .where(pipeline_steps.c.pipeline_run_id.in_(ids))
            .group_by(pipeline_steps.c.pipeline_run_id, pipeline_steps.c.status)
        )
        for run_id, status, count in tally:
            counts[run_id][status] = int(count)
    return [(run_id, counts[run_id]) for run_id in ids]


def _row(row: Any) -> StepRow:
    return StepRow(**row._asdict())
