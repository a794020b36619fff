"""What any ledger object can carry: tags and artifact files.

Both are keyed by ``(object_type, object_id)`` so that runs, model versions and objects
added later share one implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Connection, or_, select

from headway.store._sql import upsert
from headway.store.records import ArtifactRecord
from headway.store.tables import artifacts, tags

__all__ = ["add_artifacts", "find_artifacts", "get_tags", "list_artifacts", "set_tags"]


def set_tags(conn: Connection, object_type: str, object_id: str, values: Mapping[str, str]) -> None:
    rows = [
        {"object_type": object_type, "object_id": object_id, "key": k, "value": v}
        for k, v in values.items()
    ]
    upsert(conn, tags, rows, ["object_type", "object_id", "key"], update=["value"])


def get_tags(conn: Connection, object_type: str, object_id: str) -> dict[str, str]:
    rows = conn.execute(
        select(tags.c.key, tags.c.value).where(
            tags.c.object_type == object_type, tags.c.object_id == object_id
        )
    )
    return dict(rows.all())


def add_artifacts(
    conn: Connection, object_type: str, object_id: str, records: Iterable[ArtifactRecord]
) -> None:
    """Record files; logging the same path again points it at the new content."""
    rows = [{"object_type": object_type, "object_id": object_id, **r.to_dict()} for r in records]
    upsert(
        conn,
        artifacts,
        rows,
        ["object_type", "object_id", "path"],
        update=["sha256", "size", "created_at"],
    )


def list_artifacts(conn: Connection, object_type: str, object_id: str) -> list[ArtifactRecord]:
    rows = conn.execute(
        select(artifacts.c.path, artifacts.c.sha256, artifacts.c.size, artifacts.c.created_at)
        .where(artifacts.c.object_type == object_type, artifacts.c.object_id == object_id)
        .order_by(artifacts.c.path)
    )
    return [ArtifactRecord(*row) for row in rows]


def find_artifacts(
    conn: Connection, object_type: str, prefixes: Sequence[str], limit: int = 500
) -> list[tuple[str, ArtifactRecord]]:
    """Files of any ``object_type`` object whose path starts with one of ``prefixes``:
    ``(object id, record)`` pairs, newest first (reports stored by runs, for example)."""
    a = artifacts
    wanted = or_(*[a.c.path.startswith(p, autoescape=True) for p in prefixes])
    rows = conn.execute(
        select(a.c.object_id, a.c.path, a.c.sha256, a.c.size, a.c.created_at)
        .where((a.c.object_type == object_type) & wanted)
        .order_by(a.c.created_at.desc(), a.c.path)
        .limit(limit)
    )
    return [(object_id, ArtifactRecord(*rest)) for object_id, *rest in rows]
