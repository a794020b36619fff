"""Reading runs back: one run, a filtered list, a metric's history."""

from __future__ import annotations

from headway.store import lineage
from headway.store import runs as run_repo
from headway.store.datasets import get_dataset
from headway.store.objects import list_artifacts
from headway.store.records import ArtifactRecord, Dataset, Metric, RunRecord
from headway.workspace import Workspace, current_workspace

__all__ = ["get_metric_history", "get_run", "list_run_artifacts", "list_run_inputs", "list_runs"]


def get_run(run_id: str, workspace: Workspace | None = None) -> RunRecord:
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return run_repo.get_run(conn, run_id)


def list_runs(
    experiment: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    workspace: Workspace | None = None,
) -> list[RunRecord]:
    """Runs newest first, with params, latest metrics and tags."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return run_repo.list_runs(conn, experiment, status, limit)


def get_metric_history(run_id: str, key: str, workspace: Workspace | None = None) -> list[Metric]:
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return run_repo.metric_history(conn, run_id, key)


def list_run_artifacts(run_id: str, workspace: Workspace | None = None) -> list[ArtifactRecord]:
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return list_artifacts(conn, "run", run_id)


def list_run_inputs(run_id: str, workspace: Workspace | None = None) -> list[Dataset]:
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return [
            get_dataset(conn, e.src_id)
            for e in lineage.edges(conn, ("run", run_id), "up")
            if e.src_type == "dataset"
        ]
