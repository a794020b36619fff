"""Monitors and their computed windows in the ledger.

A window row holds what the time series and the alert rules read (counts, operational
stats, check results as JSON); the window's mergeable profile is a JSON blob in the
artifact store, named by ``profile_sha256``.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Text,
    cast,
    delete,
    func,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from headway.errors import InvalidArgumentError, NotFoundError
from headway.store._sql import fetch_all, upsert
from headway.store.metadata import now_ms
from headway.store.tables import deployments, monitor_windows, monitors

__all__ = [
    "MonitorRecord",
    "WindowRecord",
    "computed_starts",
    "count_windows",
    "create",
    "delete_windows",
    "get",
    "latest_window",
    "list_monitors",
    "save_windows",
    "set_reference",
    "window_profiles",
    "window_values",
    "windows",
]


@dataclass(frozen=True)
class MonitorRecord:
    """A monitor as stored."""

    id: str
    deployment: str
    window_seconds: int
    reference: dict[str, Any] | None
    config: dict[str, Any]
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WindowRecord:
    """One computed window as stored."""

    monitor_id: str
    start_ms: int
    end_ms: int
    rows: int
    errors: int
    labelled: int
    labels_until_ms: int
    profile_sha256: str
    ops: dict[str, Any]
    checks: dict[str, Any]
    computed_at: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def create(
    conn: Connection,
    deployment: str,
    window_seconds: int,
    reference: dict[str, Any] | None,
    config: dict[str, Any],
) -> MonitorRecord:
    """Create a monitor of ``deployment`` (which must exist)."""
    if (
        conn.execute(select(deployments.c.name).where(deployments.c.name == deployment)).first()
        is None
    ):
        raise NotFoundError(
            f"no deployment named {deployment!r} to monitor; `headway deploy list` shows the "
            "deployments"
        )
    record = MonitorRecord(
        uuid.uuid4().hex, deployment, window_seconds, reference, config, now_ms()
    )
    conn.execute(monitors.insert().values(**asdict(record)))
    return record


def get(conn: Connection, monitor: str) -> MonitorRecord:
    """A monitor by id, or the only monitor of a deployment by the deployment's name."""
    row = conn.execute(select(monitors).where(monitors.c.id == monitor)).first()
    if row is not None:
        return MonitorRecord(**row._asdict())
    found = list_monitors(conn, deployment=monitor)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise InvalidArgumentError(
            f"deployment {monitor!r} has {len(found)} monitors "
            f"({', '.join(m.id for m in found)}); name one by its id"
        )
    raise NotFoundError(
        f"no monitor {monitor!r} (by id or deployment); create one with "
        "headway.monitoring.create_monitor(DEPLOYMENT)"
    )


def list_monitors(conn: Connection, deployment: str | None = None) -> list[MonitorRecord]:
    stmt = select(monitors).order_by(monitors.c.created_at, monitors.c.id)
    if deployment is not None:
        stmt = stmt.where(monitors.c.deployment == deployment)
    return [MonitorRecord(**r._asdict()) for r in conn.execute(stmt).all()]


def set_reference(conn: Connection, monitor_id: str, reference: dict[str, Any]) -> None:
    conn.execute(update(monitors).where(monitors.c.id == monitor_id).values(reference=reference))


def save_windows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert computed windows; a window computed again replaces the stored one."""
    columns = [c.name for c in monitor_windows.columns if c.name not in ("monitor_id", "start_ms")]
    upsert(conn, monitor_windows, rows, keys=["monitor_id", "start_ms"], update=columns)


def windows(
    conn: Connection, monitor_id: str, start_ms: int | None = None, end_ms: int | None = None
) -> list[WindowRecord]:
    """Windows starting in ``[start_ms, end_ms)``, oldest first."""
    stmt = (
        select(monitor_windows)
        .where(monitor_windows.c.monitor_id == monitor_id)
        .order_by(monitor_windows.c.start_ms)
    )
    if start_ms is not None:
        stmt = stmt.where(monitor_windows.c.start_ms >= start_ms)
    if end_ms is not None:
        stmt = stmt.where(monitor_windows.c.start_ms < end_ms)
    return [WindowRecord(**r._asdict()) for r in conn.execute(stmt).all()]


def computed_starts(conn: Connection, monitor_id: str, start_ms: int, end_ms: int) -> set[int]:
    """Starts of the stored windows in ``[start_ms, end_ms)``: one indexed read."""
    stmt = select(monitor_windows.c.start_ms).where(
        (monitor_windows.c.monitor_id == monitor_id)
        & (monitor_windows.c.start_ms >= start_ms)
        & (monitor_windows.c.start_ms < end_ms)
    )
    return {int(s) for s in conn.execute(stmt).scalars()}


def last_end(conn: Connection, monitor_id: str) -> int | None:
    """The end of the newest stored window."""
    return conn.execute(
        select(func.max(monitor_windows.c.end_ms)).where(monitor_windows.c.monitor_id == monitor_id)
    ).scalar_one()


def delete_windows(
    conn: Connection, monitor_id: str, start_ms: int | None = None, end_ms: int | None = None
) -> int:
    """Forget stored windows starting in ``[start_ms, end_ms)`` (before a backfill)."""
    stmt = delete(monitor_windows).where(monitor_windows.c.monitor_id == monitor_id)
    if start_ms is not None:
        stmt = stmt.where(monitor_windows.c.start_ms >= start_ms)
    if end_ms is not None:
        stmt = stmt.where(monitor_windows.c.start_ms < end_ms)
    return conn.execute(stmt).rowcount


def latest_window(conn: Connection, monitor_id: str) -> WindowRecord | None:
    """The newest stored window, or None before the first."""
    row = conn.execute(
        select(monitor_windows)
        .where(monitor_windows.c.monitor_id == monitor_id)
        .order_by(monitor_windows.c.start_ms.desc())
        .limit(1)
    ).first()
    return None if row is None else WindowRecord(**row._asdict())


def window_values(
    conn: Connection, monitor_id: str, start_ms: int, end_ms: int, paths: list[str]
) -> list[tuple[int, int, int, int, str]]:
    """Per window starting in ``[start_ms, end_ms)``, oldest first: start, rows, errors,
    labelled, and a JSON array (text) of the values at ``paths`` of its checks.

    ``paths`` are dotted keys (``ops.latency_p99_ms``, ``feature_drift.scores``), at least
    two. The database parses each window's checks once (SQLite's multi-path
    ``json_extract``, PostgreSQL's ``jsonb``) and hands back only those values, so a
    dashboard reads 30 days of 5-minute windows without moving their whole JSON.
    """
    mw = monitor_windows
    span = (mw.c.monitor_id == monitor_id) & (mw.c.start_ms >= start_ms) & (mw.c.start_ms < end_ms)
    keys = [mw.c.start_ms, mw.c.rows, mw.c.errors, mw.c.labelled]
    if conn.dialect.name == "sqlite":
        values = func.json_extract(mw.c.checks, *[f"$.{p}" for p in paths])
        stmt = select(*keys, values).where(span).order_by(mw.c.start_ms)
        try:
            found = fetch_all(conn, stmt)
        except sqlite3.OperationalError:
            # A NaN in some window's checks (Python's json writes it; SQLite's JSON reader
            # refuses it): pick the values in Python for this read.
            raw = fetch_all(conn, select(*keys, mw.c.checks).where(span).order_by(mw.c.start_ms))
            found = [(*r[:4], _picked(r[4], paths)) for r in raw]
        return [(int(a), int(b), int(c), int(d), str(e)) for a, b, c, d, e in found]
    else:
        inner = select(*keys, type_coerce(cast(mw.c.checks, JSONB), JSONB).label("c")).where(span)
        sub = inner.subquery()
        picked = []
        for path in paths:
            node: Any = sub.c.c
            for key in path.split("."):
                node = node[key]
            picked.append(node)
        stmt = select(
            sub.c.start_ms,
            sub.c.rows,
            sub.c.errors,
            sub.c.labelled,
            cast(func.jsonb_build_array(*picked), Text),
        ).order_by(sub.c.start_ms)
    return [(int(a), int(b), int(c), int(d), str(e)) for a, b, c, d, e in fetch_all(conn, stmt)]


def window_profiles(
    conn: Connection, monitor_id: str, start_ms: int, end_ms: int, every_ms: int, last_ms: int
) -> list[tuple[int, int, str]]:
    """Start, rows and profile blob of the windows starting in ``[start_ms, end_ms)`` a
    whole number of ``every_ms`` before ``last_ms``: an even sample, decided on the
    primary key's index before any row is read."""
    mw = monitor_windows
    stmt = (
        select(mw.c.start_ms, mw.c.rows, mw.c.profile_sha256)
        .where((mw.c.monitor_id == monitor_id) & (mw.c.start_ms >= start_ms))
        .where(mw.c.start_ms < end_ms)
        .where((literal(last_ms, BigInteger) - mw.c.start_ms) % every_ms == 0)
        .order_by(mw.c.start_ms)
    )
    return [(int(s), int(r), str(h)) for s, r, h in fetch_all(conn, stmt)]


def count_windows(conn: Connection, monitor_id: str, start_ms: int, end_ms: int) -> int:
    """How many windows start in ``[start_ms, end_ms)``."""
    mw = monitor_windows
    return int(
        conn.execute(
            select(func.count())
            .where((mw.c.monitor_id == monitor_id) & (mw.c.start_ms >= start_ms))
            .where(mw.c.start_ms < end_ms)
        ).scalar_one()
    )


def _picked(checks: str, paths: list[str]) -> str:
    """The JSON array of the values at ``paths`` of a checks document, NaN read as null."""
    doc = json.loads(checks, parse_constant=lambda _: None)
    found = []
    for path in paths:
        node: Any = doc
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        found.append(node)
    return json.dumps(found, allow_nan=False)
