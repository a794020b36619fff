"""Monitors and their computed windows in the ledger.

A window row holds what the time series and the alert rules read (counts, operational
stats, check results as JSON); the window's mergeable profile is a JSON blob in the
artifact store, named by ``profile_sha256``.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from headway.errors import InvalidArgumentError, NotFoundError
from headway.store._sql import upsert
from headway.store.metadata import now_ms
from headway.store.tables import deployments, monitor_windows, monitors

__all__ = [
    "MonitorRecord",
    "WindowRecord",
    "computed_starts",
    "create",
    "delete_windows",
    "get",
    "list_monitors",
    "save_windows",
    "set_reference",
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
