"""Alert rules and the alert state machine: be told once, with a runbook, when it matters.

A monitor reduces each window to a :class:`WindowObservation` (check name -> value).
:func:`evaluate` reads it against a list of :class:`AlertRule` and the :class:`AlertState`
carried over from the previous window, and returns the next state plus the
:class:`AlertEvent` s to record and deliver. It is pure (no clock, no I/O), so a backfill
over history gives the same alerts as the live loop did, and the state is a JSON value the
caller stores between windows.

A rule watches one check. A check's value is a number or a flag for the whole monitor
(``ops.error_rate``), or a table of subject -> value (``drift.feature``: feature -> flag), in
which case every subject is tracked on its own, or, with ``group=True``, all of them
together as one alert that lists the subjects currently breaching.

Life of an alert, per rule and subject (a grouped rule has one subject: the monitor)::

    inactive ──breach──► pending ──breach for N windows──► firing ──no breach──► resolved
       ▲                    │                                 │                    │
       └────no breach───────┘          (acknowledge: stays firing, no reminders)    │
       ▲                                                                           ▼
       └────────────────────── cooldown over ◄──────────────────────────────── cooldown

========= ===================================================================== =========
event     when                                                                  notifies
========= ===================================================================== =========
firing    the condition held ``for_windows`` consecutive windows; once per alert yes
updated   a grouped alert's list of breaching subjects changed                  no
reminder  still firing, not acknowledged, ``repeat_every`` since the last notice yes
resolved  the condition was false for a window (or the rule was removed)        yes
acked     someone acknowledged the alert (:func:`acknowledge`)                  no
========= ===================================================================== =========

"updated" is history only: a drifting feature list that changes every window must not page
anyone each time; the current list is in the state, the dashboard and every later notice.
A check missing from an observation (or a NaN value) is no evidence: the rule's alerts keep
their state for that window. A subject missing from a check's table did not breach.

Check names used by :func:`default_rules` (the monitor's checks produce them):

================================= ===========================================================
``drift.feature``                 feature -> flagged by the drift test (effect size and
                                  corrected significance)
``drift.prediction``              flagged: the prediction distribution drifted
``quality.missing_rate_increase`` feature -> window missing rate minus the reference's
``ops.error_rate``                failed requests / requests in the window
``ops.latency_p99_ms``            p99 request latency in the window, in milliseconds
``performance.degraded``          flagged: the concept-drift test finds the task metric
                                  worse than the reference's
================================= ===========================================================

Rules are written in Python or in TOML; a TOML rule named like a default one tunes it::

    [[rules]]
    name = "error-rate"             # a default rule: only the keys given change
    above = 0.02

    [[rules]]
    name = "score-low"              # a new rule
    check = "performance.score"
    below = 0.7                     # or: above = X, or: flagged = true
    for_windows = 3
    severity = "critical"           # info | warning | critical
    channels = ["oncall"]           # empty or absent: every configured channel
    cooldown = "6h"                 # no re-fire for this long after resolving
    repeat_every = "1d"             # remind while firing and not acknowledged
    runbook = "What it means, what to check first, how to mitigate."

    [[rules]]
    name = "latency-p99"
    enabled = false                 # drop a default rule
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast, get_args

from headway.errors import ConfigError, InvalidArgumentError, NotFoundError

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertRule",
    "AlertState",
    "Track",
    "WindowObservation",
    "acknowledge",
    "default_rules",
    "evaluate",
    "rules_from_file",
    "rules_from_toml",
]

Condition = Literal["above", "below", "flagged"]
Severity = Literal["info", "warning", "critical"]
EventKind = Literal["firing", "updated", "reminder", "resolved", "acked"]
Status = Literal["pending", "firing", "cooldown"]
Value = float | bool

CONDITIONS: tuple[Condition, ...] = get_args(Condition)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
NOTIFYING: frozenset[str] = frozenset({"firing", "reminder", "resolved"})

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RULE_KEYS = (
    "name",
    "check",
    "above",
    "below",
    "flagged",
    "for_windows",
    "severity",
    "channels",
    "runbook",
    "cooldown",
    "repeat_every",
    "group",
    "enabled",
)


# -- rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRule:
    """When a check's value deserves someone's attention, and what they should do about it.

    Parameters
    ----------
    name
        Unique among a monitor's rules; letters, digits, ``_``, ``.`` and ``-``.
    check
        The check it watches, e.g. ``ops.error_rate`` (see the module docstring).
    condition
        ``above`` or ``below`` ``threshold`` (strictly), or ``flagged`` (the value is true).
    threshold
        The limit for ``above``/``below``; None for ``flagged``.
    for_windows
        Consecutive breaching windows before the alert fires: one bad window is noise.
    severity
        ``info``, ``warning`` or ``critical``.
    channels
        Channel names to notify; empty means every configured channel.
    runbook
        What the alert means, what to check first and how to mitigate; every alert carries it.
    cooldown
        After an alert resolves, the same rule and subject do not fire again for this long,
        so a check flapping around its threshold notifies once, not every other window.
    repeat_every
        While firing and not acknowledged, remind every so often; None never reminds.
    group
        For a per-subject check, one alert listing every breaching subject instead of one
        alert per subject; it fires once a subject has breached ``for_windows`` windows
        running. No effect on a check with one value.

    Examples
    --------
    >>> rule = AlertRule("error-rate", "ops.error_rate", "above", 0.05, for_windows=2)
    >>> rule.breaches(0.07), rule.breaches(0.05), rule.describe()
    (True, False, 'above 0.05')
    """

    name: str
    check: str
    condition: Condition
    threshold: float | None = None
    for_windows: int = 1
    severity: Severity = "warning"
    channels: tuple[str, ...] = ()
    runbook: str = ""
    cooldown: timedelta = timedelta(0)
    repeat_every: timedelta | None = None
    group: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise InvalidArgumentError(
                f"rule name must be letters, digits, '_', '.' or '-' (starting with a letter "
                f"or digit), got {self.name!r}"
            )
        where = f"rule {self.name!r}"
        if not isinstance(self.check, str) or not self.check.strip():
            raise InvalidArgumentError(
                f"{where}: check must name a check such as 'ops.error_rate', got {self.check!r}"
            )
        if self.condition not in CONDITIONS:
            raise InvalidArgumentError(
                f"{where}: condition must be one of {list(CONDITIONS)}, got {self.condition!r}"
            )
        if self.condition == "flagged":
            if self.threshold is not None:
                raise InvalidArgumentError(
                    f"{where}: a 'flagged' rule takes no threshold, got {self.threshold!r}; "
                    "use condition 'above' or 'below' to compare with a number"
                )
        else:
            threshold = _number(self.threshold, f"{where}: threshold")
            object.__setattr__(self, "threshold", threshold)
        if isinstance(self.for_windows, bool) or not isinstance(self.for_windows, int):
            raise InvalidArgumentError(
                f"{where}: for_windows must be a whole number of windows, got {self.for_windows!r}"
            )
        if self.for_windows < 1:
            raise InvalidArgumentError(
                f"{where}: for_windows must be at least 1, got {self.for_windows}"
            )
        if self.severity not in SEVERITIES:
            raise InvalidArgumentError(
                f"{where}: severity must be one of {list(SEVERITIES)}, got {self.severity!r}"
            )
        object.__setattr__(self, "channels", _names(self.channels, f"{where}: channels"))
        if not isinstance(self.runbook, str):
            raise InvalidArgumentError(f"{where}: runbook must be text, got {self.runbook!r}")
        if not isinstance(self.cooldown, timedelta) or self.cooldown < timedelta(0):
            raise InvalidArgumentError(
                f"{where}: cooldown must be a timedelta of zero or more, got {self.cooldown!r}"
            )
        if self.repeat_every is not None and (
            not isinstance(self.repeat_every, timedelta) or self.repeat_every <= timedelta(0)
        ):
            raise InvalidArgumentError(
                f"{where}: repeat_every must be a positive timedelta or None, "
                f"got {self.repeat_every!r}"
            )
        if not isinstance(self.group, bool):
            raise InvalidArgumentError(f"{where}: group must be true or false, got {self.group!r}")

    def breaches(self, value: Value) -> bool:
        """Whether ``value`` meets the condition (is bad). NaN never breaches."""
        if self.condition == "flagged":
            return bool(value) and not (isinstance(value, float) and math.isnan(value))
        if isinstance(value, bool):
            raise InvalidArgumentError(
                f"rule {self.name!r} compares {self.check} {self.condition} a number, but the "
                f"check's value is a flag ({value}); use condition 'flagged' for flag checks"
            )
        assert self.threshold is not None
        return value > self.threshold if self.condition == "above" else value < self.threshold

    def describe(self) -> str:
        """The condition in words, e.g. ``above 0.05``."""
        if self.condition == "flagged":
            return "flagged"
        assert self.threshold is not None
        return f"{self.condition} {_fmt(self.threshold)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "check": self.check,
            "condition": self.condition,
            "threshold": self.threshold,
            "for_windows": self.for_windows,
            "severity": self.severity,
            "channels": list(self.channels),
            "runbook": self.runbook,
            "cooldown_s": self.cooldown.total_seconds(),
            "repeat_every_s": None
            if self.repeat_every is None
            else self.repeat_every.total_seconds(),
            "group": self.group,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertRule:
        data = dict(data)
        cooldown = data.pop("cooldown_s", 0.0)
        repeat = data.pop("repeat_every_s", None)
        return cls(
            **{**data, "channels": tuple(data.get("channels", ()))},
            cooldown=timedelta(seconds=cooldown),
            repeat_every=None if repeat is None else timedelta(seconds=repeat),
        )


def default_rules(
    *,
    error_rate: float = 0.05,
    latency_p99_ms: float = 1000.0,
    missing_rate_increase: float = 0.1,
    channels: Sequence[str] = (),
) -> list[AlertRule]:
    """The rules every monitor starts with; tune them in TOML (see the module docstring).

    Parameters
    ----------
    error_rate
        Fraction of failed requests above which the service is failing its callers.
    latency_p99_ms
        The p99 latency budget, in milliseconds.
    missing_rate_increase
        How much more often a feature may be missing than in the reference.
    channels
        Where the default rules notify; empty means every configured channel.

    Examples
    --------
    >>> for rule in default_rules()[:3]:
    ...     print(rule.name, rule.check, rule.describe(), rule.severity)
    feature-drift drift.feature flagged warning
    prediction-drift drift.prediction flagged warning
    missing-rate quality.missing_rate_increase above 0.1 warning
    """
    to = tuple(channels)
    return [
        AlertRule(
            "feature-drift",
            "drift.feature",
            "flagged",
            for_windows=2,
            severity="warning",
            channels=to,
            group=True,
            cooldown=timedelta(hours=6),
            runbook=_RUNBOOK_FEATURE_DRIFT,
        ),
        AlertRule(
            "prediction-drift",
            "drift.prediction",
            "flagged",
            for_windows=2,
            severity="warning",
            channels=to,
            cooldown=timedelta(hours=6),
            runbook=_RUNBOOK_PREDICTION_DRIFT,
        ),
        AlertRule(
            "missing-rate",
            "quality.missing_rate_increase",
            "above",
            missing_rate_increase,
            for_windows=1,
            severity="warning",
            channels=to,
            group=True,
            cooldown=timedelta(hours=1),
            runbook=_RUNBOOK_MISSING,
        ),
        AlertRule(
            "error-rate",
            "ops.error_rate",
            "above",
            error_rate,
            for_windows=2,
            severity="critical",
            channels=to,
            cooldown=timedelta(minutes=30),
            repeat_every=timedelta(hours=4),
            runbook=_RUNBOOK_ERRORS,
        ),
        AlertRule(
            "latency-p99",
            "ops.latency_p99_ms",
            "above",
            latency_p99_ms,
            for_windows=2,
            severity="warning",
            channels=to,
            cooldown=timedelta(minutes=30),
            runbook=_RUNBOOK_LATENCY,
        ),
        AlertRule(
            "performance-drop",
            "performance.degraded",
            "flagged",
            for_windows=2,
            severity="critical",
            channels=to,
            cooldown=timedelta(hours=6),
            repeat_every=timedelta(days=1),
            runbook=_RUNBOOK_PERFORMANCE,
        ),
    ]


_RUNBOOK_FEATURE_DRIFT = """\
The listed input features no longer look like the reference (training) data: the drift test \
found a large enough change, significant after correction across features, in consecutive \
windows.
First check: did an upstream pipeline, schema or unit change (a new source, a renamed \
category, a value in cents instead of dollars)? Compare the window and reference profiles \
with `headway monitor show`; a drift on a few features at once often has one upstream cause.
Mitigate: fix the upstream data if it is broken. If the world really changed, check the \
performance alerts once labels arrive, and retrain on recent data and re-promote through the \
gates; meanwhile `headway deploy rollback` if an earlier model version copes better."""

_RUNBOOK_PREDICTION_DRIFT = """\
The model's predictions are distributed differently from its validation predictions: it sees \
different inputs, or a new model version behaves differently.
First check: did a deployment just change (`headway deploy history`)? Do the feature drift \
alerts name the inputs that moved? Did the share of a class or the score distribution shift \
enough to affect downstream decisions (thresholds, quotas)?
Mitigate: if a new revision caused it, `headway deploy rollback`; if the inputs moved, follow \
the feature drift runbook; if it is a real change in the population, retrain and re-promote."""

_RUNBOOK_MISSING = """\
The listed features are missing far more often than in the reference data.
First check: the upstream pipeline and the callers: a broken join, a renamed field, a client \
release that stopped sending it, or a timeout in a feature lookup.
Mitigate: fix the producer; the model imputes missing values the way it was trained to, which \
may be badly wrong when most values are missing. If it cannot be fixed quickly, consider \
`headway deploy rollback` to a version that does not use the feature."""

_RUNBOOK_ERRORS = """\
More than the allowed share of prediction requests failed in consecutive windows: callers are \
getting errors now.
First check: the server log for the exception, `headway deploy status` for a recent revision \
or canary step, input validation failures (signature errors mean callers send a new schema), \
and resources (memory, workers).
Mitigate: `headway deploy rollback` to the last good revision, then investigate; if callers \
changed their inputs, coordinate with them or update the model's signature."""

_RUNBOOK_LATENCY = """\
The p99 latency is above its budget in consecutive windows: the slowest requests are too slow \
for callers.
First check: traffic volume (a spike), a new revision or a canary with a slower model, \
batching settings, CPU saturation and noisy neighbours on the host.
Mitigate: scale out workers or hosts, `headway deploy rollback` if a new revision is slower, \
or raise the budget if the callers' needs changed."""

_RUNBOOK_PERFORMANCE = """\
With feedback labels, the model's task metric is significantly worse than on its reference \
(validation) data: concept drift, or a data problem the model cannot see.
First check: the labels themselves (late or wrong labels look like a drop), the feature drift \
and data quality alerts over the same windows, and which slices dropped most.
Mitigate: retrain on recent labelled data and re-promote through the gates; if a recent \
deployment caused it, `headway deploy rollback`."""


def rules_from_toml(
    text: str, *, base: Sequence[AlertRule] = (), source: str = "alert rules"
) -> list[AlertRule]:
    """Parse ``[[rules]]`` tables (module docstring), tuning or extending ``base``.

    A table named like a rule in ``base`` changes only the keys it gives; ``enabled =
    false`` drops it. Other tables are new rules and need ``check`` and a condition. Other
    top-level tables (such as ``[channels]``) are left for their own parsers.

    Parameters
    ----------
    text
        The TOML document.
    base
        The rules to start from, usually :func:`default_rules`.
    source
        What to call the document in error messages, e.g. its file name.

    Raises
    ------
    ConfigError
        The TOML is malformed or a rule is wrong; the message names the rule and the key.

    Examples
    --------
    >>> rules = rules_from_toml('''
    ... [[rules]]
    ... name = "error-rate"
    ... above = 0.02
    ... [[rules]]
    ... name = "latency-p99"
    ... enabled = false
    ... ''', base=default_rules())
    >>> [(r.name, r.threshold) for r in rules if r.check.startswith("ops.")]
    [('error-rate', 0.02)]
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML ({exc}); fix the syntax there") from None
    try:
        return _rules_from_document(doc, base)
    except InvalidArgumentError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def rules_from_file(path: str | Path, *, base: Sequence[AlertRule] = ()) -> list[AlertRule]:
    """Read rules from a TOML file; see :func:`rules_from_toml`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"alert rules file {str(path)!r} does not exist; pass a TOML file")
    return rules_from_toml(path.read_text(encoding="utf-8"), base=base, source=str(path))


def _rules_from_document(doc: dict[str, Any], base: Sequence[AlertRule]) -> list[AlertRule]:
    tables = doc.get("rules", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise InvalidArgumentError(
            f"'rules' must be an array of tables written as [[rules]], got {tables!r}"
        )
    rules: dict[str, AlertRule | None] = {rule.name: rule for rule in base}
    seen: set[str] = set()
    for index, table in enumerate(tables):
        where = f"rules[{index}]"
        name = table.get("name")
        if not isinstance(name, str):
            raise InvalidArgumentError(f"{where}: missing key 'name' (a rule name as text)")
        where = f"{where} ({name!r})"
        if name in seen:
            raise InvalidArgumentError(f"{where}: a rule named {name!r} is already defined above")
        seen.add(name)
        unknown = sorted(set(table) - set(_RULE_KEYS))
        if unknown:
            raise InvalidArgumentError(
                f"{where}: unknown key {unknown[0]!r}; use one of {list(_RULE_KEYS)}"
            )
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidArgumentError(f"{where}.enabled must be true or false, got {enabled!r}")
        if not enabled:
            rules[name] = None
            continue
        rules[name] = _rule_from_table(table, rules.get(name), where)
    return [rule for rule in rules.values() if rule is not None]


def _rule_from_table(table: dict[str, Any], old: AlertRule | None, where: str) -> AlertRule:
    fields: dict[str, Any] = {}
    conditions: list[str] = [key for key in CONDITIONS if key in table]
    if len(conditions) > 1:
        raise InvalidArgumentError(
            f"{where}: give one condition, not {' and '.join(conditions)}; "
            "write above = X, below = X or flagged = true"
        )
    if conditions:
        key = conditions[0]
        if key == "flagged":
            if table[key] is not True:
                raise InvalidArgumentError(
                    f"{where}.flagged must be true (the rule fires when the check flags), "
                    f"got {table[key]!r}; to turn the rule off write enabled = false"
                )
            fields.update(condition="flagged", threshold=None)
        else:
            fields.update(condition=key, threshold=_number(table[key], f"{where}.{key}"))
    elif old is None:
        raise InvalidArgumentError(
            f"{where}: missing a condition; write above = X, below = X or flagged = true"
        )
    if old is None and "check" not in table:
        raise InvalidArgumentError(
            f"{where}: missing key 'check' (the check to watch, e.g. 'ops.error_rate')"
        )
    for key in ("check", "severity", "runbook"):
        if key in table:
            fields[key] = _text(table[key], f"{where}.{key}")
    if "for_windows" in table:
        fields["for_windows"] = table["for_windows"]
    if "channels" in table:
        fields["channels"] = _names(table["channels"], f"{where}.channels")
    if "group" in table:
        fields["group"] = table["group"]
    if "cooldown" in table:
        fields["cooldown"] = _duration(table["cooldown"], f"{where}.cooldown")
    if "repeat_every" in table:
        fields["repeat_every"] = _duration(table["repeat_every"], f"{where}.repeat_every")
    try:
        if old is not None:
            return replace(old, **fields)
        return AlertRule(name=table["name"], **fields)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{where}: {exc}") from None


def _check_rules(rules: Sequence[AlertRule]) -> dict[str, AlertRule]:
    by_name: dict[str, AlertRule] = {}
    for rule in rules:
        if not isinstance(rule, AlertRule):
            raise InvalidArgumentError(f"rules must be AlertRule objects, got {rule!r}")
        if rule.name in by_name:
            raise InvalidArgumentError(
                f"two rules are named {rule.name!r}; give every rule of a monitor its own name"
            )
        by_name[rule.name] = rule
    return by_name


# -- observations, alerts, state -------------------------------------------------------


@dataclass(frozen=True)
class WindowObservation:
    """What a monitor saw in one window: check name -> value, plus context for people.

    Parameters
    ----------
    monitor
        The monitor's name; the subject of checks that are not per feature.
    start, end
        The window's bounds, as aware datetimes (naive ones are taken as UTC) or
        milliseconds since the Unix epoch. ``end`` is the window's time in alerts.
    values
        Check -> a number or a flag for the whole monitor, or a table subject -> number or
        flag for per-subject checks (``{"drift.feature": {"age": True, "plan": False}}``).
    details
        JSON-able context carried by every event of this window (drift scores, counts).

    Examples
    --------
    >>> obs = WindowObservation("churn", 0, 3_600_000, {"ops.error_rate": 0.07})
    >>> obs.end_ms, obs.values
    (3600000, {'ops.error_rate': 0.07})
    """

    monitor: str
    start: datetime | int
    end: datetime | int
    values: Mapping[str, Value | Mapping[str, Value]] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.monitor, str) or not self.monitor:
            raise InvalidArgumentError(f"monitor must be a non-empty name, got {self.monitor!r}")
        start, end = _ms(self.start, "start"), _ms(self.end, "end")
        if end <= start:
            raise InvalidArgumentError(
                f"a window must end after it starts, got start={start} end={end} (ms)"
            )
        if not isinstance(self.values, Mapping):
            raise InvalidArgumentError(f"values must be a mapping, got {self.values!r}")
        values: dict[str, Value | dict[str, Value]] = {}
        for check, value in self.values.items():
            if isinstance(value, Mapping):
                values[str(check)] = {
                    str(s): _value(v, f"values[{check!r}][{s!r}]") for s, v in value.items()
                }
            else:
                values[str(check)] = _value(value, f"values[{check!r}]")
        if not isinstance(self.details, Mapping):
            raise InvalidArgumentError(f"details must be a mapping, got {self.details!r}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "details", dict(self.details))

    @property
    def start_ms(self) -> int:
        return cast(int, self.start)

    @property
    def end_ms(self) -> int:
        return cast(int, self.end)


@dataclass(frozen=True)
class Alert:
    """One alert: a rule breached for a subject, from ``fired_at`` until ``resolved_at``.

    ``values`` maps each subject the alert lists to its value in the latest window: one
    entry, or for a grouped alert every breaching subject. ``id`` is stable: a hash of the
    monitor, rule, subject and firing time, so the same history always gives the same ids.
    Times are milliseconds since the Unix epoch (window ends).
    """

    id: str
    monitor: str
    rule: str
    check: str
    subject: str
    severity: Severity
    state: Literal["firing", "resolved"]
    fired_at: int
    values: dict[str, Value]
    summary: str
    runbook: str
    channels: tuple[str, ...] = ()
    resolved_at: int | None = None
    acked_by: str | None = None
    acked_at: int | None = None
    ack_note: str | None = None

    @property
    def subjects(self) -> tuple[str, ...]:
        """The subjects this alert lists (features of a grouped alert)."""
        return tuple(self.values)

    @property
    def value(self) -> Value | None:
        """The latest value, for an alert about one subject; None for a grouped alert."""
        return self.values[self.subject] if tuple(self.values) == (self.subject,) else None

    @property
    def acknowledged(self) -> bool:
        return self.acked_by is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "monitor": self.monitor,
            "rule": self.rule,
            "check": self.check,
            "subject": self.subject,
            "severity": self.severity,
            "state": self.state,
            "fired_at": self.fired_at,
            "values": dict(self.values),
            "summary": self.summary,
            "runbook": self.runbook,
            "channels": list(self.channels),
            "resolved_at": self.resolved_at,
            "acked_by": self.acked_by,
            "acked_at": self.acked_at,
            "ack_note": self.ack_note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        return cls(**{**data, "values": dict(data["values"]), "channels": tuple(data["channels"])})


@dataclass(frozen=True)
class AlertEvent:
    """Something that happened to an alert, with a snapshot of the alert after it happened.

    ``notifies`` says whether channels should hear of it (firing, reminder, resolved);
    every event belongs in the history. ``details`` is the window's context.
    """

    kind: EventKind
    at: int
    alert: Alert
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def notifies(self) -> bool:
        return self.kind in NOTIFYING

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at,
            "alert": self.alert.to_dict(),
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvent:
        return cls(data["kind"], data["at"], Alert.from_dict(data["alert"]), dict(data["details"]))


@dataclass(frozen=True)
class Track:
    """The progress of one rule on one subject, carried between windows.

    ``streak`` counts consecutive breaching windows; for a grouped rule ``members`` holds
    each breaching subject's own streak. ``alert`` is the firing alert, or during cooldown
    the one that resolved. ``notified_at`` is when channels last heard of the alert.
    """

    rule: str
    subject: str
    status: Status
    streak: int = 0
    members: dict[str, int] = field(default_factory=dict)
    alert: Alert | None = None
    notified_at: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "status": self.status,
            "streak": self.streak,
            "members": dict(self.members),
            "alert": None if self.alert is None else self.alert.to_dict(),
            "notified_at": self.notified_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Track:
        alert = data.get("alert")
        return cls(
            **{
                **data,
                "members": dict(data.get("members", {})),
                "alert": None if alert is None else Alert.from_dict(alert),
            }
        )


@dataclass(frozen=True)
class AlertState:
    """Everything :func:`evaluate` needs to continue where it stopped; a JSON value.

    One state belongs to one monitor. ``last_end`` is the end of the last window evaluated,
    so a window is never counted twice. Tracks are kept sorted by rule and subject, so equal
    histories give equal (and equally serialised) states.

    Examples
    --------
    >>> state = AlertState()
    >>> AlertState.from_json(state.to_json()) == state
    True
    """

    monitor: str | None = None
    last_end: int | None = None
    tracks: tuple[Track, ...] = ()

    @property
    def firing(self) -> list[Alert]:
        """The alerts firing now, acknowledged or not."""
        return [t.alert for t in self.tracks if t.status == "firing" and t.alert is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "last_end": self.last_end,
            "tracks": [track.to_dict() for track in self.tracks],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertState:
        return cls(
            data.get("monitor"),
            data.get("last_end"),
            tuple(Track.from_dict(t) for t in data.get("tracks", ())),
        )

    @classmethod
    def from_json(cls, text: str) -> AlertState:
        return cls.from_dict(json.loads(text))


# -- the state machine -----------------------------------------------------------------


def evaluate(
    rules: Sequence[AlertRule], state: AlertState, observation: WindowObservation
) -> tuple[AlertState, list[AlertEvent]]:
    """Read one window against the rules: the next state and what happened.

    Windows must come in order, each once; see the module docstring for the states and
    events. A rule no longer in ``rules`` is forgotten, resolving its firing alerts.

    Parameters
    ----------
    rules
        The monitor's rules, with unique names.
    state
        The state returned for the previous window (``AlertState()`` for the first).
    observation
        The window to read.

    Returns
    -------
    tuple[AlertState, list[AlertEvent]]
        The state to pass with the next window, and the events in rule order.

    Raises
    ------
    InvalidArgumentError
        The window is not after the last one evaluated, belongs to another monitor, or a
        rule compares a flag with a number.

    Examples
    --------
    >>> rule = AlertRule("error-rate", "ops.error_rate", "above", 0.05, for_windows=2)
    >>> state, hour = AlertState(), 3_600_000
    >>> for i, rate in enumerate([0.07, 0.08, 0.09, 0.01]):
    ...     obs = WindowObservation("churn", i * hour, (i + 1) * hour, {"ops.error_rate": rate})
    ...     state, events = evaluate([rule], state, obs)
    ...     print(i, [e.kind for e in events], [a.rule for a in state.firing])
    0 [] []
    1 ['firing'] ['error-rate']
    2 [] ['error-rate']
    3 ['resolved'] []
    """
    by_name = _check_rules(rules)
    if state.monitor is not None and state.monitor != observation.monitor:
        raise InvalidArgumentError(
            f"this alert state belongs to monitor {state.monitor!r}, not "
            f"{observation.monitor!r}; keep one state per monitor"
        )
    if state.last_end is not None and observation.end_ms <= state.last_end:
        raise InvalidArgumentError(
            f"the window ending at {observation.end_ms} ms is not after the last window "
            f"evaluated (ending at {state.last_end} ms); evaluate windows in order, once each"
        )
    now = observation.end_ms
    details = dict(observation.details)
    old: dict[str, list[Track]] = {}
    for track in state.tracks:
        old.setdefault(track.rule, []).append(track)
    tracks: list[Track] = []
    events: list[AlertEvent] = []
    for name in sorted(set(old) - set(by_name)):
        for track in old[name]:
            if track.status == "firing" and track.alert is not None:
                alert = replace(track.alert, state="resolved", resolved_at=now)
                events.append(AlertEvent("resolved", now, alert, {"reason": "rule removed"}))
    for rule in rules:
        mine = {t.subject: t for t in old.get(rule.name, [])}
        value = observation.values.get(rule.check)
        if value is None:
            tracks += mine.values()
            continue
        steps: list[tuple[Track | None, _Happened]]
        if isinstance(value, Mapping) and rule.group:
            steps = [_step_group(rule, mine.get(observation.monitor), observation, value)]
        elif isinstance(value, Mapping):
            steps = [
                _step_single(rule, mine.get(subject), observation, subject, value.get(subject))
                for subject in sorted(set(value) | set(mine))
            ]
        else:
            monitor = observation.monitor
            steps = [_step_single(rule, mine.get(monitor), observation, monitor, value)]
        for moved, happened in steps:
            if moved is not None:
                tracks.append(moved)
            events += [AlertEvent(kind, now, alert, details) for kind, alert in happened]
    tracks.sort(key=lambda t: (t.rule, t.subject))
    return AlertState(observation.monitor, now, tuple(tracks)), events


_Happened = list[tuple[EventKind, Alert]]


def _step_single(
    rule: AlertRule,
    track: Track | None,
    obs: WindowObservation,
    subject: str,
    value: Value | None,
) -> tuple[Track | None, _Happened]:
    """One subject's window; ``value`` None: absent from a per-subject table, not breaching."""
    if _no_evidence(value):
        return track, []
    breach = value is not None and rule.breaches(value)
    streak = (track.streak if track else 0) + 1 if breach else 0
    current = {subject: value} if breach and value is not None else {}
    return _advance(rule, track, obs, subject, streak, {}, current)


def _step_group(
    rule: AlertRule, track: Track | None, obs: WindowObservation, values: Mapping[str, Value]
) -> tuple[Track | None, _Happened]:
    if values and all(_no_evidence(value) for value in values.values()):
        return track, []
    before = track.members if track else {}
    members: dict[str, int] = {}
    current: dict[str, Value] = {}
    for subject in sorted(values):
        value = values[subject]
        if _no_evidence(value):
            if subject in before:
                members[subject] = before[subject]
            continue
        if rule.breaches(value):
            members[subject] = before.get(subject, 0) + 1
            current[subject] = value
    streak = max(members.values(), default=0)
    return _advance(rule, track, obs, obs.monitor, streak, members, current)


def _advance(
    rule: AlertRule,
    track: Track | None,
    obs: WindowObservation,
    subject: str,
    streak: int,
    members: dict[str, int],
    current: dict[str, Value],
) -> tuple[Track | None, _Happened]:
    """Move one track by one window; ``current`` holds the subjects breaching in it."""
    now = obs.end_ms
    breach = bool(current)
    ready = streak >= rule.for_windows
    if track is not None and track.status == "firing":
        assert track.alert is not None
        if not breach:
            alert = replace(track.alert, state="resolved", resolved_at=now)
            if rule.cooldown > timedelta(0):
                return Track(rule.name, subject, "cooldown", 0, {}, alert), [("resolved", alert)]
            return None, [("resolved", alert)]
        alert = replace(
            track.alert, values=dict(current), summary=_summary(rule, obs, subject, current)
        )
        happened: _Happened = []
        if set(current) != set(track.alert.values):
            happened.append(("updated", alert))
        notified = track.notified_at
        if (
            rule.repeat_every is not None
            and not alert.acknowledged
            and notified is not None
            and now - notified >= _td_ms(rule.repeat_every)
        ):
            happened.append(("reminder", alert))
            notified = now
        moved = replace(track, streak=streak, members=members, alert=alert, notified_at=notified)
        return moved, happened
    if track is not None and track.status == "cooldown":
        assert track.alert is not None and track.alert.resolved_at is not None
        if now - track.alert.resolved_at < _td_ms(rule.cooldown):
            return replace(track, streak=streak, members=members), []
    if not breach:
        return None, []
    if not ready:
        return Track(rule.name, subject, "pending", streak, members), []
    alert = Alert(
        id=_alert_id(obs.monitor, rule.name, subject, now),
        monitor=obs.monitor,
        rule=rule.name,
        check=rule.check,
        subject=subject,
        severity=rule.severity,
        state="firing",
        fired_at=now,
        values=dict(current),
        summary=_summary(rule, obs, subject, current),
        runbook=rule.runbook,
        channels=rule.channels,
    )
    return Track(rule.name, subject, "firing", streak, members, alert, now), [("firing", alert)]


def acknowledge(
    state: AlertState,
    alert_id: str,
    by: str,
    note: str | None = None,
    at: datetime | int | None = None,
) -> tuple[AlertState, AlertEvent]:
    """Mark a firing alert as being handled: it keeps firing but sends no reminders.

    Parameters
    ----------
    state
        The monitor's alert state.
    alert_id
        The id of a firing alert.
    by
        Who takes it, e.g. a user name.
    note
        Why, or what is being done.
    at
        When; now by default.

    Raises
    ------
    NotFoundError
        No alert with that id is firing.
    """
    if not isinstance(by, str) or not by.strip():
        raise InvalidArgumentError(f"say who acknowledges the alert, got by={by!r}")
    when = _ms(at, "at") if at is not None else time.time_ns() // 1_000_000
    for i, track in enumerate(state.tracks):
        if track.status == "firing" and track.alert is not None and track.alert.id == alert_id:
            alert = replace(track.alert, acked_by=by, acked_at=when, ack_note=note)
            tracks = (*state.tracks[:i], replace(track, alert=alert), *state.tracks[i + 1 :])
            return replace(state, tracks=tracks), AlertEvent("acked", when, alert)
    firing = [a.id for a in state.firing]
    raise NotFoundError(
        f"no firing alert has id {alert_id!r} (firing: {firing}); it may have resolved — "
        "list alerts with `headway alerts list`"
    )


# -- helpers ---------------------------------------------------------------------------


def _summary(
    rule: AlertRule, obs: WindowObservation, subject: str, values: Mapping[str, Value]
) -> str:
    if rule.group and tuple(values) != (subject,):
        names = ", ".join(values)
        n = len(values)
        return (
            f"{rule.name}: {n} subject{'s' if n != 1 else ''} ({names}) with {rule.check} "
            f"{rule.describe()} on monitor {obs.monitor}"
        )
    value = values.get(subject)
    shown = "" if value is None or isinstance(value, bool) else f" = {_fmt(value)}"
    about = "" if subject == obs.monitor else f" of {subject}"
    lasting = f" for {rule.for_windows} windows" if rule.for_windows > 1 else ""
    return (
        f"{rule.name}: {rule.check}{about}{shown} {rule.describe()}{lasting} "
        f"on monitor {obs.monitor}"
    )


def _alert_id(monitor: str, rule: str, subject: str, fired_at: int) -> str:
    key = "\x1f".join((monitor, rule, subject, str(fired_at)))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _no_evidence(value: Value | None) -> bool:
    """NaN means the check could not be computed (e.g. no requests): no news either way."""
    return isinstance(value, float) and math.isnan(value)


def _ms(value: Any, where: str) -> int:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return int(aware.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(
            f"{where} must be a datetime or milliseconds since the Unix epoch, got {value!r}"
        )
    return value


def _td_ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def _value(value: Any, where: str) -> Value:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    raise InvalidArgumentError(
        f"{where} must be a number or a flag (true/false), got {value!r} ({type(value).__name__})"
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(
            f"{where} must be a number, got {value!r} ({type(value).__name__})"
        )
    if not math.isfinite(value):
        raise InvalidArgumentError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{where} must be text, got {value!r} ({type(value).__name__})")
    return value


def _names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidArgumentError(
            f'{where} must be a list of channel names such as ["oncall"], got {value!r}'
        )
    names = tuple(value)
    if not all(isinstance(n, str) and n for n in names):
        raise InvalidArgumentError(f"{where} must hold non-empty names, got {list(names)!r}")
    return names


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def _duration(value: Any, where: str) -> timedelta:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidArgumentError(
            f'{where} must be a duration such as "90s", "30m", "6h" or "1d" (or a number of '
            f"seconds), got {value!r}"
        )
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def _fmt(x: float) -> str:
    return f"{x:.4g}"
