"""The evaluation report: one model on one table, against baselines, slices and a champion.

A value object that :func:`headway.evaluate` fills and :func:`headway.evaluate.gate`,
model cards and the CLI read. It holds numbers only (no model, no data), serialises to
JSON and back without loss.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from headway.evaluate.analysis import TagAnalysis
from headway.evaluate.behaviour import BehaviourResult
from headway.evaluate.fairness import FairnessReport
from headway.evaluate.metrics import MetricReport, PairedDifference, Task
from headway.evaluate.slices import SliceFinding, SliceMetrics

__all__ = ["ChampionComparison", "EvaluationReport"]


@dataclass(frozen=True)
class ChampionComparison:
    """The candidate minus the champion, per scope and metric, on the same resamples.

    ``differences[scope][metric]`` is a :class:`PairedDifference` (``diff`` = candidate -
    champion, with its paired-bootstrap interval and p-value); ``scope`` is ``"overall"``
    or a slice name.
    """

    champion: str  # its model URI, e.g. "models:/churn/3"
    differences: dict[str, dict[str, PairedDifference]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "differences": {
                scope: {m: d.to_dict() for m, d in by_metric.items()}
                for scope, by_metric in self.differences.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChampionComparison:
        return cls(
            data["champion"],
            {
                scope: {m: PairedDifference(**d) for m, d in by_metric.items()}
                for scope, by_metric in data["differences"].items()
            },
        )


@dataclass(frozen=True)
class EvaluationReport:
    """Everything measured about one model on one table."""

    model: str  # a model URI, or a description of an in-memory model
    task: Task
    label: str
    rows: int
    overall: MetricReport
    baselines: dict[str, MetricReport] = field(default_factory=dict)
    lift: dict[str, dict[str, float]] = field(default_factory=dict)  # baseline -> metric -> lift
    slices: list[SliceMetrics] = field(default_factory=list)
    findings: list[SliceFinding] = field(default_factory=list)
    champion: ChampionComparison | None = None
    latency_p99_ms: float | None = None  # p99 of predict() time per batch
    size_bytes: int | None = None
    error_analysis: list[TagAnalysis] = field(default_factory=list)  # by potential, largest first
    behaviour: list[BehaviourResult] = field(default_factory=list)
    fairness: dict[str, FairnessReport] = field(default_factory=dict)  # sensitive column -> report

    def metric(self, name: str, scope: str = "overall") -> float:
        """A metric's value overall or on a named slice."""
        if scope == "overall":
            return self.overall[name].value
        for s in self.slices:
            if s.name == scope:
                return s.report[name].value
        raise KeyError(f"no slice {scope!r} in this report")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "label": self.label,
            "rows": self.rows,
            "overall": self.overall.to_dict(),
            "baselines": {k: v.to_dict() for k, v in self.baselines.items()},
            "lift": self.lift,
            "slices": [s.to_dict() for s in self.slices],
            "findings": [f.to_dict() for f in self.findings],
            "champion": None if self.champion is None else self.champion.to_dict(),
            "latency_p99_ms": self.latency_p99_ms,
            "size_bytes": self.size_bytes,
            "error_analysis": [t.to_dict() for t in self.error_analysis],
            "behaviour": [b.to_dict() for b in self.behaviour],
            "fairness": {k: f.to_dict() for k, f in self.fairness.items()},
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationReport:
        return cls(
            data["model"],
            data["task"],
            data["label"],
            data["rows"],
            MetricReport.from_dict(data["overall"]),
            {k: MetricReport.from_dict(v) for k, v in data["baselines"].items()},
            data["lift"],
            [
                SliceMetrics(s["name"], s["rows"], s["share"], MetricReport.from_dict(s["report"]))
                for s in data["slices"]
            ],
            [SliceFinding(**f) for f in data["findings"]],
            None if data["champion"] is None else ChampionComparison.from_dict(data["champion"]),
            data["latency_p99_ms"],
            data["size_bytes"],
            [TagAnalysis.from_dict(t) for t in data.get("error_analysis", [])],
            [BehaviourResult.from_dict(b) for b in data.get("behaviour", [])],
            {k: FairnessReport.from_dict(f) for k, f in data.get("fairness", {}).items()},
        )

    @classmethod
    def from_json(cls, text: str) -> EvaluationReport:
        return cls.from_dict(json.loads(text))
