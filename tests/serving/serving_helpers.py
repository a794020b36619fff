"""Real servers on 127.0.0.1 for the serving tests, and the models they serve."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import numpy as np
import pandas as pd
import uvicorn
from sklearn.linear_model import LogisticRegression

from headway.serving.app import create_app
from headway.serving.server import ServeOptions
from headway.workspace import Workspace

NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]
MIXED = [*NUMERIC, "plan"]


class Flaky:
    """A model that fails on customers paying more than ``limit``: a canary gone wrong."""

    def __init__(self, model: LogisticRegression, limit: float) -> None:
        self.model = model
        self.limit = limit

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if (np.asarray(X["monthly_charges"]) > self.limit).any():
            raise RuntimeError("feature store timeout")
        return self.model.predict(X[NUMERIC])


class Slow:
    """A model that takes 50 ms per call, to fill queues."""

    def __init__(self, model: LogisticRegression) -> None:
        self.model = model

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        time.sleep(0.05)
        return self.model.predict(X[NUMERIC])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(
    ws: Workspace, target: str, options: ServeOptions | None = None
) -> Iterator[httpx.Client]:
    """A real uvicorn server on 127.0.0.1 (in a thread), and a client pointed at it."""
    port = free_port()
    app = create_app(ws, target, options or ServeOptions(flush_interval=0.05, poll_interval=0.1))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the server for {target} did not start")
        time.sleep(0.02)
    try:
        yield client
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=15)


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``check()`` holds (the log flushes and revisions apply asynchronously)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.05)
