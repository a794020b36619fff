"""`headway serve` with several worker processes, and the deploy and review commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from serving_helpers import NUMERIC, eventually, free_port
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import headway
from headway.cli import app
from headway.workspace import init_workspace, use_workspace


def test_serve_with_two_workers_follows_deploy_commands(tmp_path: Path) -> None:
    project = tmp_path / "project"
    ws = init_workspace(project)
    use_workspace(ws)
    train = headway.make_churn(1000, seed=3)
    for c in (1.0, 0.001):
        model = LogisticRegression(C=c, max_iter=300).fit(train[NUMERIC], train["churned"])
        headway.register_model("churn", model, input_example=train[NUMERIC].head())
    runner = CliRunner()
    os.chdir(project)
    created = runner.invoke(app, ["deploy", "create", "churn-api", "--model", "models:/churn/1"])
    assert created.exit_code == 0, created.output
    assert "churn-api revision 1: created" in created.output

    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("headway")),
            "serve",
            "churn-api",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=project,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        eventually(lambda: _ready(client), timeout=60)
        record = train[NUMERIC].iloc[:1].to_dict(orient="records")
        answers = [client.post("/predict", json={"records": record}).json() for _ in range(20)]
        assert {a["model_version"] for a in answers} == {"models:/churn/1"}
        metrics = client.get("/metrics").text
        assert "headway_requests_total" in metrics

        switched = runner.invoke(
            app, ["deploy", "switch", "churn-api", "--model", "models:/churn/2", "-m", "retrained"]
        )
        assert switched.exit_code == 0, switched.output
        eventually(
            lambda: all(
                client.post("/predict", json={"records": record}).json()["model_version"]
                == "models:/churn/2"
                for _ in range(10)  # both workers moved
            ),
            timeout=20,
        )
        status = runner.invoke(app, ["deploy", "status", "churn-api"])
        assert "primary   models:/churn/2" in status.output
        assert "standby   models:/churn/1" in status.output and "retrained" in status.output
    finally:
        client.close()
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    listed = runner.invoke(app, ["deploy", "list"])
    assert "churn-api" in listed.output
    bad = runner.invoke(app, ["deploy", "rollback", "nope"])
    assert bad.exit_code == 1 and "no deployment named 'nope'" in bad.output
    assert runner.invoke(app, ["review", "list"]).output.strip() == "The review queue is empty."
    use_workspace(None)


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/v2/health/ready").status_code == 200
    except httpx.TransportError:
        time.sleep(0.2)
        return False
