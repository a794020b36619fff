"""Promotion gates: a declarative policy a model must meet before it may become champion.

A :class:`GatePolicy` states what "good enough to ship" means; :func:`gate` reads an
:class:`~headway.evaluate.report.EvaluationReport` against it and returns a
:class:`GateOutcome`: blessed or not, with one :class:`GateCheck` and a human reason for
every rule. Pure computation: report and policy in, outcome out.

================ ==========================================================================
rule             passes when
================ ==========================================================================
thresholds       the overall metric is at least the limit (at most, for lower-is-better
                 metrics such as ``log_loss`` or ``mae``)
min_lift         the lift over the named baseline (signed so that positive is better) is
                 at least the limit
max_regression   the paired-bootstrap interval of candidate - champion rules out a loss
                 larger than δ, overall and on each named slice: its worse end (the low end,
                 or the high end for lower-is-better metrics) lies within δ of zero. A point
                 difference alone never decides; a report without a champion passes.
budgets          the report's p99 ``predict`` latency and model size are within budget
================ ==========================================================================

A policy is written in Python or in TOML::

    [thresholds]                  # metric = minimum (maximum if lower is better)
    roc_auc = 0.75
    log_loss = 0.5

    [min_lift.zero_rule]          # [min_lift.BASELINE], metric = minimum lift
    accuracy = 0.02

    [max_regression]              # metric = δ, the largest tolerated loss vs the champion
    roc_auc = 0.01
    slices = ["plan=premium"]     # slices on which max_regression also applies

    [budgets]
    latency_p99_ms = 50
    size_bytes = 50_000_000

Every table is optional; an empty policy blesses every report.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from headway.errors import InvalidArgumentError
from headway.evaluate.metrics import higher_is_better
from headway.evaluate.report import EvaluationReport

__all__ = ["GateCheck", "GateOutcome", "GatePolicy", "gate"]

_SECTIONS = ("thresholds", "min_lift", "max_regression", "budgets")
_BUDGETS = ("latency_p99_ms", "size_bytes")
_OVERALL = "overall"


@dataclass(frozen=True)
class GatePolicy:
    """What a model must meet to be blessed; see the module docstring for the rules.

    Parameters
    ----------
    thresholds
        Metric -> its minimum overall value, or its maximum for lower-is-better metrics
        (:data:`~headway.evaluate.metrics.LOWER_IS_BETTER`).
    min_lift
        Baseline -> metric -> the minimum lift over that baseline, e.g.
        ``{"zero_rule": {"roc_auc": 0.05}}``.
    max_regression
        Metric -> δ: the candidate may not be worse than the champion by more than δ, as
        decided by the paired bootstrap interval.
    slices
        Slice names on which ``max_regression`` also applies.
    max_latency_p99_ms
        Budget for the p99 ``predict`` time on a batch, in milliseconds.
    max_size_bytes
        Budget for the model's size, in bytes.

    Examples
    --------
    >>> policy = GatePolicy(thresholds={"roc_auc": 0.75}, max_regression={"roc_auc": 0.01})
    >>> policy.thresholds, policy.slices
    ({'roc_auc': 0.75}, [])
    """

    thresholds: dict[str, float] = field(default_factory=dict)
    min_lift: dict[str, dict[str, float]] = field(default_factory=dict)
    max_regression: dict[str, float] = field(default_factory=dict)
    slices: list[str] = field(default_factory=list)
    max_latency_p99_ms: float | None = None
    max_size_bytes: int | None = None

    def __post_init__(self) -> None:
        # Validate and copy, so a policy never shares (or changes with) its caller's dicts.
        lifts = _mapping(self.min_lift, "min_lift")
        checked: dict[str, Any] = {
            "thresholds": _limits(self.thresholds, "thresholds"),
            "min_lift": {
                baseline: _limits(
                    by_metric,
                    f"min_lift.{baseline}",
                    hint=f"a table of metric = minimum lift over {baseline!r}, "
                    f"as [min_lift.{baseline}] in TOML",
                )
                for baseline, by_metric in lifts.items()
            },
            "max_regression": _limits(self.max_regression, "max_regression", at_least=0.0),
            "slices": _slice_names(self.slices),
            "max_latency_p99_ms": None
            if self.max_latency_p99_ms is None
            else _number(self.max_latency_p99_ms, "budgets.latency_p99_ms", positive=True),
            "max_size_bytes": None
            if self.max_size_bytes is None
            else _byte_count(self.max_size_bytes),
        }
        if checked["slices"] and not checked["max_regression"]:
            raise InvalidArgumentError(
                f"max_regression.slices names {checked['slices']} but max_regression has no "
                "metrics to check on them; add metric = δ entries to max_regression"
            )
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_toml(cls, text: str, *, source: str = "gate policy") -> GatePolicy:
        """Parse a policy written in the TOML layout of the module docstring.

        Parameters
        ----------
        text
            The TOML document.
        source
            What to call the document in error messages, e.g. its file name.

        Raises
        ------
        InvalidArgumentError
            The TOML is malformed, or a key is unknown or has the wrong type; the message
            names the key.

        Examples
        --------
        >>> policy = GatePolicy.from_toml('''
        ... [thresholds]
        ... roc_auc = 0.75
        ... [max_regression]
        ... roc_auc = 0.01
        ... slices = ["plan=premium"]
        ... [budgets]
        ... size_bytes = 50_000_000
        ... ''')
        >>> policy.max_regression, policy.slices, policy.max_size_bytes
        ({'roc_auc': 0.01}, ['plan=premium'], 50000000)
        """
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidArgumentError(
                f"{source} is not valid TOML ({exc}); fix the syntax at that line"
            ) from None
        try:
            return cls._from_document(doc)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{source}: {exc}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> GatePolicy:
        """Read a policy from a TOML file; see :meth:`from_toml`."""
        path = Path(path)
        if not path.is_file():
            raise InvalidArgumentError(
                f"gate policy file {str(path)!r} does not exist; pass the path of a TOML file"
            )
        return cls.from_toml(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def _from_document(cls, doc: dict[str, Any]) -> GatePolicy:
        _known_keys(doc, _SECTIONS, "the top level")
        regression = dict(_mapping(doc.get("max_regression", {}), "max_regression"))
        slices = regression.pop("slices", [])
        budgets = _mapping(doc.get("budgets", {}), "budgets")
        _known_keys(budgets, _BUDGETS, "[budgets]")
        return cls(
            thresholds=doc.get("thresholds", {}),
            min_lift=doc.get("min_lift", {}),
            max_regression=regression,
            slices=slices,
            max_latency_p99_ms=budgets.get("latency_p99_ms"),
            max_size_bytes=budgets.get("size_bytes"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": dict(self.thresholds),
            "min_lift": {b: dict(by_metric) for b, by_metric in self.min_lift.items()},
            "max_regression": dict(self.max_regression),
            "slices": list(self.slices),
            "max_latency_p99_ms": self.max_latency_p99_ms,
            "max_size_bytes": self.max_size_bytes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatePolicy:
        return cls(**data)


@dataclass(frozen=True)
class GateCheck:
    """One rule of a policy applied to one report.

    ``name`` identifies the rule: ``threshold:METRIC``, ``lift:BASELINE:METRIC``,
    ``regression:METRIC`` (overall) or ``regression:METRIC:SLICE``,
    ``budget:latency_p99_ms`` or ``budget:size_bytes``. ``value`` is what the report shows
    and ``limit`` what the policy allows, in the metric's own units; for a regression check
    ``value`` is the worse end of the candidate - champion interval and ``limit`` is -δ
    (+δ for a lower-is-better metric). ``value`` is None when the report lacks it.
    """

    name: str
    passed: bool
    reason: str
    value: float | None = None
    limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateCheck:
        return cls(**data)


@dataclass(frozen=True)
class GateOutcome:
    """The verdict of :func:`gate`: blessed when every check passed."""

    blessed: bool
    checks: list[GateCheck]

    def __post_init__(self) -> None:
        if self.blessed != all(check.passed for check in self.checks):
            failed = [check.name for check in self.failures]
            raise InvalidArgumentError(
                f"a gate outcome with blessed={self.blessed} must have "
                f"{'no failed checks' if self.blessed else 'a failed check'}, "
                f"but its failed checks are {failed}; build outcomes with gate()"
            )

    @property
    def failures(self) -> list[GateCheck]:
        """The checks that did not pass."""
        return [check for check in self.checks if not check.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"blessed": self.blessed, "checks": [check.to_dict() for check in self.checks]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateOutcome:
        return cls(data["blessed"], [GateCheck.from_dict(c) for c in data["checks"]])

    @classmethod
    def from_json(cls, text: str) -> GateOutcome:
        return cls.from_dict(json.loads(text))


def gate(report: EvaluationReport, policy: GatePolicy) -> GateOutcome:
    """Apply every rule of ``policy`` to ``report``: blessed or not, with every reason.

    Checks come in the policy's order: thresholds, minimum lifts, regressions against the
    champion (overall, then each slice), budgets. A metric, baseline, slice or measurement
    the policy names but the report lacks fails its check, with a reason saying so.

    Parameters
    ----------
    report
        The candidate's evaluation, with its champion comparison when there is a champion.
    policy
        The rules to apply.

    Returns
    -------
    GateOutcome
        ``blessed`` is True when every check passed.

    Examples
    --------
    >>> from headway.evaluate import compute_metrics
    >>> y = [0, 1, 1, 0, 1, 0, 1, 1]
    >>> scores = [0.1, 0.8, 0.7, 0.3, 0.9, 0.5, 0.6, 0.4]
    >>> overall = compute_metrics(y, y_score=scores, n_bootstrap=0)
    >>> report = EvaluationReport("demo", "binary", "y", 8, overall, size_bytes=2_000_000)
    >>> policy = GatePolicy(
    ...     thresholds={"roc_auc": 0.75, "log_loss": 0.4}, max_size_bytes=50_000_000
    ... )
    >>> outcome = gate(report, policy)
    >>> outcome.blessed
    False
    >>> for check in outcome.checks:
    ...     print(check.passed, check.reason)
    True roc_auc 0.9333 >= 0.75
    False log_loss 0.4084 > 0.4 (lower is better)
    True size 2,000,000 bytes <= 50,000,000 bytes
    """
    checks = [_threshold(report, metric, limit) for metric, limit in policy.thresholds.items()]
    checks += [
        _lift(report, baseline, metric, limit)
        for baseline, by_metric in policy.min_lift.items()
        for metric, limit in by_metric.items()
    ]
    checks += [
        _regression(report, metric, delta, scope)
        for scope in (_OVERALL, *policy.slices)
        for metric, delta in policy.max_regression.items()
    ]
    if policy.max_latency_p99_ms is not None:
        checks.append(_latency(report, policy.max_latency_p99_ms))
    if policy.max_size_bytes is not None:
        checks.append(_size(report, policy.max_size_bytes))
    return GateOutcome(all(check.passed for check in checks), checks)


# -- checks ----------------------------------------------------------------------------


def _threshold(report: EvaluationReport, metric: str, limit: float) -> GateCheck:
    name = f"threshold:{metric}"
    if metric not in report.overall.metrics:
        return GateCheck(
            name,
            False,
            f"{metric} is not in the report (it has {sorted(report.overall.metrics)}); "
            "evaluate with what produces it or remove it from the policy's thresholds",
            None,
            limit,
        )
    value = report.overall.metrics[metric].value
    if math.isnan(value):
        return GateCheck(name, False, f"{metric} is undefined (nan) in the report", value, limit)
    if higher_is_better(metric):
        passed = value >= limit
        reason = f"{metric} {_g(value)} {'>=' if passed else '<'} {_g(limit)}"
    else:
        passed = value <= limit
        reason = f"{metric} {_g(value)} {'<=' if passed else '>'} {_g(limit)} (lower is better)"
    return GateCheck(name, passed, reason, value, limit)


def _lift(report: EvaluationReport, baseline: str, metric: str, limit: float) -> GateCheck:
    name = f"lift:{baseline}:{metric}"
    lifts = report.lift.get(baseline)
    if lifts is None:
        return GateCheck(
            name,
            False,
            f"no lift over baseline {baseline!r} in the report (it has {sorted(report.lift)}); "
            "evaluate with that baseline or remove it from the policy's min_lift",
            None,
            limit,
        )
    if metric not in lifts:
        return GateCheck(
            name,
            False,
            f"no {metric} lift over {baseline} in the report (it has {sorted(lifts)}); "
            f"remove {metric} from the policy's min_lift.{baseline}",
            None,
            limit,
        )
    value = lifts[metric]
    passed = value >= limit  # False for nan
    reason = f"{metric} lift over {baseline} {_g(value)} {'>=' if passed else '<'} {_g(limit)}"
    return GateCheck(name, passed, reason, value, limit)


def _regression(report: EvaluationReport, metric: str, delta: float, scope: str) -> GateCheck:
    overall = scope == _OVERALL
    name = f"regression:{metric}" if overall else f"regression:{metric}:{scope}"
    subject = f"{metric} vs champion" + ("" if overall else f" on {scope}")
    higher = higher_is_better(metric)
    limit = -delta if higher else delta
    if report.champion is None:
        reason = f"{subject}: no champion comparison in the report, so nothing to regress against"
        return GateCheck(name, True, reason, None, limit)
    by_metric = report.champion.differences.get(scope)
    if by_metric is None or metric not in by_metric:
        missing = f"scope {scope!r}" if by_metric is None else f"metric {metric!r} on {scope!r}"
        shown = sorted(report.champion.differences if by_metric is None else by_metric)
        reason = (
            f"{subject}: the champion comparison has no {missing} (it has {shown}); "
            "compare against the champion on it, or remove it from the policy"
        )
        return GateCheck(name, False, reason, None, limit)
    d = by_metric[metric]
    if d.low is None or d.high is None:
        reason = (
            f"{subject}: {d.diff:+.3g} without a bootstrap interval; a regression is decided "
            "by the paired bootstrap, so compare against the champion with n_bootstrap > 0"
        )
        return GateCheck(name, False, reason, None, limit)
    worse = d.low if higher else d.high
    passed = worse >= limit if higher else worse <= limit
    word = "drop" if higher else "rise"
    verdict = (
        f"any {word} is within {delta:g}"
        if passed
        else f"a {word}{'' if higher else ' (lower is better)'} beyond {delta:g} is not ruled out"
    )
    reason = f"{subject}: {d.diff:+.3g} [{d.low:.3g}, {d.high:.3g}]; {verdict}"
    return GateCheck(name, passed, reason, worse, limit)


def _budget(
    name: str, value: float | None, limit: float, show: Callable[[float], str], missing: str
) -> GateCheck:
    """A budget check: ``value`` at most ``limit``; a missing measurement fails."""
    if value is None:
        return GateCheck(name, False, missing, None, limit)
    passed = value <= limit
    label = "p99 latency" if name.endswith("latency_p99_ms") else "size"
    return GateCheck(
        name, passed, f"{label} {show(value)} {'<=' if passed else '>'} {show(limit)}", value, limit
    )


def _latency(report: EvaluationReport, limit: float) -> GateCheck:
    return _budget(
        "budget:latency_p99_ms",
        report.latency_p99_ms,
        limit,
        lambda v: f"{_g(v)} ms",
        "p99 latency is not in the report; measure predict latency when "
        "evaluating or remove budgets.latency_p99_ms from the policy",
    )


def _size(report: EvaluationReport, limit: int) -> GateCheck:
    return _budget(
        "budget:size_bytes",
        report.size_bytes,
        limit,
        lambda v: f"{int(v):,} bytes",
        "model size is not in the report; evaluate a packaged model or remove "
        "budgets.size_bytes from the policy",
    )


def _g(x: float) -> str:
    return f"{x:.4g}"


# -- validation ------------------------------------------------------------------------


def _mapping(value: Any, where: str, hint: str = "a table") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgumentError(
            f"{where} must be {hint}, got {value!r} ({type(value).__name__})"
        )
    return value


def _limits(
    value: Any, where: str, *, at_least: float | None = None, hint: str | None = None
) -> dict[str, float]:
    table = _mapping(value, where, hint or f"a table of metric = number, as [{where}] in TOML")
    return {
        str(metric): _number(limit, f"{where}.{metric}", at_least=at_least)
        for metric, limit in table.items()
    }


def _number(
    value: Any, where: str, *, at_least: float | None = None, positive: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(
            f"{where} must be a number, got {value!r} ({type(value).__name__})"
        )
    number = float(value)
    if not math.isfinite(number):
        raise InvalidArgumentError(f"{where} must be a finite number, got {value!r}")
    if at_least is not None and number < at_least:
        raise InvalidArgumentError(f"{where} must be at least {at_least:g}, got {value!r}")
    if positive and number <= 0:
        raise InvalidArgumentError(f"{where} must be a positive number, got {value!r}")
    return number


def _byte_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgumentError(
            f"budgets.size_bytes must be a positive whole number of bytes, got {value!r} "
            f"({type(value).__name__}); write it as an integer, e.g. 50_000_000"
        )
    return value


def _slice_names(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(s, str) for s in value):
        raise InvalidArgumentError(
            f"max_regression.slices must be a list of slice names, got {value!r}; "
            'write e.g. slices = ["plan=premium"]'
        )
    if _OVERALL in value:
        raise InvalidArgumentError(
            f"max_regression.slices names {_OVERALL!r}, which is always checked; "
            "list only slice names"
        )
    return list(value)


def _known_keys(table: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise InvalidArgumentError(
            f"unknown key {unknown[0]!r} in {where}; use one of {list(known)}"
        )
