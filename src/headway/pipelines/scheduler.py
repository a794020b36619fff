"""The scheduler: run pipelines when their triggers say so, and record why each ran.

A :class:`Schedule` names a pipeline, its parameters and executor, and its triggers
(:mod:`headway.pipelines.triggers`). :func:`tick` checks every schedule once and runs
each due pipeline once, however many of its triggers are due; :func:`run_scheduler` ticks
in a loop. Schedules are written in Python or in ``schedules.toml``::

    [[schedule]]
    name = "retrain-churn"
    pipeline = "pipelines/churn.py:training"      # or package.module:attr
    params = { n = 5000 }
    executor = "inline"                           # inline | process | ray
    retry_after = "1h"                            # after a failed run
    triggers = [
      { cron = "0 3 * * 1" },
      { alert = "churn-api", min_severity = "warning" },
      { labels = "churn-api", min_rows = 2000 },
    ]

Everything the scheduler knows lives in the ledger, so it survives restarts. The
pipeline's tracked run is tagged with why it ran:

======================== ==============================================================
tag                      value
======================== ==============================================================
``headway.schedule``     the schedule's name
``headway.trigger``      the kinds of the triggers that were due, e.g. ``alert,labels``
``headway.reason``       their reasons, in words
``headway.scheduled_at`` the scheduler's clock when it decided (ISO 8601)
``headway.firings``      the fired triggers as JSON (:class:`~headway.pipelines.triggers.Firing`)
``headway.seen``         what the triggers remember of this run (alert ids), JSON
======================== ==============================================================

"When did this schedule last run" is the newest run with its ``headway.schedule`` tag.
Triggers count from the last run that finished. A failed run is recorded like any other
(when the pipeline could not even start, as a failed run in the experiment
``schedule/<name>``) and the schedule waits ``retry_after`` before trying again, while
its reasons still hold, so a broken pipeline never runs in a tight loop. A schedule that
never ran counts from when a scheduler first saw it (a ``headway.first_seen`` tag on the
ledger object ``("schedule", name)``).
"""

from __future__ import annotations

import json
import logging
import re
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, select

from headway.errors import ConfigError, HeadwayError, InvalidArgumentError, NotFoundError
from headway.monitoring.windows import window_seconds
from headway.pipelines._errors import StepFailedError
from headway.pipelines._loader import load_pipeline
from headway.pipelines._pipeline import Pipeline
from headway.pipelines._task import _describe
from headway.pipelines.challenger import Decision, settle_all
from headway.pipelines.triggers import (
    Check,
    Firing,
    LastRun,
    Trigger,
    _show,
    _utc,
    trigger_from_dict,
)
from headway.store import objects
from headway.store.records import RunRecord
from headway.store.runs import get_run
from headway.store.tables import runs, tags
from headway.tracking.run import RUN, start_run
from headway.workspace import Workspace, current_workspace

__all__ = [
    "SCHEDULES_FILE",
    "Schedule",
    "ScheduleDecision",
    "ScheduleState",
    "load_schedules",
    "plan",
    "run_scheduler",
    "schedule_state",
    "schedules_from_toml",
    "tick",
]

log = logging.getLogger("headway")

SCHEDULES_FILE = "schedules.toml"
SCHEDULE = "schedule"  # the ledger object type that holds a schedule's first_seen tag
SCHEDULE_TAG = "headway.schedule"
TRIGGER_TAG = "headway.trigger"
REASON_TAG = "headway.reason"
SCHEDULED_AT_TAG = "headway.scheduled_at"
FIRINGS_TAG = "headway.firings"
SEEN_TAG = "headway.seen"
FIRST_SEEN_TAG = "headway.first_seen"
SINCE = "since"  # the pipeline parameter a firing's ``since`` is passed to
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_KEYS = ("name", "pipeline", "params", "executor", "retry_after", "triggers")

Action = Literal["ran", "failed", "due", "not_due", "waiting", "error"]


@dataclass(frozen=True)
class Schedule:
    """A pipeline to run when any of its triggers is due.

    Parameters
    ----------
    name
        Unique among schedules; tags its runs in the ledger.
    pipeline
        A :class:`~headway.pipelines.Pipeline`, or a reference ``FILE.py:PIPELINE`` /
        ``package.module:PIPELINE``, loaded afresh at every run (so edits are picked up).
    triggers
        When to run: :class:`~headway.pipelines.triggers.Cron`,
        :class:`~headway.pipelines.triggers.AlertFiring`,
        :class:`~headway.pipelines.triggers.NewLabels`, or any
        :class:`~headway.pipelines.triggers.Trigger`.
    params
        The pipeline's parameters. ``since`` is added, when the pipeline takes it and it
        is not given here, from the fired triggers (the earliest ``since``).
    executor
        ``inline``, ``process`` or ``ray``.
    retry_after
        How long to wait after a failed run before running again.
    base
        The folder a relative ``FILE.py`` reference is found from (the TOML file's; by
        default the current folder).
    """

    name: str
    pipeline: str | Pipeline[..., Any]
    triggers: tuple[Trigger, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    executor: str = "inline"
    retry_after: timedelta = timedelta(hours=1)
    base: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise InvalidArgumentError(
                f"schedule name {self.name!r} must start with a letter or digit and hold "
                "only letters, digits, '_', '.' and '-'"
            )
        if not isinstance(self.pipeline, str | Pipeline):
            raise InvalidArgumentError(
                f"schedule {self.name!r}: pipeline must be a Pipeline or a reference such as "
                f"'pipelines/churn.py:training', got {self.pipeline!r}"
            )
        triggers = tuple(self.triggers)
        bad = [t for t in triggers if not isinstance(t, Trigger)]
        if not triggers or bad:
            raise InvalidArgumentError(
                f"schedule {self.name!r} needs at least one trigger (Cron, AlertFiring, "
                f"NewLabels); got {list(self.triggers)!r}"
            )
        keys = [t.key for t in triggers]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise InvalidArgumentError(
                f"schedule {self.name!r} has several triggers {twice}; merge them (one alert "
                "trigger per deployment takes a list of rules)"
            )
        if self.retry_after <= timedelta(0):
            raise InvalidArgumentError(
                f"schedule {self.name!r}: retry_after must be positive, got {self.retry_after}"
            )
        object.__setattr__(self, "triggers", triggers)
        object.__setattr__(self, "params", dict(self.params))

    @property
    def reference(self) -> str:
        """The pipeline as people read it: its reference, or its name."""
        return self.pipeline if isinstance(self.pipeline, str) else self.pipeline.name

    def load(self) -> Pipeline[..., Any]:
        """The pipeline; a reference is loaded afresh each time."""
        if isinstance(self.pipeline, Pipeline):
            return self.pipeline
        source, _, name = self.pipeline.rpartition(":")
        if self.base is not None and source.endswith(".py") and not Path(source).is_absolute():
            return load_pipeline(f"{self.base / source}:{name}")
        return load_pipeline(self.pipeline)


@dataclass(frozen=True)
class ScheduleState:
    """What the ledger says of a schedule: its newest run, newest finished run, and when a
    scheduler first saw it."""

    schedule: str
    last_attempt: RunRecord | None
    last_success: RunRecord | None
    first_seen: datetime | None

    def last_run(self, now: datetime) -> LastRun:
        """What the triggers count from (see the module docstring)."""
        if self.last_success is not None:
            found = self.last_success.tags
            seen = json.loads(found.get(SEEN_TAG, "{}"))
            return LastRun(_scheduled_at(self.last_success), True, seen)
        return LastRun(self.first_seen or now, False)

    def retry_at(self, retry_after: timedelta) -> datetime | None:
        """When a failed last attempt may be retried; None when the last attempt did not fail."""
        attempt = self.last_attempt
        if attempt is None or attempt.status == "finished":
            return None
        return _scheduled_at(attempt) + retry_after


@dataclass(frozen=True)
class ScheduleDecision:
    """What one tick did with one schedule, and why.

    ``action``: ``ran`` (the pipeline finished), ``failed`` (it ran and failed, or could
    not start), ``due`` (from :func:`plan`: it would run), ``not_due``, ``waiting`` (a
    failed run waits for ``retry_after``) or ``error`` (a trigger could not be checked and
    none of the others is due). ``checks`` holds each trigger's answer by its key.
    """

    schedule: str
    action: Action
    at: datetime
    checks: dict[str, Check]
    run_id: str | None = None
    error: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "action": self.action,
            "at": self.at.isoformat(),
            "checks": {key: c.to_dict() for key, c in self.checks.items()},
            "run_id": self.run_id,
            "error": self.error,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleDecision:
        return cls(
            data["schedule"],
            data["action"],
            datetime.fromisoformat(data["at"]),
            {key: Check.from_dict(c) for key, c in data["checks"].items()},
            data.get("run_id"),
            data.get("error"),
            data.get("note", ""),
        )

    @property
    def firings(self) -> list[Firing]:
        return [c.firing for c in self.checks.values() if c.firing is not None]

    @property
    def reason(self) -> str:
        return "; ".join(f.reason for f in self.firings)

    def message(self) -> str:
        """One line, e.g. ``retrain-churn: ran because alert feature-drift firing on ...``."""
        if self.action == "ran":
            return f"{self.schedule}: ran because {self.reason} (run {self.run_id})"
        if self.action == "failed":
            return (
                f"{self.schedule}: ran because {self.reason}, and failed (run {self.run_id}): "
                f"{self.error}"
            )
        if self.action == "due":
            return f"{self.schedule}: due because {self.reason}"
        if self.action == "waiting":
            return f"{self.schedule}: waiting: {self.note}"
        notes = "; ".join(f"{key}: {c.note}" for key, c in self.checks.items())
        prefix = "not due" if self.action == "not_due" else f"error: {self.error}"
        return f"{self.schedule}: {prefix} ({notes})" if notes else f"{self.schedule}: {prefix}"


# -- the loop ---------------------------------------------------------------------------


def tick(
    schedules: Sequence[Schedule],
    now: datetime | None = None,
    workspace: Workspace | None = None,
    progress: bool = False,
) -> list[ScheduleDecision]:
    """Check every schedule's triggers once and run the due pipelines, one run each.

    A pipeline that fails, or a trigger that cannot be checked, is recorded in its
    decision and the other schedules go on. ``progress`` shows each run's steps on stderr.
    """
    ws = workspace or current_workspace()
    moment = _utc(now or datetime.now(UTC))
    _check_unique(schedules)
    return [_decide(ws, s, moment, execute=True, progress=progress) for s in schedules]


def plan(
    schedules: Sequence[Schedule],
    now: datetime | None = None,
    workspace: Workspace | None = None,
) -> list[ScheduleDecision]:
    """What :func:`tick` would do now, without running anything or writing to the ledger."""
    ws = workspace or current_workspace()
    moment = _utc(now or datetime.now(UTC))
    _check_unique(schedules)
    return [_decide(ws, s, moment, execute=False) for s in schedules]


def run_scheduler(
    schedules: Sequence[Schedule],
    interval: float = 60.0,
    until: datetime | None = None,
    workspace: Workspace | None = None,
    on_tick: Callable[[list[ScheduleDecision]], None] | None = None,
    progress: bool = False,
    on_settle: Callable[[list[Decision]], None] | None = None,
) -> int:
    """Tick every ``interval`` seconds until ``until`` (default: forever); the ticks run.

    Each tick also settles champion/challenger rollouts (:func:`~headway.pipelines.
    challenger.settle_all`: a shadow period ends in a canary ramp, a promoted challenger
    takes the ``champion`` alias). ``on_tick`` and ``on_settle`` receive what each tick
    decided (the CLI prints it). A tick that fails as a whole (the ledger is
    unreachable) is logged, and the next one tries again.
    """
    if not interval > 0:
        raise InvalidArgumentError(f"interval must be a positive number of seconds, got {interval}")
    ws = workspace or current_workspace()
    end = None if until is None else _utc(until)
    ticks = 0
    while end is None or datetime.now(UTC) < end:
        started = time.monotonic()
        ticks += 1
        try:
            decisions = tick(schedules, workspace=ws, progress=progress)
            settled = settle_all(workspace=ws)
        except Exception:
            log.exception("headway: the scheduler's tick failed; trying again in %gs", interval)
        else:
            if on_tick is not None:
                on_tick(decisions)
            if on_settle is not None:
                on_settle(settled)
        wait = interval - (time.monotonic() - started)
        if end is not None:
            wait = min(wait, (end - datetime.now(UTC)).total_seconds())
        if wait > 0:
            time.sleep(wait)
    return ticks


def _decide(
    ws: Workspace, schedule: Schedule, now: datetime, execute: bool, progress: bool = False
) -> ScheduleDecision:
    state = schedule_state(schedule.name, workspace=ws, now=now if execute else None)
    retry_at = state.retry_at(schedule.retry_after)
    if retry_at is not None and now < retry_at:
        failed = state.last_attempt
        assert failed is not None
        note = (
            f"the run {failed.id} of {_show(_scheduled_at(failed))} failed; the next try is "
            f"after {_show(retry_at)}"
        )
        return ScheduleDecision(schedule.name, "waiting", now, {}, failed.id, failed.error, note)
    last = state.last_run(now)
    checks: dict[str, Check] = {}
    broken: list[str] = []
    for trigger in schedule.triggers:
        try:
            checks[trigger.key] = trigger.check(last, now, ws)
        except Exception as exc:  # one broken trigger must not stop the others
            log.exception("headway: schedule %s: trigger %s failed", schedule.name, trigger.key)
            broken.append(f"{trigger.key}: {_describe(exc)}")
    if not any(c.due for c in checks.values()):
        if broken:
            return ScheduleDecision(schedule.name, "error", now, checks, error="; ".join(broken))
        return ScheduleDecision(schedule.name, "not_due", now, checks)
    if not execute:
        return ScheduleDecision(schedule.name, "due", now, checks)
    return _run(ws, schedule, now, checks, progress)


def _run(
    ws: Workspace, schedule: Schedule, now: datetime, checks: dict[str, Check], progress: bool
) -> ScheduleDecision:
    """Run the pipeline once for every due trigger, tag its run, and say how it went."""
    firings = [c.firing for c in checks.values() if c.firing is not None]
    run_id: str | None = None
    error: str | None = None
    try:
        pipe = schedule.load()
        result = pipe.run(
            executor=schedule.executor,
            workspace=ws,
            progress=progress,
            tags=_tags(schedule, now, checks),  # at the start: a crash mid-run keeps its why
            **_params(schedule, pipe, firings),
        )
        run_id = result.run_id
    except StepFailedError as exc:
        run_id, error = exc.result.run_id, str(exc)
    except HeadwayError as exc:  # said in words already: a missing file, a bad parameter
        error = str(exc)
    except Exception as exc:  # the scheduler outlives any pipeline
        log.exception("headway: schedule %s: the pipeline could not run", schedule.name)
        error = _describe(exc)
    if run_id is None:
        run_id = _record_failure(ws, schedule, error or "")
    with ws.store.write() as conn:
        objects.set_tags(conn, RUN, run_id, _tags(schedule, now, checks))
    action: Action = "ran" if error is None else "failed"
    return ScheduleDecision(schedule.name, action, now, checks, run_id, error)


def _params(schedule: Schedule, pipe: Pipeline[..., Any], firings: list[Firing]) -> dict[str, Any]:
    params = dict(schedule.params)
    starts = [f.since for f in firings if f.since is not None]
    if starts and SINCE in pipe.signature.parameters and SINCE not in params:
        params[SINCE] = min(starts)
    return params


def _tags(schedule: Schedule, now: datetime, checks: dict[str, Check]) -> dict[str, str]:
    firings = [c.firing for c in checks.values() if c.firing is not None]
    seen = {key: c.seen for key, c in checks.items() if c.seen is not None}
    return {
        SCHEDULE_TAG: schedule.name,
        TRIGGER_TAG: ",".join(dict.fromkeys(f.kind for f in firings)),
        REASON_TAG: "; ".join(f.reason for f in firings),
        SCHEDULED_AT_TAG: now.isoformat(),
        FIRINGS_TAG: json.dumps([f.to_dict() for f in firings]),
        SEEN_TAG: json.dumps(seen, sort_keys=True),
    }


def _record_failure(ws: Workspace, schedule: Schedule, error: str) -> str:
    """A failed run standing for a pipeline that could not even start (a missing file, a
    wrong parameter), so the attempt is in the ledger like any other."""
    run = start_run(
        experiment=f"schedule/{schedule.name}",
        name=schedule.name,
        params={"pipeline": schedule.reference},
        workspace=ws,
    )
    run.end("failed", error)
    return run.id


# -- the ledger -------------------------------------------------------------------------


def schedule_state(
    name: str, workspace: Workspace | None = None, now: datetime | None = None
) -> ScheduleState:
    """The schedule's runs in the ledger. With ``now``, records it as when the schedule
    was first seen if no scheduler saw it before."""
    ws = workspace or current_workspace()
    with ws.store.read() as conn:
        attempt = _latest_run(conn, name, finished=False)
        success = attempt if attempt is not None and attempt.status == "finished" else None
        if attempt is not None and success is None:
            success = _latest_run(conn, name, finished=True)
        first = objects.get_tags(conn, SCHEDULE, name).get(FIRST_SEEN_TAG)
    if first is None and now is not None:
        first = _utc(now).isoformat()
        with ws.store.write() as conn:
            objects.set_tags(conn, SCHEDULE, name, {FIRST_SEEN_TAG: first})
    return ScheduleState(
        name, attempt, success, None if first is None else datetime.fromisoformat(first)
    )


def _latest_run(conn: Connection, name: str, finished: bool) -> RunRecord | None:
    query = (
        select(runs.c.id)
        .join(tags, (tags.c.object_type == RUN) & (tags.c.object_id == runs.c.id))
        .where(tags.c.key == SCHEDULE_TAG, tags.c.value == name)
        .order_by(runs.c.start_time.desc(), runs.c.id)
        .limit(1)
    )
    if finished:
        query = query.where(runs.c.status == "finished")
    run_id = conn.execute(query).scalar()
    return None if run_id is None else get_run(conn, run_id)


def _scheduled_at(run: RunRecord) -> datetime:
    text = run.tags.get(SCHEDULED_AT_TAG)
    if text is None:  # tagged by hand: the run's own start
        return datetime.fromtimestamp(run.start_time / 1000, UTC)
    return datetime.fromisoformat(text)


# -- TOML -------------------------------------------------------------------------------


def load_schedules(
    path: str | Path | None = None, workspace: Workspace | None = None
) -> list[Schedule]:
    """The schedules of ``path`` (default: ``schedules.toml`` in the workspace folder).

    Relative pipeline files are found from the TOML file's folder.
    """
    if path is None:
        ws = workspace or current_workspace()
        file = ws.project_dir / SCHEDULES_FILE
    else:
        file = Path(path)
    if not file.is_file():
        raise NotFoundError(
            f"no schedules file at {str(file)!r}; write one with [[schedule]] tables (see "
            "docs/continual.md) or pass --config PATH"
        )
    return schedules_from_toml(file.read_text(), base=file.parent, source=str(file))


def schedules_from_toml(
    text: str, base: Path | None = None, source: str = "schedules"
) -> list[Schedule]:
    """Parse ``[[schedule]]`` tables (see the module docstring).

    Examples
    --------
    >>> [s] = schedules_from_toml('''
    ... [[schedule]]
    ... name = "nightly"
    ... pipeline = "pipelines.churn:training"
    ... triggers = [{ cron = "0 3 * * *" }]
    ... ''')
    >>> s.name, s.reference, s.triggers[0].describe()
    ('nightly', 'pipelines.churn:training', "cron '0 3 * * *'")
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML ({exc}); fix the line it names") from exc
    tables = doc.get("schedule")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(
            f"{source} has no [[schedule]] tables; add one with name, pipeline and triggers"
        )
    schedules = [_schedule(t, base, f"{source}: schedule {i + 1}") for i, t in enumerate(tables)]
    _check_unique(schedules)
    return schedules


def _schedule(table: Mapping[str, Any], base: Path | None, where: str) -> Schedule:
    unknown = sorted(set(table) - set(_KEYS))
    missing = [k for k in ("name", "pipeline", "triggers") if k not in table]
    if unknown or missing:
        raise ConfigError(
            f"{where}: unknown keys {unknown} / missing keys {missing}; a schedule takes "
            f"{', '.join(_KEYS)} (name, pipeline and triggers are required)"
        )
    where = f"{where} ({table['name']!r})"
    triggers = table["triggers"]
    if not isinstance(triggers, list):
        raise ConfigError(f'{where}: triggers must be a list such as [{{ cron = "0 3 * * *" }}]')
    params = table.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: params must be a table such as {{ n = 5000 }}")
    try:
        return Schedule(
            name=table["name"],
            pipeline=table["pipeline"],
            triggers=tuple(
                trigger_from_dict(t, f"trigger {i + 1}") for i, t in enumerate(triggers)
            ),
            params=params,
            executor=table.get("executor", "inline"),
            retry_after=timedelta(seconds=window_seconds(table.get("retry_after", "1h"))),
            base=base,
        )
    except InvalidArgumentError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_unique(schedules: Sequence[Schedule]) -> None:
    names = [s.name for s in schedules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidArgumentError(
            f"several schedules are named {twice}; give each schedule its own name"
        )
