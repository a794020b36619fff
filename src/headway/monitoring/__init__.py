"""Monitoring: watch a deployed model's inputs, outputs, health and performance over time.

A monitor cuts a deployment's prediction log into fixed windows (default one hour) and
keeps, per window, a small mergeable profile of inputs and outputs over a reference's
bins, operational counts and the results of four families of checks: data quality,
feature and prediction drift, operations, and performance once labels arrive. Longer
views (a day, a sliding week, everything) merge stored windows; the raw log is read once.

Examples
--------
>>> import headway.monitoring as hm
>>> monitor = hm.create_monitor("churn", window="1h", reference=train)  # doctest: +SKIP
>>> hm.run_windows(monitor)                                            # doctest: +SKIP
>>> hm.window_results(monitor)[["start", "rows", "error_rate"]]         # doctest: +SKIP
>>> hm.evaluate_alerts(monitor)                                         # doctest: +SKIP
"""

from headway.monitoring.alerting import (
    acknowledge_alert,
    alert_events,
    evaluate_alerts,
    firing_alerts,
)
from headway.monitoring.alerts import Alert, AlertEvent, AlertRule, default_rules
from headway.monitoring.checks import (
    CheckPolicy,
    DriftResult,
    OpsResult,
    PerformanceResult,
    QualityIssue,
    QualityResult,
    Reference,
    ReferencePerformance,
    WindowChecks,
    check_drift,
    check_ops,
    check_performance,
    check_quality,
    reference_performance,
    run_checks,
)
from headway.monitoring.monitor import (
    FOLLOW_PRIMARY,
    Monitor,
    MonitorConfig,
    WindowResult,
    backfill,
    create_monitor,
    get_monitor,
    list_monitors,
    list_windows,
    load_reference,
    merged_profile,
    run_windows,
    window_results,
)
from headway.monitoring.windows import (
    LatencyHistogram,
    OpsStats,
    QualityCounts,
    WindowProfile,
    merge_windows,
    summarise,
    window_seconds,
    window_starts,
)

__all__ = [
    "FOLLOW_PRIMARY",
    "Alert",
    "AlertEvent",
    "AlertRule",
    "CheckPolicy",
    "DriftResult",
    "LatencyHistogram",
    "Monitor",
    "MonitorConfig",
    "OpsResult",
    "OpsStats",
    "PerformanceResult",
    "QualityCounts",
    "QualityIssue",
    "QualityResult",
    "Reference",
    "ReferencePerformance",
    "WindowChecks",
    "WindowProfile",
    "WindowResult",
    "acknowledge_alert",
    "alert_events",
    "backfill",
    "check_drift",
    "check_ops",
    "check_performance",
    "check_quality",
    "create_monitor",
    "default_rules",
    "evaluate_alerts",
    "firing_alerts",
    "get_monitor",
    "list_monitors",
    "list_windows",
    "load_reference",
    "merge_windows",
    "merged_profile",
    "reference_performance",
    "run_checks",
    "run_windows",
    "summarise",
    "window_results",
    "window_seconds",
    "window_starts",
]
