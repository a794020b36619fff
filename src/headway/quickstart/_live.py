"""The quickstart's live part: a real prediction server on 127.0.0.1 and real requests."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd
import uvicorn

from headway.errors import HeadwayError
from headway.serving.app import create_app
from headway.serving.deployments import active_revision
from headway.serving.server import ServeOptions
from headway.workspace import Workspace

__all__ = ["Traffic", "ramp", "serving"]


class _Say(logging.Handler):
    """The server's warnings (each canary step, with its reason) told through ``say``."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        self.say(record.getMessage())


@contextmanager
def serving(ws: Workspace, target: str, say: Callable[[str], None]) -> Iterator[int]:
    """Serve ``target`` from a uvicorn server in a thread; yields its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    options = ServeOptions(poll_interval=0.25, flush_interval=0.25)
    config = uvicorn.Config(
        create_app(ws, target, options), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="headway-quickstart-server", daemon=True)
    logger, handler = logging.getLogger("headway"), _Say(say)
    logger.addHandler(handler)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise HeadwayError(f"the prediction server for {target} did not start")
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        logger.removeHandler(handler)


@dataclass
class Traffic:
    """Counts of what the live requests got back, by route."""

    sent: int = 0
    failed: int = 0
    by_route: dict[str, int] = field(default_factory=dict)


def ramp(
    ws: Workspace,
    port: int,
    deployment: str,
    rows: pd.DataFrame,
    timeout: float = 120.0,
) -> tuple[Traffic, bool]:
    """Send customers one request each until the canary ramp is over; (traffic, promoted).

    Each request carries the customer id as its key, so a customer stays on one route
    while the canary's weight is unchanged.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    traffic = Traffic()
    seen = active_revision(deployment, ws).number  # the revision that started the canary
    keys = rows["customer_id"].astype(str).tolist()
    records = [
        {str(k): v for k, v in r.items()}
        for r in rows.drop(columns=["customer_id"]).to_dict(orient="records")
    ]
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for _ in range(200):
                at = traffic.sent % len(records)
                route = _predict(conn, records[at], keys[at])
                traffic.sent += 1
                if route is None:
                    traffic.failed += 1
                else:
                    traffic.by_route[route] = traffic.by_route.get(route, 0) + 1
            revision = active_revision(deployment, ws)
            if revision.number != seen and not revision.config.get("canary"):
                return traffic, "promoted" in (revision.reason or "")
    finally:
        conn.close()
    return traffic, False


def _predict(conn: http.client.HTTPConnection, record: dict[str, object], key: str) -> str | None:
    body = json.dumps({"records": [record], "key": key}, default=str)
    conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    if answer.status != 200:
        return None
    return str(json.loads(data)["route"])
