"""Evaluation as pure computation: metrics with bootstrap intervals, baselines and lift.

Arrays in, frozen reports out; nothing here touches the ledger.
"""

from headway.evaluate.baselines import baselines, lift
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

__all__ = [
    "LOWER_IS_BETTER",
    "TASKS",
    "Metric",
    "MetricReport",
    "PairedDifference",
    "Task",
    "baselines",
    "compute_metrics",
    "detect_task",
    "higher_is_better",
    "lift",
    "paired_bootstrap_diff",
]
