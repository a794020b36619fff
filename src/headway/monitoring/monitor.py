"""Monitors: watch one deployment window by window and keep the results in the ledger.

:func:`create_monitor` stores a monitor with its reference; :func:`run_windows` computes
every complete window not yet computed (what ``headway monitor run`` loops on) and
:func:`backfill` recomputes a span of history; :func:`window_results` reads the time
series back and :func:`merged_profile` merges stored window profiles into any longer view
(a day, the last week, everything) without touching the raw log.

The reference, in order of preference:

1. the one given to :func:`create_monitor`: a
   :class:`~headway.monitoring.checks.Reference`, a :class:`~headway.data.Profile` of
   the features, a table (features, optionally ``prediction`` / ``proba_*`` outputs
   and a ``label`` column, which with ``prediction`` gives the reference performance), or
   a model URI whose stored reference to use;
2. otherwise, when the deployment's primary version was registered with a reference
   (``register_model(..., reference=validation_rows)``), the reference of whichever
   version was primary when each window began: a promotion (a switch, a canary
   promoted) moves later windows to the new version's reference, a rollback moves them
   back, and a backfill gets every window's right again;
3. otherwise (or with ``reference="traffic"``) the deployment's first
   ``reference_hours`` (default 24) of logged traffic
   from the monitor's start: no window is computed until those hours are complete, then
   their rows are profiled once (their inputs and outputs, read whole; they are a
   bounded, one-off read) and stored as the reference.

Windows read the prediction log hour by hour (the log's own unit), keep the rows of the
watched deployment and routes (primary, canary and fallback by default: shadow rows are
copies, not traffic), and fold each batch into the window's profile, so memory holds at
most one hour of one deployment's log, whatever the window length.

Performance needs labels, which come later than predictions. A window's performance uses
the feedback logged by the time it is computed; on later runs, windows that ended within
``label_horizon_seconds`` and have new feedback since are re-evaluated (only the request
ids and predictions are read again), so late labels still count. Each run reads the
feedback logged since its oldest window once (request ids and labels only), so a backfill
of a long history holds that history's labels, not its predictions, in memory.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from headway._tabular import is_table
from headway.data.profile import Profile, profile
from headway.errors import InvalidArgumentError, NotFoundError
from headway.evaluate.metrics import Task
from headway.monitoring.checks import (
    CheckPolicy,
    PerformanceResult,
    Reference,
    WindowChecks,
    check_performance,
    run_checks,
)
from headway.monitoring.windows import (
    WindowProfile,
    merge_windows,
    summarise,
    window_seconds,
    window_starts,
)
from headway.registry import reference as stored_references  # imports monitoring.checks
from headway.serving import log as prediction_log
from headway.serving.labelled import latest_labels
from headway.store import deployments as deployments_repo
from headway.store import monitors as repo
from headway.store.metadata import now_ms
from headway.workspace import Workspace, current_workspace

__all__ = [
    "FOLLOW_PRIMARY",
    "Monitor",
    "MonitorConfig",
    "WindowResult",
    "backfill",
    "create_monitor",
    "get_monitor",
    "list_monitors",
    "list_windows",
    "load_reference",
    "merged_profile",
    "run_windows",
    "window_results",
]

DEFAULT_ROUTES = ("primary", "canary", "fallback")
FOLLOW_PRIMARY = {"follow": "primary"}  # a monitor's reference: the primary version's
HOUR_MS = 3_600_000
_ReferenceAt = Callable[[int], Reference]  # a window's start (epoch ms) -> its reference
_COLUMNS = ["request_id", "deployment", "route", "inputs", "outputs", "latency_ms", "status"]
_LABEL_COLUMNS = ["request_id", "deployment", "route", "outputs"]


@dataclass(frozen=True)
class MonitorConfig:
    """How a monitor reads traffic and judges it.

    Parameters
    ----------
    start_ms
        Where the first window begins (epoch ms; default: when the deployment was created).
    routes
        Routes whose rows count as the deployment's traffic.
    reference_hours
        Hours of traffic that become the reference when none was given.
    lateness_seconds
        How long after a window ends it is first computed (rows in flight, log flushes).
    label_horizon_seconds
        How long after a window ends late labels still update its performance.
    batch_rows
        Rows folded into a window's profile at a time.
    policy
        The checks' thresholds.
    """

    start_ms: int
    routes: tuple[str, ...] = DEFAULT_ROUTES
    reference_hours: float = 24.0
    lateness_seconds: int = 60
    label_horizon_seconds: int = 86_400
    batch_rows: int = 1_048_576
    policy: CheckPolicy = field(default_factory=CheckPolicy)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["routes"] = list(self.routes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorConfig:
        return cls(
            **{
                **data,
                "routes": tuple(data["routes"]),
                "policy": CheckPolicy(**data["policy"]),
            }
        )


@dataclass(frozen=True)
class Monitor:
    """A monitor of one deployment: its windows' length, configuration and reference."""

    id: str
    deployment: str
    window_seconds: int
    config: MonitorConfig
    # {"sha256", "source", "rows"}; {"follow": "primary"}; None until traffic makes one
    reference: dict[str, Any] | None
    created_at: int

    @property
    def window_ms(self) -> int:
        return self.window_seconds * 1000

    @classmethod
    def from_record(cls, record: repo.MonitorRecord) -> Monitor:
        return cls(
            record.id,
            record.deployment,
            record.window_seconds,
            MonitorConfig.from_dict(record.config),
            record.reference,
            record.created_at,
        )


@dataclass(frozen=True)
class WindowResult:
    """One computed window: its span, counts, and every check's result."""

    start_ms: int
    end_ms: int
    rows: int
    labelled: int
    profile_sha256: str
    checks: WindowChecks

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ms / 1000, UTC)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowResult:
        return cls(**{**data, "checks": WindowChecks.from_dict(data["checks"])})

    @classmethod
    def from_record(cls, record: repo.WindowRecord) -> WindowResult:
        return cls(
            record.start_ms,
            record.end_ms,
            record.rows,
            record.labelled,
            record.profile_sha256,
            WindowChecks.from_dict(record.checks),
        )


# -- monitors --------------------------------------------------------------------------


def create_monitor(
    deployment: str,
    window: str | int | timedelta = "1h",
    reference: Reference | Profile | Any | None = None,
    *,
    start: datetime | None = None,
    label: str | None = "label",
    routes: tuple[str, ...] = DEFAULT_ROUTES,
    reference_hours: float = 24.0,
    policy: CheckPolicy | None = None,
    workspace: Workspace | None = None,
) -> Monitor:
    """Create a monitor of ``deployment`` with windows of ``window`` (``"1h"``, seconds...).

    Parameters
    ----------
    reference
        A :class:`Reference`, a :class:`~headway.data.Profile` of the features, a table
        (see :meth:`Reference.from_table`), a model URI (its stored reference), ``"traffic"``
        for the first ``reference_hours`` of the deployment's traffic, or None: the
        primary version's stored reference, following promotions, when it has one, else
        the traffic.
    start
        Where the first window begins (default: when the deployment was created); earlier
        traffic is ignored.
    label
        The label column of a reference table.
    """
    ws = workspace or current_workspace()
    seconds = window_seconds(window)
    bad = [r for r in routes if r not in prediction_log.ROUTES]
    if bad or not routes:
        raise InvalidArgumentError(
            f"routes {list(routes)} must be some of {list(prediction_log.ROUTES)}"
        )
    if reference_hours <= 0:
        raise InvalidArgumentError(f"reference_hours must be positive, got {reference_hours}")
    stored = _initial_reference(ws, deployment, reference, label)
    with ws.store.write() as conn:
        if start is None:
            first = deployments_repo.revisions(conn, deployment)
            start_ms = first[0].created_at
        else:
            start_ms = _ms(start)
        config = MonitorConfig(
            start_ms, tuple(routes), reference_hours, policy=policy or CheckPolicy()
        )
        record = repo.create(conn, deployment, seconds, stored, config.to_dict())
    return Monitor.from_record(record)


def _initial_reference(
    ws: Workspace, deployment: str, reference: Any, label: str | None
) -> dict[str, Any] | None:
    """What a new monitor stores as its reference (see the module's docstring)."""
    if reference is None:
        with ws.store.read() as conn:
            primary = deployments_repo.revisions(conn, deployment, last=1)[-1].config["primary"]
        try:
            found = stored_references.model_reference(primary, ws)
        except NotFoundError:  # a deployment of a version since deleted: traffic it is
            found = None
        return None if found is None else FOLLOW_PRIMARY
    if isinstance(reference, str) and reference == "traffic":
        return None
    if isinstance(reference, str) and reference.startswith("models:/"):
        found = stored_references.model_reference(reference, ws)
        if found is None:
            raise NotFoundError(
                f"{reference} was registered without a reference; attach one with "
                "headway.registry.reference.attach_reference(uri, validation_rows) or pass "
                "the reference table"
            )
        return _store_reference(ws, found)
    if isinstance(reference, Reference):
        return _store_reference(ws, reference)
    if isinstance(reference, Profile):
        return _store_reference(ws, Reference(reference, source="profile"))
    if is_table(reference):
        return _store_reference(ws, Reference.from_table(reference, label=label))
    raise InvalidArgumentError(
        "reference must be a Reference, a Profile, a table, a model URI or 'traffic', got "
        f"{type(reference).__name__}"
    )


def _store_reference(ws: Workspace, ref: Reference) -> dict[str, Any]:
    blob = ws.artifacts.put_bytes(ref.to_json().encode())
    return {"sha256": blob.sha256, "source": ref.source, "rows": ref.inputs.rows}


def get_monitor(monitor: str | Monitor, workspace: Workspace | None = None) -> Monitor:
    """A monitor by id, or the only monitor of a deployment by the deployment's name."""
    ws = workspace or current_workspace()
    name = monitor.id if isinstance(monitor, Monitor) else monitor
    with ws.store.read() as conn:
        return Monitor.from_record(repo.get(conn, name))


def list_monitors(
    deployment: str | None = None, workspace: Workspace | None = None
) -> list[Monitor]:
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return [Monitor.from_record(r) for r in repo.list_monitors(conn, deployment)]


def load_reference(
    monitor: Monitor, at: datetime | None = None, workspace: Workspace | None = None
) -> Reference | None:
    """The monitor's reference for a window starting ``at`` (default: now), or None while
    it waits for its reference traffic."""
    ws = workspace or current_workspace()
    if monitor.reference is None:
        return None
    if monitor.reference == FOLLOW_PRIMARY:
        return _PrimaryReferences(ws, monitor.deployment)(now_ms() if at is None else _ms(at))
    return Reference.from_json(ws.artifacts.get_bytes(monitor.reference["sha256"]))


class _PrimaryReferences:
    """The stored reference of the version that was primary when a window began.

    A primary registered without a reference keeps the nearest earlier primary's (or, for
    windows before any, the first later one's).
    """

    def __init__(self, ws: Workspace, deployment: str) -> None:
        with ws.store.read() as conn:
            revisions = deployments_repo.revisions(conn, deployment)
        self._starts = [r.created_at for r in revisions]
        self._primaries = [r.config["primary"] for r in revisions]
        self._ws = ws
        self._found: dict[str, Reference | None] = {}  # loaded when a window first needs one

    def __call__(self, start_ms: int) -> Reference:
        at = max(0, bisect.bisect_right(self._starts, start_ms) - 1)
        order = [*self._primaries[at::-1], *self._primaries[at + 1 :]]
        for uri in order:
            if uri not in self._found:
                self._found[uri] = stored_references.model_reference(uri, self._ws)
            if (found := self._found[uri]) is not None:
                return found
        raise NotFoundError(
            "no version this deployment served was registered with a reference; pass one to "
            "headway monitor create --reference"
        )


# -- computing windows -----------------------------------------------------------------


def run_windows(
    monitor: str | Monitor, until: datetime | None = None, workspace: Workspace | None = None
) -> list[WindowResult]:
    """Compute every complete window not yet computed, oldest first; the new results.

    Idempotent and incremental: stored windows are skipped, so calling it in a loop (or
    again after a crash) computes each window once. A window is complete when it ended
    before ``until`` (default: now, less ``lateness_seconds``).
    """
    ws = workspace or current_workspace()
    mon = get_monitor(monitor, ws)
    until_ms = _until(mon, until)
    reference = _references(ws, mon, until_ms)
    if reference is None:
        return []
    starts = window_starts(mon.config.start_ms, until_ms, mon.window_ms)
    if not starts:
        return []
    with ws.store.read() as conn:
        done = repo.computed_starts(conn, mon.id, starts[0], starts[-1] + 1)
    todo = [s for s in starts if s not in done]
    horizon = until_ms - mon.config.label_horizon_seconds * 1000 - mon.window_ms
    labels = _labels(ws, max(mon.config.start_ms, min([*todo[:1], horizon])), until_ms)
    results = [_compute(ws, mon, reference(s), s, labels, until_ms) for s in todo]
    _refresh_performance(ws, mon, reference, until_ms, labels, set(todo))
    return results


def backfill(
    monitor: str | Monitor,
    start: datetime | None = None,
    end: datetime | None = None,
    workspace: Workspace | None = None,
) -> list[WindowResult]:
    """Recompute the windows starting in ``[start, end)`` (default: all) from the raw log."""
    ws = workspace or current_workspace()
    mon = get_monitor(monitor, ws)
    lo = None if start is None else _ms(start)
    hi = None if end is None else _ms(end)
    with ws.store.write() as conn:
        repo.delete_windows(conn, mon.id, lo, hi)
    return run_windows(mon, until=end, workspace=ws)


def _until(mon: Monitor, until: datetime | None) -> int:
    if until is not None:
        return _ms(until)
    return now_ms() - mon.config.lateness_seconds * 1000


def _references(ws: Workspace, mon: Monitor, until_ms: int) -> _ReferenceAt | None:
    """Each window's reference by its start, or None while the reference traffic is due."""
    if mon.reference == FOLLOW_PRIMARY:
        return _PrimaryReferences(ws, mon.deployment)
    stored = load_reference(mon, workspace=ws) or _traffic_reference(ws, mon, until_ms)
    return None if stored is None else lambda _start_ms: stored


def _traffic_reference(ws: Workspace, mon: Monitor, until_ms: int) -> Reference | None:
    """A reference made now from the first hours of traffic, if they are complete."""
    end = mon.config.start_ms + int(mon.config.reference_hours * HOUR_MS)
    if end > until_ms:
        return None
    table = pa.concat_tables(_read_hours(ws, mon, mon.config.start_ms, end, _COLUMNS))
    if table.num_rows == 0:
        raise InvalidArgumentError(
            f"deployment {mon.deployment!r} logged no traffic in its first "
            f"{mon.config.reference_hours:g} hours, which were to be the monitor's reference; "
            "create the monitor with an explicit reference (a training table or profile)"
        )
    inputs = pa.Table.from_struct_array(table.column("inputs").combine_chunks())
    outputs = pa.Table.from_struct_array(table.column("outputs").combine_chunks())
    source = f"traffic {_iso(mon.config.start_ms)} to {_iso(end)}"
    ref = Reference(
        profile(inputs), profile(outputs) if outputs.num_columns else None, source=source
    )
    stored_ref = _store_reference(ws, ref)
    with ws.store.write() as conn:
        repo.set_reference(conn, mon.id, stored_ref)
    return ref


def _ms(moment: datetime) -> int:
    """Epoch milliseconds of a datetime (naive ones are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _dt(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def _read_hours(
    ws: Workspace, mon: Monitor, start_ms: int, end_ms: int, columns: list[str]
) -> Iterator[pa.Table]:
    """The deployment's rows in ``[start_ms, end_ms)``, one log hour at a time."""
    routes = pa.array(mon.config.routes)
    lo = start_ms
    while lo < end_ms:
        hi = min(end_ms, (lo // HOUR_MS + 1) * HOUR_MS)
        table = prediction_log.read(ws.log_root, "predictions", _dt(lo), _dt(hi), columns)
        if table.num_rows:
            keep = pc.and_(
                pc.equal(table.column("deployment"), mon.deployment),
                pc.is_in(table.column("route"), value_set=routes),
            )
            if not pc.all(keep).as_py():  # filtering copies every column: only when needed
                table = table.filter(keep)
        yield table
        lo = hi


@dataclass(frozen=True)
class _Labels:
    """The latest label of each request id, as logged by a point in time."""

    ids: pa.Array
    text: pa.Array
    value: pa.Array
    time_ms: np.ndarray

    @property
    def empty(self) -> bool:
        return len(self.ids) == 0


def _labels(ws: Workspace, start_ms: int, until_ms: int) -> _Labels:
    """Feedback logged from ``start_ms`` (labels follow predictions) to ``until_ms``."""
    table = prediction_log.read(
        ws.log_root,
        "feedback",
        _dt(start_ms),
        _dt(until_ms),
        ["request_id", "time", "label", "label_value"],
    )
    table = latest_labels(table)
    times = pc.cast(table.column("time"), pa.int64()).to_numpy()
    return _Labels(
        table.column("request_id").combine_chunks(),
        table.column("label").combine_chunks(),
        table.column("label_value").combine_chunks(),
        np.asarray(times, dtype=np.int64),
    )


class _Labelled:
    """Collects the labelled rows of a window while its batches stream past."""

    def __init__(self, labels: _Labels) -> None:
        self.labels = labels
        self.truth: list[pa.Array] = []
        self.values: list[pa.Array] = []
        self.predictions: list[pa.Array] = []

    def add(self, batch: pa.Table) -> None:
        if self.labels.empty or batch.num_rows == 0:
            return
        index = pc.index_in(batch.column("request_id"), value_set=self.labels.ids)
        found = pc.is_valid(index)
        if not pc.any(found).as_py():
            return
        outputs = batch.column("outputs").combine_chunks()
        if not pa.types.is_struct(outputs.type) or outputs.type.get_field_index("prediction") < 0:
            return
        at = pc.filter(index, found)
        self.truth.append(self.labels.text.take(at))
        self.values.append(self.labels.value.take(at))
        self.predictions.append(pc.filter(pc.struct_field(outputs, "prediction"), found))

    def check(self, reference: Reference, policy: CheckPolicy) -> PerformanceResult:
        if not self.predictions:
            return PerformanceResult("not_available", 0)
        pred = pa.chunked_array(self.predictions).combine_chunks()
        task: Task | None = reference.performance.task if reference.performance else None
        numeric = pa.types.is_floating(pred.type) and task != "binary" and task != "multiclass"
        if task == "regression" or (task is None and numeric):
            truth = pa.chunked_array(self.values).combine_chunks()
            task = "regression"
        else:
            truth = pa.chunked_array(self.truth).combine_chunks()
            pred = pc.cast(pred, pa.string())
        keep = pc.and_(pc.is_valid(truth), pc.is_valid(pred))
        y_true = pc.filter(truth, keep).to_numpy(zero_copy_only=False)
        y_pred = pc.filter(pred, keep).to_numpy(zero_copy_only=False)
        return check_performance(y_true, y_pred, reference.performance, policy, task)


def _compute(
    ws: Workspace,
    mon: Monitor,
    reference: Reference,
    start_ms: int,
    labels: _Labels,
    labels_until_ms: int,
) -> WindowResult:
    end_ms = start_ms + mon.window_ms
    labelled = _Labelled(labels)

    # Request ids are long strings: read them only when there are labels to join.
    columns = _COLUMNS if not labels.empty else _COLUMNS[1:]

    def batches() -> Iterator[pa.Table]:
        # Slices keep the log's row groups as chunks (no copy); a window profiles each
        # slice's columns whole, which costs far less than one pass per row group.
        for table in _read_hours(ws, mon, start_ms, end_ms, columns):
            for lo in range(0, table.num_rows, mon.config.batch_rows):
                part = table.slice(lo, mon.config.batch_rows)
                labelled.add(part)
                yield part

    window = summarise(batches(), start_ms, end_ms, reference.inputs, reference.outputs)
    performance = labelled.check(reference, mon.config.policy)
    checks = run_checks(reference, window, performance, mon.config.policy)
    blob = ws.artifacts.put_bytes(window.to_json().encode())
    result = WindowResult(start_ms, end_ms, window.rows, performance.labelled, blob.sha256, checks)
    with ws.store.write() as conn:
        repo.save_windows(conn, [_row(mon, result, window, labels_until_ms)])
    return result


def _row(
    mon: Monitor, result: WindowResult, window: WindowProfile, labels_until_ms: int
) -> dict[str, Any]:
    checks = result.checks.to_dict()
    return {
        "monitor_id": mon.id,
        "start_ms": result.start_ms,
        "end_ms": result.end_ms,
        "rows": result.rows,
        "errors": window.ops.server_errors,
        "labelled": result.labelled,
        "labels_until_ms": labels_until_ms,
        "profile_sha256": result.profile_sha256,
        "ops": checks["ops"],
        "checks": checks,
        "computed_at": now_ms(),
    }


def _refresh_performance(
    ws: Workspace,
    mon: Monitor,
    reference: _ReferenceAt,
    until_ms: int,
    labels: _Labels,
    skip: set[int],
) -> None:
    """Re-evaluate recent windows' performance when labels arrived after they were computed."""
    if labels.empty or mon.config.label_horizon_seconds <= 0:
        return
    horizon = until_ms - mon.config.label_horizon_seconds * 1000
    with ws.store.read() as conn:
        recent = [
            w
            for w in repo.windows(conn, mon.id, horizon - mon.window_ms)
            if w.end_ms > horizon and w.start_ms not in skip
        ]
    newest_label = int(labels.time_ms.max())
    for stored in recent:
        if newest_label < stored.labels_until_ms:
            continue  # no label arrived since this window last read the feedback
        labelled = _Labelled(labels)
        for table in _read_hours(ws, mon, stored.start_ms, stored.end_ms, _LABEL_COLUMNS):
            labelled.add(table)
        performance = labelled.check(reference(stored.start_ms), mon.config.policy)
        checks = replace(WindowChecks.from_dict(stored.checks), performance=performance)
        row = {
            **stored.to_dict(),
            "labelled": performance.labelled,
            "labels_until_ms": until_ms,
            "checks": checks.to_dict(),
            "computed_at": now_ms(),
        }
        with ws.store.write() as conn:
            repo.save_windows(conn, [row])


# -- reading results -------------------------------------------------------------------


def list_windows(
    monitor: str | Monitor,
    start: datetime | None = None,
    end: datetime | None = None,
    workspace: Workspace | None = None,
) -> list[WindowResult]:
    """The stored windows starting in ``[start, end)``, oldest first."""
    ws = workspace or current_workspace()
    mon = get_monitor(monitor, ws)
    with ws.store.read() as conn:
        records = repo.windows(
            conn,
            mon.id,
            None if start is None else _ms(start),
            None if end is None else _ms(end),
        )
    return [WindowResult.from_record(r) for r in records]


def window_results(
    monitor: str | Monitor,
    start: datetime | None = None,
    end: datetime | None = None,
    workspace: Workspace | None = None,
) -> pd.DataFrame:
    """The monitor's time series: one row per window, one column per measure.

    Columns: ``start``, ``end`` (UTC timestamps), ``rows``, ``error_rate``,
    ``latency_mean_ms``, ``latency_p50_ms`` / ``p90`` / ``p99``, a ``<family>_status`` per
    check family (``ok``, ``flagged``, ``not_available``), ``quality_issues``,
    ``drifted_features``, ``drift.<feature>`` (effect size), ``prediction_drift.<output>``,
    ``labelled`` and ``performance.<metric>`` (NaN where not available: never zero).
    """
    rows = [_flat(w) for w in list_windows(monitor, start, end, workspace)]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["start", "end", "rows"])
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    return frame


def _flat(w: WindowResult) -> dict[str, Any]:
    c = w.checks
    row: dict[str, Any] = {
        "start": w.start_ms,
        "end": w.end_ms,
        "rows": w.rows,
        "requests": c.ops.requests,
        "error_rate": _nan(c.ops.error_rate),
        "latency_mean_ms": _nan(c.ops.latency_mean_ms),
        "latency_p50_ms": _nan(c.ops.latency_p50_ms),
        "latency_p90_ms": _nan(c.ops.latency_p90_ms),
        "latency_p99_ms": _nan(c.ops.latency_p99_ms),
        "ops_status": c.ops.status,
        "quality_status": c.quality.status,
        "quality_issues": len(c.quality.issues),
        "feature_drift_status": c.feature_drift.status,
        "drifted_features": list(c.feature_drift.drifted),
        "prediction_drift_status": c.prediction_drift.status,
        "labelled": w.labelled,
        "performance_status": c.performance.status,
        "performance_p_value": _nan(c.performance.p_value),
    }
    row |= {f"drift.{k}": v for k, v in c.feature_drift.scores.items()}
    row |= {f"prediction_drift.{k}": v for k, v in c.prediction_drift.scores.items()}
    row |= {f"performance.{k}": v for k, v in c.performance.metrics.items()}
    return row


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def merged_profile(
    monitor: str | Monitor,
    start: datetime | None = None,
    end: datetime | None = None,
    workspace: Workspace | None = None,
) -> WindowProfile:
    """The merge of the stored window profiles starting in ``[start, end)``.

    A day, a sliding week or the whole history as one profile, from the windows alone.
    """
    ws = workspace or current_workspace()
    found = list_windows(monitor, start, end, ws)
    if not found:
        raise NotFoundError(
            "no computed windows in that span; run headway.monitoring.run_windows(monitor) "
            "first, or widen the span"
        )
    profiles = [WindowProfile.from_json(ws.artifacts.get_bytes(w.profile_sha256)) for w in found]
    try:
        return merge_windows(*profiles)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(
            f"the windows in that span were profiled over different references ({exc}); a "
            "promotion moved the monitor to the new version's reference: merge the windows "
            "on one side of it (see headway deploy status for when it happened)"
        ) from exc
