"""Alert state and alert history in the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from headway.store._sql import upsert
from headway.store.metadata import now_ms
from headway.store.tables import alert_events, alert_states

__all__ = ["add_events", "events", "load_state", "save_state"]


def load_state(conn: Connection, monitor_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(alert_states.c.state).where(alert_states.c.monitor_id == monitor_id)
    ).first()
    return None if row is None else dict(row[0])


def save_state(conn: Connection, monitor_id: str, state: dict[str, Any]) -> None:
    upsert(
        conn,
        alert_states,
        [{"monitor_id": monitor_id, "state": state, "updated_at": now_ms()}],
        ["monitor_id"],
        update=["state", "updated_at"],
    )


def add_events(conn: Connection, monitor_id: str, rows: list[dict[str, Any]]) -> None:
    """Append events: dicts with alert_id, rule, kind, severity, at and event (JSON)."""
    if rows:
        conn.execute(alert_events.insert(), [{"monitor_id": monitor_id, **r} for r in rows])


def events(
    conn: Connection,
    monitor_id: str | None = None,
    limit: int = 100,
    kinds: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The newest events first (of one monitor, or of all; of some ``kinds``, or all)."""
    stmt = select(alert_events).order_by(alert_events.c.at.desc(), alert_events.c.id.desc())
    if monitor_id is not None:
        stmt = stmt.where(alert_events.c.monitor_id == monitor_id)
    if kinds is not None:
        stmt = stmt.where(alert_events.c.kind.in_(list(kinds)))
    return [r._asdict() for r in conn.execute(stmt.limit(limit)).all()]
