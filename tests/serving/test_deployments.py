"""Deployments: revisions in the ledger, and servers that follow them without dropping requests."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time

import pytest
from serving_helpers import MIXED, NUMERIC, eventually, running
from sklearn.linear_model import LogisticRegression

import headway
from headway.errors import InvalidArgumentError, NotFoundError, RevisionConflictError
from headway.serving import deployments as dep
from headway.serving.log import query
from headway.serving.server import ServeOptions
from headway.store import deployments as repo
from headway.workspace import Workspace

ROWS = headway.make_churn(50, seed=9)
RECORDS = ROWS[MIXED].to_dict(orient="records")  # extra columns are ignored


def _register(ws: Workspace, n: int) -> None:
    train = headway.make_churn(500, seed=n)
    model = LogisticRegression(max_iter=300).fit(train[NUMERIC], train["churned"])
    for _ in range(n):
        headway.register_model("churn", model, input_example=train[NUMERIC].head(), workspace=ws)


def test_revisions_are_append_only_with_who_and_why(ws: Workspace) -> None:
    _register(ws, 3)
    headway.set_alias("churn", "live", 1, workspace=ws)
    first = dep.create_deployment("churn-api", "models:/churn@live", workspace=ws)
    assert first.number == 1 and first.config["primary"] == "models:/churn/1"  # pinned
    dep.set_shadows("churn-api", add=["models:/churn/2"], workspace=ws)
    dep.set_canary("churn-api", "models:/churn/3", weight=0.1, workspace=ws)
    dep.switch("churn-api", "models:/churn/3", reason="canary looked good", workspace=ws)
    active = dep.DeploymentConfig.from_dict(dep.active_revision("churn-api", workspace=ws).config)
    assert active.primary == "models:/churn/3" and active.standby == "models:/churn/1"
    assert active.canary is None and active.shadows == ("models:/churn/2",)
    back = dep.rollback("churn-api", reason="latency", workspace=ws)
    assert back.number == 5 and back.reason == "rollback to revision 3: latency"
    assert (
        back.config["canary"] == "models:/churn/3" and back.config["primary"] == "models:/churn/1"
    )
    history = dep.list_revisions("churn-api", workspace=ws)
    assert [r.number for r in history] == [1, 2, 3, 4, 5]
    assert history[3].reason == "canary looked good" and history[0].created_by
    assert [d.deployment for d in dep.list_deployments(workspace=ws)] == ["churn-api"]


def test_bad_changes_are_refused_with_reasons(ws: Workspace) -> None:
    _register(ws, 1)
    with pytest.raises(NotFoundError, match="no deployment named 'nope'"):
        dep.active_revision("nope", workspace=ws)
    dep.create_deployment("d", "models:/churn/1", workspace=ws)
    with pytest.raises(InvalidArgumentError, match="already exists"):
        dep.create_deployment("d", "models:/churn/1", workspace=ws)
    with pytest.raises(InvalidArgumentError, match="nothing to roll back"):
        dep.rollback("d", workspace=ws)
    with pytest.raises(InvalidArgumentError, match="already serves"):
        dep.switch("d", "models:/churn/1", workspace=ws)
    with pytest.raises(InvalidArgumentError, match="threshold"):
        dep.set_automation("d", "partial", workspace=ws)
    with pytest.raises(InvalidArgumentError, match="increasing weights"):
        dep.Ramp(steps=(0.5, 0.1))
    with ws.store.write() as conn, pytest.raises(RevisionConflictError, match="moved to revision"):
        repo.append_revision(conn, "d", {}, None, "stale", expect_active=7)
    assert len(dep.list_revisions("d", workspace=ws)) == 1


def test_a_running_server_follows_switch_and_rollback_without_failing_requests(
    served: Workspace,
) -> None:
    dep.create_deployment("bluegreen", "models:/churn/1", workspace=served)
    with running(served, "bluegreen") as client:
        answers: list[tuple[int, str]] = []
        stop = threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                r = client.post("/predict", json={"records": RECORDS[:3]})
                answers.append((r.status_code, r.json().get("model_version", r.text)))

        worker = threading.Thread(target=traffic)
        worker.start()
        try:
            dep.switch("bluegreen", "models:/churn/2", workspace=served)
            _wait_for(answers, "models:/churn/2")
            dep.rollback("bluegreen", workspace=served)
            _wait_for(answers, "models:/churn/1", after="models:/churn/2")
        finally:
            stop.set()
            worker.join()
        status = client.get("/admin/status").json()
    assert {code for code, _ in answers} == {200}
    assert status["revision"] == 3 and status["config"]["primary"] == "models:/churn/1"


def _wait_for(answers: list[tuple[int, str]], version: str, after: str | None = None) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        seen = [v for _, v in answers]
        start = seen.index(after) if after in seen else 0
        if version in seen[start:]:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server never answered from {version}")


def test_canary_routes_by_weight_sticky_by_key_and_shadows_are_logged(served: Workspace) -> None:
    dep.create_deployment("split", "models:/churn/1", workspace=served)
    dep.set_canary("split", "models:/churn/4", weight=0.5, workspace=served)
    dep.set_shadows("split", add=["models:/churn/1"], workspace=served)
    with running(served, "split") as client:
        routes = [
            client.post("/predict", json={"records": RECORDS[:1], "key": f"user-{i}"}).json()
            for i in range(60)
        ]
        again = [
            client.post("/predict", json={"records": RECORDS[:1], "key": f"user-{i}"}).json()
            for i in range(60)
        ]
    seen = {r["route"] for r in routes}
    assert seen == {"primary", "canary"}
    assert [r["route"] for r in routes] == [r["route"] for r in again]  # sticky
    canary_ids = [r["request_id"] for r in routes if r["route"] == "canary"]

    def shadows_logged() -> bool:
        sql = (
            "SELECT count(*) AS n FROM predictions WHERE deployment = 'split' AND route = 'shadow'"
        )
        # every request has the listed shadow; canary requests also the primary, for agreement
        return query(served.log_root, sql).column("n")[0].as_py() == 120 + 2 * len(canary_ids)

    eventually(shadows_logged)


def test_a_failing_primary_is_answered_by_the_fallback(served: Workspace) -> None:
    dep.create_deployment(
        "fragile", "models:/churn/3", fallback="models:/churn/1", workspace=served
    )
    limit = headway.load_model("models:/churn/3", trusted=True, workspace=served).native.limit
    trusted = ServeOptions(flush_interval=0.05, poll_interval=0.1, trusted=True)
    with running(served, "fragile", trusted) as client:
        answers = [client.post("/predict", json={"records": [r]}) for r in RECORDS]
    assert {a.status_code for a in answers} == {200}
    for answer, record in zip(answers, RECORDS, strict=True):
        body = answer.json()
        failed = record["monthly_charges"] > limit
        assert body.get("fallback", False) == failed
        assert body["model_version"] == ("models:/churn/1" if failed else "models:/churn/3")


def test_without_a_fallback_model_a_rule_answers_and_is_logged(served: Workspace) -> None:
    dep.create_deployment("ruled", "models:/churn/3", fallback_value=0, workspace=served)
    limit = headway.load_model("models:/churn/3", trusted=True, workspace=served).native.limit
    failing = next(r for r in RECORDS if r["monthly_charges"] > limit)
    trusted = ServeOptions(flush_interval=0.05, poll_interval=0.1, trusted=True)
    with running(served, "ruled", trusted) as client:
        body = client.post("/predict", json={"records": [failing], "id": "ruled-1"}).json()
    assert body["fallback"] is True and body["predictions"] == [0]
    assert body["model_version"] == "rule:fallback_value"

    def logged() -> list[dict]:
        sql = "SELECT route, status FROM predictions WHERE request_id = 'ruled-1' ORDER BY 1"
        return query(served.log_root, sql).to_pylist()

    eventually(lambda: len(logged()) == 2)
    assert logged() == [{"route": "fallback", "status": 200}, {"route": "primary", "status": 500}]


def test_a_canary_failing_on_30_percent_is_rolled_back_in_its_first_step(
    served: Workspace,
) -> None:
    dep.create_deployment("ramped", "models:/churn/1", workspace=served)
    ramp = dep.Ramp(steps=(0.2, 0.5, 1.0), min_requests=40)
    dep.set_canary("ramped", "models:/churn/3", ramp=ramp, workspace=served)
    trusted = ServeOptions(flush_interval=0.05, poll_interval=0.1, trusted=True)
    rows = headway.make_churn(400, seed=11)[MIXED].to_dict(orient="records")
    deadline = time.monotonic() + 60
    with running(served, "ramped", trusted) as client:
        answers = []
        for i, record in enumerate(itertools.cycle(rows)):
            answers.append(client.post("/predict", json={"records": [record], "key": str(i)}))
            revisions = len(dep.list_revisions("ramped", workspace=served))
            if revisions > 2 or time.monotonic() > deadline:
                break
        eventually(lambda: client.get("/admin/status").json()["config"]["canary"] is None)
    assert {a.status_code for a in answers} == {200}
    assert any(a.json().get("fallback") for a in answers)  # failures were answered
    last = dep.list_revisions("ramped", workspace=served)[-1]
    assert last.number == 3 and last.reason is not None
    assert last.reason.startswith("canary models:/churn/3 rolled back at 20%")
    assert last.config["canary"] is None and last.config["primary"] == "models:/churn/1"


def test_a_healthy_canary_is_ramped_and_promoted(served: Workspace) -> None:
    dep.create_deployment("promoted", "models:/churn/1", workspace=served)
    ramp = dep.Ramp(steps=(0.5, 1.0), min_requests=20, min_agreement=0.5)
    dep.set_canary("promoted", "models:/churn/4", ramp=ramp, workspace=served)
    rows = headway.make_churn(500, seed=12)[MIXED].to_dict(orient="records")
    deadline = time.monotonic() + 60
    with running(served, "promoted") as client:
        for record in itertools.cycle(rows):
            client.post("/predict", json={"records": [record]})
            revisions = len(dep.list_revisions("promoted", workspace=served))
            if revisions >= 4 or time.monotonic() > deadline:
                break
    reasons = [r.reason or "" for r in dep.list_revisions("promoted", workspace=served)]
    assert reasons[2].startswith("canary models:/churn/4 healthy at 50%, now 100%")
    assert reasons[3].startswith("canary models:/churn/4 promoted")
    final = dep.active_revision("promoted", workspace=served).config
    assert final["primary"] == "models:/churn/4" and final["standby"] == "models:/churn/1"


def test_partial_automation_defers_to_a_reviewer_whose_label_becomes_feedback(
    served: Workspace,
) -> None:
    dep.create_deployment(
        "careful", "models:/churn/1", automation="partial", threshold=0.9, workspace=served
    )
    secured = Workspace(dataclasses.replace(served.settings, token="s3cret"))
    auth = {"Authorization": "Bearer s3cret"}
    with running(secured, "careful") as client:
        answers = [client.post("/predict", json={"records": [r]}).json() for r in RECORDS]
        deferred = [a for a in answers if a.get("deferred")]
        assert deferred and all(a["predictions"] is None for a in deferred)
        assert client.get("/review").status_code == 401

        def queued() -> bool:
            return len(client.get("/review", headers=auth).json()["items"]) == len(deferred)

        eventually(queued)
        item = client.get("/review", headers=auth).json()["items"][0]
        assert item["reason"] == "low_confidence" and item["advice"]["confidence"][0] < 0.9
        decided = client.post(f"/review/{item['request_id']}", json={"label": 1}, headers=auth)
        assert decided.status_code == 200 and decided.json()["status"] == "decided"
        assert client.post("/feedback", json={"request_id": "x", "label": 0}).status_code == 401
        fed = client.post(
            "/feedback", json=[{"request_id": answers[0]["request_id"], "label": 0}], headers=auth
        )
        assert fed.json() == {"accepted": 1}
        bad = client.post("/feedback", json={"label": 0}, headers=auth)
        assert bad.status_code == 400 and "request_id" in bad.json()["error"]

    def labels() -> list[dict]:
        return query(
            served.log_root, "SELECT request_id, label, source FROM feedback ORDER BY source"
        ).to_pylist()

    eventually(lambda: len(labels()) == 2)
    assert {(r["label"], r["source"]) for r in labels()} == {("0", "api"), ("1", "review")}
