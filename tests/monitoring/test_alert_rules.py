"""Alert rules, their TOML form, and the alert state machine."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headway.errors import ConfigError, InvalidArgumentError, NotFoundError
from headway.monitoring.alerts import (
    AlertEvent,
    AlertRule,
    AlertState,
    WindowObservation,
    acknowledge,
    default_rules,
    evaluate,
    rules_from_file,
    rules_from_toml,
)

HOUR = 3_600_000
MONITOR = "churn"


def window(i: int, details: dict[str, Any] | None = None, **values: Any) -> WindowObservation:
    """The i-th hourly window; keyword names use ``__`` for ``.`` (ops__error_rate)."""
    checks = {name.replace("__", "."): value for name, value in values.items()}
    return WindowObservation(MONITOR, i * HOUR, (i + 1) * HOUR, checks, details or {})


def run(
    rules: list[AlertRule], windows: list[WindowObservation], state: AlertState | None = None
) -> tuple[AlertState, list[list[AlertEvent]]]:
    state = state or AlertState()
    per_window = []
    for obs in windows:
        state, events = evaluate(rules, state, obs)
        per_window.append(events)
    return state, per_window


def kinds(per_window: list[list[AlertEvent]]) -> list[list[str]]:
    return [[e.kind for e in events] for events in per_window]


ERRORS = AlertRule(
    "error-rate", "ops.error_rate", "above", 0.05, for_windows=2, severity="critical",
    runbook="roll back",
)  # fmt: skip


# -- the state machine ---------------------------------------------------------------


def test_a_breach_is_pending_until_it_lasts_for_windows_then_fires_once() -> None:
    state, events = run([ERRORS], [window(0, ops__error_rate=0.07)])
    assert events == [[]]
    assert [(t.status, t.streak) for t in state.tracks] == [("pending", 1)]

    state, events = run([ERRORS], [window(1, ops__error_rate=0.08)], state)
    [[firing]] = events
    assert firing.kind == "firing" and firing.notifies
    alert = firing.alert
    assert (alert.rule, alert.subject, alert.severity, alert.state) == (
        "error-rate",
        MONITOR,
        "critical",
        "firing",
    )
    assert alert.value == 0.08 and alert.fired_at == 2 * HOUR and alert.runbook == "roll back"
    assert "ops.error_rate = 0.08 above 0.05 for 2 windows" in alert.summary
    assert state.firing == [alert]


def test_a_single_bad_window_between_good_ones_never_fires() -> None:
    rates = [0.07, 0.01, 0.09, 0.0, 0.2]
    _, events = run([ERRORS], [window(i, ops__error_rate=r) for i, r in enumerate(rates)])
    assert kinds(events) == [[], [], [], [], []]


def test_a_firing_alert_is_deduplicated_while_it_keeps_breaching() -> None:
    windows = [window(i, ops__error_rate=0.07 + i / 100) for i in range(6)]
    state, events = run([ERRORS], windows)
    assert kinds(events) == [[], ["firing"], [], [], [], []]
    [alert] = state.firing
    assert alert.value == pytest.approx(0.12)  # the latest value, without a new event
    assert alert.fired_at == 2 * HOUR


def test_an_alert_resolves_after_one_good_window() -> None:
    rates = [0.07, 0.08, 0.01]
    state, events = run([ERRORS], [window(i, ops__error_rate=r) for i, r in enumerate(rates)])
    assert kinds(events) == [[], ["firing"], ["resolved"]]
    resolved = events[2][0].alert
    assert resolved.state == "resolved" and resolved.resolved_at == 3 * HOUR
    assert resolved.id == events[1][0].alert.id
    assert state.firing == [] and state.tracks == ()


def test_cooldown_suppresses_a_refire_until_it_is_over() -> None:
    rule = AlertRule("latency", "ops.latency_p99_ms", "above", 500, cooldown=timedelta(hours=3))
    lat = [900, 100, 900, 900, 900, 900, 100]
    state, events = run([rule], [window(i, ops__latency_p99_ms=v) for i, v in enumerate(lat)])
    # resolved at the end of window 1 (2h); windows ending 3h and 4h are within 3 h of it.
    assert kinds(events) == [["firing"], ["resolved"], [], [], ["firing"], [], ["resolved"]]
    first, second = events[0][0].alert, events[4][0].alert
    assert first.id != second.id and second.fired_at == 5 * HOUR
    assert state.tracks[0].status == "cooldown"


def test_cooldown_keeps_counting_so_a_lasting_breach_fires_when_it_ends() -> None:
    rule = AlertRule(
        "errors", "ops.error_rate", "above", 0.05, for_windows=2, cooldown=timedelta(hours=3)
    )
    rates = [0.1, 0.1, 0.0, 0.1, 0.1, 0.1]
    _, events = run([rule], [window(i, ops__error_rate=r) for i, r in enumerate(rates)])
    # Resolved at 3 h; the breach lasts two windows by 5 h but fires only when cooldown ends.
    assert kinds(events) == [[], ["firing"], ["resolved"], [], [], ["firing"]]
    assert events[5][0].alert.fired_at == 6 * HOUR


def test_below_compares_downwards() -> None:
    rule = AlertRule("low-score", "performance.score", "below", 0.7)
    _, events = run([rule], [window(0, performance__score=0.71), window(1, performance__score=0.5)])
    assert kinds(events) == [[], ["firing"]]


def test_grouped_drift_fires_one_alert_listing_the_drifted_features() -> None:
    rule = AlertRule("feature-drift", "drift.feature", "flagged", for_windows=2, group=True)
    flags = [
        {"age": True, "income": False, "plan": False},
        {"age": True, "income": True, "plan": True},
        {"age": True, "income": True, "plan": False},
        {"age": False, "income": True, "plan": False},
        {"age": False, "income": False, "plan": False},
    ]
    windows = [window(i, {"scores": f}, drift__feature=f) for i, f in enumerate(flags)]
    state, events = run([rule], windows)
    assert kinds(events) == [[], ["firing"], ["updated"], ["updated"], ["resolved"]]
    firing = events[1][0]
    assert firing.alert.subject == MONITOR and firing.alert.value is None
    assert firing.alert.subjects == ("age", "income", "plan")
    assert "3 subjects (age, income, plan)" in firing.alert.summary
    assert firing.details == {"scores": flags[1]}
    assert events[2][0].alert.subjects == ("age", "income")
    assert events[3][0].alert.subjects == ("income",) and not events[3][0].notifies
    assert events[3][0].alert.id == firing.alert.id
    notified = [e for batch in events for e in batch if e.notifies]
    assert [e.kind for e in notified] == ["firing", "resolved"]
    assert state.tracks == ()


def test_grouped_rule_waits_until_one_feature_lasts_for_windows() -> None:
    rule = AlertRule("feature-drift", "drift.feature", "flagged", for_windows=2, group=True)
    flags = [{"a": True, "b": False}, {"a": False, "b": True}, {"a": True, "b": False}]
    _, events = run([rule], [window(i, drift__feature=f) for i, f in enumerate(flags)])
    assert kinds(events) == [[], [], []]  # no feature drifted in two windows running


def test_per_feature_rule_without_group_tracks_each_feature() -> None:
    rule = AlertRule("missing", "quality.missing_rate_increase", "above", 0.1)
    rates = [{"age": 0.5, "plan": 0.0}, {"age": 0.5, "plan": 0.3}, {"plan": 0.3}]
    state, events = run(
        [rule], [window(i, quality__missing_rate_increase=r) for i, r in enumerate(rates)]
    )
    assert [[(e.kind, e.alert.subject) for e in batch] for batch in events] == [
        [("firing", "age")],
        [("firing", "plan")],
        [("resolved", "age")],  # absent from the table: it did not breach
    ]
    assert "quality.missing_rate_increase of age = 0.5" in events[0][0].alert.summary
    assert [a.subject for a in state.firing] == ["plan"]


def test_a_missing_check_or_nan_is_no_evidence_and_changes_nothing() -> None:
    state, _ = run([ERRORS], [window(0, ops__error_rate=0.07), window(1, ops__error_rate=0.07)])
    state, events = run(
        [ERRORS],
        [window(2, drift__prediction=False), window(3, ops__error_rate=math.nan)],
        state,
    )
    assert kinds(events) == [[], []]
    assert len(state.firing) == 1 and state.last_end == 4 * HOUR


def test_a_grouped_check_with_no_evidence_for_any_subject_changes_nothing() -> None:
    rule = AlertRule("drift", "drift.feature", "above", 0.5, group=True)
    state, events = run(
        [rule],
        [
            window(0, drift__feature={"a": 0.9, "b": 0.1}),
            window(1, drift__feature={"a": math.nan, "b": math.nan}),
            window(2, drift__feature={"a": math.nan, "b": 0.7}),
        ],
    )
    assert kinds(events) == [["firing"], [], ["updated"]]
    assert state.firing[0].subjects == ("b",)


def test_acknowledged_alerts_keep_firing_but_stop_reminding() -> None:
    rule = AlertRule("errors", "ops.error_rate", "above", 0.05, repeat_every=timedelta(hours=2))
    state, events = run([rule], [window(i, ops__error_rate=0.1) for i in range(5)])
    assert kinds(events) == [["firing"], [], ["reminder"], [], ["reminder"]]
    alert_id = state.firing[0].id

    state, acked = acknowledge(state, alert_id, "ana", "rolling back", at=5 * HOUR)
    assert acked.kind == "acked" and not acked.notifies
    assert (acked.alert.acked_by, acked.alert.ack_note) == ("ana", "rolling back")

    state, events = run([rule], [window(i, ops__error_rate=0.1) for i in range(5, 10)], state)
    assert kinds(events) == [[], [], [], [], []]
    assert state.firing[0].acknowledged and state.firing[0].id == alert_id
    state, events = run([rule], [window(10, ops__error_rate=0.0)], state)
    assert kinds(events) == [["resolved"]] and events[0][0].alert.acked_by == "ana"


def test_acknowledging_an_alert_that_is_not_firing_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="no firing alert has id 'nope'"):
        acknowledge(AlertState(), "nope", "ana")
    with pytest.raises(InvalidArgumentError, match="who"):
        acknowledge(AlertState(), "nope", " ")


def test_alert_ids_are_stable_for_the_same_history() -> None:
    windows = [window(i, ops__error_rate=0.1) for i in range(2)]
    a, _ = run([ERRORS], windows)
    b, _ = run([ERRORS], windows)
    assert a.firing[0].id == b.firing[0].id and len(a.firing[0].id) == 16


def test_a_removed_rule_resolves_its_firing_alert() -> None:
    state, _ = run([ERRORS], [window(i, ops__error_rate=0.1) for i in range(2)])
    state, events = evaluate([], state, window(2, ops__error_rate=0.1))
    assert kinds([events]) == [["resolved"]] and events[0].details == {"reason": "rule removed"}
    assert state.tracks == ()


def test_windows_must_come_in_order_and_from_one_monitor() -> None:
    state, _ = run([ERRORS], [window(3, ops__error_rate=0.1)])
    with pytest.raises(InvalidArgumentError, match="evaluate windows in order"):
        evaluate([ERRORS], state, window(3, ops__error_rate=0.1))
    other = WindowObservation("other", 10 * HOUR, 11 * HOUR, {})
    with pytest.raises(InvalidArgumentError, match="belongs to monitor 'churn'"):
        evaluate([ERRORS], state, other)


def test_rules_need_unique_names_and_matching_value_kinds() -> None:
    with pytest.raises(InvalidArgumentError, match="two rules are named 'error-rate'"):
        evaluate([ERRORS, ERRORS], AlertState(), window(0))
    with pytest.raises(InvalidArgumentError, match="use condition 'flagged'"):
        evaluate([ERRORS], AlertState(), window(0, ops__error_rate=True))


def test_observations_take_datetimes_and_check_their_values() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    obs = WindowObservation("m", start, start + timedelta(hours=1), {"x": 1})
    assert obs.end_ms - obs.start_ms == HOUR and obs.values == {"x": 1.0}
    with pytest.raises(InvalidArgumentError, match="end after it starts"):
        WindowObservation("m", 5, 5)
    with pytest.raises(InvalidArgumentError, match=r"values\['x'\]\['a'\] must be a number"):
        WindowObservation("m", 0, 1, {"x": {"a": "high"}})


# -- serialisation -------------------------------------------------------------------

RULES = [
    ERRORS,
    AlertRule("drift", "drift.feature", "flagged", for_windows=2, group=True,
              cooldown=timedelta(hours=2)),
    AlertRule("missing", "quality.missing", "above", 0.2, repeat_every=timedelta(hours=1)),
]  # fmt: skip
FEATURES = ["a", "b", "c"]
values = st.fixed_dictionaries(
    {},
    optional={
        "ops.error_rate": st.floats(0, 0.1) | st.just(math.nan),
        "drift.feature": st.dictionaries(st.sampled_from(FEATURES), st.booleans()),
        "quality.missing": st.dictionaries(st.sampled_from(FEATURES), st.floats(0, 1)),
    },
)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=12), st.integers(0, 11))
def test_state_round_trips_through_json_and_continues_identically(
    history: list[dict[str, Any]], ack_at: int
) -> None:
    state = AlertState()
    for i, checks in enumerate(history):
        obs = WindowObservation(MONITOR, i * HOUR, (i + 1) * HOUR, checks)
        if i == ack_at and state.firing:
            state, _ = acknowledge(state, state.firing[0].id, "ana", at=i * HOUR)
        restored = AlertState.from_json(state.to_json())
        assert restored == state
        state, events = evaluate(RULES, state, obs)
        again, events_again = evaluate(RULES, restored, obs)
        assert again == state and events_again == events
        for event in events:
            assert AlertEvent.from_dict(event.to_dict()) == event


def test_rules_round_trip_through_dicts() -> None:
    for rule in [*default_rules(channels=["oncall"]), *RULES]:
        assert AlertRule.from_dict(rule.to_dict()) == rule


# -- rules in Python and TOML --------------------------------------------------------


def test_default_rules_cover_drift_quality_ops_and_performance_with_runbooks() -> None:
    rules = {rule.name: rule for rule in default_rules(latency_p99_ms=250)}
    assert set(rules) == {
        "feature-drift",
        "prediction-drift",
        "missing-rate",
        "error-rate",
        "latency-p99",
        "performance-drop",
    }
    assert rules["feature-drift"].group and rules["feature-drift"].for_windows == 2
    errors = rules["error-rate"]
    assert (errors.threshold, errors.for_windows, errors.severity) == (0.05, 2, "critical")
    assert rules["latency-p99"].threshold == 250
    for rule in rules.values():
        assert "First check" in rule.runbook and "Mitigate" in rule.runbook
        assert "rollback" in rule.runbook or "retrain" in rule.runbook


def test_default_rules_fire_on_an_error_spike_and_stay_quiet_on_a_healthy_window() -> None:
    healthy = {
        "ops.error_rate": 0.001,
        "ops.latency_p99_ms": 80.0,
        "drift.feature": {"age": False},
        "drift.prediction": False,
        "quality.missing_rate_increase": {"age": 0.0},
        "performance.degraded": False,
    }
    sick = {**healthy, "ops.error_rate": 0.2}
    windows = [WindowObservation(MONITOR, i * HOUR, (i + 1) * HOUR, v) for i, v in
               enumerate([healthy, healthy, sick, sick])]  # fmt: skip
    _, events = run(default_rules(), windows)
    assert [[(e.kind, e.alert.rule) for e in batch] for batch in events] == [
        [],
        [],
        [],
        [("firing", "error-rate")],
    ]


def test_rules_from_toml_builds_new_rules() -> None:
    [rule] = rules_from_toml(
        """
        [[rules]]
        name = "score-low"
        check = "performance.score"
        below = 0.7
        for_windows = 3
        severity = "critical"
        channels = ["oncall"]
        cooldown = "6h"
        repeat_every = 90
        group = false
        runbook = "Retrain."
        """
    )
    assert rule == AlertRule(
        "score-low",
        "performance.score",
        "below",
        0.7,
        for_windows=3,
        severity="critical",
        channels=("oncall",),
        cooldown=timedelta(hours=6),
        repeat_every=timedelta(seconds=90),
        runbook="Retrain.",
    )


def test_rules_from_toml_tunes_and_drops_default_rules() -> None:
    rules = rules_from_toml(
        """
        [[rules]]
        name = "error-rate"
        above = 0.02
        channels = ["pager"]

        [[rules]]
        name = "performance-drop"
        enabled = false

        [channels.pager]
        type = "log"
        path = "alerts.jsonl"
        """,
        base=default_rules(),
    )
    names = [rule.name for rule in rules]
    assert "performance-drop" not in names and names[0] == "feature-drift"
    errors = next(rule for rule in rules if rule.name == "error-rate")
    assert (errors.threshold, errors.channels, errors.for_windows) == (0.02, ("pager",), 2)
    assert errors.runbook == default_rules()[3].runbook


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('check = "x"\nabove = 1\nbogus = 2', r"rules\[0\] \('r'\): unknown key 'bogus'"),
        ('check = "x"', r"rules\[0\] \('r'\): missing a condition"),
        ("above = 1", r"rules\[0\] \('r'\): missing key 'check'"),
        ('check = "x"\nabove = 1\nbelow = 2', "give one condition, not above and below"),
        ('check = "x"\nflagged = false', r"rules\[0\] \('r'\)\.flagged must be true"),
        ('check = "x"\nabove = "high"', r"rules\[0\] \('r'\)\.above must be a number"),
        ('check = "x"\nabove = 1\nseverity = "page"', "severity must be one of"),
        ('check = "x"\nabove = 1\nfor_windows = 0', "for_windows must be at least 1"),
        ('check = "x"\nabove = 1\ncooldown = "soon"', r"\('r'\)\.cooldown must be a duration"),
        ('check = "x"\nabove = 1\nchannels = "oncall"', r"\.channels must be a list"),
        ('check = "x"\nabove = 1\nenabled = "no"', r"\.enabled must be true or false"),
    ],
)
def test_toml_errors_name_the_rule_and_the_key(body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rules_from_toml(f'[[rules]]\nname = "r"\n{body}\n', source="alerts.toml")


def test_toml_document_errors() -> None:
    with pytest.raises(ConfigError, match=r"alerts\.toml is not valid TOML"):
        rules_from_toml("[[rules]\n", source="alerts.toml")
    with pytest.raises(ConfigError, match="missing key 'name'"):
        rules_from_toml('[[rules]]\ncheck = "x"\n')
    with pytest.raises(ConfigError, match="already defined above"):
        rules_from_toml('[[rules]]\nname = "a"\nenabled = false\n' * 2)
    with pytest.raises(ConfigError, match=r"written as \[\[rules\]\]"):
        rules_from_toml('[rules]\nname = "a"\n')


def test_rules_from_file(tmp_path: Any) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text('[[rules]]\nname = "x"\ncheck = "drift.prediction"\nflagged = true\n')
    assert [rule.name for rule in rules_from_file(path)] == ["x"]
    with pytest.raises(ConfigError, match="does not exist"):
        rules_from_file(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "a b"}, "rule name must be"),
        ({"condition": "flagged", "threshold": 1.0}, "takes no threshold"),
        ({"threshold": None}, "threshold must be a number"),
        ({"threshold": math.inf}, "must be a finite number"),
        ({"for_windows": 1.5}, "whole number of windows"),
        ({"cooldown": 60}, "cooldown must be a timedelta"),
        ({"repeat_every": timedelta(0)}, "repeat_every must be a positive timedelta"),
        ({"channels": "oncall"}, "channels must be a list"),
    ],
)
def test_python_rules_are_validated(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"name": "r", "check": "x", "condition": "above", "threshold": 1.0}
    with pytest.raises(InvalidArgumentError, match=message):
        AlertRule(**{**args, **kwargs})
