"""Reading pipeline runs back: one run with its steps, or the newest runs with counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from headway.errors import NotFoundError
from headway.pipelines._results import Artifact, StepResult
from headway.store import pipelines as steps_repo
from headway.store import runs as run_repo
from headway.store.pipelines import PIPELINE_ROLE, ROLE_TAG, StepRow
from headway.store.records import RunRecord
from headway.workspace import Workspace, current_workspace

__all__ = ["PipelineRun", "get_pipeline_run", "list_pipeline_runs"]


@dataclass(frozen=True)
class PipelineRun:
    """A pipeline's tracked run, its steps in call order and how many ended each way."""

    run: RunRecord
    steps: list[StepResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # status -> steps

    @property
    def pipeline(self) -> str:
        return self.run.tags.get("pipeline.name", self.run.experiment)


def get_pipeline_run(run_id: str, workspace: Workspace | None = None) -> PipelineRun:
    """A pipeline run (by id or unique prefix) with every step."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        run = run_repo.get_run(conn, run_id)
        if run.tags.get(ROLE_TAG) != PIPELINE_ROLE:
            raise NotFoundError(
                f"run {run.id} is not a pipeline run; `headway pipeline list` shows them"
            )
        steps = [_step(row) for row in steps_repo.steps_of(conn, run.id)]
    counts: dict[str, int] = {}
    for s in steps:
        counts[s.status] = counts.get(s.status, 0) + 1
    return PipelineRun(run, steps, counts)


def list_pipeline_runs(
    pipeline: str | None = None, limit: int | None = 50, workspace: Workspace | None = None
) -> list[PipelineRun]:
    """Pipeline runs newest first (of one pipeline, if named), with step counts only."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        found = steps_repo.list_pipeline_runs(conn, pipeline, limit)
        return [PipelineRun(run_repo.get_run(conn, run_id), [], counts) for run_id, counts in found]


def _step(row: StepRow) -> StepResult:
    seconds = (row.ended_at - row.started_at) / 1000 if row.ended_at and row.started_at else 0.0
    return StepResult(
        node=row.node,
        step=row.step,
        status=row.status,
        run_id=row.run_id,
        seconds=seconds,
        attempts=row.attempts,
        cache_key=row.cache_key,
        upstream=tuple(row.upstream),
        outputs=tuple(Artifact.from_dict(o) for o in row.outputs),
        error=row.error,
    )
