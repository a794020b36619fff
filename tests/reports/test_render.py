"""HTML reports are self-contained and render their charts in a real browser, offline."""

import shutil
from pathlib import Path

import pytest

from headway.data import compare, make_churn, profile
from headway.reports import render_drift, render_profile

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _drift_html() -> str:
    ref, cur = make_churn(2000, seed=1), make_churn(2000, seed=2, drift=0.6)
    report = compare(ref, cur)
    ref_p = profile(ref)
    return render_drift(report, ref_p, profile(cur, bins_from=ref_p))


def test_reports_inline_plotly_and_fetch_nothing() -> None:
    html = _drift_html()
    assert "<script src=" not in html  # no CDN: Plotly is inlined from the package
    assert "Plotly" in html and "monthly_charges" in html and "drift" in html


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (see .ci/run)")
def test_reports_render_charts_in_chromium_without_network(tmp_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    (tmp_path / "drift.html").write_text(_drift_html())
    (tmp_path / "profile.html").write_text(render_profile(profile(make_churn(1000))))
    requested: list[str] = []

    def block(route: Route) -> None:
        requested.append(route.request.url)
        route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.route("http*://**/*", block)
        for name, charts in (("drift.html", 9), ("profile.html", 8)):
            page.goto((tmp_path / name).as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg")
            assert page.locator(".js-plotly-plot").count() == charts
        browser.close()
    assert requested == []
