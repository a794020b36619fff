"""The dashboard's HTML pages: server-rendered Jinja2 over the same query layer as the API.

Each page renders one query-layer value (and links its JSON twin under ``/api``); charts
are Plotly figures embedded as JSON data blocks that ``/static/ui.js`` draws. The two
writes are plain HTML forms that post here and redirect back (post/redirect/get).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from headway import __version__
from headway.cli._app import format_duration
from headway.registry.models import read_attachment
from headway.serving.feedback import label_from_text
from headway.ui.api import Range, ReportKind, workspace
from headway.ui.assets import asset_url, favicon
from headway.ui.auth import COOKIE, SESSION_SECONDS, Auth, Refused, page_guard, shows_same_origin
from headway.ui.charts import comparison_charts, deployment_charts, duration_label, figure_json
from headway.ui.data_reports import data_reports, render_report
from headway.ui.deployments import acknowledge, deployment_view, overview
from headway.ui.models import CARD, card_version, model_detail, model_list, version_detail
from headway.ui.review import label_item, review_queue
from headway.ui.runs import STATUSES, compare_runs, list_runs
from headway.workspace import Workspace

__all__ = ["login_router", "pages_router", "render", "render_error"]

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
# Stored reports and model cards are whole documents with inline scripts: they run in a
# sandbox (no cookies, no same-origin access) inside the page that frames them.
EMBED_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'self'"
)
NONE = "\N{EN DASH}"  # what a table shows for no value
NAV = [
    ("/", "Overview"),
    ("/runs", "Runs"),
    ("/models", "Models"),
    ("/data", "Data"),
    ("/review", "Review"),
]


def _when(ms: int | None) -> str:
    if ms is None:
        return NONE
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _pct(value: float | None, digits: int = 1) -> str:
    return NONE if value is None else f"{value:.{digits}%}"


def _num(value: Any) -> str:
    """A number for people (``1,234``, ``0.8125``); anything else as it is."""
    if value is None:
        return NONE
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("headway.ui", "templates"),
        autoescape=select_autoescape(["j2", "html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=_when, pct=_pct, num=_num, duration=format_duration, period=duration_label
    )
    env.globals.update(asset=asset_url, favicon=favicon, nav=NAV, version=__version__)
    return env


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    auth: Auth = request.app.state.auth
    html = (
        _env()
        .get_template(template)
        .render(
            section=_section(request.url.path),
            auth_required=auth.required,
            **context,
        )
    )
    return HTMLResponse(html, status, headers=_page_headers())


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html.j2", status, code=status, message=message)


def _page_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": PAGE_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _section(path: str) -> str:
    for prefix, _ in reversed(NAV):
        if prefix != "/" and path.startswith(prefix):
            return prefix
    return "/" if path == "/" or path.startswith("/deployments") else ""


def _embedded(html: str) -> HTMLResponse:
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": EMBED_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def _charts(figures: dict[str, Any]) -> dict[str, str]:
    return {name: figure_json(figure) for name, figure in figures.items()}


WS = Annotated[Workspace, Depends(workspace)]
Name = Annotated[str, Path(min_length=1, max_length=250)]
Optional = Annotated[str | None, Query(max_length=250)]


def pages_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(page_guard)], include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def overview_page(request: Request, ws: WS) -> HTMLResponse:
        return render(request, "overview.html.j2", view=overview(ws), api="/api/overview")

    @router.get("/deployments/{name}", response_class=HTMLResponse)
    def deployment_page(
        request: Request,
        ws: WS,
        name: Name,
        range: Range = "7d",
        monitor: Annotated[str | None, Query(max_length=64)] = None,
        acked: Annotated[str | None, Query(max_length=64)] = None,
    ) -> HTMLResponse:
        view = deployment_view(ws, name, range, monitor)
        query = urlencode({"range": range, **({"monitor": monitor} if monitor else {})})
        return render(
            request,
            "deployment.html.j2",
            view=view,
            charts=_charts(deployment_charts(view)),
            range=range,
            acked=acked,
            api=f"/api/deployments/{quote(name)}?{query}",
        )

    @router.post("/deployments/{name}/alerts/{alert_id}/ack")
    def ack_form(
        ws: WS,
        name: Name,
        alert_id: Annotated[str, Path(min_length=1, max_length=64)],
        monitor: Annotated[str, Form(min_length=1, max_length=64)],
        note: Annotated[str, Form(max_length=10_000)] = "",
        by: Annotated[str, Form(max_length=250)] = "",
    ) -> RedirectResponse:
        acknowledge(ws, monitor, alert_id, by.strip() or None, note.strip() or None)
        query = urlencode({"monitor": monitor, "acked": alert_id})
        return RedirectResponse(f"/deployments/{quote(name)}?{query}#alerts", status_code=303)

    @router.get("/runs", response_class=HTMLResponse)
    def runs_page(
        request: Request,
        ws: WS,
        experiment: Optional = None,
        status: Annotated[str | None, Query(max_length=16)] = None,
        filter: Annotated[str, Query(max_length=2000)] = "",
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> HTMLResponse:
        view = list_runs(ws, experiment or None, status or None, filter, limit)
        query = urlencode({k: v for k, v in request.query_params.items() if v})
        return render(
            request,
            "runs.html.j2",
            view=view,
            statuses=STATUSES,
            api="/api/runs" + (f"?{query}" if query else ""),
        )

    @router.get("/runs/compare", response_class=HTMLResponse)
    def compare_page(
        request: Request,
        ws: WS,
        run: Annotated[list[str], Query(max_length=10)] = [],  # noqa: B006
    ) -> HTMLResponse:
        view = compare_runs(ws, run)
        query = urlencode([("run", r) for r in run])
        return render(
            request,
            "compare.html.j2",
            view=view,
            charts=_charts(comparison_charts(view)),
            api=f"/api/runs/compare?{query}",
        )

    @router.get("/models", response_class=HTMLResponse)
    def models_page(request: Request, ws: WS) -> HTMLResponse:
        return render(request, "models.html.j2", view=model_list(ws), api="/api/models")

    @router.get("/models/{name}", response_class=HTMLResponse)
    def model_page(request: Request, ws: WS, name: Name) -> HTMLResponse:
        return render(
            request, "model.html.j2", view=model_detail(ws, name), api=f"/api/models/{quote(name)}"
        )

    @router.get("/models/{name}/versions/{version}", response_class=HTMLResponse)
    def version_page(
        request: Request, ws: WS, name: Name, version: Annotated[int, Path(ge=1)]
    ) -> HTMLResponse:
        return render(
            request,
            "version.html.j2",
            view=version_detail(ws, name, version),
            api=f"/api/models/{quote(name)}/versions/{version}",
        )

    @router.get("/models/{name}/versions/{version}/card", response_class=HTMLResponse)
    def card_document(ws: WS, name: Name, version: Annotated[int, Path(ge=1)]) -> HTMLResponse:
        found = card_version(ws, name, version)
        return _embedded(read_attachment(ws, found, CARD) or "")

    @router.get("/data", response_class=HTMLResponse)
    def data_page(
        request: Request,
        ws: WS,
        kind: ReportKind | None = None,
        run: Annotated[str | None, Query(max_length=64)] = None,
        path: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> HTMLResponse:
        view = data_reports(ws, kind)
        selected = next((r for r in view.reports if r.run_id == run and r.path == path), None)
        if selected is None and run is None and view.reports:
            selected = view.reports[0]
        return render(
            request,
            "data.html.j2",
            view=view,
            selected=selected,
            api="/api/data-reports" + (f"?kind={kind}" if kind else ""),
        )

    @router.get("/data/report", response_class=HTMLResponse)
    def report_document(
        ws: WS,
        run: Annotated[str, Query(min_length=1, max_length=64)],
        path: Annotated[str, Query(min_length=1, max_length=1000)],
    ) -> HTMLResponse:
        return _embedded(render_report(ws, run, path))

    @router.get("/review", response_class=HTMLResponse)
    def review_page(
        request: Request,
        ws: WS,
        deployment: Optional = None,
        labelled: Annotated[str | None, Query(max_length=64)] = None,
    ) -> HTMLResponse:
        view = review_queue(ws, deployment or None)
        return render(
            request,
            "review.html.j2",
            view=view,
            labelled=labelled,
            api="/api/review" + (f"?deployment={quote(deployment)}" if deployment else ""),
        )

    @router.post("/review/{request_id}")
    def review_form(
        ws: WS,
        request_id: Annotated[str, Path(min_length=1, max_length=64)],
        label: Annotated[str, Form(max_length=1000)] = "",
        accept: Annotated[str, Form(max_length=1000)] = "",
        note: Annotated[str, Form(max_length=10_000)] = "",
        reviewer: Annotated[str, Form(max_length=250)] = "",
        deployment: Annotated[str, Form(max_length=250)] = "",
    ) -> RedirectResponse:
        # "Accept advice" submits the model's prediction; otherwise the typed label.
        chosen = label_from_text(accept or label)
        label_item(ws, request_id, chosen, note.strip() or None, reviewer.strip() or None)
        query = urlencode(
            {**({"deployment": deployment} if deployment else {}), "labelled": request_id}
        )
        return RedirectResponse(f"/review?{query}", status_code=303)

    return router


def login_router() -> APIRouter:
    """The login form (only meaningful with a token) and logout."""
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(
        request: Request, next: Annotated[str, Query(max_length=2000)] = "/"
    ) -> Response:
        if not request.app.state.auth.required:
            return RedirectResponse(_local(next), status_code=303)
        return render(request, "login.html.j2", next=_local(next), failed=False)

    @router.post("/login")
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=1000)],
        next: Annotated[str, Form(max_length=2000)] = "/",
    ) -> Response:
        auth: Auth = request.app.state.auth
        if not auth.required:
            return RedirectResponse(_local(next), status_code=303)
        if not shows_same_origin(request):
            raise Refused("log in from this dashboard's own login page")
        if not auth.check_token(token):
            return render(request, "login.html.j2", 401, next=_local(next), failed=True)
        response = RedirectResponse(_local(next), status_code=303)
        response.set_cookie(
            COOKIE,
            auth.new_session(),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.post("/logout")
    def logout(request: Request) -> Response:
        if not shows_same_origin(request):
            raise Refused("log out from this dashboard's own pages")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict")
        return response

    return router


def _local(target: str) -> str:
    """Only a path on this server (``/runs?x=1``), never another site, after logging in."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
