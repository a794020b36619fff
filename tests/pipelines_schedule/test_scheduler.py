"""The scheduler: runs due pipelines once, records why in the ledger, survives failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from schedule_helpers import (
    DRIFT_STARTS,
    HOUR,
    T0,
    calls,
    deploy,
    drifting,
    label,
    send,
    write_pipeline,
)
from typer.testing import CliRunner

from headway.cli import app
from headway.errors import ConfigError, InvalidArgumentError, NotFoundError
from headway.pipelines.scheduler import (
    Schedule,
    ScheduleDecision,
    load_schedules,
    plan,
    run_scheduler,
    schedule_state,
    schedules_from_toml,
    tick,
)
from headway.pipelines.triggers import AlertFiring, Cron, Firing, NewLabels
from headway.store.records import RunRecord
from headway.tracking import get_run, list_runs
from headway.workspace import Workspace

SCHEDULES = """
[[schedule]]
name = "retrain-churn"
pipeline = "pipelines/churn.py:training"
params = {{ n = 7 }}
triggers = [
  {{ cron = "0 3 * * 1" }},
  {{ alert = "churn", min_severity = "warning", rules = ["feature-drift"] }},
  {{ labels = "churn", min_rows = 2000 }},
]
{extra}
"""


def _schedule_runs(ws: Workspace, name: str) -> list[RunRecord]:
    return [r for r in list_runs(workspace=ws) if r.tags.get("headway.schedule") == name]


def test_a_firing_alert_runs_the_pipeline_once_and_says_why(ws: Workspace) -> None:
    drifting(ws)
    write_pipeline(ws.project_dir / "pipelines")
    (ws.project_dir / "schedules.toml").write_text(SCHEDULES.format(extra=""))
    schedules = load_schedules(workspace=ws)
    now = T0 + 5 * HOUR  # a Sunday: the Monday cron has not ticked

    [decision] = tick(schedules, now=now, workspace=ws)
    assert decision.action == "ran", decision.message()
    assert decision.message().startswith(
        "retrain-churn: ran because alert feature-drift firing on churn since "
        "2026-03-01 02:00 UTC (drift.feature: charges)"
    )
    run = get_run(decision.run_id or "", workspace=ws)
    assert run.status == "finished" and run.experiment == "training"
    assert run.tags["headway.schedule"] == "retrain-churn"
    assert run.tags["headway.trigger"] == "alert"
    assert "feature-drift" in run.tags["headway.reason"] and "charges" in run.tags["headway.reason"]
    assert run.tags["headway.scheduled_at"] == now.isoformat()
    [firing] = [Firing.from_dict(f) for f in json.loads(run.tags["headway.firings"])]
    assert firing.kind == "alert" and firing.since == DRIFT_STARTS
    # The pipeline takes ``since``: it got the start of the drift, and the schedule's params.
    assert calls(ws.project_dir / "pipelines") == [{"n": 7, "since": DRIFT_STARTS.isoformat()}]

    # The alert keeps firing, but this schedule already answered it.
    [again] = tick(load_schedules(workspace=ws), now=now + HOUR, workspace=ws)
    assert again.action == "not_due"
    assert "alert on churn: every firing alert was seen by a run" in again.message()
    assert len(_schedule_runs(ws, "retrain-churn")) == 1


def test_cron_runs_at_its_ticks_and_remembers_across_restarts(
    sqlite_ws: Workspace, tmp_path: Path
) -> None:
    ref = f"{write_pipeline(tmp_path)}:training"
    nightly = [Schedule("nightly", ref, (Cron("0 3 * * *"),))]
    first = tick(nightly, now=T0 + HOUR, workspace=sqlite_ws)  # first seen at 01:00
    assert [d.action for d in first] == ["not_due"]
    assert _schedule_runs(sqlite_ws, "nightly") == []  # a schedule that is not due never runs
    [ran] = tick(nightly, now=T0 + 4 * HOUR, workspace=sqlite_ws)
    assert ran.action == "ran" and ran.reason == "cron '0 3 * * *' ticked at 2026-03-01 03:00 UTC"

    restarted = [Schedule("nightly", ref, (Cron("0 3 * * *"),))]  # a new process
    assert [d.action for d in tick(restarted, T0 + 20 * HOUR, sqlite_ws)] == ["not_due"]
    assert [d.action for d in tick(restarted, T0 + 28 * HOUR, sqlite_ws)] == ["ran"]
    state = schedule_state("nightly", workspace=sqlite_ws)
    assert state.first_seen == T0 + HOUR and state.last_success == state.last_attempt
    assert len(_schedule_runs(sqlite_ws, "nightly")) == 2


def test_several_due_triggers_make_one_run_with_every_reason(
    sqlite_ws: Workspace, tmp_path: Path
) -> None:
    deploy(sqlite_ws)
    ids = send(sqlite_ws, 0, 300, seed=1)
    ref = f"{write_pipeline(tmp_path)}:training"
    schedule = Schedule(
        "both", ref, (Cron("0 3 * * *"), NewLabels("churn", min_rows=200)), params={"n": 3}
    )
    tick([schedule], now=T0, workspace=sqlite_ws)  # first seen at midnight
    label(sqlite_ws, ids, np.ones(300), at=T0 + HOUR)
    [decision] = tick([schedule], now=T0 + 4 * HOUR, workspace=sqlite_ws)
    assert decision.action == "ran"
    run = get_run(decision.run_id or "", workspace=sqlite_ws)
    assert run.tags["headway.trigger"] == "cron,labels"
    assert run.tags["headway.reason"] == (
        "cron '0 3 * * *' ticked at 2026-03-01 03:00 UTC; "
        "300 new labels on churn since 2026-03-01 00:00 UTC (at least 200)"
    )
    assert calls(tmp_path) == [{"n": 3, "since": None}]  # no trigger gave a since
    assert ScheduleDecision.from_dict(json.loads(json.dumps(decision.to_dict()))) == decision
    assert len(_schedule_runs(sqlite_ws, "both")) == 1


def test_a_failing_pipeline_is_recorded_and_retried_later_not_in_a_loop(
    sqlite_ws: Workspace, tmp_path: Path
) -> None:
    bad_file = write_pipeline(tmp_path, "raise RuntimeError('no data')", "bad.py")
    broken = f"{bad_file}:training"
    good = f"{write_pipeline(tmp_path)}:training"
    eager = (Cron("0 3 * * *", run_at_start=True),)
    schedules = [
        Schedule("broken", broken, eager, retry_after=timedelta(minutes=30)),
        Schedule("missing", str(tmp_path / "nope.py:training"), eager),
        Schedule("fine", good, eager),
    ]
    first = tick(schedules, now=T0, workspace=sqlite_ws)
    assert [d.action for d in first] == ["failed", "failed", "ran"]  # the others go on
    assert "RuntimeError: no data" in (first[0].error or "")
    failed = get_run(first[0].run_id or "", workspace=sqlite_ws)
    assert failed.status == "failed" and failed.tags["headway.schedule"] == "broken"
    missing = get_run(first[1].run_id or "", workspace=sqlite_ws)
    assert missing.status == "failed" and missing.experiment == "schedule/missing"
    assert "no file" in (missing.error or "")

    # A minute later: waiting for retry_after, not running again.
    second = tick(schedules, now=T0 + timedelta(minutes=1), workspace=sqlite_ws)
    assert [d.action for d in second] == ["waiting", "waiting", "not_due"]
    assert "the next try is after 2026-03-01 00:30 UTC" in second[0].message()
    assert len(_schedule_runs(sqlite_ws, "broken")) == 1

    # After retry_after, the reason still holds (it never finished): it tries again.
    third = tick(schedules[:1], now=T0 + timedelta(minutes=31), workspace=sqlite_ws)
    assert [d.action for d in third] == ["failed"]
    assert len(_schedule_runs(sqlite_ws, "broken")) == 2


def test_run_scheduler_ticks_until_told_to_stop(sqlite_ws: Workspace, tmp_path: Path) -> None:
    ref = f"{write_pipeline(tmp_path)}:training"
    schedule = Schedule("loop", ref, (Cron("0 3 * * *", run_at_start=True),))
    seen: list[str] = []
    until = datetime.now(UTC) + timedelta(seconds=1.5)
    ticks = run_scheduler(
        [schedule],
        interval=1.0,
        until=until,
        workspace=sqlite_ws,
        on_tick=lambda ds: seen.extend(d.action for d in ds),
    )
    assert ticks == 2 and seen == ["ran", "not_due"]
    with pytest.raises(InvalidArgumentError, match="interval"):
        run_scheduler([schedule], interval=0, workspace=sqlite_ws)


def test_plan_says_what_would_run_without_running(sqlite_ws: Workspace, tmp_path: Path) -> None:
    ref = f"{write_pipeline(tmp_path)}:training"
    schedule = Schedule("eager", ref, (Cron("0 3 * * *", run_at_start=True),))
    [decision] = plan([schedule], now=T0, workspace=sqlite_ws)
    assert decision.action == "due" and decision.message().startswith("eager: due because")
    assert _schedule_runs(sqlite_ws, "eager") == []
    assert schedule_state("eager", workspace=sqlite_ws).first_seen is None


def test_schedules_toml_is_checked_with_helpful_errors(tmp_path: Path) -> None:
    [s] = schedules_from_toml(SCHEDULES.format(extra='retry_after = "10m"'), base=tmp_path)
    assert s.reference == "pipelines/churn.py:training" and s.base == tmp_path
    write_pipeline(tmp_path / "pipelines")
    assert s.load().name == "training"  # found next to the TOML file
    assert s.retry_after == timedelta(minutes=10) and s.params == {"n": 7}
    assert s.triggers[1] == AlertFiring("churn", rules=("feature-drift",))
    bad = {
        "[[schedule]]\nname = 'x'\npipeline = 'm:p'\n": "missing keys ['triggers']",
        "[[schedule]]\nname = 'x'\npipeline = 'm:p'\ntriggers = []\nwhen = 1\n": "unknown keys",
        "[[schedule]]\nname = 'x'\npipeline = 'm:p'\ntriggers = []\n": "at least one trigger",
        "[[schedule]]\nname = 'x'\npipeline = 'm:p'\ntriggers = [{cron = '0 3'}]\n": "trigger 1",
        "name = 'x'\n": "no [[schedule]] tables",
        "[[schedule]\n": "not valid TOML",
        SCHEDULES.format(extra="") * 2: "several schedules are named ['retrain-churn']",
    }
    for text, message in bad.items():
        with pytest.raises((ConfigError, InvalidArgumentError)) as info:
            schedules_from_toml(text)
        assert message in str(info.value)
    with pytest.raises(NotFoundError, match="--config"):
        load_schedules(tmp_path / "schedules.toml")
    with pytest.raises(InvalidArgumentError, match="several triggers"):
        Schedule("x", "m:p", (Cron("0 3 * * *"), Cron("0 3 * * *", run_at_start=True)))


def test_the_cli_runs_once_and_lists_schedules(sqlite_ws: Workspace) -> None:
    drifting(sqlite_ws)
    write_pipeline(sqlite_ws.project_dir / "pipelines")
    config = sqlite_ws.project_dir / "nightly.toml"
    config.write_text(SCHEDULES.format(extra=""))
    runner = CliRunner()

    listed = runner.invoke(app, ["scheduler", "list", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert "retrain-churn" in listed.output and "never" in listed.output
    assert "due: alert feature-drift firing on churn" in listed.output
    assert "no: next tick" in listed.output

    ran = runner.invoke(app, ["scheduler", "--once", "--config", str(config)])
    assert ran.exit_code == 0, ran.output
    assert "retrain-churn: ran because alert feature-drift firing on churn since" in ran.output
    again = runner.invoke(app, ["scheduler", "--once", "--config", str(config)])
    assert "retrain-churn: not due" in again.output

    listed = runner.invoke(app, ["scheduler", "list", "--config", str(config)])
    assert "finished" in listed.output and "every firing alert was seen" in listed.output
    shown = runner.invoke(app, ["runs", "show", _schedule_runs(sqlite_ws, "retrain-churn")[0].id])
    assert "headway.reason" in shown.output and "feature-drift" in shown.output

    missing = runner.invoke(app, ["scheduler", "--once"])
    assert missing.exit_code == 1 and "no schedules file" in missing.output
