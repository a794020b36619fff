"""The ledger side of one pipeline run: step runs, cache look-ups and batched records.

A step's run is created when the step starts (its own short transaction, so a running
step shows as running and ``register_model(run=...)`` can point at it). Everything
recorded when a step ends — the run's end, its output artifacts, lineage edges, the
step's row — is buffered and written in one transaction every ``FLUSH_SECONDS`` and at
the end of the run, so a cache hit costs no transaction of its own. Cache look-ups reuse
one connection for the whole run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from headway.pipelines._results import Artifact
from headway.store import lineage, objects
from headway.store import pipelines as steps_repo
from headway.store import runs as run_repo
from headway.store.metadata import now_ms
from headway.store.pipelines import ROLE_TAG, StepRow
from headway.store.records import ArtifactRecord
from headway.tracking.run import RUN, Run
from headway.workspace import Workspace

__all__ = ["ARTIFACT", "FLUSH_SECONDS", "PIPELINE_TAG", "RUN_TAG", "STEP_TAG", "Ledger"]

FLUSH_SECONDS = 0.2
ARTIFACT = "artifact"  # lineage node type of a stored output: ("artifact", sha256)
PIPELINE_TAG = "pipeline.name"
RUN_TAG = "pipeline.run_id"
STEP_TAG = "pipeline.step"
_ENV_FIELDS = ("user", "git_commit", "git_dirty", "command", "python_version")


@dataclass(frozen=True)
class _End:
    run_id: str
    status: str
    started_at: int
    ended_at: int
    error: str | None
    inputs: tuple[Artifact, ...]
    outputs: tuple[tuple[str, Artifact], ...]  # (path on the run, artifact)


class Ledger:
    """Writes one pipeline run's steps to the ledger; used from the driver only."""

    def __init__(self, workspace: Workspace, run: Run, pipeline: str) -> None:
        self.ws = workspace
        self.pipeline_run = run
        self.pipeline = pipeline
        with workspace.store.read() as conn:
            record = run_repo.get_run(conn, run.id)
            self._experiment_id = run_repo.get_experiment(conn, run.experiment).id
        # Step runs share the pipeline run's code version; its full environment (packages,
        # host) is stored once, on the pipeline run.
        self._env = {name: getattr(record, name) for name in _ENV_FIELDS}
        self._ends: list[_End] = []
        self._rows: list[StepRow] = []
        self._reader: Connection | None = None
        self._flushed = time.perf_counter()

    def lookup(self, keys: Iterable[str], within: str | None = None) -> dict[str, StepRow]:
        """Reusable step rows by cache key (see :func:`headway.store.pipelines.find_cached`)."""
        wanted = list(keys)
        if not wanted:
            return {}
        if self._reader is None:
            self._reader = self.ws.store.engine.connect()
        with self._reader.begin():  # a fresh snapshot each time, on the same connection
            return steps_repo.find_cached(self._reader, wanted, within)

    def start_step(self, node: str, step: str, params: dict[str, str]) -> str:
        """Create the step's run, running, tagged with its pipeline run; return its id."""
        tags = {
            ROLE_TAG: "step",
            PIPELINE_TAG: self.pipeline,
            RUN_TAG: self.pipeline_run.id,
            STEP_TAG: step,
        }
        with self.ws.store.write() as conn:
            run_id, _ = run_repo.create_run(conn, self._experiment_id, node, self._env)
            objects.set_tags(conn, RUN, run_id, tags)
            run_repo.log_params(conn, run_id, params)
        return run_id

    def end_step(
        self,
        run_id: str,
        status: str,
        started_at: int,
        ended_at: int,
        error: str | None = None,
        inputs: Sequence[Artifact] = (),
        outputs: Sequence[tuple[str, Artifact]] = (),
    ) -> None:
        """Buffer a step run's end: status, real times, outputs and lineage."""
        self._ends.append(
            _End(run_id, status, started_at, ended_at, error, tuple(inputs), tuple(outputs))
        )

    def add_step(self, row: StepRow) -> None:
        self._rows.append(row)

    def flush_if_due(self) -> None:
        if time.perf_counter() - self._flushed >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write everything buffered, in one transaction."""
        self._flushed = time.perf_counter()
        if not self._ends and not self._rows:
            return
        ends, rows = self._ends, self._rows
        with self.ws.store.write() as conn:
            steps_repo.finish_runs(conn, [_run_end(e) for e in ends])
            for end in ends:
                _record_outputs(conn, end)
            steps_repo.save_steps(conn, rows)
        self._ends, self._rows = [], []

    def close(self) -> None:
        """Flush and let go of the look-up connection."""
        try:
            self.flush()
        finally:
            if self._reader is not None:
                self._reader.close()
                self._reader = None


def _run_end(end: _End) -> dict[str, Any]:
    return {
        "id": end.run_id,
        "status": end.status,
        "start": end.started_at,
        "end": end.ended_at,
        "error": end.error,
    }


def _record_outputs(conn: Connection, end: _End) -> None:
    node = (RUN, end.run_id)
    if end.outputs:
        created = now_ms()
        objects.add_artifacts(
            conn,
            RUN,
            end.run_id,
            [ArtifactRecord(path, a.sha256, a.size, created) for path, a in end.outputs],
        )
    for sha256 in dict.fromkeys(a.sha256 for a in end.inputs):
        lineage.add_edge(conn, (ARTIFACT, sha256), node, "input")
    for sha256 in dict.fromkeys(a.sha256 for _, a in end.outputs):
        lineage.add_edge(conn, node, (ARTIFACT, sha256), "produced")
