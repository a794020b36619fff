"""Reading runs back: one run, a filtered list, a metric's history."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from headway.errors import NotFoundError
from headway.store import lineage
from headway.store import runs as run_repo
from headway.store.datasets import get_dataset
from headway.store.objects import list_artifacts
from headway.store.records import ArtifactRecord, Dataset, Metric, RunRecord
from headway.workspace import Workspace, current_workspace

__all__ = [
    "download_artifact",
    "get_metric_history",
    "get_run",
    "get_run_environment",
    "list_run_artifacts",
    "list_run_inputs",
    "list_runs",
]


def get_run(run_id: str, workspace: Workspace | None = None) -> RunRecord:
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return run_repo.get_run(conn, run_id)


def get_run_environment(run_id: str, workspace: Workspace | None = None) -> dict[str, Any]:
    """What the run ran on: ``platform``, ``hostname`` and ``packages`` (name -> version)."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return run_repo.get_environment(conn, run_repo.get_run(conn, run_id).id)


def download_artifact(
    run_id: str,
    path: str,
    dest: str | os.PathLike[str] | None = None,
    workspace: Workspace | None = None,
) -> Path:
    """Copy a run's artifact to ``dest`` (default: its file name in the current directory),
    verifying its sha256 on the way."""
    ws = workspace or current_workspace()
    for record in list_run_artifacts(run_id, ws):
        if record.path == path:
            return ws.artifacts.get_file(record.sha256, dest or Path(path).name)
    raise NotFoundError(
        f"run {run_id} has no artifact {path!r}; `headway runs show {run_id}` lists its artifacts"
    )


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
