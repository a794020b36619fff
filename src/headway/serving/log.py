"""The prediction log and the feedback log: every request, response and label, on disk.

A prediction server must never wait for its log, so logging is split in two. On the
caller's thread, :meth:`SegmentLog.append` only turns a micro-batch into an Arrow record
batch and puts it in an in-memory buffer (no disk I/O, no waiting on the writer). A
writer thread flushes the buffer every ``flush_interval`` seconds, and sooner once it
holds ``flush_rows`` rows, into new append-only *segment* files. :func:`compact` merges
the segments of each closed hour into one Parquet file, and :func:`connect` /
:func:`query` / :func:`read` see both through DuckDB and Arrow.

On disk, under ``log_root`` (one folder per stream: ``predictions``, ``feedback``)::

    <stream>/segments/date=YYYY-MM-DD/hour=HH/<pid>-<token>-<seq>.arrow
        Arrow IPC files, one per flush and hour (UTC, from each row's ``time``). Written
        under a hidden temporary name and renamed, so a reader never sees half a file;
        ``token`` is random per process, so workers sharing the folder never collide.
    <stream>/hourly/date=YYYY-MM-DD/hour=HH/part-<uuid>.parquet
        zstd Parquet, sorted by time. Its footer lists the segment files it replaced,
        which makes compaction crash-safe: a reader skips segments a Parquet file already
        holds, and the next compaction deletes them.
    <stream>/.compact.lock
        ``flock``-ed while one process compacts, so two compactions never race.

Durability: a row is on disk at most ``flush_interval`` seconds (default 1 s, plus the
time of one write) after ``append`` returned; with ``fsync=True`` (the default) that holds
through a power cut, not only through a crash of the server. Rows still buffered when a
process dies are lost. The buffer is bounded by ``max_buffer_rows``: when the writer
falls that far behind (a stalled disk), new batches are refused and counted in
``stats.dropped``, and the server keeps serving. ``close()`` (also run at interpreter
exit) writes what is buffered; a process ended by ``os._exit`` (a forked worker, a
multiprocessing child) must call it itself.

Columns of ``predictions``: ``request_id`` string; ``time`` timestamp[ms, UTC] (when the
request arrived); ``deployment`` string; ``revision`` int64; ``route`` string (primary,
canary, shadow or fallback: a shadow's rows sit beside the primary's under the same
request id); ``model_version`` string (a ``models:/name/N`` URI); ``inputs`` and
``outputs`` structs of the model's columns (SQL reads ``inputs.age``; revisions that add a
feature read together, the feature null where it was absent); ``latency_ms`` float64;
``status`` int16, HTTP-like (200 ok, 4xx the request was wrong, 5xx the model or server
failed); ``error`` string, null when the status is below 400.

Columns of ``feedback``: ``request_id`` string; ``time`` timestamp[ms, UTC]; ``label``
string (classes as given; numbers as text); ``label_value`` float64, the label as a number
when it is one (regression targets, 0/1 classes), else null; ``source`` string (``api``,
``review``, ...); ``note`` string or null.

Examples
--------
>>> import tempfile
>>> import numpy as np
>>> from headway.serving.log import PredictionLog, query
>>> tmp = tempfile.TemporaryDirectory()
>>> with PredictionLog(tmp.name) as log:
...     log.log(
...         ["r1", "r2"],
...         inputs={"age": np.array([31, 45])},
...         outputs={"prediction": np.array([0, 1])},
...         deployment="churn",
...         revision=1,
...         model_version="models:/churn/3",
...         latency_ms=4.2,
...     )
True
>>> sql = "SELECT request_id, inputs.age, outputs.prediction FROM predictions ORDER BY 1"
>>> query(tmp.name, sql).to_pylist()
[{'request_id': 'r1', 'age': 31, 'prediction': 0}, {'request_id': 'r2', 'age': 45, 'prediction': 1}]
>>> tmp.cleanup()
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import itertools
import json
import logging
import os
import re
import secrets
import threading
import time as _time
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from headway.errors import HeadwayError, InvalidArgumentError

__all__ = [
    "FEEDBACK_SCHEMA",
    "PREDICTION_SCHEMA",
    "ROUTES",
    "CompactionResult",
    "FeedbackLog",
    "LogStats",
    "PredictionLog",
    "SegmentLog",
    "compact",
    "connect",
    "query",
    "read",
]

log = logging.getLogger("headway")

PREDICTIONS, FEEDBACK = "predictions", "feedback"
ROUTES = ("primary", "canary", "shadow", "fallback")
TIME = "time"
TIME_TYPE = pa.timestamp("ms", tz="UTC")
# Empty structs stand for the model's columns, which a fresh log does not know yet.
PREDICTION_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        (TIME, TIME_TYPE),
        ("deployment", pa.string()),
        ("revision", pa.int64()),
        ("route", pa.string()),
        ("model_version", pa.string()),
        ("inputs", pa.struct([])),
        ("outputs", pa.struct([])),
        ("latency_ms", pa.float64()),
        ("status", pa.int16()),
        ("error", pa.string()),
    ]
)
FEEDBACK_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        (TIME, TIME_TYPE),
        ("label", pa.string()),
        ("label_value", pa.float64()),
        ("source", pa.string()),
        ("note", pa.string()),
    ]
)
_EMPTY = {PREDICTIONS: PREDICTION_SCHEMA, FEEDBACK: FEEDBACK_SCHEMA}
_PREDICTION_NAMES, _FEEDBACK_NAMES = PREDICTION_SCHEMA.names, FEEDBACK_SCHEMA.names

SEGMENTS, HOURLY, QUARANTINE = "segments", "hourly", "quarantine"
HOUR_MS = 3_600_000
# Compaction leaves an hour alone until this long after it ended, so rows of requests
# still in flight at the turn of the hour usually join their hour's one Parquet file.
COMPACTION_GRACE = timedelta(minutes=5)
_REPLACED_KEY = b"headway.segments"
# Uncompressed, so readers can memory-map segments instead of decompressing an hour of
# rows into memory; compaction compresses them.
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression=None)
_STREAM_NAME = re.compile(r"[a-z][a-z0-9_]*")
_DATE_DIR = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
_HOUR_DIR = re.compile(r"hour=(\d{2})")
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_SNAPSHOT_ATTEMPTS = 5


@dataclass(frozen=True)
class LogStats:
    """Row counts of one log since it was opened (or since the process forked)."""

    appended: int  # rows accepted into the buffer
    written: int  # rows in segment files
    dropped: int  # rows refused (buffer full, log closed) or lost to a failed write
    buffered: int  # rows accepted and not yet written
    segments: int  # segment files written


@dataclass(frozen=True)
class CompactionResult:
    """What one :func:`compact` call did to one stream."""

    stream: str
    hours: int  # closed hours that had segment files
    segments: int  # segment files merged (or already merged by a crashed run) and deleted
    rows: int  # rows written to Parquet
    files: int  # Parquet files written


class SegmentLog:
    """An append-only, batched, never-blocking log of one stream of rows.

    Parameters
    ----------
    log_root
        The log folder, shared by every process of a deployment.
    stream
        The stream's name and folder, e.g. ``"predictions"``.
    flush_interval
        Seconds between flushes: the most data (in time) a crash can lose.
    flush_rows
        Flush sooner once this many rows are buffered.
    max_buffer_rows
        Rows buffered or being written beyond which new batches are dropped (and counted).
    fsync
        Sync each segment file and its folder to the disk, so a flushed row survives a
        power cut too. Costs the writer thread a few milliseconds per flush.

    Notes
    -----
    Arrays are logged without copying: do not modify them after ``append``.
    """

    def __init__(
        self,
        log_root: str | os.PathLike[str],
        stream: str,
        *,
        flush_interval: float = 1.0,
        flush_rows: int = 65_536,
        max_buffer_rows: int = 1_000_000,
        fsync: bool = True,
    ) -> None:
        if not flush_interval > 0:
            raise InvalidArgumentError(
                f"flush_interval must be a positive number of seconds, got {flush_interval!r}"
            )
        if not 0 < flush_rows <= max_buffer_rows:
            raise InvalidArgumentError(
                f"need 0 < flush_rows <= max_buffer_rows, got {flush_rows} and {max_buffer_rows}"
            )
        self.log_root = Path(log_root)
        self.stream = _check_stream(stream)
        self.flush_interval = float(flush_interval)
        self.flush_rows = flush_rows
        self.max_buffer_rows = max_buffer_rows
        self.fsync = fsync
        self._closed = False
        self._reset()
        _live.add(self)

    def _reset(self) -> None:
        """Fresh buffer, locks and file names: at start, and in a forked child."""
        self._lock = threading.Lock()  # guards the buffer and the counters, never held for I/O
        self._flush_lock = threading.Lock()  # one flush at a time keeps segment order
        self._wake = threading.Event()
        self._buffer: list[pa.RecordBatch] = []
        self._pending = 0  # rows buffered or being written: what the bound applies to
        self._appended = self._written = self._dropped = self._segments = 0
        self._writer: threading.Thread | None = None
        self._prefix = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._seq = itertools.count()

    def append(self, batch: pa.RecordBatch | pa.Table | Mapping[str, Any]) -> bool:
        """Buffer a batch of rows; ``False`` if it was dropped because the buffer is full.

        A batch is columnar: a record batch, a table, or a mapping of column names to NumPy
        arrays or lists of equal length (a 2-D array becomes a fixed-size list column). A
        ``time`` column (timestamps; naive ones are UTC) is added if absent, and missing
        times are filled with the current time.
        """
        return self._enqueue([_with_time(b) for b in _record_batches(batch)])

    def _enqueue(self, batches: list[pa.RecordBatch]) -> bool:
        rows = sum(b.num_rows for b in batches)
        if rows == 0:
            return True
        with self._lock:
            if self._closed or self._pending + rows > self.max_buffer_rows:
                self._dropped += rows
                return False
            self._buffer.extend(batches)
            self._pending += rows
            self._appended += rows
            full = self._pending >= self.flush_rows
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run, name=f"headway-log-{self.stream}", daemon=True
                )
                self._writer.start()
        if full:
            self._wake.set()
        return True

    @property
    def stats(self) -> LogStats:
        """Row counts, for the server's metrics: ``dropped`` above zero means lost rows."""
        with self._lock:
            return LogStats(
                self._appended, self._written, self._dropped, self._pending, self._segments
            )

    def flush(self) -> int:
        """Write everything buffered now, on the calling thread; the number of rows written.

        Raises
        ------
        OSError
            When a segment cannot be written; its rows stay buffered for the next flush.
        """
        with self._flush_lock:
            with self._lock:
                batches, self._buffer = self._buffer, []
            if not batches:
                return 0
            rows = sum(b.num_rows for b in batches)
            try:
                pieces = _hour_pieces(batches)
            except Exception:
                self._count_lost(rows)
                raise
            written = 0
            try:
                for hour, table in pieces:
                    self._write_segment(hour, table)
                    written += table.num_rows
                    with self._lock:
                        self._segments += 1
            except OSError:
                # Keep what was not written for the next flush; the bound still holds.
                with self._lock:
                    self._buffer[:0] = _rows_after(pieces, written)
                    self._pending -= written
                    self._written += written
                raise
            except Exception:
                with self._lock:
                    self._written += written
                self._count_lost(rows - written)
                raise
            with self._lock:
                self._pending -= rows
                self._written += rows
            return rows

    def _count_lost(self, rows: int) -> None:
        with self._lock:
            self._pending -= rows
            self._dropped += rows

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer after a final flush; appends after this are dropped.

        Waits at most ``timeout`` seconds for a write in progress: a hung disk must not
        hang the server's shutdown (the rows it holds are then reported lost).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            writer = self._writer
        self._wake.set()
        if writer is not None and writer is not threading.current_thread():
            writer.join(timeout)
            if writer.is_alive():
                log.error(
                    "headway: the %s log's writer is stuck; %d rows may not be written",
                    self.stream,
                    self.stats.buffered,
                )
                _live.discard(self)
                return
        try:
            self.flush()
        except Exception:
            log.exception("headway: the %s log could not write its last rows", self.stream)
        with self._lock:
            lost, self._buffer = self._pending, []
        if lost:
            self._count_lost(lost)
            log.error("headway: %d rows of the %s log were not written", lost, self.stream)
        _live.discard(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.log_root)!r}, stream={self.stream!r})"

    def _run(self) -> None:
        """The writer thread: flush every ``flush_interval`` s, or when woken by a full buffer."""
        deadline = _time.monotonic() + self.flush_interval
        failing = False
        while True:
            self._wake.wait(max(0.0, deadline - _time.monotonic()))
            self._wake.clear()
            if self._closed:
                return  # close() writes the rest
            deadline = _time.monotonic() + self.flush_interval
            try:
                self.flush()
            except Exception:
                if not failing:  # once per outage, not once a second
                    log.exception("headway: the %s log cannot write segments", self.stream)
                failing = True
            else:
                if failing:
                    log.warning("headway: the %s log writes segments again", self.stream)
                failing = False

    def _write_segment(self, hour: int, table: pa.Table) -> None:
        folder = self.log_root / self.stream / SEGMENTS / _hour_path(hour)
        name = f"{self._prefix}-{next(self._seq):08d}.arrow"
        for attempt in range(3):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{name}.tmp"
                with (
                    pa.OSFile(str(tmp), "wb") as sink,
                    pa.ipc.new_file(sink, table.schema, options=_IPC_OPTIONS) as writer,
                ):
                    writer.write_table(table)
                if self.fsync:
                    _fsync(tmp)
                os.replace(tmp, folder / name)
                if self.fsync:
                    _fsync(folder)
                return
            except FileNotFoundError:
                if attempt == 2:  # compaction removes empty hour folders; retry twice
                    raise


class PredictionLog(SegmentLog):
    """The ``predictions`` stream: one row per request and route, as the server answered.

    Examples
    --------
    See the module docstring.
    """

    def __init__(
        self,
        log_root: str | os.PathLike[str],
        flush_interval: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(log_root, PREDICTIONS, flush_interval=flush_interval, **options)

    def log(
        self,
        request_id: Any,
        *,
        inputs: Any,
        outputs: Any,
        deployment: str,
        revision: int | Any,
        model_version: str | Any,
        latency_ms: float | Any,
        route: str | Any = "primary",
        status: int | Any = 200,
        error: str | Any | None = None,
        time: datetime | Any | None = None,
    ) -> bool:
        """Log one micro-batch; scalars apply to every row. ``False`` if it was dropped.

        ``inputs`` and ``outputs`` are tables (pandas, polars, pyarrow, or a mapping of
        column names to arrays); ``time`` defaults to now.
        """
        ids = _column(request_id, pa.string(), None, "request_id")
        n = len(ids)
        routes = _column(route, pa.string(), n, "route")
        _check_routes(route, routes)
        columns = [
            ids,
            _time_column(time, n),
            _column(deployment, pa.string(), n, "deployment"),
            _column(revision, pa.int64(), n, "revision"),
            routes,
            _column(model_version, pa.string(), n, "model_version"),
            _struct(inputs, "inputs", n),
            _struct(outputs, "outputs", n),
            _column(latency_ms, pa.float64(), n, "latency_ms"),
            _column(status, pa.int16(), n, "status"),
            _column(error, pa.string(), n, "error"),
        ]
        return self._enqueue([pa.RecordBatch.from_arrays(columns, _PREDICTION_NAMES)])


class FeedbackLog(SegmentLog):
    """The ``feedback`` stream: ground-truth labels for request ids, whenever they come."""

    def __init__(
        self,
        log_root: str | os.PathLike[str],
        flush_interval: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(log_root, FEEDBACK, flush_interval=flush_interval, **options)

    def log(
        self,
        request_id: Any,
        label: Any,
        *,
        source: str | Any = "api",
        note: str | Any | None = None,
        time: datetime | Any | None = None,
    ) -> bool:
        """Log labels for request ids (arrays of equal length); ``False`` if dropped.

        Labels may be classes (strings, booleans) or numbers; both are kept as ``label``
        text, and numbers (also numeric text such as ``"3.5"``) as ``label_value``.
        """
        ids = _column(request_id, pa.string(), None, "request_id")
        n = len(ids)
        text, value = _labels(label, n)
        columns = [
            ids,
            _time_column(time, n),
            text,
            value,
            _column(source, pa.string(), n, "source"),
            _column(note, pa.string(), n, "note"),
        ]
        return self._enqueue([pa.RecordBatch.from_arrays(columns, _FEEDBACK_NAMES)])


def compact(
    log_root: str | os.PathLike[str], stream: str, before: datetime | None = None
) -> CompactionResult:
    """Merge each closed hour's segment files into one Parquet file, then delete them.

    An hour is closed when it ended before ``before`` (default: :data:`COMPACTION_GRACE`
    ago). Crash-safe and idempotent: the Parquet file is complete on disk before any
    segment goes, its footer names the segments it holds (readers skip those), and a
    later run deletes segments a crashed run already merged. A lock file serialises
    concurrent runs. Segments that reach an hour after it was compacted become a second
    Parquet file at the next run.
    """
    stream_dir = Path(log_root) / _check_stream(stream)
    cutoff = before if before is not None else datetime.now(UTC) - COMPACTION_GRACE
    last_closed = _ms(cutoff) // HOUR_MS - 1
    with _compaction_lock(stream_dir):
        done = [
            _compact_hour(stream_dir, hour, folder)
            for hour, folder in _hour_dirs(stream_dir / SEGMENTS, None, last_closed)
        ]
    totals = [sum(column) for column in zip(*done, strict=True)] or [0, 0, 0]
    return CompactionResult(stream, len(done), *totals)


def _compact_hour(stream_dir: Path, hour: int, folder: Path) -> tuple[int, int, int]:
    _remove_stale_temporaries(folder, older_than=_time.time() - 3600)
    target = stream_dir / HOURLY / _hour_path(hour)
    existing = sorted(target.glob("part-*.parquet"))
    for tmp in target.glob(".*.tmp"):  # a compaction that crashed mid-write; we hold the lock
        tmp.unlink(missing_ok=True)
    done = set().union(*(_replaced_segments(p) for p in existing))
    found = sorted(folder.glob("*.arrow"))
    todo = [p for p in found if p.name not in done]
    rows = parts = 0
    tables, unreadable = _read_segments(todo)
    for path in unreadable:  # kept aside for a human, out of every later query
        (stream_dir / QUARANTINE).mkdir(exist_ok=True)
        os.replace(path, stream_dir / QUARANTINE / path.name)
    readable = [p.name for p in todo if p not in unreadable]
    for table, names in _merge(list(zip(readable, tables, strict=True))):
        _write_part(target, table.sort_by(TIME), names)
        rows, parts = rows + table.num_rows, parts + 1
    for path in found:
        path.unlink(missing_ok=True)
    for empty in (folder, folder.parent):
        with contextlib.suppress(OSError):  # not empty: a writer added a late segment
            empty.rmdir()
    return len(found), rows, parts


def _write_part(target: Path, table: pa.Table, replaced: list[str]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    name = f"part-{uuid.uuid4().hex}.parquet"
    tmp = target / f".{name}.tmp"
    metadata = {**(table.schema.metadata or {}), _REPLACED_KEY: json.dumps(replaced).encode()}
    pq.write_table(
        table.replace_schema_metadata(metadata),
        tmp,
        compression="zstd",
        row_group_size=131_072,  # time-sorted row groups: range reads skip most of them
    )
    _fsync(tmp)
    os.replace(tmp, target / name)
    _fsync(target)  # the Parquet file is durable before its segments are deleted


def connect(log_root: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per stream (``predictions``, ``feedback``).

    The views cover compacted Parquet files and segments not yet compacted, each row
    once. They are a snapshot: rows flushed after this call need a new connection. An
    empty log still has both views, with their columns and no rows.
    """
    root = Path(log_root)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    found = {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()
    streams = sorted({PREDICTIONS, FEEDBACK} | {s for s in found if _STREAM_NAME.fullmatch(s)})
    for stream in streams:
        _create_view(con, stream, _snapshot(root / stream, None, None), _EMPTY.get(stream))
    return con


def query(log_root: str | os.PathLike[str], sql: str, limit: int | None = None) -> pa.Table:
    """Run SQL over the log's views (see :func:`connect`) and return the result as Arrow.

    Raises
    ------
    InvalidArgumentError
        The SQL does not parse or bind; the message is DuckDB's, on one line.
    """
    con = connect(log_root)
    try:
        relation = con.sql(sql)
        if relation is None:  # a statement without a result
            return pa.table({})
        if limit is not None:
            relation = relation.limit(limit)
        return relation.to_arrow_table()
    except duckdb.Error as exc:
        message = " ".join(str(exc).strip().splitlines()[:1])
        raise InvalidArgumentError(
            f"the query failed: {message} (the log's tables are predictions and feedback)"
        ) from exc
    finally:
        con.close()


def read(
    log_root: str | os.PathLike[str],
    stream: str,
    start: datetime | None = None,
    end: datetime | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Rows of one stream with ``start <= time < end`` (UTC; naive datetimes are UTC).

    Only the hour folders that overlap the range are opened, so a monitor reading the
    last hour touches the last hour's files.
    """
    lo = None if start is None else _ms(start)
    hi = None if end is None else _ms(end)
    snap = _snapshot(
        Path(log_root) / _check_stream(stream),
        None if lo is None else lo // HOUR_MS,
        None if hi is None else (hi - 1) // HOUR_MS,
    )
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        _create_view(con, "_rows", snap, _EMPTY.get(stream))
        where = [f"time >= {_timestamp(lo)}" if lo is not None else "true"]
        where += [f"time < {_timestamp(hi)}"] if hi is not None else []
        select = "*" if columns is None else ", ".join(_quote(c) for c in columns)
        try:
            table = con.sql(f"SELECT {select} FROM _rows WHERE {' AND '.join(where)}")
            result = table.to_arrow_table()
        except duckdb.BinderException as exc:
            raise InvalidArgumentError(
                f"cannot read columns {list(columns or [])} of the {stream} log: "
                f"{str(exc).splitlines()[0]}"
            ) from exc
    finally:
        con.close()
    index = result.schema.get_field_index(TIME)
    if index >= 0:
        result = result.set_column(index, TIME, result.column(index).cast(TIME_TYPE))
    return result


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    """What a reader sees of one stream: Parquet files, and segments grouped by schema."""

    parts: list[Path]
    segments: list[pa.Table]


def _snapshot(stream_dir: Path, first: int | None, last: int | None) -> _Snapshot:
    # Segments are listed before Parquet files: a segment compacted in between is then
    # named in a listed Parquet footer and skipped; one deleted before we open it makes
    # us list again.
    for _ in range(_SNAPSHOT_ATTEMPTS):
        try:
            segments = {
                h: sorted(d.glob("*.arrow"))
                for h, d in _hour_dirs(stream_dir / SEGMENTS, first, last)
            }
            parts = {
                h: sorted(d.glob("part-*.parquet"))
                for h, d in _hour_dirs(stream_dir / HOURLY, first, last)
            }
            replaced: set[str] = set()
            for hour in segments.keys() & parts.keys():
                replaced = replaced.union(*(_replaced_segments(p) for p in parts[hour]))
            todo = [p for files in segments.values() for p in files if p.name not in replaced]
            tables, _ = _read_segments(todo)
        except FileNotFoundError:
            continue
        return _Snapshot([p for files in parts.values() for p in files], _group_by_schema(tables))
    raise HeadwayError(
        f"the log in {stream_dir} kept changing while it was read "
        f"({_SNAPSHOT_ATTEMPTS} attempts); try again"
    )


def _create_view(
    con: duckdb.DuckDBPyConnection, name: str, snap: _Snapshot, empty: pa.Schema | None
) -> None:
    pieces = []
    if snap.parts:
        files = ", ".join(_literal(str(p)) for p in snap.parts)
        options = "union_by_name = true, hive_partitioning = false"
        pieces.append(f"SELECT * FROM read_parquet([{files}], {options})")
    for i, table in enumerate(snap.segments):
        con.register(f"_{name}_segments_{i}", table)
        pieces.append(f"SELECT * FROM {_quote(f'_{name}_segments_{i}')}")
    if not pieces:
        con.register(f"_{name}_empty", (empty or pa.schema([(TIME, TIME_TYPE)])).empty_table())
        pieces.append(f"SELECT * FROM {_quote(f'_{name}_empty')}")
    con.execute(f"CREATE VIEW {_quote(name)} AS " + " UNION ALL BY NAME ".join(pieces))


def _read_segment(path: Path) -> pa.Table:
    """A segment, memory-mapped: zero-copy, paged in only as far as a query reads it. The
    mapping outlives the closed file, and the file's deletion by a compaction."""
    source = pa.memory_map(str(path))
    try:
        return pa.ipc.open_file(source).read_all()
    finally:
        source.close()


def _read_segments(paths: list[Path]) -> tuple[list[pa.Table], list[Path]]:
    """The readable segments, and those that are not: torn by a power cut when written
    without fsync. Queries skip those rather than fail."""
    tables, unreadable = [], []
    for path in paths:
        try:
            tables.append(_read_segment(path))
        except FileNotFoundError:
            raise
        except (pa.ArrowInvalid, OSError) as exc:
            log.warning("headway: skipping unreadable log segment %s (%s)", path, exc)
            unreadable.append(path)
    return tables, unreadable


def _replaced_segments(part: Path) -> set[str]:
    metadata = pq.read_metadata(part).metadata or {}
    return set(json.loads(metadata.get(_REPLACED_KEY, b"[]")))


def _hour_dirs(root: Path, first: int | None, last: int | None) -> list[tuple[int, Path]]:
    """``(hour, folder)`` of ``root/date=*/hour=*`` within ``[first, last]`` (epoch hours)."""
    found: list[tuple[int, Path]] = []
    if not root.is_dir():
        return found
    for date_dir in root.iterdir():
        date = _DATE_DIR.fullmatch(date_dir.name)
        if date is None:
            continue
        day = int(datetime.fromisoformat(date[1]).replace(tzinfo=UTC).timestamp()) // 3600
        if (first is not None and day + 23 < first) or (last is not None and day > last):
            continue
        for hour_dir in date_dir.iterdir():
            match = _HOUR_DIR.fullmatch(hour_dir.name)
            hour = day + int(match[1]) if match else None
            if hour is None or (first is not None and hour < first):
                continue
            if last is None or hour <= last:
                found.append((hour, hour_dir))
    return sorted(found)


# --- writing -------------------------------------------------------------------------------


def _hour_pieces(batches: list[pa.RecordBatch]) -> list[tuple[int, pa.Table]]:
    """Split buffered batches by schema and by the UTC hour of their rows, vectorised."""
    pieces = []
    groups: list[list[pa.RecordBatch]] = []
    for batch in batches:
        group = next((g for g in groups if g[0].schema.equals(batch.schema)), None)
        if group is None:
            groups.append([batch])
        else:
            group.append(batch)
    for group in groups:
        table = pa.Table.from_batches(group).combine_chunks()
        hours = pc.cast(table[TIME], pa.int64()).to_numpy() // HOUR_MS
        if hours.min() == hours.max():
            pieces.append((int(hours[0]), table))
            continue
        order = np.argsort(hours, kind="stable")
        hours, table = hours[order], table.take(pa.array(order))
        bounds = [0, *(np.flatnonzero(np.diff(hours)) + 1).tolist(), len(hours)]
        for lo, hi in itertools.pairwise(bounds):
            pieces.append((int(hours[lo]), table.slice(lo, hi - lo)))
    return pieces


def _rows_after(pieces: list[tuple[int, pa.Table]], written: int) -> list[pa.RecordBatch]:
    """The record batches of the pieces after the first ``written`` rows' pieces."""
    rest, seen = [], 0
    for _, table in pieces:
        if seen >= written:
            rest.extend(table.to_batches())
        seen += table.num_rows
    return rest


def _group_by_schema(tables: list[pa.Table]) -> list[pa.Table]:
    groups: list[tuple[pa.Schema, list[pa.Table]]] = []
    for table in tables:
        for schema, members in groups:
            if schema.equals(table.schema):
                members.append(table)
                break
        else:
            groups.append((table.schema, [table]))
    return [pa.concat_tables(members) for _, members in groups]


def _merge(segments: list[tuple[str, pa.Table]]) -> list[tuple[pa.Table, list[str]]]:
    """Segments as one table when their schemas unify (a feature added: nulls where it was
    absent), else one table per schema (a feature changed type; DuckDB reads them together
    by name); each with the names of the segments it holds, for its Parquet footer."""
    groups: list[tuple[pa.Schema, list[str], list[pa.Table]]] = []
    for name, table in segments:
        group = next((g for g in groups if g[0].equals(table.schema)), None)
        if group is None:
            groups.append((table.schema, [name], [table]))
        else:
            group[1].append(name)
            group[2].append(table)
    merged = [(pa.concat_tables(tables), names) for _, names, tables in groups]
    if len(merged) > 1:
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowTypeError):
            table = pa.concat_tables([t for t, _ in merged], promote_options="permissive")
            return [(table, [name for _, names in merged for name in names])]
    return merged


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temporaries(folder: Path, older_than: float) -> None:
    """Half-written segments of writers that died mid-write."""
    for tmp in folder.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if tmp.stat().st_mtime < older_than:
                tmp.unlink()


@contextlib.contextmanager
def _compaction_lock(stream_dir: Path) -> Iterator[None]:
    stream_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(stream_dir / ".compact.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the OS if this process dies
        yield
    finally:
        os.close(fd)


# --- columns -------------------------------------------------------------------------------


def _record_batches(batch: Any) -> list[pa.RecordBatch]:
    if isinstance(batch, pa.RecordBatch):
        return [batch]
    if isinstance(batch, pa.Table):
        return batch.to_batches()
    if isinstance(batch, Mapping):
        arrays = {str(k): _array(v, str(k)) for k, v in batch.items()}
        _check_lengths({k: len(v) for k, v in arrays.items()}, "the batch")
        return [pa.RecordBatch.from_pydict(arrays)]
    raise InvalidArgumentError(
        f"a log batch is a pyarrow RecordBatch or Table, or a mapping of column names to "
        f"arrays; got {type(batch).__name__}"
    )


def _with_time(batch: pa.RecordBatch) -> pa.RecordBatch:
    if batch.schema.metadata:
        batch = batch.replace_schema_metadata(None)
    index = batch.schema.get_field_index(TIME)
    if index < 0:
        return batch.append_column(TIME, _time_column(None, batch.num_rows))
    column = batch.column(index)
    if column.type == TIME_TYPE and column.null_count == 0:
        return batch
    return batch.set_column(index, TIME, _as_time(column))


def _time_column(value: Any, n: int) -> pa.Array:
    if value is None or isinstance(value, datetime):
        moment = datetime.now(UTC) if value is None else value
        return _from_numpy(np.full(n, _ms(moment), dtype=np.int64), TIME_TYPE)
    return _as_time(_array(value, TIME), n)


def _as_time(column: pa.Array, n: int | None = None) -> pa.Array:
    if not pa.types.is_timestamp(column.type):
        raise InvalidArgumentError(
            f"time must be timestamps (datetime64 or datetime values), got {column.type}"
        )
    if n is not None:
        _check_lengths({TIME: len(column)}, "the batch", n)
    if column.type.tz is None:
        column = pc.cast(column, pa.timestamp("ms"), safe=False)  # naive times are UTC
    column = pc.cast(column, TIME_TYPE, safe=False)
    if column.null_count:
        column = pc.fill_null(column, pa.scalar(_ms(datetime.now(UTC)), TIME_TYPE))
    return column


def _column(value: Any, type_: pa.DataType, n: int | None, name: str) -> pa.Array:
    """``value`` as an array of ``type_``: a scalar repeated ``n`` times, or an array."""
    if value is None or isinstance(value, str | int | float | np.generic):
        if n is None:
            raise InvalidArgumentError(f"{name} must be an array (one value per row)")
        if value is None or isinstance(value, str | int):  # few distinct values: cached
            return _repeat(value, type_, n)
        return pa.repeat(pa.scalar(value, type_), n)
    array = _array(value, name)
    if n is not None:
        _check_lengths({name: len(array)}, "the batch", n)
    if array.type != type_:
        try:
            array = pc.cast(array, type_)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidArgumentError(
                f"{name} must hold {type_} values, got {array.type} ({exc})"
            ) from exc
    return array


@functools.lru_cache(maxsize=1024)
def _repeat(value: str | int | None, type_: pa.DataType, n: int) -> pa.Array:
    """The constant columns of a micro-batch (deployment, route...), built once: arrays are
    immutable, so batches can share them."""
    return pa.nulls(n, type_) if value is None else pa.repeat(pa.scalar(value, type_), n)


_from_numpy_dtype = functools.cache(pa.from_numpy_dtype)


def _from_numpy(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A zero-copy Arrow view of a 1-D numeric array: a few times quicker than pa.array."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(values)])


def _array(values: Any, name: str) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    if (
        isinstance(values, np.ndarray)
        and values.ndim == 1
        and values.dtype.kind in "iuf"
        and values.dtype.isnative
    ):
        return _from_numpy(values, _from_numpy_dtype(values.dtype))
    if isinstance(values, np.ndarray) and values.ndim == 2:
        flat = pa.array(np.ascontiguousarray(values).reshape(-1))
        return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise InvalidArgumentError(
            f"column {name!r} has shape {values.shape}; log 1-D or 2-D arrays"
        )
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise InvalidArgumentError(
            f"column {name!r} cannot be logged ({exc}); pass an array or a list of one type"
        ) from exc


def _struct(table: Any, name: str, n: int) -> pa.Array:
    """A table's columns as one struct column, so SQL reads ``inputs.age``."""
    if isinstance(table, pd.DataFrame):
        table = pa.RecordBatch.from_pandas(table, preserve_index=False)
    elif type(table).__module__.startswith("polars") and hasattr(table, "to_arrow"):
        table = table.to_arrow()
    if isinstance(table, pa.RecordBatch | pa.Table) and table.num_columns and table.num_rows == n:
        return _array(table.to_struct_array(), name)
    if isinstance(table, pa.Table | pa.RecordBatch):
        arrays = {field: _array(table.column(field), field) for field in table.column_names}
    elif isinstance(table, Mapping):
        arrays = {str(k): _array(v, f"{name}.{k}") for k, v in table.items()}
    else:
        raise InvalidArgumentError(
            f"{name} must be a table (pandas, polars, pyarrow) or a mapping of column names "
            f"to arrays; got {type(table).__name__}"
        )
    if not arrays:
        raise InvalidArgumentError(f"{name} has no columns; log at least one")
    _check_lengths({f"{name}.{k}": len(v) for k, v in arrays.items()}, "the batch", n)
    return pa.StructArray.from_arrays(list(arrays.values()), names=list(arrays))


def _labels(label: Any, n: int) -> tuple[pa.Array, pa.Array]:
    """Labels as text and, where they are numbers, as float64 (vectorised)."""
    if isinstance(label, list | tuple):
        try:
            array = pa.array(label)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds, e.g. [1, "spam"]
            array = pa.array(pd.Series(label, dtype=object).astype("string"), pa.string())
    else:
        array = _array(label, "label")
    _check_lengths({"label": len(array)}, "the batch", n)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        text = array.cast(pa.string())
        numeric = pc.match_substring_regex(text, _NUMBER)
        value = pc.if_else(numeric, text, pa.scalar(None, pa.string())).cast(pa.float64())
        return text, value
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        return array.cast(pa.string()), array.cast(pa.float64())
    if pa.types.is_boolean(array.type) or pa.types.is_null(array.type):
        return array.cast(pa.string()), array.cast(pa.float64())
    raise InvalidArgumentError(f"labels must be classes or numbers, got {array.type}")


def _check_routes(route: Any, routes: pa.Array) -> None:
    if isinstance(route, str):
        bad = None if route in ROUTES else route
    else:
        unknown = pc.invert(pc.is_in(routes, value_set=pa.array(ROUTES)))
        bad = pc.filter(routes, unknown)[0].as_py() if pc.any(unknown).as_py() else None
    if bad is not None:
        raise InvalidArgumentError(f"route {bad!r} is not one of {', '.join(ROUTES)}")


def _check_lengths(lengths: Mapping[str, int], what: str, n: int | None = None) -> None:
    expected = n if n is not None else next(iter(lengths.values()), 0)
    wrong = {k: v for k, v in lengths.items() if v != expected}
    if wrong:
        raise InvalidArgumentError(f"every column of {what} needs {expected} values; got {wrong}")


def _check_stream(stream: str) -> str:
    if not _STREAM_NAME.fullmatch(stream):
        raise InvalidArgumentError(
            f"stream name {stream!r} must be lowercase letters, digits and underscores"
        )
    return stream


def _hour_path(hour: int) -> str:
    start = datetime.fromtimestamp(hour * 3600, UTC)
    return f"date={start:%Y-%m-%d}/hour={start:%H}"


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _timestamp(ms: int) -> str:
    """A TIMESTAMPTZ literal: compared as is, it lets DuckDB skip Parquet row groups."""
    return f"TIMESTAMPTZ '{datetime.fromtimestamp(ms / 1000, UTC).isoformat()}'"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- process lifetime ----------------------------------------------------------------------

_live: weakref.WeakSet[SegmentLog] = weakref.WeakSet()


def _close_all() -> None:
    for segment_log in list(_live):
        segment_log.close()


def _after_fork() -> None:
    # The child has no writer thread and must not rewrite the parent's buffered rows.
    for segment_log in list(_live):
        segment_log._reset()


atexit.register(_close_all)
os.register_at_fork(after_in_child=_after_fork)
