"""Evaluation as pure computation: metrics with bootstrap intervals, baselines and lift,
slices and a slice finder.

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
    "Metric",
    "MetricReport",
    "PairedDifference",
    "SliceFinding",
    "SliceMetrics",
    "Task",
    "baselines",
    "compute_metrics",
    "define_slices",
    "detect_task",
    "find_slices",
    "higher_is_better",
    "lift",
    "paired_bootstrap_diff",
    "slice_metrics",
]
