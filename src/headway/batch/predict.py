"""Batch prediction: a registered model over a Parquet or CSV file of any size.

The file is streamed in chunks of ``chunk_rows`` rows and predicted by a pool of worker
processes that each load the model once. Results are written in input order to a
temporary file beside the output, which replaces the output only once everything
succeeded, so a failure never leaves half a file. The job is a tracked run in the
ledger: its input dataset and model version lead to it, and it produced the output
dataset (recorded with its sha256, hashed while writing).

Parquet files are split between the workers by row group, and each worker reads its own
row groups: only predictions cross between processes, which measured 3-4x faster for a
linear model than shipping the features to the workers. CSV files (which cannot be split
without parsing) and Parquet files with fewer row groups than workers are read by the
parent and sent to the workers chunk by chunk.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import secrets
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from headway._tabular import FLOAT, STRING, column_types
from headway.config import Settings
from headway.errors import InvalidArgumentError, ModelError, SignatureError
from headway.registry.models import MODEL_VERSION, LoadedModel, get_model_version, load_model
from headway.registry.signature import conform
from headway.store import datasets as dataset_repo
from headway.store import lineage
from headway.store.records import Dataset
from headway.tracking.run import RUN, Run, start_run
from headway.workspace import Workspace, current_workspace

__all__ = ["BatchResult", "predict"]

EXPERIMENT = "batch-predict"
PARQUET = (".parquet", ".pq")
DELIMITERS = {".csv": ",", ".tsv": "\t"}
# Chunks in flight per worker: one being predicted, one queued so the worker never waits.
IN_FLIGHT_PER_WORKER = 2

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class BatchResult:
    """What a batch prediction did: the version used, rows, time, and where it wrote."""

    model: str
    rows: int
    seconds: float
    output: Path
    sha256: str
    run_id: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def predict(
    model_uri: str,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    chunk_rows: int = 100_000,
    workers: int | None = None,
    executor: str = "process",
    passthrough: Sequence[str] = (),
    proba: bool = False,
    trusted: bool = False,
    progress: bool = False,
    workspace: Workspace | None = None,
) -> BatchResult:
    """Predict every row of a Parquet or CSV file with a registered model, into a file.

    Memory stays bounded by the chunk size however large the file: at most
    ``2 * workers`` chunks are in flight (for a Parquet file split by row group, each
    worker reads ``chunk_rows`` rows at a time and returns a row group's predictions).

    Parameters
    ----------
    model_uri
        ``models:/name/3`` or ``models:/name@champion``; an alias is resolved once, so
        every chunk is predicted by the same version even if the alias moves meanwhile.
    source, output
        Parquet (``.parquet``, ``.pq``) or CSV (``.csv``, ``.tsv``) files, by suffix. The
        output is replaced atomically on success and left untouched on failure.
    chunk_rows
        Rows predicted at once by one worker.
    workers
        Worker processes (default: one per CPU); ``1`` predicts in this process. With
        ``executor="ray"``: Ray actors (default: one per CPU of the cluster).
    executor
        ``"process"`` (a local process pool) or ``"ray"``: Ray actors that each load the
        model once, on a local Ray or the cluster in ``[pipelines] ray_address``. The
        actors read the input file themselves when it has enough row groups, so on a
        remote cluster it must be on storage every node sees.
    passthrough
        Input columns copied to the output before the predictions, such as an id.
    proba
        Also write the class probabilities of a classifier, as ``proba_<class>`` columns.
    trusted
        Allow models whose loading runs code from their file (see :func:`load_model`).
    progress
        Show a progress bar (rows done of the total, when the file says how many).

    Returns
    -------
    BatchResult
        Rows predicted, seconds, the output's path and sha256, and the run's id.

    Examples
    --------
    >>> import tempfile, pandas as pd, headway
    >>> from sklearn.linear_model import LinearRegression
    >>> tmp = tempfile.TemporaryDirectory()
    >>> ws = headway.init(tmp.name)
    >>> X = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    >>> model = LinearRegression().fit(X, [2.0, 4.0, 6.0])
    >>> uri = headway.register_model("double", model, input_example=X, workspace=ws).uri
    >>> X.assign(id=[7, 8, 9]).to_parquet(f"{tmp.name}/in.parquet")
    >>> result = predict(uri, f"{tmp.name}/in.parquet", f"{tmp.name}/out.csv",
    ...                  passthrough=["id"], workers=1, workspace=ws)
    >>> result.rows, result.model
    (3, 'models:/double/1')
    >>> pd.read_csv(f"{tmp.name}/out.csv").round(6).to_dict("list")
    {'id': [7, 8, 9], 'prediction': [2.0, 4.0, 6.0]}
    >>> tmp.cleanup()
    """
    ws = workspace or current_workspace()
    ray = _connect_ray(executor, ws)
    workers = _check_counts(chunk_rows, workers) if ray is None else _ray_workers(ray, workers)
    src, out = Path(source), Path(output)
    _check_output(out, src)
    version = get_model_version(model_uri, workspace=ws)
    reader = _open(src, version.signature, list(passthrough))
    job = _Job(
        settings=ws.settings,
        model=version.uri,
        trusted=trusted,
        signature=version.signature,
        source=src.resolve(),  # workers may start elsewhere
        columns=reader.columns,
        features=reader.features,
        passthrough=tuple(passthrough),
        proba=proba,
        chunk_rows=chunk_rows,
        threads=max(1, _cpus() // workers),
    )
    params = {
        "model": version.uri,
        "model_uri": model_uri,
        "input": str(src.resolve()),
        "output": str(out.resolve()),
        "chunk_rows": chunk_rows,
        "workers": workers,
        "executor": executor,
        "passthrough": ",".join(passthrough),
        "proba": proba,
    }
    with start_run(experiment=EXPERIMENT, params=params, workspace=ws) as run:
        _record_model(run, version.id)
        logged_input = _log_input_in_background(run, src)
        start = time.perf_counter()
        with _AtomicOutput(out) as sink, _progress(progress, reader.rows, src.name) as advance:
            tables = (
                _predictions(job, reader, workers, ws)
                if ray is None
                else _ray_predictions(ray, job, reader, workers)
            )
            for table in tables:
                sink.write(table)
                advance(table.num_rows)
            logged_input.result()  # the output appears only with its lineage recorded
            sha256 = sink.commit()
        seconds = time.perf_counter() - start
        _record_output(run, out, sha256, sink.rows, sink.schema)
        rate = sink.rows / seconds if seconds > 0 else 0.0
        run.log_metrics({"rows": sink.rows, "seconds": seconds, "rows_per_s": rate})
    return BatchResult(version.uri, sink.rows, seconds, out, sha256, run.id)


# -- checks before any work ----------------------------------------------------------------


def _check_counts(chunk_rows: int, workers: int | None) -> int:
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InvalidArgumentError(
            f"chunk_rows must be a positive whole number, got {chunk_rows!r}"
        )
    if workers is None:
        return _cpus()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgumentError(f"workers must be a positive whole number, got {workers!r}")
    return workers


def _cpus() -> int:
    """The CPUs this process may run on (fewer than the machine's in a pinned container)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _check_output(out: Path, src: Path) -> None:
    if out.suffix.lower() not in (*PARQUET, *DELIMITERS):
        raise InvalidArgumentError(
            f"cannot write predictions to {str(out)!r}: use a .parquet, .csv or .tsv file name"
        )
    if not out.parent.is_dir():
        raise InvalidArgumentError(
            f"the output folder {str(out.parent)!r} does not exist; create it first"
        )
    if out.exists() and src.exists() and out.samefile(src):
        raise InvalidArgumentError(
            f"the output {str(out)!r} is the input file; write the predictions elsewhere"
        )


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reader:
    """An input file opened for streaming, with the columns to read already checked."""

    path: Path
    columns: list[str]  # read from the file
    features: list[str] | None  # given to the model; None: every column read
    rows: int | None  # None for CSV: unknown until read
    row_groups: int
    csv: tuple[pv.ReadOptions, pv.ParseOptions, pv.ConvertOptions] | None

    def chunks(self, chunk_rows: int) -> Iterator[pa.Table | pa.RecordBatch]:
        """Chunks of ``chunk_rows`` rows (CSV: whole blocks of about that many), in order."""
        if self.csv is None:
            file = pq.ParquetFile(self.path, pre_buffer=False, buffer_size=1 << 20)
            yield from file.iter_batches(batch_size=chunk_rows, columns=self.columns)
            return
        pending: list[pa.RecordBatch] = []
        rows = 0
        try:
            for batch in pv.open_csv(self.path, *self.csv):
                pending.append(batch)
                rows += batch.num_rows
                if rows >= chunk_rows:
                    yield pa.Table.from_batches(pending)
                    pending, rows = [], 0
        except pa.ArrowInvalid as exc:  # a value the first block's types cannot hold
            raise InvalidArgumentError(f"cannot read {str(self.path)!r}: {exc}") from exc
        if pending:
            yield pa.Table.from_batches(pending)


def _open(path: Path, signature: dict[str, Any] | None, passthrough: list[str]) -> _Reader:
    """Open ``path`` and check its columns against the signature before reading any rows."""
    if not path.is_file():
        raise InvalidArgumentError(f"the input {str(path)!r} does not exist or is not a file")
    suffix = path.suffix.lower()
    if suffix not in (*PARQUET, *DELIMITERS):
        raise InvalidArgumentError(
            f"cannot read {str(path)!r}: use a Parquet (.parquet) or CSV (.csv, .tsv) file"
        )
    spec = signature["inputs"] if signature else None
    features = [c["name"] for c in spec["columns"]] if spec and spec["type"] == "columns" else None
    if suffix in PARQUET:
        meta = pq.ParquetFile(path)
        if meta.metadata.num_rows == 0:
            raise InvalidArgumentError(f"{path.name} has no rows: there is nothing to predict")
        names = meta.schema_arrow.names
        _check_columns(path, names, features, passthrough)
        columns = _columns_to_read(names, features, passthrough)
        reader = _Reader(
            path, columns, features, meta.metadata.num_rows, meta.metadata.num_row_groups, None
        )
        schema = meta.schema_arrow
    else:
        parse = pv.ParseOptions(delimiter=DELIMITERS[suffix])
        first = _open_csv(path, parse, pv.ConvertOptions())
        guessed = first.schema
        try:
            first.read_next_batch()  # already parsed: the reader holds the first block
        except StopIteration:
            raise InvalidArgumentError(
                f"{path.name} has no rows: there is nothing to predict"
            ) from None
        _check_columns(path, guessed.names, features, passthrough)
        columns = _columns_to_read(guessed.names, features, passthrough)
        kinds = {c["name"]: c["type"] for c in spec["columns"]} if features and spec else {}
        convert = pv.ConvertOptions(
            include_columns=columns, column_types=_csv_types(guessed, kinds)
        )
        schema = _open_csv(path, parse, convert).schema
        reader = _Reader(path, columns, features, None, 0, (pv.ReadOptions(), parse, convert))
    if signature is not None:
        conform(schema.empty_table().select(features or columns).to_pandas(), signature)
    return reader


def _check_columns(
    path: Path, names: list[str], features: list[str] | None, passthrough: list[str]
) -> None:
    missing = [c for c in features or () if c not in names]
    if missing:
        raise SignatureError(
            f"{path.name} is missing column(s) {missing} that the model needs (it has "
            f"{names}); add or rename them in the input"
        )
    unknown = [c for c in passthrough if c not in names]
    if unknown:
        raise InvalidArgumentError(
            f"cannot pass through column(s) {unknown}: {path.name} has no such column; "
            f"it has {names}"
        )


def _columns_to_read(
    names: list[str], features: list[str] | None, passthrough: list[str]
) -> list[str]:
    """The file's columns the job needs, in file order: fewer columns, less decoding."""
    if features is None:
        return list(names)
    wanted = {*features, *passthrough}
    return [n for n in names if n in wanted]


def _csv_types(guessed: pa.Schema, kinds: dict[str, str]) -> dict[str, pa.DataType]:
    """Types for the CSV columns that the first block may have guessed wrong for the model:
    whole numbers in a float column (a later 1.5 would fail an hour in) and digits in a
    text column (zip codes). Other guesses stand, so a wrong one is named by the check."""
    types = {}
    for name, kind in kinds.items():
        if kind == STRING:
            types[name] = pa.string()
        elif kind == FLOAT and pa.types.is_integer(guessed.field(name).type):
            types[name] = pa.float64()
    return types


def _open_csv(
    path: Path, parse: pv.ParseOptions, convert: pv.ConvertOptions
) -> pv.CSVStreamingReader:
    """A CSV reader, whose schema comes from the header and the first block."""
    try:
        return pv.open_csv(path, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise InvalidArgumentError(f"cannot read {str(path)!r} as CSV: {exc}") from exc


# -- predicting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """Everything a worker process needs, sent once when it starts."""

    settings: Settings
    model: str  # a version URI, never an alias
    trusted: bool
    signature: dict[str, Any] | None
    source: Path
    columns: list[str]
    features: list[str] | None
    passthrough: tuple[str, ...]
    proba: bool
    chunk_rows: int
    threads: int  # per worker, for the model's BLAS and OpenMP pools


class _Predictor:
    """Turns a chunk of input (or a Parquet row group, by number) into output columns.

    The model is loaded on first use, not when the worker starts, so that an error while
    loading (an untrusted file, a missing library) reaches the caller as itself.
    """

    def __init__(self, job: _Job, workspace: Workspace | None = None) -> None:
        self.job = job
        self._workspace = workspace

    @cached_property
    def model(self) -> LoadedModel:
        ws = self._workspace or Workspace(self.job.settings)
        return load_model(self.job.model, trusted=self.job.trusted, workspace=ws)

    @cached_property
    def _parquet(self) -> pq.ParquetFile:
        return pq.ParquetFile(self.job.source, pre_buffer=False, buffer_size=1 << 20)

    def __call__(self, task: int | pa.Table | pa.RecordBatch) -> pa.Table:
        if not isinstance(task, int):
            return self.predict(task)
        batches = self._parquet.iter_batches(
            batch_size=self.job.chunk_rows,
            row_groups=[task],
            columns=self.job.columns,
            use_threads=False,  # the other workers use the other cores
        )
        return pa.concat_tables([self.predict(batch) for batch in batches])

    def predict(self, chunk: pa.Table | pa.RecordBatch) -> pa.Table:
        job = self.job
        features = chunk if job.features is None else chunk.select(job.features)
        X = conform(features.to_pandas(split_blocks=True), job.signature)
        native = self.model.native
        out: dict[str, pa.Array | pa.ChunkedArray] = {n: chunk.column(n) for n in job.passthrough}
        _add_outputs(out, "prediction", np.asarray(native.predict(X)))
        if job.proba:
            predict_proba = getattr(native, "predict_proba", None)
            if predict_proba is None:
                raise InvalidArgumentError(
                    f"{job.model} ({self.model.version.flavor}) gives no class probabilities; "
                    "predict without proba"
                )
            classes = getattr(native, "classes_", None)
            _add_outputs(out, "proba", np.asarray(predict_proba(X)), classes)
        return pa.table(out)


def _add_outputs(
    out: dict[str, Any], name: str, values: np.ndarray, labels: Sequence[Any] | None = None
) -> None:
    """One column for 1-D output, else one per output column, named by ``labels``."""
    if values.ndim == 1:
        named = {name: values}
    else:
        if labels is None or len(labels) != values.shape[1]:
            labels = range(values.shape[1])
        named = {f"{name}_{label}": values[:, j] for j, label in enumerate(labels)}
    clash = [n for n in named if n in out]
    if clash:
        raise InvalidArgumentError(
            f"passthrough column(s) {clash} would clash with the output column(s) of the same "
            "name; rename them in the input or do not pass them through"
        )
    out.update({n: pa.array(v) for n, v in named.items()})


def _predictions(job: _Job, reader: _Reader, workers: int, ws: Workspace) -> Iterator[pa.Table]:
    """Output tables in input order, predicted in this process or by a pool of workers."""
    if workers == 1:
        predictor = _Predictor(job, ws)
        yield from map(predictor, reader.chunks(job.chunk_rows))
        return
    tasks: Iterable[int | pa.Table | pa.RecordBatch] = (
        range(reader.row_groups) if reader.row_groups >= workers else reader.chunks(job.chunk_rows)
    )
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(),
        initializer=_start_worker,
        initargs=(job,),
    )
    try:
        yield from _in_order(
            lambda task: pool.submit(_run_in_worker, task), tasks, IN_FLIGHT_PER_WORKER * workers
        )
    except BrokenProcessPool as exc:
        raise ModelError(
            f"a worker process predicting with {job.model} died ({exc}); it may have run out "
            "of memory: try fewer workers or a smaller chunk_rows"
        ) from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _connect_ray(executor: str, ws: Workspace) -> ModuleType | None:
    """The connected ``ray`` module for ``executor="ray"``; None for the process pool."""
    if executor == "process":
        return None
    if executor != "ray":
        raise InvalidArgumentError(f"executor must be 'process' or 'ray', got {executor!r}")
    from headway.pipelines._ray import connect

    return connect(ws.settings)


def _ray_workers(ray: ModuleType, workers: int | None) -> int:
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if workers is None:
        return cpus
    _check_counts(1, workers)
    if workers > cpus:
        raise InvalidArgumentError(
            f"workers={workers} Ray actors need a CPU each but the Ray cluster has {cpus}; "
            f"ask for at most {cpus}"
        )
    return workers


def _ray_predictions(
    ray: ModuleType, job: _Job, reader: _Reader, workers: int
) -> Iterator[pa.Table]:
    """Output tables in input order, predicted by ``workers`` Ray actors, in turn."""
    actor = ray.remote(num_cpus=1, max_restarts=0)(_RayWorker)
    actors = [actor.remote(job) for _ in range(workers)]
    tasks: Iterable[int | pa.Table | pa.RecordBatch] = (
        range(reader.row_groups) if reader.row_groups >= workers else reader.chunks(job.chunk_rows)
    )
    turn = itertools.count()

    def submit(task: int | pa.Table | pa.RecordBatch) -> Future[pa.Table]:
        future: Future[pa.Table] = actors[next(turn) % workers].predict.remote(task).future()
        return future

    try:
        yield from _in_order(submit, tasks, IN_FLIGHT_PER_WORKER * workers)
    finally:
        for handle in actors:
            ray.kill(handle)


class _RayWorker:
    """A Ray actor that loads the model once and predicts chunks or row groups."""

    def __init__(self, job: _Job) -> None:
        threadpool_limits(job.threads)
        self._predictor = _Predictor(job)

    def predict(self, task: int | pa.Table | pa.RecordBatch) -> pa.Table:
        return self._predictor(task)


def _in_order(submit: Callable[[T], Future[R]], tasks: Iterable[T], limit: int) -> Iterator[R]:
    """Results of ``submit(task)`` in task order, with at most ``limit`` tasks in flight.

    Tasks are drawn lazily, only when a slot is free, so a stream of chunks is never read
    further ahead than ``limit`` chunks however slow the consumer.
    """
    pending: deque[Future[R]] = deque()
    for task in tasks:
        pending.append(submit(task))
        if len(pending) == limit:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _context() -> multiprocessing.context.BaseContext:
    """Fork server where there is one: workers start in milliseconds once it runs, and,
    unlike plain fork, never inherit this process's threads (OpenMP, progress bar)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # Imported once in the server rather than in every worker: this module (and so
    # Headway) and the loader of scikit-learn models, the common flavor (about 1 s each).
    ctx.set_forkserver_preload([__name__, "skops.io"])
    return ctx


_worker: _Predictor | None = None


def _start_worker(job: _Job) -> None:
    global _worker
    # Ctrl-C is the parent's to handle: it cancels the queue and cleans up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers times threads must not exceed the cores: idle OpenBLAS threads spin, and
    # two workers with two BLAS threads each measured about 1.5x slower than with one.
    threadpool_limits(job.threads)
    _worker = _Predictor(job)


def _run_in_worker(task: int | pa.Table | pa.RecordBatch) -> pa.Table:
    assert _worker is not None, "the pool initialiser sets the worker"
    return _worker(task)


# -- writing -------------------------------------------------------------------------------


class _AtomicOutput:
    """Writes tables to a temporary file beside ``path``, hashing the bytes on the way.

    :meth:`commit` syncs it to disk and renames it onto ``path`` in one step; leaving the
    ``with`` block without committing (an error, Ctrl-C) deletes it, so ``path`` is
    either the old file or the complete new one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temp = path.with_name(f"{path.name}.partial-{secrets.token_hex(6)}")
        self.rows = 0
        self.schema: pa.Schema | None = None
        self._file: Any = None
        self._writer: pq.ParquetWriter | pv.CSVWriter | None = None
        self._sha256 = hashlib.sha256()
        self._committed = False

    def __enter__(self) -> _AtomicOutput:
        self._file = open(self.temp, "xb")
        return self

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self.schema = table.schema
            self._writer = self._open_writer(table.schema)
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def _open_writer(self, schema: pa.Schema) -> pq.ParquetWriter | pv.CSVWriter:
        sink = _HashingSink(self._file, self._sha256)
        suffix = self.path.suffix.lower()
        if suffix in PARQUET:
            return pq.ParquetWriter(sink, schema)
        return pv.CSVWriter(
            sink, schema, write_options=pv.WriteOptions(delimiter=DELIMITERS[suffix])
        )

    def commit(self) -> str:
        """Put the complete file in place and return its sha256."""
        assert self._writer is not None, "inputs without rows are refused before any work"
        self._writer.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.temp, self.path)
        self._committed = True
        _sync_folder(self.path.parent)
        return self._sha256.hexdigest()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._committed:
            return
        if self._writer is not None:
            # Closed here rather than by the garbage collector, into a file still open.
            with suppress(Exception):
                self._writer.close()
        self._file.close()
        self.temp.unlink(missing_ok=True)


class _HashingSink:
    """A write-only file that feeds every byte to a hash on its way to ``file``."""

    def __init__(self, file: Any, digest: Any) -> None:
        self._file = file
        self._digest = digest
        self.closed = False

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return int(self._file.write(data))

    def tell(self) -> int:
        return int(self._file.tell())

    def flush(self) -> None:
        self._file.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        """The owner closes the file; the writer only signals that it is done."""
        self.closed = True


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- progress and ledger -------------------------------------------------------------------


@contextmanager
def _progress(enabled: bool, total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    """A function that advances a Rich progress bar by some rows (a no-op when disabled)."""
    if not enabled:
        yield lambda rows: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed:,.0f} rows/s" if task.speed else "")

    columns: list[ProgressColumn] = [
        TextColumn(f"predicting {label}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
    ]
    if total is not None:
        columns.append(TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("rows", total=total)
        yield lambda rows: bar.advance(task, rows)


def _record_model(run: Run, version_id: str) -> None:
    """The model version is an input of the run, as datasets are."""
    with run.workspace.store.write() as conn:
        lineage.add_edge(conn, (MODEL_VERSION, version_id), (RUN, run.id), "input")


def _log_input_in_background(run: Run, path: Path) -> Future[Dataset]:
    """Log the input dataset while predicting: hashing a large file takes as long as
    reading it. A daemon thread, so that Ctrl-C does not wait for the hash to finish."""
    future: Future[Dataset] = Future()

    def work() -> None:
        try:
            future.set_result(run.log_input(path, name=path.stem))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=work, name="headway-log-input", daemon=True).start()
    return future


def _record_output(run: Run, path: Path, sha256: str, rows: int, schema: pa.Schema | None) -> None:
    """The output file as a dataset version the run produced (named by the file's stem)."""
    assert schema is not None, "a committed output has a schema"
    columns = column_types(schema.empty_table().to_pandas())
    with run.workspace.store.write() as conn:
        dataset = dataset_repo.put_dataset(
            conn, path.stem, sha256, str(path.resolve()), rows, columns
        )
        lineage.add_edge(conn, (RUN, run.id), ("dataset", dataset.id), "produced")
