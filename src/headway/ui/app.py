"""The dashboard's ASGI app: the pages, the REST API under ``/api`` and the static files.

Errors keep their meaning and never become a 500: an unknown name is 404 with the
message saying what exists, a malformed request 400 (422 for the API's validation, with
FastAPI's field-by-field detail), a missing token 401 and a cross-site write 403. API
errors are JSON ``{"detail": ...}``; page errors are pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from headway import __version__
from headway.errors import HeadwayError, InvalidArgumentError, NotFoundError, StoreError
from headway.serving.codec import RequestError
from headway.ui.api import api_router
from headway.ui.assets import serve_asset
from headway.ui.auth import Auth, LoginRequired, Refused, Unauthorized
from headway.ui.pages import login_router, pages_router, render_error
from headway.workspace import Workspace

__all__ = ["create_app"]

DESCRIPTION = """\
Headway's control plane: every dashboard page's data as JSON, and the writes a person
makes in the dashboard (label a review item, acknowledge an alert). When the workspace has
a token (HEADWAY_TOKEN), send `Authorization: Bearer <token>`.
"""


def create_app(workspace: Workspace, allowed_hosts: Sequence[str] | None = None) -> FastAPI:
    """The dashboard for ``workspace``; ``allowed_hosts`` limits the Host header (a UI on
    127.0.0.1 answers only to its own names, so DNS rebinding cannot reach it)."""
    app = FastAPI(
        title="Headway control plane",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.workspace = workspace
    app.state.auth = Auth(workspace.settings.token)
    app.include_router(api_router(), prefix="/api")
    app.include_router(login_router())
    app.include_router(pages_router())
    app.add_api_route("/static/{name}", serve_asset, methods=["GET"], include_in_schema=False)
    _handle_errors(app)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _error(
    request: Request, status: int, message: Any, headers: Mapping[str, str] | None = None
) -> Response:
    if _is_api(request):
        return JSONResponse(
            {"detail": jsonable_encoder(message)}, status, headers=dict(headers or {})
        )
    return render_error(request, status, str(message))


def _status(exc: HeadwayError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, InvalidArgumentError):
        return 400
    if isinstance(exc, StoreError):
        return 503
    return 500


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(HeadwayError)
    async def headway_error(request: Request, exc: HeadwayError) -> Response:
        return _error(request, _status(exc), str(exc))

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> Response:
        return _error(request, exc.status, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = exc.detail
        if exc.status_code == 404 and message == "Not Found":
            message = (
                f"no endpoint at {request.url.path}; /api/openapi.json lists them"
                if _is_api(request)
                else f"no page at {request.url.path}; start from the overview at /"
            )
        return _error(request, exc.status_code, message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):  # where and why, without echoing the input (it may be NaN)
            errors = [{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in exc.errors()]
            return _error(request, 422, errors)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(request, 400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> Response:
        return _error(request, 401, str(exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(LoginRequired)
    async def login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.target, safe='')}", status_code=303)
