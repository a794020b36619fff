"""The dashboard in real headless Chromium (Debian's, through Playwright) against a real
`headway ui`: pages load cleanly, charts draw, a reviewer labels a deferred prediction and
acknowledges an alert, and a token-protected UI asks for the token first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_helpers import BROWSER_ARGS, DEPLOYMENT, TOKEN, Demo

from headway.monitoring.alerting import firing_alerts
from headway.serving.log import query
from headway.store import deployments as deployments_repo

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        yield launched
        launched.close()


class Watched:
    """A page whose console errors, page errors and failed requests are collected."""

    def __init__(self, browser: object) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.on(
            "response",
            lambda r: r.status >= 400 and self.problems.append(f"{r.status}: {r.url}"),
        )

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")


@pytest.fixture
def watched(browser: object) -> Iterator[Watched]:
    w = Watched(browser)
    yield w
    w.context.close()


def test_every_page_loads_without_console_errors_or_failed_requests(
    watched: Watched, base_url: str, demo: Demo
) -> None:
    pages = [
        "/",
        f"/deployments/{DEPLOYMENT}",
        f"/deployments/{DEPLOYMENT}?range=30d",
        "/runs",
        "/runs?filter=metrics.accuracy+%3E+0.5",
        "/runs/compare?" + "&".join(f"run={r}" for r in demo.run_ids),
        "/models",
        "/models/churn",
        "/models/churn/versions/1",
        "/models/churn/versions/2",
        "/data",
        "/data?kind=validation",
        "/review",
        f"/review?deployment={DEPLOYMENT}",
    ]
    for path in pages:
        watched.open(base_url + path)
        assert watched.page.locator("h1").first.is_visible(), path
        assert watched.problems == [], (path, watched.problems)
    # The stored documents (model card, data reports) render inside their sandboxed frames.
    watched.open(f"{base_url}/models/churn/versions/1")
    card = watched.page.frame_locator("iframe.doc")
    assert card.locator("h1").inner_text(timeout=20_000).startswith("Model card")
    watched.open(f"{base_url}/data?kind=profile")
    report = watched.page.frame_locator("iframe.doc")
    assert report.locator(".js-plotly-plot").first.is_visible(timeout=20_000)
    assert watched.problems == []


def test_the_deployment_page_draws_every_chart(watched: Watched, base_url: str) -> None:
    watched.open(f"{base_url}/deployments/{DEPLOYMENT}?range=24h")
    charts = watched.page.locator("[data-figure]")
    names = [charts.nth(i).get_attribute("data-figure") for i in range(charts.count())]
    assert {"traffic", "errors", "latency", "checks", "drift", "performance", "revisions"} <= set(
        names
    )
    assert {"prediction-0", "prediction-1"} <= set(names)
    for name in names:
        plot = watched.page.locator(f'[data-figure="{name}"].js-plotly-plot')
        assert plot.locator("svg.main-svg").count() >= 1, name
    heatmap = watched.page.locator('[data-figure="drift"] .hm, [data-figure="drift"] image')
    assert heatmap.count() >= 1  # the drift heatmap drew its cells
    drift_rows = watched.page.locator('[data-figure="drift"] .ytick text').all_text_contents()
    assert "monthly_charges" in drift_rows
    assert watched.problems == []


def test_a_reviewer_labels_a_deferred_prediction_and_it_reaches_the_ledger(
    watched: Watched, base_url: str, demo: Demo
) -> None:
    watched.open(f"{base_url}/review?deployment={DEPLOYMENT}")
    first = watched.page.locator("article.review-item").first
    request_id = first.get_attribute("id").removeprefix("item-")  # type: ignore[union-attr]
    assert "low confidence" in first.inner_text()
    watched.page.fill("#reviewer", "rita")
    first.locator("input[name=label]").fill("1")
    first.locator("input[name=note]").fill("called the customer")
    first.get_by_role("button", name="Save label").click()
    watched.page.wait_for_load_state("networkidle")
    assert f"Labelled request {request_id}" in watched.page.locator(".notice").inner_text()
    assert watched.page.locator(f"#item-{request_id}").count() == 0

    with demo.ws.store.read() as conn:
        item = deployments_repo.get_review(conn, request_id)
    assert item.status == "decided" and item.decided_by == "rita"
    assert item.decision == {"label": 1, "note": "called the customer"}
    feedback = query(
        demo.ws.log_root,
        f"SELECT label, source, note FROM feedback WHERE request_id = '{request_id}'",
    ).to_pylist()
    assert feedback == [{"label": "1", "source": "review", "note": "called the customer"}]

    # "Accept" takes the model's advice as the label, typed as the model gave it.
    second = watched.page.locator("article.review-item").first
    other = second.get_attribute("id").removeprefix("item-")  # type: ignore[union-attr]
    advice = second.locator(".advice strong").inner_text()
    second.locator("button[name=accept]").click()
    watched.page.wait_for_load_state("networkidle")
    with demo.ws.store.read() as conn:
        accepted = deployments_repo.get_review(conn, other)
    assert accepted.decision == {"label": int(advice), "note": None}
    assert accepted.decided_by == "rita"  # remembered by the browser
    assert watched.problems == []


def test_an_alert_is_acknowledged_from_its_deployment_page(
    watched: Watched, base_url: str, demo: Demo
) -> None:
    watched.open(f"{base_url}/deployments/{DEPLOYMENT}")
    card = watched.page.locator("article.alert", has_text="feature-drift").first
    assert "Runbook" in card.inner_text()
    card.locator("input[name=note]").fill("looking at the upstream feed")
    card.locator("input[name=by]").fill("omar")
    card.get_by_role("button", name="Acknowledge").click()
    watched.page.wait_for_load_state("networkidle")
    assert "acknowledged" in watched.page.locator(".notice").inner_text()
    assert (
        "acknowledged by omar"
        in watched.page.locator("article.alert", has_text="feature-drift").first.inner_text()
    )
    acked = [
        a for a in firing_alerts(demo.monitor_id, workspace=demo.ws) if a.rule == "feature-drift"
    ]
    assert acked[0].acked_by == "omar" and acked[0].ack_note == "looking at the upstream feed"
    assert watched.problems == []


def test_with_a_token_the_browser_logs_in_first(watched: Watched, token_url: str) -> None:
    watched.page.goto(f"{token_url}/deployments/{DEPLOYMENT}")
    assert "/login?next=" in watched.page.url
    watched.page.fill("#token", "wrong")
    watched.page.get_by_role("button", name="Log in").click()
    assert "not the workspace's token" in watched.page.locator(".notice").inner_text()
    watched.problems.clear()  # the refused login answered 401, as it should
    watched.page.fill("#token", TOKEN)
    watched.page.get_by_role("button", name="Log in").click()
    watched.page.wait_for_load_state("networkidle")
    assert watched.page.url == f"{token_url}/deployments/{DEPLOYMENT}"
    assert watched.page.locator("[data-figure] svg.main-svg").count() > 0
    (cookie,) = watched.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    watched.page.get_by_role("button", name="Log out").click()
    assert "/login" in watched.page.url
    assert watched.problems == []
