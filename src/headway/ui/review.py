"""The review queue page's data, and a reviewer's decision from the browser.

A decision goes through :func:`headway.serving.review.decide`, the same path as
``POST /review/{id}`` on the prediction server and ``headway review label``: the item is
marked decided in the ledger and the label is logged as feedback (source ``review``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headway.serving.deployments import list_deployments
from headway.serving.review import decide, list_pending
from headway.store import deployments as deployments_repo
from headway.store.records import ReviewItem
from headway.workspace import Workspace

__all__ = ["ReviewQueue", "ReviewRow", "label_item", "review_queue"]


@dataclass(frozen=True)
class ReviewRow:
    """A queued request: its inputs as rows of ``column -> value``, and the model's advice."""

    request_id: str
    deployment: str
    revision: int
    created_at: int
    reason: str
    columns: list[str]
    rows: list[list[Any]]
    advice: Any | None
    confidence: float | None

    @classmethod
    def of(cls, item: ReviewItem) -> ReviewRow:
        columns = list(item.inputs)
        values = [v if isinstance(v, list) else [v] for v in item.inputs.values()]
        rows = [list(r) for r in zip(*values, strict=False)] if values else []
        advice = item.advice or {}
        predictions = advice.get("prediction") or [None]
        confidences = advice.get("confidence") or [None]
        return cls(
            item.request_id,
            item.deployment,
            item.revision,
            item.created_at,
            item.reason,
            columns,
            rows,
            predictions[0],
            confidences[0],
        )


@dataclass(frozen=True)
class ReviewQueue:
    deployment: str | None
    deployments: dict[str, int]  # name -> pending items, for every deployment
    items: list[ReviewRow]


def review_queue(ws: Workspace, deployment: str | None = None, limit: int = 50) -> ReviewQueue:
    """The oldest ``limit`` pending items (of one deployment, or of all)."""
    names = [r.deployment for r in list_deployments(workspace=ws)]
    if deployment is not None:
        # The same clear error as everywhere else for a deployment that does not exist.
        with ws.store.read() as conn:
            deployments_repo.revisions(conn, deployment, last=1)
    with ws.store.read() as conn:
        pending = deployments_repo.count_reviews(conn)
    items = list_pending(deployment, limit, workspace=ws)
    return ReviewQueue(
        deployment, {n: pending.get(n, 0) for n in names}, [ReviewRow.of(i) for i in items]
    )


def label_item(
    ws: Workspace, request_id: str, label: Any, note: str | None, user: str | None
) -> ReviewRow:
    """Decide a queued request; it reaches the ledger and the feedback log."""
    return ReviewRow.of(decide(request_id, label, note=note, user=user, workspace=ws))
