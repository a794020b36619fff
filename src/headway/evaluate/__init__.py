"""Evaluation as pure computation: metrics with bootstrap intervals, baselines and lift,
slices and a slice finder, error analysis by tag, behavioural tests, fairness, and
promotion gates.

Arrays in, frozen reports out; nothing here touches the ledger.
"""

from headway.evaluate.analysis import TagAnalysis, error_analysis
from headway.evaluate.baselines import baselines, lift
from headway.evaluate.behaviour import (
    BehaviourExample,
    BehaviourResult,
    directional,
    invariance,
    perturbation,
)
from headway.evaluate.fairness import FairnessReport, GroupRates, fairness
from headway.evaluate.gates import GateCheck, GateOutcome, GatePolicy, gate
from headway.evaluate.metrics import (
    LOWER_IS_BETTER,
    TASKS,
    Metric,
    MetricReport,
    PairedDifference,
    Task,
    compute_metrics,
    detect_task,
    higher_is_better,
    paired_bootstrap_diff,
)
from headway.evaluate.slices import (
    SliceFinding,
    SliceMetrics,
    define_slices,
    find_slices,
    slice_metrics,
)

__all__ = [
    "LOWER_IS_BETTER",
    "TASKS",
    "BehaviourExample",
    "BehaviourResult",
    "FairnessReport",
    "GateCheck",
    "GateOutcome",
    "GatePolicy",
    "GroupRates",
    "Metric",
    "MetricReport",
    "PairedDifference",
    "SliceFinding",
    "SliceMetrics",
    "TagAnalysis",
    "Task",
    "baselines",
    "compute_metrics",
    "define_slices",
    "detect_task",
    "directional",
    "error_analysis",
    "fairness",
    "find_slices",
    "gate",
    "higher_is_better",
    "invariance",
    "lift",
    "paired_bootstrap_diff",
    "perturbation",
    "slice_metrics",
]
