"""The REST API and the server's rules, over HTTP against a real `headway ui` process."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest
from sklearn.dummy import DummyClassifier
from ui_helpers import DEPLOYMENT, HOURS, TOKEN, Demo, ui_server

from headway.registry import register_model
from headway.serving.deployments import create_deployment
from headway.serving.log import query
from headway.store import deployments as deployments_repo
from headway.workspace import init_workspace

TWINS = [
    "/api/overview",
    "/api/deployments/{name}",
    "/api/runs",
    "/api/runs/compare",
    "/api/models",
    "/api/models/{name}",
    "/api/models/{name}/versions/{version}",
    "/api/data-reports",
    "/api/review",
]


def pending(demo: Demo) -> list[str]:
    with demo.ws.store.read() as conn:
        return [i.request_id for i in deployments_repo.list_reviews(conn, DEPLOYMENT)]


def test_the_openapi_spec_documents_every_page_twin_and_write(base_url: str) -> None:
    spec = httpx.get(f"{base_url}/api/openapi.json").json()
    assert spec["info"]["title"] == "Headway control plane"
    assert set(TWINS) <= set(spec["paths"])
    assert "post" in spec["paths"]["/api/review/{request_id}"]
    assert "post" in spec["paths"]["/api/monitors/{monitor_id}/alerts/{alert_id}/ack"]
    schemas = spec["components"]["schemas"]
    assert {"DeploymentView", "Overview", "RunList", "Decision", "Ack"} <= set(schemas)
    assert not any(p.startswith(("/deployments", "/runs", "/static")) for p in spec["paths"])


def test_overview_and_deployment_json_carry_what_the_pages_draw(base_url: str, demo: Demo) -> None:
    overview = httpx.get(f"{base_url}/api/overview").json()
    (row,) = overview["deployments"]
    assert row["name"] == DEPLOYMENT and row["health"]["status"] == "warning"
    assert row["pending_reviews"] == len(pending(demo)) and row["firing"] >= 1
    rules = {a["rule"]: a for a in overview["firing"]}
    assert "monthly_charges" in rules["feature-drift"]["subjects"]
    assert rules["feature-drift"]["runbook"]

    view = httpx.get(f"{base_url}/api/deployments/{DEPLOYMENT}", params={"range": "24h"}).json()
    windows = view["windows"]
    assert windows["windows"] == HOURS and windows["span"]["bucket_ms"] == 3_600_000
    series = windows["series"]
    assert len(series["t"]) == len(series["requests"]) == len(series["latency_p99_ms"])
    assert sum(r or 0 for r in series["requests"]) == HOURS * 400
    drift = windows["drift"]
    row_of = drift["features"].index("monthly_charges")
    assert sum(drift["drifted"][row_of][-4:]) >= 3  # the drifted last hours
    assert max(e for e in drift["effect"][row_of][-4:] if e is not None) > 0.3
    assert max(windows["performance"]["labelled"]) == 120
    assert [p["column"] for p in view["predictions"]] == ["prediction", "proba_1"]
    assert [r["number"] for r in view["revisions"]] == [2, 1]
    assert view["active"]["canary"] == "models:/churn/2" and view["active"]["canary_weight"] == 0.1
    assert view["monitor"]["id"] == demo.monitor_id
    assert {e["kind"] for e in view["history"]} >= {"firing"}


def test_runs_models_data_and_review_json(base_url: str, demo: Demo) -> None:
    runs = httpx.get(f"{base_url}/api/runs").json()
    assert {r["id"] for r in runs["runs"]} == set(demo.run_ids)
    strong = httpx.get(f"{base_url}/api/runs", params={"filter": "params.C = 1"}).json()
    assert [r["id"] for r in strong["runs"]] == [demo.run_ids[0]]
    compared = httpx.get(
        f"{base_url}/api/runs/compare", params=[("run", i[:8]) for i in demo.run_ids]
    ).json()
    assert "param C" in compared["differing"]
    losses = [h for h in compared["histories"] if h["key"] == "loss"]
    assert len(losses) == 2 and all(h["steps"] == list(range(8)) for h in losses)

    model = httpx.get(f"{base_url}/api/models/churn").json()
    assert [v["version"] for v in model["versions"]] == [2, 1]
    assert model["versions"][1]["gate"] == "blessed" and model["versions"][1]["has_card"]
    kinds = {n["type"] for n in model["lineage"]["nodes"]}
    assert kinds == {"dataset", "run", "model_version", "deployment"}
    roles = {link["kind"] for link in model["lineage"]["links"]}
    assert {"input", "produced", "primary", "canary"} <= roles
    version = httpx.get(f"{base_url}/api/models/churn/versions/1").json()
    assert [c["passed"] for c in version["gate_checks"]] == [True]

    reports = httpx.get(f"{base_url}/api/data-reports").json()["reports"]
    assert {r["kind"] for r in reports} == {"profile", "validation", "drift"}
    drift = httpx.get(f"{base_url}/api/data-reports", params={"kind": "drift"}).json()
    assert {r["kind"] for r in drift["reports"]} == {"drift"}
    for r in reports:
        rendered = httpx.get(
            f"{base_url}/data/report", params={"run": r["run_id"], "path": r["path"]}
        )
        assert rendered.status_code == 200 and "<html" in rendered.text
        assert "sandbox" in rendered.headers["content-security-policy"]

    queue = httpx.get(f"{base_url}/api/review", params={"deployment": DEPLOYMENT}).json()
    assert [i["request_id"] for i in queue["items"]] == pending(demo)[:50]
    item = queue["items"][0]
    assert item["columns"] == ["tenure_months", "monthly_charges", "support_calls"]
    assert item["reason"] == "low_confidence" and item["confidence"] < 0.8


def test_a_label_posted_to_the_api_reaches_the_ledger_as_feedback(
    base_url: str, demo: Demo
) -> None:
    request_id = pending(demo)[-1]
    answer = httpx.post(
        f"{base_url}/api/review/{request_id}", json={"label": 0, "note": "via API", "user": "ann"}
    )
    assert answer.status_code == 200, answer.text
    with demo.ws.store.read() as conn:
        item = deployments_repo.get_review(conn, request_id)
    assert item.status == "decided" and item.decision == {"label": 0, "note": "via API"}
    assert item.decided_by == "ann"
    found = query(
        demo.ws.log_root,
        f"SELECT label, source FROM feedback WHERE request_id = '{request_id}'",
    ).to_pylist()
    assert found == [{"label": "0", "source": "review"}]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/deployments/nope", "no deployment named 'nope'"),
        (f"/api/deployments/{DEPLOYMENT}?monitor=nope", "has no monitor 'nope'"),
        ("/api/models/nope", "no registered model named 'nope'"),
        ("/api/models/churn/versions/99", "model 'churn' has no version 99"),
        ("/api/runs/compare?run=nope", "no run with id 'nope'"),
        ("/api/runs?experiment=nope", "no experiment named 'nope'"),
        ("/api/review?deployment=nope", "no deployment named 'nope'"),
    ],
)
def test_unknown_names_are_404_with_a_clear_message(base_url: str, path: str, message: str) -> None:
    answer = httpx.get(base_url + path)
    assert answer.status_code == 404 and message in answer.json()["detail"]


def test_unknown_things_on_the_pages_and_writes_are_404(base_url: str, demo: Demo) -> None:
    page = httpx.get(f"{base_url}/deployments/nope")
    assert page.status_code == 404 and "no deployment named" in page.text
    assert "text/html" in page.headers["content-type"]
    assert httpx.get(f"{base_url}/nowhere").status_code == 404
    assert httpx.post(f"{base_url}/api/review/nope", json={"label": 1}).status_code == 404
    ack = httpx.post(f"{base_url}/api/monitors/{demo.monitor_id}/alerts/nope/ack", json={})
    assert ack.status_code == 404 and "no firing alert has id 'nope'" in ack.json()["detail"]
    assert httpx.get(f"{base_url}/models/churn/versions/2/card").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/deployments/{DEPLOYMENT}?range=1y", None),
        ("GET", f"/deployments/{DEPLOYMENT}?range=1y", None),
        ("GET", "/api/runs?limit=0", None),
        ("GET", "/api/runs?status=done", None),
        ("GET", "/api/runs?filter=accuracy%20%3E%200.8", None),
        ("GET", "/runs?filter=metrics.auc%20%3E%20high", None),
        ("GET", "/api/runs/compare", None),
        ("GET", "/api/runs/compare?" + "&".join(f"run=r{i}" for i in range(11)), None),
        ("GET", "/api/models/churn/versions/abc", None),
        ("GET", "/api/models/churn/versions/0", None),
        ("GET", "/api/data-reports?kind=weird", None),
        ("GET", "/data/report?run=x&path=../../etc/passwd", None),
        ("GET", "/static/secrets.txt", None),
        ("POST", "/api/review/x", b"not json"),
        ("POST", "/api/review/x", b'{"label": {"nested": 1}}'),
        ("POST", "/api/review/x", b'{"label": NaN}'),
        ("POST", "/api/review/x", b'{"note": "no label"}'),
        ("POST", "/review/x", b"label="),
        ("POST", f"/deployments/{DEPLOYMENT}/alerts/x/ack", b"note=missing+monitor"),
    ],
)
def test_malformed_requests_get_4xx_never_5xx(
    base_url: str, method: str, path: str, body: bytes | None
) -> None:
    headers = {"content-type": "application/json"}
    if path.startswith(("/review", "/deployments")):
        headers = {"content-type": "application/x-www-form-urlencoded", "origin": base_url}
    answer = httpx.request(method, base_url + path, content=body, headers=headers)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])


def test_static_files_are_local_and_cached_for_a_year(base_url: str) -> None:
    page = httpx.get(f"{base_url}/deployments/{DEPLOYMENT}").text
    assert "https://" not in page and "http://" not in page.split("<footer>")[0]
    found = re.search(r'src="(/static/plotly\.min\.js\?v=[0-9a-f]+)"', page)
    assert found, "the page loads plotly.js from this server"
    url = found[1]
    script = httpx.get(base_url + url)
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert "immutable" in script.headers["cache-control"] and len(script.content) > 1_000_000
    again = httpx.get(base_url + url, headers={"if-none-match": script.headers["etag"]})
    assert again.status_code == 304
    assert "script-src 'self'" in httpx.get(base_url + "/").headers["content-security-policy"]


def test_cross_site_writes_are_refused_even_without_a_token(base_url: str, demo: Demo) -> None:
    request_id = pending(demo)[0]
    forged = httpx.post(
        f"{base_url}/review/{request_id}",
        data={"label": "1"},
        headers={"origin": "http://evil.example"},
    )
    assert forged.status_code == 403
    sneaky = httpx.post(
        f"{base_url}/api/review/{request_id}",
        json={"label": 1},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert sneaky.status_code == 403
    assert request_id in pending(demo)
    rebound = httpx.get(f"{base_url}/api/overview", headers={"host": "evil.example"})
    assert rebound.status_code == 400  # DNS rebinding: a loopback UI answers only to its names


def test_with_a_token_the_api_needs_it_and_pages_need_a_session(token_url: str) -> None:
    denied = httpx.get(f"{token_url}/api/overview")
    assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
    assert "HEADWAY_TOKEN" in denied.json()["detail"]
    wrong = httpx.get(f"{token_url}/api/overview", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{token_url}/api/overview", headers=bearer).status_code == 200
    page = httpx.get(f"{token_url}/runs?status=finished")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fruns%3Fstatus%3Dfinished"
    assert httpx.get(f"{token_url}/static/ui.css").status_code == 200

    origin = {"origin": token_url}
    refused = httpx.post(f"{token_url}/login", data={"token": TOKEN, "next": "/runs"})
    assert refused.status_code == 403  # a login must come from the login page
    failed = httpx.post(f"{token_url}/login", data={"token": "nope"}, headers=origin)
    assert failed.status_code == 401 and "set-cookie" not in failed.headers
    login = httpx.post(
        f"{token_url}/login", data={"token": TOKEN, "next": "https://evil.example"}, headers=origin
    )
    assert login.status_code == 303 and login.headers["location"] == "/"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    with httpx.Client(base_url=token_url, cookies=login.cookies) as browser:
        assert browser.get("/runs").status_code == 200
        assert browser.get("/api/overview").status_code == 200
        no_proof = browser.post("/api/review/x", json={"label": 1})
        assert no_proof.status_code == 403  # a session write must show it came from the UI
        assert browser.post("/api/review/x", json={"label": 1}, headers=origin).status_code == 404


def test_an_empty_workspace_says_what_to_do_on_every_page(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "empty")
    with ui_server(ws.project_dir) as url:
        hints = {
            "/": "headway deploy create NAME --model",
            "/runs": "headway quickstart",
            "/models": "headway.register_model(",
            "/data": "headway.profile(df",
            "/review": "headway deploy automation NAME partial",
        }
        for path, hint in hints.items():
            page = httpx.get(url + path)
            assert page.status_code == 200 and hint in html.unescape(page.text), path
        register_model("m", DummyClassifier().fit([[0], [1]], [0, 1]), workspace=ws)
        create_deployment("quiet", "models:/m/1", workspace=ws)
        page = html.unescape(httpx.get(f"{url}/deployments/quiet").text)
        assert "No monitor yet." in page and "headway monitor create quiet" in page
        view = httpx.get(f"{url}/api/deployments/quiet").json()
        assert view["health"]["status"] == "unknown" and view["windows"] is None
    ws.close()
