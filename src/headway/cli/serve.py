"""``headway serve``: the prediction server for a deployment or a model."""

from __future__ import annotations

import json
import os
import tempfile

import typer

from headway.cli._app import app, console, fail_cleanly


@app.command("serve")
@fail_cleanly
def serve(
    target: str = typer.Argument(
        ..., help="A deployment name, or a model URI such as models:/churn@champion."
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 exposes it."),
    port: int = typer.Option(8080, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Server processes sharing the port."),
    max_batch_size: int = typer.Option(64, min=1, help="Most rows per model call."),
    max_wait_ms: float = typer.Option(
        0.0,
        min=0.0,
        help="Wait this long to fill a batch (0: adaptively, only while others are in flight).",
    ),
    max_queue: int = typer.Option(
        2048, min=1, help="Queued rows per model beyond which requests get 503."
    ),
    flush_interval: float = typer.Option(
        1.0, min=0.01, help="Seconds of prediction log that may be lost in a crash."
    ),
    no_log: bool = typer.Option(False, "--no-log", help="Do not write the prediction log."),
    trusted: bool = typer.Option(
        False, "--trusted", help="Allow models stored with cloudpickle (runs their code)."
    ),
) -> None:
    """Serve predictions over the Open Inference Protocol v2, MLflow's /invocations and
    Headway's /predict, following the deployment's revisions as they change."""
    import uvicorn

    from headway.serving.app import create_app
    from headway.serving.server import ServeOptions
    from headway.workspace import current_workspace

    options = ServeOptions(
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        max_queue_rows=max_queue,
        flush_interval=flush_interval,
        log_predictions=not no_log,
        trusted=trusted,
    )
    ws = current_workspace()
    console.print(f"serving [bold]{target}[/] on http://{host}:{port} ({workers} worker(s))")
    config = {"host": host, "port": port, "log_level": "warning", "access_log": False}
    if workers == 1:
        uvicorn.run(create_app(ws, target, options), **config)  # type: ignore[arg-type]
        return
    os.environ["HEADWAY_PROJECT_DIR"] = str(ws.project_dir)
    os.environ["HEADWAY_SERVE_TARGET"] = target
    os.environ["HEADWAY_SERVE_OPTIONS"] = json.dumps(options.__dict__)
    with tempfile.TemporaryDirectory(prefix="headway-metrics-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # one /metrics for all workers
        uvicorn.run(
            "headway.serving.app:app_from_env",
            factory=True,
            workers=workers,
            **config,  # type: ignore[arg-type]
        )
