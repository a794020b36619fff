"""Traffic, drift and pipeline files for the trigger and scheduler tests.

The traffic helpers are the monitoring tests' own (tests/monitoring), reused as they are.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitoring"))

from test_monitor_alerting import drifted
from test_monitor_service import HOUR, T0, deploy, label, send

from headway.monitoring.alerting import evaluate_alerts
from headway.workspace import Workspace

__all__ = [
    "DRIFT_STARTS",
    "HOUR",
    "T0",
    "calls",
    "deploy",
    "drifting",
    "label",
    "send",
    "write_pipeline",
]

# The drift begins with the third hour of traffic; feature-drift fires after two windows.
DRIFT_STARTS = T0 + 2 * HOUR


def drifting(ws: Workspace) -> str:
    """Deployment ``churn`` with two calm hours, then two in which ``charges`` moved by
    0.8 sd; its monitor has computed the four windows and fired its alerts. The monitor id."""
    monitor = drifted(ws)
    events = evaluate_alerts(monitor, workspace=ws)  # sent to .headway/alerts.log
    assert {e.alert.rule for e in events if e.kind == "firing"} >= {"feature-drift"}
    return monitor.id


def write_pipeline(folder: Path, body: str = "", name: str = "churn.py") -> Path:
    """A pipeline file ``training(n, since)``; its step appends what it was given to
    ``calls.jsonl`` beside the file (see :func:`calls`). ``body`` runs first (e.g. to fail)."""
    step = textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ") if body else ""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "import json\n"
        "from datetime import datetime\n"
        "from pathlib import Path\n"
        "from headway.pipelines import pipeline, step\n\n\n"
        "@step\n"
        "def fit(n: int, since: str | None) -> dict:\n"
        f"{step}"
        "    with open(Path(__file__).parent / 'calls.jsonl', 'a') as out:\n"
        "        out.write(json.dumps({'n': n, 'since': since}) + '\\n')\n"
        "    return {'n': n, 'since': since}\n\n\n"
        "@pipeline\n"
        "def training(n: int = 10, since: datetime | None = None):\n"
        "    return fit(n, None if since is None else since.isoformat())\n"
    )
    return path


def calls(folder: Path) -> list[dict[str, Any]]:
    """What the steps of the pipelines in ``folder`` were called with, in order."""
    path = folder / "calls.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
