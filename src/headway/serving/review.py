"""The review queue: requests a person decides, written to the ledger off the hot path.

A deferred (``partial``), advised (``assist``) or manual (``human``) request is queued in
memory and a writer thread inserts the queue into the store in batches, so a request never
waits for the database. A person's decision (``POST /review/{id}``, ``headway review
label``) is stored on the item and logged as feedback with source ``review``.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from headway._identity import current_user
from headway.serving.codec import Inputs
from headway.serving.log import FeedbackLog
from headway.store import deployments as repo
from headway.store.metadata import now_ms
from headway.store.records import ReviewItem
from headway.workspace import Workspace, current_workspace

__all__ = ["ReviewQueue", "decide", "list_pending"]

log = logging.getLogger("headway.serving")


def _jsonable(inputs: Inputs) -> dict[str, Any]:
    if inputs.columns is not None:
        return {name: values.tolist() for name, values in inputs.columns.items()}
    assert inputs.tensor is not None
    return {"tensor": inputs.tensor.tolist()}


class ReviewQueue:
    """Queue review items from the server; a thread writes them to the ledger."""

    def __init__(self, workspace: Workspace, interval: float = 0.25) -> None:
        self.ws = workspace
        self.interval = interval
        self._items: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="review-writer", daemon=True)
        self._thread.start()

    def add(
        self,
        deployment: str,
        revision: int,
        request_id: str,
        reason: str,
        inputs: Inputs,
        advice: dict[str, Any] | None,
    ) -> None:
        self._items.put(
            {
                "request_id": request_id,
                "deployment": deployment,
                "revision": revision,
                "created_at": now_ms(),
                "reason": reason,
                "inputs": _jsonable(inputs),
                "advice": advice,
                "status": "pending",
            }
        )

    def _run(self) -> None:
        done = False
        while not done:
            batch: list[dict[str, Any]] = []
            item = self._items.get()
            while True:
                if item is None:
                    done = True
                else:
                    batch.append(item)
                try:
                    item = self._items.get(timeout=self.interval if not done else 0.001)
                except queue.Empty:
                    break
                if done:
                    break
            self._write(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        try:
            with self.ws.store.write() as conn:
                repo.add_review_items(conn, batch)
        except Exception:
            log.exception("could not write %d review item(s) to the ledger", len(batch))

    def close(self) -> None:
        self._items.put(None)
        self._thread.join(timeout=10)


def list_pending(
    deployment: str | None = None, limit: int = 100, workspace: Workspace | None = None
) -> list[ReviewItem]:
    """Requests waiting for a person, oldest first."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        return repo.list_reviews(conn, deployment, "pending", limit)


def decide(
    request_id: str,
    label: Any,
    note: str | None = None,
    user: str | None = None,
    workspace: Workspace | None = None,
    feedback: FeedbackLog | None = None,
) -> ReviewItem:
    """Record a person's label for a queued request; it becomes feedback (source ``review``)."""
    ws = workspace or current_workspace()
    who = user or current_user()
    with ws.store.write() as conn:
        item = repo.decide_review(conn, request_id, {"label": label, "note": note}, who)
    sink = feedback or FeedbackLog(ws.log_root)
    sink.log([request_id], [label], source="review", note=note)
    if feedback is None:
        sink.close()
    return item
