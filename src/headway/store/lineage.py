"""Lineage: typed edges between any two ledger objects, walked either way.

An edge ``dataset:abc --input--> run:def`` says the run read the dataset. Objects are
named ``(type, id)``; the edge table knows nothing else about them, so later features add
object types (deployments, predictions, alerts) without schema changes.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from sqlalchemy import Connection, select

from headway.store._sql import upsert
from headway.store.metadata import now_ms
from headway.store.records import Edge
from headway.store.tables import lineage_edges as t

__all__ = ["add_edge", "edges", "walk"]

Node = tuple[str, str]


def add_edge(conn: Connection, src: Node, dst: Node, kind: str) -> None:
    """Record ``src --kind--> dst``; recording the same edge twice keeps one."""
    row = {
        "src_type": src[0],
        "src_id": src[1],
        "dst_type": dst[0],
        "dst_id": dst[1],
        "kind": kind,
        "created_at": now_ms(),
    }
    upsert(conn, t, [row], ["src_type", "src_id", "dst_type", "dst_id", "kind"])


def edges(conn: Connection, node: Node, direction: Literal["up", "down"]) -> list[Edge]:
    """Edges into ``node`` (``up``: where it came from) or out of it (``down``: what used it)."""
    if direction == "up":
        cond = (t.c.dst_type == node[0]) & (t.c.dst_id == node[1])
    else:
        cond = (t.c.src_type == node[0]) & (t.c.src_id == node[1])
    rows = conn.execute(
        select(t.c.src_type, t.c.src_id, t.c.dst_type, t.c.dst_id, t.c.kind, t.c.created_at)
        .where(cond)
        .order_by(t.c.id)
    )
    return [Edge(*row) for row in rows]


def walk(
    conn: Connection, node: Node, direction: Literal["up", "down"], max_depth: int = 10
) -> list[Edge]:
    """All edges reachable from ``node`` in one direction, breadth first, each once."""
    seen: set[Node] = {node}
    found: list[Edge] = []
    queue = deque([(node, 0)])
    while queue:
        current, depth = queue.popleft()
        if depth >= max_depth:
            continue
        for edge in edges(conn, current, direction):
            found.append(edge)
            nxt = (
                (edge.src_type, edge.src_id) if direction == "up" else (edge.dst_type, edge.dst_id)
            )
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, depth + 1))
    return found
