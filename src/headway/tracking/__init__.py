"""Experiment tracking: runs with params, metrics, tags, artifacts and dataset inputs."""

from headway.tracking.autolog import autolog
from headway.tracking.queries import (
    download_artifact,
    get_metric_history,
    get_run,
    get_run_environment,
    list_run_artifacts,
    list_run_inputs,
    list_runs,
)
from headway.tracking.run import Run, active_run, start_run

__all__ = [
    "Run",
    "active_run",
    "autolog",
    "download_artifact",
    "get_metric_history",
    "get_run",
    "get_run_environment",
    "list_run_artifacts",
    "list_run_inputs",
    "list_runs",
    "start_run",
]
