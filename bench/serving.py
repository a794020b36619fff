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
row. All three servers run at once and wrk goes round them ``--rounds`` times (half the
time each by default), so other load on the machine weighs on both sides of each ratio.
Batch prediction is measured by ``bench/batch.py``.
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


def measure(seconds: float, rounds: int) -> dict[str, Any]:
    """Every server runs at once; the wrk runs go round them ``rounds`` times, so a change
    in the machine's other load during the run weighs on the bare endpoint and the
    models alike."""
    # Other work on the machine skews every figure: the load average says how much there was.
    results: dict[str, Any] = {"load_average_1m": {"start": round(os.getloadavg()[0], 2)}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = train(folder / "project")
        script = folder / "post.lua"
        script.write_text(LUA.format(body=BODY.decode()))
        headway = str(Path(sys.executable).with_name("headway"))
        ports = {"bare": 18_400} | {name: 18_401 + i for i, name in enumerate(models)}
        servers = []
        try:
            bare_command = [sys.executable, __file__, "--bare", str(ports["bare"])]
            servers.append(start(bare_command, ports["bare"], folder))
            for name, spec in models.items():
                command = [headway, "serve", spec["uri"], "--port", str(ports[name])]
                servers.append(start(command, ports[name], folder / "project"))
            runs: dict[str, dict[str, list[dict[str, float]]]] = {
                name: {"c1": [], "c16": []} for name in ports
            }
            for _ in range(rounds):
                for name, port in ports.items():
                    for level, connections in (("c1", 1), ("c16", 16)):
                        runs[name][level].append(wrk(port, connections, seconds / rounds, script))
        finally:
            for server in servers:
                server.terminate()
                server.wait()
    figures = {
        name: {level: _mean(r) for level, r in levels.items()} for name, levels in runs.items()
    }
    bare = results["bare"] = figures["bare"]
    for name, spec in models.items():
        c1, c16 = figures[name]["c1"], figures[name]["c16"]
        predict_ms = predict_p50_ms(spec["model"])
        budget = bare["c1"]["p50_ms"] + predict_ms + 1.0
        ratio = c16["requests_per_s"] / bare["c16"]["requests_per_s"]
        results[name] = {
            "c1": c1,
            "c16": c16,
            "predict_p50_ms": round(predict_ms, 3),
            "throughput_ratio_c16": round(ratio, 3),
            "throughput_ratios_by_round": [
                round(m["requests_per_s"] / b["requests_per_s"], 3)
                for m, b in zip(runs[name]["c16"], runs["bare"]["c16"], strict=True)
            ],
            "throughput_target": TARGETS[name],
            "p50_c1_budget_ms": round(budget, 3),
            "ok": ratio >= TARGETS[name] and c1["p50_ms"] <= budget,
        }
    results["load_average_1m"]["end"] = round(os.getloadavg()[0], 2)
    return results


def _mean(runs: list[dict[str, float]]) -> dict[str, float]:
    """Throughput and latencies averaged over rounds; errors added up."""
    return {
        key: sum(r[key] for r in runs)
        if key == "non_2xx"
        else round(sum(r[key] for r in runs) / len(runs), 3)
        for key in runs[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per server and level")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the servers")
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)  # run the reference app
    args = parser.parse_args()
    if args.bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.bare, log_level="warning")
        return
    if shutil.which("wrk") is None:
        sys.exit("bench/serving.py drives load with wrk; install it: apt-get install wrk")
    results = measure(args.seconds, args.rounds)
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
