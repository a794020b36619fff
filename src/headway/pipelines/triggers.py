"""Retraining triggers: when should a schedule run its pipeline again?

A trigger looks at the clock, the ledger or the prediction log and answers, for one
schedule, "due, because <reason>" or "not due" (:class:`Check`), given what it knows of
the schedule's last run (:class:`LastRun`). Three kinds:

========= ================================= =============================================
kind      due when                          context it hands the pipeline
========= ================================= =============================================
cron      a tick of the cron expression     --
          passed since the last run
alert     a monitor alert of the            ``since``: the start of the first window of
          deployment is firing that the     the problem, so the pipeline can train on the
          last run did not already see      data since the drift began
labels    at least ``min_rows`` requests    --
          of the deployment got feedback
          labels since the last run
========= ================================= =============================================

A schedule that never ran counts from when a scheduler first saw it: a cron schedule is
due at its first tick after that (or at once with ``run_at_start=True``), a labels
trigger counts the labels logged since, and an alert trigger fires on any alert firing.

Triggers are written in Python or as TOML tables (see :func:`trigger_from_dict`)::

    triggers = [
      { cron = "0 3 * * 1" },                             # Mondays at 03:00 UTC
      { alert = "churn-api", min_severity = "warning" },  # rules = ["feature-drift"]
      { labels = "churn-api", min_rows = 2000 },
    ]
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from headway.errors import InvalidArgumentError
from headway.monitoring.alerting import firing_alerts, load_rules, observation
from headway.monitoring.alerts import SEVERITIES, Alert, AlertRule, Severity
from headway.monitoring.monitor import Monitor, list_monitors, list_windows
from headway.serving import log as prediction_log
from headway.workspace import Workspace

__all__ = [
    "AlertFiring",
    "Check",
    "Cron",
    "Firing",
    "LastRun",
    "NewLabels",
    "Trigger",
    "trigger_from_dict",
]


@dataclass(frozen=True)
class Firing:
    """A trigger that fired: its kind, why, when, and what the pipeline may use.

    ``since`` is passed to a pipeline that takes a parameter named ``since``; ``context``
    holds JSON facts for people and the ledger (alert ids, label counts).

    Examples
    --------
    >>> f = Firing("cron", "cron '0 3 * * *' ticked at 2026-03-02 03:00 UTC",
    ...            datetime(2026, 3, 2, 3, 5, tzinfo=UTC))
    >>> Firing.from_json(f.to_json()) == f
    True
    """

    kind: str
    reason: str
    at: datetime
    since: datetime | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "since": None if self.since is None else self.since.isoformat(),
            "context": dict(self.context),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Firing:
        since = data.get("since")
        return cls(
            str(data["kind"]),
            str(data["reason"]),
            datetime.fromisoformat(data["at"]),
            None if since is None else datetime.fromisoformat(since),
            dict(data.get("context") or {}),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Firing:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Check:
    """One trigger's answer: ``firing`` when due; ``note`` says why (or why not) in words.

    ``seen`` is what the trigger wants to remember if the schedule runs now (JSON); it
    comes back as ``LastRun.seen[trigger.key]`` on the next checks.
    """

    firing: Firing | None
    note: str
    seen: Any = None

    @property
    def due(self) -> bool:
        return self.firing is not None

    def to_dict(self) -> dict[str, Any]:
        firing = None if self.firing is None else self.firing.to_dict()
        return {"firing": firing, "note": self.note, "seen": self.seen}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        firing = data.get("firing")
        return cls(
            None if firing is None else Firing.from_dict(firing), data["note"], data.get("seen")
        )


@dataclass(frozen=True)
class LastRun:
    """What a trigger knows of its schedule's last run.

    ``at`` is when the schedule last ran (on the scheduler's clock) or, if it never ran
    (``ran`` false), when a scheduler first saw it. ``seen`` maps trigger keys to what
    each trigger asked to remember at that run.
    """

    at: datetime
    ran: bool = True
    seen: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Trigger(Protocol):
    """Answers whether a schedule is due. ``key`` is unique among a schedule's triggers;
    ``to_dict`` gives the TOML table :func:`trigger_from_dict` reads back."""

    kind: ClassVar[str]

    @property
    def key(self) -> str: ...

    def describe(self) -> str: ...

    def check(self, last: LastRun, now: datetime, workspace: Workspace) -> Check: ...

    def to_dict(self) -> dict[str, Any]: ...


# -- cron -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cron:
    """Due when a tick of a cron expression passed since the last run.

    Parameters
    ----------
    expression
        Five fields (minute hour day month weekday), as crontab reads them; parsed by
        croniter.
    timezone
        The zone the expression's hours are in (an IANA name).
    run_at_start
        A schedule that never ran is due at once, not at its first tick.

    Examples
    --------
    >>> nightly = Cron("0 3 * * *")
    >>> nightly.next_tick(datetime(2026, 3, 1, 12, tzinfo=UTC)).isoformat()
    '2026-03-02T03:00:00+00:00'
    """

    expression: str
    timezone: str = "UTC"
    run_at_start: bool = False
    kind: ClassVar[str] = "cron"

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str) or not croniter.is_valid(self.expression):
            raise InvalidArgumentError(
                f"{self.expression!r} is not a cron expression; write five fields "
                "(minute hour day month weekday), e.g. '0 3 * * *' for 03:00 every day"
            )
        if not isinstance(self.run_at_start, bool):
            raise InvalidArgumentError(
                f"run_at_start must be true or false, got {self.run_at_start!r}"
            )
        self._zone()

    def _zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise InvalidArgumentError(
                f"unknown time zone {self.timezone!r}; use an IANA name such as 'UTC' or "
                "'Europe/Paris'"
            ) from None

    @property
    def key(self) -> str:
        return f"cron '{self.expression}'"

    def describe(self) -> str:
        zone = "" if self.timezone == "UTC" else f" {self.timezone}"
        return f"cron '{self.expression}'{zone}"

    def next_tick(self, after: datetime) -> datetime:
        """The first tick strictly after ``after``, in UTC."""
        start = _utc(after).astimezone(self._zone())
        tick: datetime = croniter(self.expression, start).get_next(datetime)
        return tick.astimezone(UTC)

    def check(self, last: LastRun, now: datetime, workspace: Workspace) -> Check:
        now = _utc(now)
        if not last.ran and self.run_at_start:
            reason = f"{self.describe()} runs at start (the schedule never ran)"
            return Check(Firing(self.kind, reason, now), reason)
        tick = self.next_tick(last.at)
        if tick > now:
            return Check(None, f"next tick {_show(tick)}")
        reason = f"{self.describe()} ticked at {_show(tick)}"
        return Check(Firing(self.kind, reason, now, context={"tick": tick.isoformat()}), reason)

    def to_dict(self) -> dict[str, Any]:
        table: dict[str, Any] = {"cron": self.expression}
        if self.timezone != "UTC":
            table["timezone"] = self.timezone
        if self.run_at_start:
            table["run_at_start"] = True
        return table


# -- alerts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFiring:
    """Due when a monitor alert of ``deployment`` fires that the last run did not see.

    Each run remembers the ids of the alerts firing when it started; an alert that
    resolves and fires again is a new alert with a new id, so it triggers again.

    Parameters
    ----------
    deployment
        Whose monitors' alerts count.
    rules
        Only alerts of these rules (e.g. ``["feature-drift", "performance-drop"]``);
        None: any rule.
    min_severity
        Only alerts at least this severe: ``info``, ``warning`` or ``critical``.
    """

    deployment: str
    rules: tuple[str, ...] | None = None
    min_severity: Severity = "warning"
    kind: ClassVar[str] = "alert"

    def __post_init__(self) -> None:
        _check_name("alert", self.deployment)
        if self.min_severity not in SEVERITIES:
            raise InvalidArgumentError(
                f"min_severity must be one of {', '.join(SEVERITIES)}, got {self.min_severity!r}"
            )
        if self.rules is not None:
            names = self.rules
            if not isinstance(names, list | tuple) or not all(
                isinstance(r, str) and r for r in names
            ):
                raise InvalidArgumentError(
                    f'rules must be a list of alert rule names such as ["feature-drift"], '
                    f"got {self.rules!r}"
                )
            object.__setattr__(self, "rules", tuple(self.rules))

    @property
    def key(self) -> str:
        return f"alert on {self.deployment}"

    def describe(self) -> str:
        which = "any rule" if self.rules is None else ", ".join(self.rules)
        return f"alert on {self.deployment} ({which}, {self.min_severity} or worse)"

    def check(self, last: LastRun, now: datetime, workspace: Workspace) -> Check:
        now = _utc(now)
        firing = [
            (monitor, alert)
            for monitor in list_monitors(self.deployment, workspace=workspace)
            for alert in firing_alerts(monitor, workspace=workspace)
            if self._counts(alert)
        ]
        ids = sorted(a.id for _, a in firing)
        known = set(last.seen.get(self.key) or ())
        new = [(m, a) for m, a in firing if a.id not in known]
        if not new:
            note = "no alert firing" if not firing else "every firing alert was seen by a run"
            return Check(None, note, ids)
        rules = {rule.name: rule for rule in load_rules(workspace)}
        starts = [_problem_start(workspace, m, a, rules.get(a.rule)) for m, a in new]
        reason = "; ".join(
            f"alert {a.rule} firing on {self.deployment} since {_show(s)}{_subjects(a)}"
            for (_, a), s in zip(new, starts, strict=True)
        )
        context = {
            "alerts": [a.id for _, a in new],
            "rules": sorted({a.rule for _, a in new}),
            "subjects": sorted({s for _, a in new for s in a.subjects}),
        }
        return Check(Firing(self.kind, reason, now, min(starts), context), reason, ids)

    def _counts(self, alert: Alert) -> bool:
        severe = SEVERITIES.index(alert.severity) >= SEVERITIES.index(self.min_severity)
        return severe and (self.rules is None or alert.rule in self.rules)

    def to_dict(self) -> dict[str, Any]:
        table: dict[str, Any] = {"alert": self.deployment, "min_severity": self.min_severity}
        if self.rules is not None:
            table["rules"] = list(self.rules)
        return table


def _problem_start(
    ws: Workspace, monitor: Monitor, alert: Alert, rule: AlertRule | None
) -> datetime:
    """The start of the first window of the breach that made ``alert`` fire: walk back
    from the window it fired on while the rule still breaches (windows without evidence
    are stepped over, as the alert rules step over them)."""
    windows = list_windows(monitor, end=_dt(alert.fired_at), workspace=ws)
    windows = [w for w in windows if w.end_ms <= alert.fired_at]
    start = alert.fired_at - monitor.window_ms
    if rule is None:  # the rule changed since it fired: the firing window is all we know
        return _dt(start)
    for window in reversed(windows):
        value = observation(monitor, window).values.get(rule.check)
        breached = _breaches(rule, alert, value)
        if breached is None:
            continue
        if not breached:
            break
        start = window.start_ms
    return _dt(start)


def _breaches(rule: AlertRule, alert: Alert, value: Any) -> bool | None:
    """Whether a window's value of the rule's check breaches for the alert's subjects;
    None when the window holds no evidence."""
    if isinstance(value, Mapping):
        subjects = alert.subjects if rule.group else (alert.subject,)
        values = [value[s] for s in subjects if s in value]
        if values and all(_no_evidence(v) for v in values):
            return None
        return any(rule.breaches(v) for v in values if not _no_evidence(v))
    if value is None or _no_evidence(value):
        return None
    return rule.breaches(value)


def _no_evidence(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _subjects(alert: Alert) -> str:
    """The alert's subjects in words; a monitor-wide alert's subject (the monitor) is not."""
    values = {k: v for k, v in alert.values.items() if k != alert.monitor}
    if not values:
        return f" ({alert.check})"
    if all(isinstance(v, bool) for v in values.values()):
        return f" ({alert.check}: {', '.join(values)})"
    shown = ", ".join(f"{k} = {v:.4g}" for k, v in values.items())
    return f" ({alert.check}: {shown})"


# -- labels -----------------------------------------------------------------------------

_LABELLED_SQL = """
SELECT count(DISTINCT f.request_id)
FROM feedback AS f
WHERE f.time > $since AND f.time <= $now
  AND f.request_id IN (SELECT request_id FROM predictions WHERE deployment = $deployment)
"""


@dataclass(frozen=True)
class NewLabels:
    """Due when at least ``min_rows`` requests of ``deployment`` got feedback labels since
    the last run (a request labelled twice counts once).

    Feedback is joined to the prediction log by request id, so only this deployment's
    requests count; the log is read with DuckDB.
    """

    deployment: str
    min_rows: int = 1000
    kind: ClassVar[str] = "labels"

    def __post_init__(self) -> None:
        _check_name("labels", self.deployment)
        if isinstance(self.min_rows, bool) or not isinstance(self.min_rows, int):
            raise InvalidArgumentError(f"min_rows must be a whole number, got {self.min_rows!r}")
        if self.min_rows < 1:
            raise InvalidArgumentError(f"min_rows must be at least 1, got {self.min_rows}")

    @property
    def key(self) -> str:
        return f"labels on {self.deployment}"

    def describe(self) -> str:
        return f"{self.min_rows:,} new labels on {self.deployment}"

    def count(self, since: datetime, now: datetime, workspace: Workspace) -> int:
        """Requests of the deployment labelled in ``(since, now]``."""
        con = prediction_log.connect(workspace.log_root)
        try:
            params = {"since": _utc(since), "now": _utc(now), "deployment": self.deployment}
            row = con.execute(_LABELLED_SQL, params).fetchone()
        finally:
            con.close()
        return int(row[0]) if row else 0

    def check(self, last: LastRun, now: datetime, workspace: Workspace) -> Check:
        now = _utc(now)
        rows = self.count(last.at, now, workspace)
        since = "the last run" if last.ran else "the schedule was first seen"
        if rows < self.min_rows:
            return Check(None, f"{rows:,} of {self.min_rows:,} labels since {since}")
        reason = (
            f"{rows:,} new labels on {self.deployment} since {_show(last.at)} "
            f"(at least {self.min_rows:,})"
        )
        return Check(Firing(self.kind, reason, now, context={"rows": rows}), reason)

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.deployment, "min_rows": self.min_rows}


# -- TOML -------------------------------------------------------------------------------

_KINDS: dict[str, tuple[str, ...]] = {
    "cron": ("timezone", "run_at_start"),
    "alert": ("rules", "min_severity"),
    "labels": ("min_rows",),
}


def trigger_from_dict(table: Mapping[str, Any], where: str = "trigger") -> Trigger:
    """A trigger from its TOML table: ``{cron = "0 3 * * *"}``, ``{alert = "churn-api"}``
    or ``{labels = "churn-api", min_rows = 2000}`` (see the module docstring).

    Examples
    --------
    >>> trigger_from_dict({"labels": "churn-api", "min_rows": 2000})
    NewLabels(deployment='churn-api', min_rows=2000)
    """
    if not isinstance(table, Mapping):
        raise InvalidArgumentError(
            f'{where} must be a table such as {{ cron = "0 3 * * *" }}, got {table!r}'
        )
    kinds = [k for k in _KINDS if k in table]
    if len(kinds) != 1:
        raise InvalidArgumentError(
            f"{where} must name exactly one of cron, alert, labels (got keys {sorted(table)}); "
            'e.g. { cron = "0 3 * * *" } or { alert = "churn-api" }'
        )
    kind = kinds[0]
    unknown = sorted(set(table) - {kind, *_KINDS[kind]})
    if unknown:
        raise InvalidArgumentError(
            f"{where}: {kind} triggers do not take {unknown}; they take {list(_KINDS[kind])}"
        )
    options = {k: v for k, v in table.items() if k != kind}
    try:
        if kind == "cron":
            return Cron(table[kind], **options)
        if kind == "alert":
            return AlertFiring(table[kind], **options)  # a list of rules becomes a tuple
        return NewLabels(table[kind], **options)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{where}: {exc}") from None


def _check_name(kind: str, deployment: Any) -> None:
    if not isinstance(deployment, str) or not deployment:
        raise InvalidArgumentError(f"a {kind} trigger needs a deployment name, got {deployment!r}")


def _utc(moment: datetime) -> datetime:
    """Aware UTC (naive datetimes are UTC, as everywhere in Headway)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _show(moment: datetime) -> str:
    return f"{_utc(moment):%Y-%m-%d %H:%M} UTC"
