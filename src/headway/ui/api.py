"""The control-plane REST API under ``/api``: each page's data as JSON, and the two writes.

Every page has a twin here returning the same query-layer value the page renders, so a
script sees exactly what a person sees. Writes: label a review item (it becomes feedback
in the ledger) and acknowledge an alert. The OpenAPI spec is at ``/api/openapi.json``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from headway.ui.auth import api_guard
from headway.ui.data_reports import DataReports, data_reports
from headway.ui.deployments import (
    AlertView,
    DeploymentView,
    Overview,
    acknowledge,
    deployment_view,
    overview,
)
from headway.ui.models import (
    ModelDetail,
    ModelList,
    VersionDetail,
    model_detail,
    model_list,
    version_detail,
)
from headway.ui.review import ReviewQueue, ReviewRow, label_item, review_queue
from headway.ui.runs import RunComparison, RunList, compare_runs, list_runs
from headway.workspace import Workspace

__all__ = ["Ack", "Decision", "Problem", "api_router", "workspace"]

Range = Literal["24h", "7d", "30d"]
Status = Literal["running", "finished", "failed", "killed"]
ReportKind = Literal["profile", "validation", "drift"]
Name = Annotated[str, Path(min_length=1, max_length=250)]


def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


WS = Annotated[Workspace, Depends(workspace)]


class Decision(BaseModel):
    """A reviewer's label for a queued request (a string, number or boolean)."""

    label: StrictStr | StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)] | StrictBool
    note: str | None = Field(None, max_length=10_000)
    user: str | None = Field(
        None, max_length=250, description="who decided (default: the server's user)"
    )


class Ack(BaseModel):
    """Who acknowledges an alert, and what they are doing about it."""

    by: str | None = Field(None, max_length=250, description="default: the server's user")
    note: str | None = Field(None, max_length=10_000)


class Problem(BaseModel):
    """What went wrong and what to do."""

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "a value that cannot be used (a bad filter...)"},
    401: {"model": Problem, "description": "no token, or a wrong one (when one is configured)"},
    403: {"model": Problem, "description": "a write from another site"},
    404: {"model": Problem, "description": "no such deployment, run, model, report or item"},
}


def api_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(api_guard)], responses=ERRORS)

    @router.get("/overview", response_model=Overview, tags=["pages"])
    def get_overview(ws: WS) -> Overview:
        """Every deployment with its health, and every firing alert."""
        return overview(ws)

    @router.get("/deployments/{name}", response_model=DeploymentView, tags=["pages"])
    def get_deployment(
        ws: WS,
        name: Name,
        range: Range = "7d",
        monitor: Annotated[str | None, Query(max_length=64)] = None,
    ) -> DeploymentView:
        """A deployment: traffic, latency, errors, drift, predictions, performance,
        revisions and alerts over the last ``range`` of one monitor's windows."""
        return deployment_view(ws, name, range, monitor)

    @router.get("/runs", response_model=RunList, tags=["pages"])
    def get_runs(
        ws: WS,
        experiment: Annotated[str | None, Query(max_length=250)] = None,
        status: Status | None = None,
        filter: Annotated[str, Query(max_length=2000)] = "",
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> RunList:
        """Runs newest first; ``filter`` reads like ``metrics.auc > 0.7 and params.C = 1``."""
        return list_runs(ws, experiment or None, status, filter, limit)

    @router.get("/runs/compare", response_model=RunComparison, tags=["pages"])
    def get_comparison(
        ws: WS, run: Annotated[list[str], Query(min_length=1, max_length=10)]
    ) -> RunComparison:
        """Runs side by side (``?run=ID&run=ID``) with their metric histories."""
        return compare_runs(ws, run)

    @router.get("/models", response_model=ModelList, tags=["pages"])
    def get_models(ws: WS) -> ModelList:
        return model_list(ws)

    @router.get("/models/{name}", response_model=ModelDetail, tags=["pages"])
    def get_model(ws: WS, name: Name) -> ModelDetail:
        """A model's versions, gates, aliases, alias history and lineage graph."""
        return model_detail(ws, name)

    @router.get("/models/{name}/versions/{version}", response_model=VersionDetail, tags=["pages"])
    def get_version(ws: WS, name: Name, version: Annotated[int, Path(ge=1)]) -> VersionDetail:
        return version_detail(ws, name, version)

    @router.get("/data-reports", response_model=DataReports, tags=["pages"])
    def get_data_reports(ws: WS, kind: ReportKind | None = None) -> DataReports:
        """Profiles, validation and drift reports stored by runs, newest first."""
        return data_reports(ws, kind)

    @router.get("/review", response_model=ReviewQueue, tags=["pages"])
    def get_review(
        ws: WS,
        deployment: Annotated[str | None, Query(max_length=250)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> ReviewQueue:
        """Pending review items, oldest first, with their inputs and the model's advice."""
        return review_queue(ws, deployment or None, limit)

    @router.post("/review/{request_id}", response_model=ReviewRow, tags=["writes"])
    def post_review(
        ws: WS, request_id: Annotated[str, Path(min_length=1, max_length=64)], decision: Decision
    ) -> ReviewRow:
        """Label a queued request: it is decided in the ledger and logged as feedback."""
        return label_item(ws, request_id, decision.label, decision.note, decision.user)

    @router.post(
        "/monitors/{monitor_id}/alerts/{alert_id}/ack", response_model=AlertView, tags=["writes"]
    )
    def post_ack(
        ws: WS,
        monitor_id: Annotated[str, Path(min_length=1, max_length=64)],
        alert_id: Annotated[str, Path(min_length=1, max_length=64)],
        ack: Ack,
    ) -> AlertView:
        """Acknowledge a firing alert: it keeps firing, without reminders."""
        return acknowledge(ws, monitor_id, alert_id, ack.by, ack.note)

    return router
