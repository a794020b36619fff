"""Data checks that leave a trace: inside a run, inputs are recorded and reports stored.

The computations live in :mod:`headway.data` and stay pure; these wrappers are what the
SDK exports as ``headway.profile``, ``headway.compare``... so that calling them inside
``with headway.start_run():`` records each table as a dataset input (with its content
hash) and stores the result as a JSON artifact of the run. Outside a run they only compute.
"""

from __future__ import annotations

import os
from typing import Any

from headway import data
from headway.data.drift import DriftReport
from headway.data.profile import Profile
from headway.tracking.run import Run, active_run

__all__ = ["compare", "profile"]


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
