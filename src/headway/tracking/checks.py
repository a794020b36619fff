"""Data checks that leave a trace: inside a run, inputs are recorded and reports stored.

The computations live in :mod:`headway.data` and stay pure; these wrappers are what the
SDK exports as ``headway.profile``, ``headway.compare``, ``headway.infer_schema`` and
``headway.validate``, so that calling them inside
``with headway.start_run():`` records each table as a dataset input (with its content
hash) and stores the result as a JSON artifact of the run. Outside a run they only compute.
"""

from __future__ import annotations

import os
from typing import Any

from headway import data
from headway.data.drift import DriftReport
from headway.data.expectations import Expectation
from headway.data.profile import Profile
from headway.data.schema import Schema
from headway.data.validate import ValidationReport
from headway.tracking.run import Run, active_run

__all__ = ["compare", "infer_schema", "profile", "validate"]


def _record_input(run: Run, table: Any, name: str | None) -> str:
    """Log ``table`` as an input (profiles are not data) and return a name for artifacts."""
    if isinstance(table, Profile):
        return name or "profile"
    dataset = run.log_input(table, name=name)
    return dataset.name


def profile(
    table: Any, bins_from: Profile | None = None, *, name: str | None = None, **options: Any
) -> Profile:
    """:func:`headway.data.profile`, recorded as ``profiles/<name>.json`` inside a run."""
    result = data.profile(table, bins_from=bins_from, **options)
    run = active_run()
    if run is not None:
        label = _record_input(run, table, name)
        run.log_text(result.to_json(), f"profiles/{label}.json")
    return result


def compare(reference: Any, current: Any, *, name: str = "drift", **options: Any) -> DriftReport:
    """:func:`headway.data.compare`, recorded as ``drift/<name>.json`` inside a run."""
    report = data.compare(reference, current, **options)
    run = active_run()
    if run is not None:
        for table, role in ((reference, "reference"), (current, "current")):
            default = f"{name}-{role}" if not isinstance(table, str | os.PathLike) else None
            _record_input(run, table, default)
        run.log_text(report.to_json(), f"drift/{name}.json")
        run.log_metrics({f"{name}.drifted_features": len(report.drifted)})
    return report


def infer_schema(table: Any, *, name: str | None = None, **options: Any) -> Schema:
    """:func:`headway.data.infer_schema`, recorded as ``schemas/<name>.yaml`` inside a run."""
    result = data.infer_schema(table, **options)
    run = active_run()
    if run is not None:
        label = _record_input(run, table, name)
        run.log_text(result.to_yaml(), f"schemas/{label}.yaml")
    return result


def validate(
    table: Any,
    schema: Schema,
    expectations: list[Expectation] | None = None,
    *,
    name: str | None = None,
    **options: Any,
) -> ValidationReport:
    """:func:`headway.data.validate`, recorded as ``validation/<name>.json`` inside a run."""
    report = data.validate(table, schema, expectations, **options)
    run = active_run()
    if run is not None:
        label = _record_input(run, table, name)
        run.log_text(report.to_json(), f"validation/{label}.json")
        run.log_metrics(
            {
                f"{label}.anomaly_errors": len(report.errors),
                f"{label}.anomaly_warnings": len(report.warnings),
            }
        )
    return report
