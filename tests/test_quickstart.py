"""The README's main command, as a user runs it: a real process on a fresh folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import headway
from headway.monitoring import list_monitors, window_results
from headway.monitoring.alerting import alert_events
from headway.pipelines import list_pipeline_runs
from headway.serving.deployments import active_revision, list_revisions
from headway.workspace import Workspace


def _quickstart(folder: Path) -> subprocess.CompletedProcess[str]:
    headway_bin = Path(sys.executable).with_name("headway")
    return subprocess.run(
        [str(headway_bin), "quickstart", str(folder)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "200", "PATH": str(headway_bin.parent)},
    )


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("qs") / "headway-quickstart"
    done = _quickstart(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, folder


def test_the_whole_loop_runs_and_says_so(story: tuple[str, Path]) -> None:
    out, _ = story
    for step in [
        "0 errors",  # validated
        "lift over the zero-rule baseline",
        "models:/churn@champion -> 1",
        "deployed    churn-api",
        "replayed into the prediction log",
        "ALERT",
        "runbook",
        "the scheduler ran training.toml",
        "beats the champion on roc_auc",
        "promoted after its last step",
        "models:/churn@champion -> 2",
        "headway ui",
    ]:
        assert step in out, f"{step!r} missing from:\n{out}"


def test_the_ledger_tells_the_same_story(story: tuple[str, Path]) -> None:
    _, folder = story
    ws = Workspace.open(folder)
    champion = headway.get_model_version("models:/churn@champion", workspace=ws)
    assert champion.version == 2
    [monitor] = list_monitors(workspace=ws)
    windows = window_results(monitor, workspace=ws)
    before = windows.head(9 * 24)  # the world moves on day 9
    after = windows.tail(48)
    assert len(windows) == 14 * 24
    assert (before["feature_drift_status"] == "flagged").mean() < 0.05  # single windows
    assert (after["feature_drift_status"] == "flagged").all()
    firing = [e for e in alert_events(monitor, workspace=ws) if e.kind == "firing"]
    assert {"feature-drift", "performance-drop"} <= {e.alert.rule for e in firing}
    shift = monitor.config.start_ms + 9 * 24 * 3_600_000
    assert min(e.at for e in firing) > shift  # no alert before the world moved
    reasons = [r.reason or "" for r in list_revisions("churn-api", workspace=ws)]
    assert any("promoted after its last step" in r for r in reasons)
    assert active_revision("churn-api", ws).config["primary"] == "models:/churn/2"
    [retrain] = list_pipeline_runs("standard_training", workspace=ws)
    assert retrain.run.tags.get("headway.schedule") == "retrain-churn"
    assert retrain.counts == {"finished": 8}


def test_a_folder_it_did_not_make_is_refused_untouched(
    story: tuple[str, Path], tmp_path: Path
) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    refused = _quickstart(foreign)
    assert refused.returncode != 0 and "not made by the quickstart" in refused.stderr
    assert (foreign / "notes.txt").read_text() == "keep me"
