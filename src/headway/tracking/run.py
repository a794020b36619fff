"""Tracked runs: params, metrics, tags, artifacts and dataset inputs of one piece of work.

Metric points go through a :class:`~headway.tracking.buffer.MetricBuffer`, so training
never waits on the database; everything else is written at once. A run used as a context
manager ends ``finished``, or ``failed`` with the exception's text; runs still open at
interpreter exit are ended ``finished`` and flushed.
"""

from __future__ import annotations

import atexit
import math
import os
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from headway.errors import InvalidArgumentError
from headway.store import datasets as dataset_repo
from headway.store import lineage, objects
from headway.store import runs as run_repo
from headway.store.metadata import now_ms
from headway.store.records import ArtifactRecord, Dataset, Metric, RunRecord
from headway.tracking import environment
from headway.tracking.buffer import MetricBuffer
from headway.tracking.inputs import describe_input
from headway.workspace import Workspace, current_workspace

__all__ = ["Run", "active_run", "start_run"]

RUN = "run"
MAX_KEY = 250


class Run:
    """A run in progress. Create it with :func:`start_run`."""

    def __init__(self, workspace: Workspace, run_id: str, name: str, experiment: str) -> None:
        self.workspace = workspace
        self.id = run_id
        self.name = name
        self.experiment = experiment
        self._next_step: dict[str, int] = {}
        self._buffer = MetricBuffer(self._write_metrics)
        self._ended = False

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, name={self.name!r}, experiment={self.experiment!r})"

    # -- params and tags ---------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record params (nested mappings are flattened to ``outer.inner`` keys)."""
        flat = {_check_key(k): str(v) for k, v in _flatten(params).items()}
        with self.workspace.store.write() as conn:
            run_repo.log_params(conn, self.id, flat)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        values = {_check_key(k): str(v) for k, v in tags.items()}
        with self.workspace.store.write() as conn:
            objects.set_tags(conn, RUN, self.id, values)

    # -- metrics -----------------------------------------------------------------------

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Record one point. ``step`` defaults to one past this key's previous step."""
        if key not in self._next_step:
            _check_key(key)
        number = _metric_value(key, value)
        if step is None:
            step = self._next_step.get(key, 0)
        elif type(step) is not int:
            step = _check_step(step)
        self._next_step[key] = step + 1
        self._buffer.add((key, number, step, timestamp or now_ms()))

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Record several metrics at one step and time."""
        ts = timestamp or now_ms()
        rows = []
        for key, raw in metrics.items():
            if key not in self._next_step:
                _check_key(key)
            s = self._next_step.get(key, 0) if step is None else _check_step(step)
            self._next_step[key] = s + 1
            rows.append((key, _metric_value(key, raw), s, ts))
        self._buffer.extend(rows)

    def flush(self) -> None:
        """Write buffered metric points now."""
        self._buffer.flush()

    def _write_metrics(self, rows: list[run_repo.MetricRow]) -> None:
        with self.workspace.store.write() as conn:
            run_repo.insert_metrics(conn, self.id, rows)

    def metric_history(self, key: str) -> list[Metric]:
        self.flush()
        with self.workspace.store.read() as conn:
            return run_repo.metric_history(conn, self.id, key)

    # -- artifacts and inputs ----------------------------------------------------------

    def log_artifact(
        self, path: str | os.PathLike[str], name: str | None = None
    ) -> list[ArtifactRecord]:
        """Store a file, or every file under a folder, as artifacts of this run."""
        return log_files(self.workspace, RUN, self.id, Path(path), name)

    def log_text(self, text: str, path: str) -> ArtifactRecord:
        """Store a string (a JSON report, a YAML schema) as the artifact ``path``."""
        blob = self.workspace.artifacts.put_bytes(text.encode("utf-8"))
        record = ArtifactRecord(path, blob.sha256, blob.size, now_ms())
        with self.workspace.store.write() as conn:
            objects.add_artifacts(conn, RUN, self.id, [record])
        return record

    def log_input(self, data: Any, name: str | None = None, source: str | None = None) -> Dataset:
        """Record a dataset this run read: its digest, rows, columns and source."""
        described = describe_input(data, source)
        with self.workspace.store.write() as conn:
            dataset = dataset_repo.put_dataset(
                conn,
                name or described.default_name,
                described.digest,
                described.source,
                described.num_rows,
                described.columns,
            )
            lineage.add_edge(conn, ("dataset", dataset.id), (RUN, self.id), "input")
        return dataset

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def info(self) -> RunRecord:
        """The run as stored, after writing buffered metrics."""
        self.flush()
        with self.workspace.store.read() as conn:
            return run_repo.get_run(conn, self.id)

    def end(self, status: str = "finished", error: str | None = None) -> None:
        """Flush metrics and record the final status; ending twice does nothing."""
        if self._ended:
            return
        self._ended = True
        _forget(self)
        try:
            self._buffer.close()
        finally:
            with self.workspace.store.write() as conn:
                run_repo.finish_run(conn, self.id, status, error)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end("finished")
        elif isinstance(exc, KeyboardInterrupt):
            self.end("killed", "KeyboardInterrupt")
        else:
            text = "".join(traceback.format_exception_only(exc)).strip()
            self.end("failed", text)


def log_files(
    workspace: Workspace, object_type: str, object_id: str, path: Path, name: str | None = None
) -> list[ArtifactRecord]:
    """Upload a file or a folder's files and record them on any ledger object."""
    if path.is_dir():
        base = name or path.name
        files = [
            (p, f"{base}/{p.relative_to(path).as_posix()}")
            for p in sorted(path.rglob("*"))
            if p.is_file()
        ]
    elif path.is_file():
        files = [(path, name or path.name)]
    else:
        raise InvalidArgumentError(f"cannot log {str(path)!r}: no such file or folder")
    now = now_ms()
    records = []
    for file, rel in files:
        blob = workspace.artifacts.put_file(file)
        records.append(ArtifactRecord(rel, blob.sha256, blob.size, now))
    with workspace.store.write() as conn:
        objects.add_artifacts(conn, object_type, object_id, records)
    return records


def start_run(
    experiment: str = "default",
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    workspace: Workspace | None = None,
) -> Run:
    """Start a tracked run; use it as ``with headway.start_run(...) as run:``."""
    ws = workspace or current_workspace()
    env = environment.capture()
    with ws.store.write() as conn:
        exp = run_repo.get_or_create_experiment(conn, _check_key(experiment))
        run_id, run_name = run_repo.create_run(conn, exp.id, name, env)
    run = Run(ws, run_id, run_name, experiment)
    with _lock:
        _active.append(run)
    if params:
        run.log_params(params)
    if tags:
        run.set_tags(tags)
    return run


def active_run() -> Run | None:
    """The most recently started run that has not ended, if any."""
    with _lock:
        return _active[-1] if _active else None


_lock = threading.Lock()
_active: list[Run] = []


def _forget(run: Run) -> None:
    with _lock:
        if run in _active:
            _active.remove(run)


@atexit.register
def _end_open_runs() -> None:
    while (run := active_run()) is not None:
        run.end("finished")


def _fail_open_runs(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """An uncaught exception ends open runs ``failed`` (or ``killed``), then reports as usual."""
    while (run := active_run()) is not None:
        run.__exit__(exc_type, exc, tb)
    _previous_excepthook(exc_type, exc, tb)


_previous_excepthook = sys.excepthook
sys.excepthook = _fail_open_runs


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
        raise InvalidArgumentError(
            f"{key!r} is not a usable name: use a non-empty string of at most {MAX_KEY} characters"
        )
    return key


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int | float) or step != int(step):
        raise InvalidArgumentError(f"step must be a whole number, got {step!r}")
    return int(step)


def _metric_value(key: str, value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"metric {key!r} must be a number, got {value!r} ({type(value).__name__})"
        ) from None
    return None if math.isnan(number) else number


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{full}."))
        else:
            flat[full] = value
    return flat
