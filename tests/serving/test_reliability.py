"""A minute at full throughput: no 5xx, and every answer is in the prediction log."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from serving_helpers import NUMERIC, eventually, free_port
from sklearn.linear_model import LogisticRegression

import headway
from headway.serving.log import query
from headway.workspace import init_workspace, use_workspace

SECONDS = float(os.environ.get("HEADWAY_RELIABILITY_SECONDS", "60"))
CONCURRENCY = 16


async def _load(base_url: str, records: list[dict], seconds: float) -> list[tuple[int, dict]]:
    answers: list[tuple[int, dict]] = []
    stop = time.monotonic() + seconds
    # Drop idle connections before the server (uvicorn: after 5 s) does, or a stalled
    # machine makes the client reuse one the server just closed: a client-side ReadError.
    limits = httpx.Limits(max_connections=CONCURRENCY, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:

        async def user(k: int) -> None:
            i = k
            while time.monotonic() < stop:
                body = {"records": [records[i % len(records)]]}
                response = await client.post("/predict", json=body)
                answers.append((response.status_code, response.json()))
                i += CONCURRENCY

        await asyncio.gather(*(user(k) for k in range(CONCURRENCY)))
    return answers


def test_a_minute_of_full_load_has_no_5xx_and_loses_no_log_record(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "project")
    use_workspace(ws)
    train = headway.make_churn(2000, seed=4)
    model = LogisticRegression(max_iter=300).fit(train[NUMERIC], train["churned"])
    headway.register_model("churn", model, input_example=train[NUMERIC].head())
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("headway")),
            "serve",
            "models:/churn/1",
            "--port",
            str(port),
        ],
        cwd=ws.project_dir,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _ready(base), timeout=60)
        records = train[NUMERIC].to_dict(orient="records")
        answers = asyncio.run(_load(base, records, SECONDS))
    finally:
        server.send_signal(signal.SIGINT)  # a clean stop writes what the log buffered
        server.wait(timeout=30)
    codes = {code for code, _ in answers}
    assert codes == {200}, codes
    assert len(answers) > 100 * SECONDS  # full throughput, not a trickle
    logged = query(
        ws.log_root,
        "SELECT request_id, outputs.prediction AS prediction, status FROM predictions",
    ).to_pydict()
    by_id = dict(zip(logged["request_id"], logged["prediction"], strict=True))
    assert len(by_id) == len(answers)
    for _, body in answers:
        assert by_id[body["request_id"]] == body["predictions"][0]
    assert set(logged["status"]) == {200}
    use_workspace(None)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/v2/health/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        time.sleep(0.2)
        return False
