"""Lineage of a model version, in words: where it came from, one line per edge."""

from __future__ import annotations

from typing import Any

from headway.errors import NotFoundError
from headway.store import lineage
from headway.store import runs as run_repo
from headway.store.datasets import get_dataset
from headway.store.records import Edge, ModelVersion
from headway.workspace import Workspace, current_workspace

__all__ = ["describe_lineage", "label", "upstream"]


def upstream(version: ModelVersion, workspace: Workspace | None = None) -> list[Edge]:
    """Every edge leading to ``version``: its run, the run's datasets, and so on."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return lineage.walk(conn, ("model_version", version.id), "up")


def label(conn: Any, object_type: str, object_id: str) -> str:
    """A human name for any ledger object."""
    try:
        if object_type == "dataset":
            d = get_dataset(conn, object_id)
            return f"dataset {d.name} ({d.num_rows:,} rows, sha256 {d.digest[:12]}, {d.source})"
        if object_type == "run":
            r = run_repo.get_run(conn, object_id)
            return f"run {r.id} ({r.name}, experiment {r.experiment}, {r.status})"
    except NotFoundError:
        return f"{object_type} {object_id} (deleted)"
    return f"{object_type} {object_id}"


def describe_lineage(version: ModelVersion, workspace: Workspace | None = None) -> list[str]:
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        edges = lineage.walk(conn, ("model_version", version.id), "up")
        return [
            f"{label(conn, e.src_type, e.src_id)} --{e.kind}--> "
            f"{version.uri if e.dst_id == version.id else label(conn, e.dst_type, e.dst_id)}"
            for e in edges
        ]
