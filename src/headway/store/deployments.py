"""Deployments, their append-only revisions, and the review queue in the ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update

from headway.errors import InvalidArgumentError, NotFoundError, RevisionConflictError
from headway.store.metadata import now_ms
from headway.store.records import ReviewItem, Revision
from headway.store.tables import deployment_revisions, deployments, review_items

__all__ = [
    "active_number",
    "add_review_items",
    "append_revision",
    "count_reviews",
    "create",
    "decide_review",
    "get_review",
    "list_deployments",
    "list_reviews",
    "revisions",
]


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(
        f"no deployment named {name!r}; `headway deploy list` shows the deployments, "
        "`headway deploy create NAME --model URI` makes one"
    )


def create(
    conn: Connection, name: str, config: dict[str, Any], user: str | None, reason: str
) -> Revision:
    """Create deployment ``name`` with its first revision."""
    if conn.execute(select(deployments.c.name).where(deployments.c.name == name)).first():
        raise InvalidArgumentError(
            f"deployment {name!r} already exists; change it with `headway deploy switch|canary|"
            "shadow`, or pick another name"
        )
    conn.execute(
        deployments.insert().values(name=name, created_at=now_ms(), created_by=user, description="")
    )
    return append_revision(conn, name, config, user, reason)


def append_revision(
    conn: Connection,
    name: str,
    config: dict[str, Any],
    user: str | None,
    reason: str,
    expect_active: int | None = None,
) -> Revision:
    """Append the next revision of ``name`` (it becomes active).

    With ``expect_active``, refuse (RevisionConflictError) unless that revision is still
    the active one, so concurrent controllers cannot both act on a stale view.
    """
    locked = conn.execute(
        select(deployments.c.name).where(deployments.c.name == name).with_for_update()
    ).first()
    if locked is None:
        raise _not_found(name)
    active = conn.execute(
        select(func.max(deployment_revisions.c.number)).where(
            deployment_revisions.c.deployment == name
        )
    ).scalar_one()
    if expect_active is not None and active != expect_active:
        raise RevisionConflictError(
            f"deployment {name!r} moved to revision {active} while revision {expect_active} "
            "was being changed; read it again and retry"
        )
    row: dict[str, Any] = {
        "deployment": name,
        "number": (active or 0) + 1,
        "config": config,
        "created_at": now_ms(),
        "created_by": user,
        "reason": reason,
    }
    conn.execute(deployment_revisions.insert().values(**row))
    return Revision(**row)


def revisions(conn: Connection, name: str, last: int | None = None) -> list[Revision]:
    """The revisions of ``name``, oldest first (only the ``last`` ones when given)."""
    if conn.execute(select(deployments.c.name).where(deployments.c.name == name)).first() is None:
        raise _not_found(name)
    stmt = (
        select(deployment_revisions)
        .where(deployment_revisions.c.deployment == name)
        .order_by(deployment_revisions.c.number.desc())
    )
    if last is not None:
        stmt = stmt.limit(last)
    return [Revision(**r._asdict()) for r in reversed(conn.execute(stmt).all())]


def active_number(conn: Connection, name: str) -> int | None:
    """The active revision's number: one cheap indexed read, polled by servers."""
    return conn.execute(
        select(func.max(deployment_revisions.c.number)).where(
            deployment_revisions.c.deployment == name
        )
    ).scalar_one()


def list_deployments(conn: Connection) -> list[Revision]:
    """The active revision of every deployment, by name."""
    latest = (
        select(
            deployment_revisions.c.deployment,
            func.max(deployment_revisions.c.number).label("number"),
        )
        .group_by(deployment_revisions.c.deployment)
        .subquery()
    )
    rows = conn.execute(
        select(deployment_revisions)
        .join(
            latest,
            (deployment_revisions.c.deployment == latest.c.deployment)
            & (deployment_revisions.c.number == latest.c.number),
        )
        .order_by(deployment_revisions.c.deployment)
    ).all()
    return [Revision(**r._asdict()) for r in rows]


def add_review_items(conn: Connection, items: list[dict[str, Any]]) -> None:
    if items:
        conn.execute(review_items.insert(), items)


def list_reviews(
    conn: Connection,
    deployment: str | None = None,
    status: str | None = "pending",
    limit: int = 100,
) -> list[ReviewItem]:
    stmt = select(review_items).order_by(review_items.c.created_at).limit(limit)
    if deployment is not None:
        stmt = stmt.where(review_items.c.deployment == deployment)
    if status is not None:
        stmt = stmt.where(review_items.c.status == status)
    return [ReviewItem(**r._asdict()) for r in conn.execute(stmt).all()]


def count_reviews(conn: Connection, status: str = "pending") -> dict[str, int]:
    """How many review items of each deployment have ``status``."""
    rows = conn.execute(
        select(review_items.c.deployment, func.count())
        .where(review_items.c.status == status)
        .group_by(review_items.c.deployment)
    )
    return {name: int(n) for name, n in rows.all()}


def get_review(conn: Connection, request_id: str) -> ReviewItem:
    row = conn.execute(select(review_items).where(review_items.c.request_id == request_id)).first()
    if row is None:
        raise NotFoundError(
            f"no review item for request {request_id!r}; `headway review list` shows the queue"
        )
    return ReviewItem(**row._asdict())


def decide_review(
    conn: Connection, request_id: str, decision: dict[str, Any], user: str | None
) -> ReviewItem:
    """Record a human's decision on a queued request (a second decision replaces the first)."""
    get_review(conn, request_id)
    conn.execute(
        update(review_items)
        .where(review_items.c.request_id == request_id)
        .values(status="decided", decision=decision, decided_at=now_ms(), decided_by=user)
    )
    return get_review(conn, request_id)
