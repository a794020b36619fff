"""Retraining triggers: one contract for every kind, then each kind's own behaviour."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from schedule_helpers import DRIFT_STARTS, HOUR, T0, deploy, drifting, label, send

from headway.errors import InvalidArgumentError
from headway.monitoring.alerting import firing_alerts
from headway.pipelines.triggers import (
    AlertFiring,
    Check,
    Cron,
    Firing,
    LastRun,
    NewLabels,
    Trigger,
    trigger_from_dict,
)
from headway.serving.log import PredictionLog
from headway.workspace import Workspace


@dataclass
class Case:
    """A trigger, and how to make it due: set up the workspace, return (last run, now)."""

    trigger: Trigger
    make_due: Callable[[Workspace], tuple[LastRun, datetime]]


def _cron_due(ws: Workspace) -> tuple[LastRun, datetime]:
    return LastRun(T0), T0 + timedelta(days=1)


def _alert_due(ws: Workspace) -> tuple[LastRun, datetime]:
    drifting(ws)
    return LastRun(T0), T0 + 5 * HOUR


def _labels_due(ws: Workspace) -> tuple[LastRun, datetime]:
    deploy(ws)
    ids = send(ws, 0, 80, seed=1)
    label(ws, ids[:60], np.ones(60), at=T0 + 2 * HOUR)
    return LastRun(T0 + HOUR), T0 + 3 * HOUR


CASES = {
    "cron": Case(Cron("0 3 * * *"), _cron_due),
    "alert": Case(AlertFiring("churn"), _alert_due),
    "labels": Case(NewLabels("churn", min_rows=50), _labels_due),
}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


# -- the contract every trigger honours ------------------------------------------------


def test_a_trigger_round_trips_through_its_toml_table(case: Case) -> None:
    trigger = case.trigger
    assert isinstance(trigger, Trigger)
    assert trigger_from_dict(trigger.to_dict()) == trigger
    assert trigger.key.startswith(trigger.kind) and trigger.describe()


def test_a_trigger_is_not_due_on_a_quiet_workspace(case: Case, sqlite_ws: Workspace) -> None:
    deploy(sqlite_ws)
    check = case.trigger.check(LastRun(T0), T0 + HOUR, sqlite_ws)
    assert isinstance(check, Check)
    assert not check.due and check.firing is None and check.note


def test_a_due_trigger_fires_with_its_reason_once(case: Case, sqlite_ws: Workspace) -> None:
    last, now = case.make_due(sqlite_ws)
    check = case.trigger.check(last, now, sqlite_ws)
    assert check.due and check.firing is not None
    firing = check.firing
    assert firing.kind == case.trigger.kind and firing.at == now and firing.reason
    assert Firing.from_json(firing.to_json()) == firing
    assert case.trigger.check(last, now, sqlite_ws) == check  # checking changes nothing

    # Once the schedule ran at ``now``, remembering what the trigger saw, it is not due.
    after = LastRun(now, seen={case.trigger.key: check.seen})
    assert not case.trigger.check(after, now, sqlite_ws).due


# -- cron ------------------------------------------------------------------------------


def test_cron_is_due_once_a_tick_passed_since_the_last_run(sqlite_ws: Workspace) -> None:
    nightly = Cron("0 3 * * *")
    never = LastRun(T0 + HOUR, ran=False)  # first seen at 01:00
    assert not nightly.check(never, T0 + 2 * HOUR, sqlite_ws).due
    assert nightly.check(never, T0 + 2 * HOUR, sqlite_ws).note == "next tick 2026-03-01 03:00 UTC"
    fired = nightly.check(never, T0 + 3 * HOUR, sqlite_ws).firing
    assert fired is not None and fired.reason == "cron '0 3 * * *' ticked at 2026-03-01 03:00 UTC"
    # Three nights missed (the scheduler was down): due, once.
    late = nightly.check(LastRun(T0 + 4 * HOUR), T0 + timedelta(days=3, hours=5), sqlite_ws)
    assert late.due and "2026-03-02 03:00" in late.note


def test_cron_can_run_at_start_and_in_a_time_zone(sqlite_ws: Workspace) -> None:
    eager = Cron("0 3 * * *", run_at_start=True)
    assert eager.check(LastRun(T0, ran=False), T0, sqlite_ws).due
    assert not eager.check(LastRun(T0), T0 + HOUR, sqlite_ws).due  # it ran: ticks now
    paris = Cron("0 3 * * *", timezone="Europe/Paris")  # UTC+1 in March
    assert paris.next_tick(T0) == T0 + 2 * HOUR
    assert trigger_from_dict({"cron": "0 3 * * *", "timezone": "Europe/Paris"}) == paris


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"cron": "every night"}, "not a cron expression"),
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"cron": "0 3 * * *", "min_rows": 3}, "do not take ['min_rows']"),
        ({"alert": "churn", "labels": "churn"}, "exactly one of cron, alert, labels"),
        ({"alert": "churn", "min_severity": "page"}, "min_severity must be one of"),
        ({"alert": "churn", "rules": "feature-drift"}, "list of alert rule names"),
        ({"alert": "churn", "rules": 3}, "list of alert rule names"),
        ({"labels": "churn", "min_rows": 0}, "min_rows must be at least 1"),
        ({"labels": ""}, "needs a deployment name"),
        ("0 3 * * *", "must be a table"),
    ],
)
def test_bad_trigger_tables_say_what_to_write(table: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match="trigger") as info:
        trigger_from_dict(table)  # type: ignore[arg-type]
    assert message in str(info.value)


@given(
    st.sampled_from(["0 3 * * *", "*/15 * * * *", "30 6 * * 1-5", "0 0 1 * *"]),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_cron_next_tick_is_after_and_then_due(expression: str, moment: datetime) -> None:
    cron = Cron(expression)
    at = moment.replace(tzinfo=UTC)
    tick = cron.next_tick(at)
    assert tick > at and cron.next_tick(tick - timedelta(seconds=1)) == tick


# -- alerts ----------------------------------------------------------------------------


def test_an_alert_says_what_fired_and_since_when(sqlite_ws: Workspace) -> None:
    drifting(sqlite_ws)
    check = AlertFiring("churn", rules=("feature-drift",)).check(
        LastRun(T0, ran=False), T0 + 5 * HOUR, sqlite_ws
    )
    firing = check.firing
    assert firing is not None
    assert firing.reason == (
        "alert feature-drift firing on churn since 2026-03-01 02:00 UTC (drift.feature: charges)"
    )
    assert firing.since == DRIFT_STARTS  # the first drifted window, not the firing one
    assert firing.context["rules"] == ["feature-drift"]
    assert firing.context["subjects"] == ["charges"]
    fired = [a.id for a in firing_alerts("churn", workspace=sqlite_ws) if a.rule == "feature-drift"]
    assert firing.context["alerts"] == fired and check.seen == fired


def test_an_alert_trigger_filters_rules_severity_and_deployment(sqlite_ws: Workspace) -> None:
    drifting(sqlite_ws)
    now, last = T0 + 5 * HOUR, LastRun(T0)
    both = AlertFiring("churn").check(last, now, sqlite_ws).firing
    assert both is not None and both.context["rules"] == ["feature-drift", "prediction-drift"]
    quiet = [
        AlertFiring("churn", rules=("performance-drop",)),
        AlertFiring("churn", min_severity="critical"),  # drift alerts are warnings
        AlertFiring("billing"),  # no monitor
    ]
    for trigger in quiet:
        check = trigger.check(last, now, sqlite_ws)
        assert not check.due and check.note == "no alert firing", trigger


def test_an_alert_seen_by_the_last_run_does_not_fire_again(sqlite_ws: Workspace) -> None:
    drifting(sqlite_ws)
    trigger = AlertFiring("churn")
    seen = trigger.check(LastRun(T0), T0 + 5 * HOUR, sqlite_ws).seen
    one_seen = LastRun(T0 + 5 * HOUR, seen={trigger.key: seen[:1]})
    again = trigger.check(one_seen, T0 + 6 * HOUR, sqlite_ws)
    assert again.firing is not None and again.firing.context["alerts"] == seen[1:]
    done = trigger.check(LastRun(T0 + 6 * HOUR, seen={trigger.key: seen}), T0, sqlite_ws)
    assert done.note == "every firing alert was seen by a run"


# -- labels ----------------------------------------------------------------------------


def test_labels_count_this_deployments_requests_since_the_last_run(
    sqlite_ws: Workspace,
) -> None:
    deploy(sqlite_ws)
    ids = send(sqlite_ws, 0, 100, seed=1)  # a shadow row per request, too
    with PredictionLog(sqlite_ws.log_root, fsync=False) as log:
        log.log(
            ["b-1", "b-2"],
            inputs={"x": np.array([1.0, 2.0])},
            outputs={"prediction": np.array([0, 1])},
            deployment="billing",
            revision=1,
            model_version="models:/billing/1",
            latency_ms=1.0,
            time=T0,
        )
    label(sqlite_ws, ids[:30], np.ones(30), at=T0 + HOUR)  # before the last run
    label(sqlite_ws, ids[30:70], np.ones(40), at=T0 + 3 * HOUR)
    label(sqlite_ws, ids[30:40], np.zeros(10), at=T0 + 4 * HOUR)  # corrections count once
    label(sqlite_ws, ["b-1", "b-2", "unknown"], np.ones(3), at=T0 + 3 * HOUR)
    label(sqlite_ws, ids[70:], np.ones(30), at=T0 + 9 * HOUR)  # after now

    trigger = NewLabels("churn", min_rows=40)
    assert trigger.count(T0 + 2 * HOUR, T0 + 5 * HOUR, sqlite_ws) == 40
    last = LastRun(T0 + 2 * HOUR)
    fired = trigger.check(last, T0 + 5 * HOUR, sqlite_ws).firing
    assert fired is not None and fired.context == {"rows": 40}
    assert fired.reason == "40 new labels on churn since 2026-03-01 02:00 UTC (at least 40)"
    short = NewLabels("churn", min_rows=41).check(last, T0 + 5 * HOUR, sqlite_ws)
    assert not short.due and short.note == "40 of 41 labels since the last run"


@given(
    kind=st.sampled_from(["cron", "alert", "labels"]),
    reason=st.text(),
    at=st.datetimes(timezones=st.just(UTC)),
    since=st.none() | st.datetimes(timezones=st.just(UTC)),
    context=st.dictionaries(
        st.text(), st.none() | st.integers() | st.text() | st.lists(st.text()), max_size=4
    ),
)
def test_a_firing_round_trips_through_json(
    kind: str, reason: str, at: datetime, since: datetime | None, context: dict[str, object]
) -> None:
    firing = Firing(kind, reason, at, since, context)
    assert Firing.from_json(firing.to_json()) == firing
    assert Firing.from_dict(json.loads(json.dumps(firing.to_dict()))) == firing
