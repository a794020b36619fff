"""Screenshots of the dashboard for docs/ui.md: ``.venv/bin/python docs/screenshots.py``.

Builds the benchmark's workspace (bench/ui.py: 30 days of 5-minute windows, a drifted
feature, a promoted canary, runs, a gated and carded model, data reports, a review
queue), starts ``headway ui`` on it and saves each page at 1280x800 in Debian's headless
Chromium to ``docs/images/ui-*.png``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from ui import _free_port, _serve, build_workspace  # noqa: E402  (bench/ui.py)

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def shoot(base: str, out: Path, run_ids: list[str]) -> list[Path]:
    """One PNG per page (a second of the deployment page, scrolled to its drift)."""
    from playwright.sync_api import sync_playwright

    compare = "/runs/compare?" + "&".join(f"run={r}" for r in run_ids)
    shots = [
        ("overview", "/", None),
        ("deployment", "/deployments/churn-api?range=7d", None),
        ("deployment-drift", "/deployments/churn-api?range=30d", "#chart-drift"),
        ("runs", "/runs", None),
        ("compare", compare, "h2"),
        ("models", "/models/churn", None),
        ("model-card", "/models/churn/versions/1", "#card"),
        ("data", "/data?kind=drift", None),
        ("review", "/review", None),
    ]
    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for name, path, anchor in shots:
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            page.wait_for_function(
                "[...document.querySelectorAll('[data-figure]')]"
                ".every(el => el.querySelector('svg.main-svg'))"
            )
            for frame in page.frames[1:]:
                frame.wait_for_load_state("load")
            if anchor:  # the section at the top, below the sticky header
                page.locator(anchor).first.evaluate("el => el.scrollIntoView()")
                page.evaluate("window.scrollBy(0, -64)")
            page.wait_for_timeout(700)  # frames draw their charts
            target = out / f"ui-{name}.png"
            page.screenshot(path=str(target))
            saved.append(target)
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        build_workspace(project)
        port = _free_port()
        process = _serve(project, port)
        try:
            import httpx

            runs = httpx.get(f"http://127.0.0.1:{port}/api/runs?limit=3").json()["runs"]
            for path in shoot(f"http://127.0.0.1:{port}", args.out, [r["id"] for r in runs]):
                print(path.relative_to(ROOT))
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
