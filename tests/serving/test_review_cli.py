"""headway review list|label: a person decides a queued request from the shell."""

from __future__ import annotations

from typer.testing import CliRunner

from headway.cli import app
from headway.serving.log import query
from headway.serving.review import list_pending
from headway.store import deployments as repo
from headway.store.metadata import now_ms
from headway.workspace import Workspace


def test_a_queued_request_is_labelled_from_the_shell_and_becomes_feedback(ws: Workspace) -> None:
    with ws.store.write() as conn:
        repo.create(conn, "churn-api", {"primary": "models:/churn/1"}, "ana", "test")
        repo.add_review_items(
            conn,
            [
                {
                    "request_id": "r-1",
                    "deployment": "churn-api",
                    "revision": 1,
                    "created_at": now_ms(),
                    "reason": "low_confidence",
                    "inputs": {"tenure": 3},
                    "advice": {"prediction": 0, "confidence": 0.55},
                    "status": "pending",
                }
            ],
        )
    runner = CliRunner()
    listed = runner.invoke(app, ["review", "list"])
    assert listed.exit_code == 0 and "r-1" in listed.output and "low_confidence" in listed.output
    done = runner.invoke(app, ["review", "label", "r-1", " 1 ", "--note", "called them"])
    assert done.exit_code == 0, done.output
    assert list_pending(workspace=ws) == []
    rows = query(ws.log_root, "SELECT request_id, label, label_value, source FROM feedback")
    assert rows.to_pylist() == [
        {"request_id": "r-1", "label": "1", "label_value": 1.0, "source": "review"}
    ]
    empty = runner.invoke(app, ["review", "label", "r-1", "  "])
    assert empty.exit_code != 0 and "label is empty" in empty.output
