"""The data reports page: profiles, validation and drift reports that runs stored.

Inside a run, ``headway.profile``, ``headway.validate`` and ``headway.compare`` store their
results as ``profiles/<name>.json``, ``validation/<name>.json`` and ``drift/<name>.json``
(:mod:`headway.tracking.checks`). This page lists them and shows each through the same
renderers as ``headway data ... --html`` (:mod:`headway.reports.render`). A stored drift
report holds the tests, not the two profiles, so it renders without the per-feature
distribution charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from headway.data.drift import DomainClassifier, DriftReport, FeatureDrift
from headway.data.expectations import Anomaly
from headway.data.profile import Profile
from headway.data.validate import ValidationReport
from headway.errors import InvalidArgumentError, NotFoundError
from headway.reports.render import render_drift, render_profile, render_validation
from headway.store import objects
from headway.store import runs as runs_repo
from headway.workspace import Workspace

__all__ = ["KINDS", "DataReport", "DataReports", "data_reports", "render_report"]

Kind = Literal["profile", "validation", "drift"]
KINDS: dict[str, Kind] = {"profiles/": "profile", "validation/": "validation", "drift/": "drift"}


@dataclass(frozen=True)
class DataReport:
    """A report a run stored: which run, what kind, its name and file."""

    run_id: str
    run_name: str
    experiment: str
    kind: Kind
    name: str
    path: str
    size: int
    created_at: int


@dataclass(frozen=True)
class DataReports:
    kind: str | None
    reports: list[DataReport]


def data_reports(ws: Workspace, kind: str | None = None, limit: int = 200) -> DataReports:
    """The newest stored reports, of one ``kind`` (profile, validation, drift) or all."""
    prefixes = [p for p, k in KINDS.items() if kind is None or k == kind]
    if not prefixes:
        raise InvalidArgumentError(
            f"report kind {kind!r} is not one of {', '.join(KINDS.values())}"
        )
    with ws.store.read() as conn:
        found = objects.find_artifacts(conn, "run", prefixes, limit)
        runs = {r: runs_repo.get_run(conn, r) for r in {run_id for run_id, _ in found}}
    reports = []
    for run_id, record in found:
        prefix = next(p for p in KINDS if record.path.startswith(p))
        name = record.path.removeprefix(prefix).removesuffix(".json")
        run = runs[run_id]
        reports.append(
            DataReport(
                run_id,
                run.name,
                run.experiment,
                KINDS[prefix],
                name,
                record.path,
                record.size,
                record.created_at,
            )
        )
    return DataReports(kind, reports)


def render_report(ws: Workspace, run_id: str, path: str) -> str:
    """The stored report at ``path`` of run ``run_id``, as a self-contained HTML page."""
    prefix = next((p for p in KINDS if path.startswith(p) and path.endswith(".json")), None)
    if prefix is None:
        raise InvalidArgumentError(
            f"{path!r} is not a stored data report; reports are profiles/NAME.json, "
            "validation/NAME.json or drift/NAME.json"
        )
    with ws.store.read() as conn:
        run = runs_repo.get_run(conn, run_id)
        record = next(
            (r for r in objects.list_artifacts(conn, "run", run.id) if r.path == path), None
        )
    if record is None:
        raise NotFoundError(
            f"run {run.id} has no report {path!r}; the data reports page lists them"
        )
    data = orjson.loads(ws.artifacts.get_bytes(record.sha256))
    title = f"{path.removeprefix(prefix).removesuffix('.json')} ({run.name})"
    kind = KINDS[prefix]
    if kind == "profile":
        return render_profile(Profile.from_dict(data), title=f"Profile: {title}")
    if kind == "validation":
        return render_validation(_validation(data), title=f"Validation: {title}")
    return render_drift(_drift(data), Profile(0, 0), Profile(0, 0), title=f"Drift: {title}")


def _validation(data: dict[str, Any]) -> ValidationReport:
    return ValidationReport([Anomaly.from_dict(a) for a in data["anomalies"]], data["rows"])


def _drift(data: dict[str, Any]) -> DriftReport:
    multivariate = data.get("multivariate")
    return DriftReport(
        data["method"],
        data["alpha"],
        [FeatureDrift(**f) for f in data["features"]],
        data["verdict"],
        data["reason"],
        None
        if multivariate is None
        else DomainClassifier(
            **{**multivariate, "top_features": [tuple(t) for t in multivariate["top_features"]]}
        ),
    )
