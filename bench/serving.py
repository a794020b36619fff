"""Serving speed: Headway's /predict against a bare Starlette endpoint, in one run.

Run: ``.venv/bin/python bench/serving.py`` (needs ``wrk``: ``apt-get install wrk``; prints
JSON, then a one-line summary). ``--seconds 5`` for a quick look.

For a logistic regression and a random forest (50 trees, depth 8) on 20 features, one-row
JSON requests are sent with wrk over loopback at concurrency 1 and 16, to ``headway serve``
(one worker, prediction log on, as deployed) and to a bare Starlette-on-uvicorn endpoint
that parses the same JSON with the same parser and returns a constant. Targets (issue
"Serving and deployment"): at concurrency 16, at least 50% of the bare endpoint's
throughput for the logistic regression and 25% for the forest; at concurrency 1, p50
latency within 1 ms of the bare endpoint's p50 plus one in-process ``predict`` on a NumPy
row. Batch prediction is measured by ``bench/batch.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = [f"f{i}" for i in range(20)]
TARGETS = {"logistic_regression": 0.5, "random_forest": 0.25}
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{body}]]
"""


def bare_app() -> Any:
    """The reference: parse the JSON body, return a constant."""
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def predict(request: Request) -> Response:
        orjson.loads(await request.body())
        return Response(b'{"predictions":[0]}', media_type="application/json")

    return Starlette(routes=[Route("/predict", predict, methods=["POST"])])


def train(folder: Path) -> dict[str, Any]:
    """Register both models in a fresh workspace; return their URIs and native models."""
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    import headway

    ws = headway.use_workspace(headway.init(folder))
    assert ws is not None
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(5000, 20)), columns=FEATURES)
    y = (X.f0 + X.f1 * X.f2 + rng.normal(size=5000) > 0).astype(int)
    models = {
        "logistic_regression": LogisticRegression(max_iter=500).fit(X, y),
        "random_forest": RandomForestClassifier(50, max_depth=8, random_state=0).fit(X, y),
    }
    out = {}
    for name, model in models.items():
        version = headway.register_model(name.replace("_", "-"), model, input_example=X.head())
        out[name] = {"uri": version.uri, "model": model}
    headway.use_workspace(None)
    return out


def predict_p50_ms(model: Any) -> float:
    """One in-process predict on a NumPy row: the cost a server cannot avoid."""
    row = np.random.default_rng(1).normal(size=(1, 20))
    import warnings

    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    times = timeit.repeat(lambda: model.predict(row), number=1, repeat=400)
    return float(np.median(times) * 1000)


def start(command: list[str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    import httpx

    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/predict", content=BODY, timeout=2)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command} did not start")


def wrk(port: int, connections: int, seconds: float, script: Path) -> dict[str, float]:
    threads = min(2, connections)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/predict",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": rps,
        "p50_ms": _ms(p50),
        "p99_ms": _ms(p99),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _ms(match: re.Match[str] | None) -> float:
    assert match is not None
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


ROW = {f: round(float(v), 4) for f, v in zip(FEATURES, np.linspace(-1, 1, 20), strict=True)}
BODY = json.dumps({"records": [ROW]}).encode()


def measure(seconds: float) -> dict[str, Any]:
    # Other work on the machine skews every figure: the load average says how much there was.
    results: dict[str, Any] = {"load_average_1m": {"start": round(os.getloadavg()[0], 2)}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = train(folder / "project")
        script = folder / "post.lua"
        script.write_text(LUA.format(body=BODY.decode()))
        headway = str(Path(sys.executable).with_name("headway"))
        port = 18_400
        bare = start([sys.executable, __file__, "--bare", str(port)], port, folder)
        try:
            results["bare"] = {
                "c1": wrk(port, 1, seconds, script),
                "c16": wrk(port, 16, seconds, script),
            }
        finally:
            bare.terminate()
            bare.wait()
        for i, (name, spec) in enumerate(models.items()):
            port = 18_401 + i
            server = start(
                [headway, "serve", spec["uri"], "--port", str(port)], port, folder / "project"
            )
            try:
                c1 = wrk(port, 1, seconds, script)
                c16 = wrk(port, 16, seconds, script)
            finally:
                server.terminate()
                server.wait()
            predict_ms = predict_p50_ms(spec["model"])
            bare = results["bare"]
            budget = bare["c1"]["p50_ms"] + predict_ms + 1.0
            ratio = c16["requests_per_s"] / bare["c16"]["requests_per_s"]
            results[name] = {
                "c1": c1,
                "c16": c16,
                "predict_p50_ms": round(predict_ms, 3),
                "throughput_ratio_c16": round(ratio, 3),
                "throughput_target": TARGETS[name],
                "p50_c1_budget_ms": round(budget, 3),
                "ok": ratio >= TARGETS[name] and c1["p50_ms"] <= budget,
            }
    results["load_average_1m"]["end"] = round(os.getloadavg()[0], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per wrk run")
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)  # run the reference app
    args = parser.parse_args()
    if args.bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.bare, log_level="warning")
        return
    if shutil.which("wrk") is None:
        sys.exit("bench/serving.py drives load with wrk; install it: apt-get install wrk")
    results = measure(args.seconds)
    print(json.dumps(results, indent=2))
    parts = []
    for name in TARGETS:
        r = results[name]
        parts.append(
            f"{name}: c16 {r['c16']['requests_per_s']:,.0f} req/s = "
            f"{r['throughput_ratio_c16']:.0%} of bare (target {r['throughput_target']:.0%}), "
            f"c1 p50 {r['c1']['p50_ms']:.2f} ms (budget {r['p50_c1_budget_ms']:.2f}) "
            f"{'ok' if r['ok'] else 'MISSED'}"
        )
    bare = results["bare"]
    load = results["load_average_1m"]
    print(
        f"serving: bare c16 {bare['c16']['requests_per_s']:,.0f} req/s, c1 p50 "
        f"{bare['c1']['p50_ms']:.2f} ms; " + "; ".join(parts) + f" (load {load['start']}"
        f"-{load['end']})"
    )


if __name__ == "__main__":
    main()
