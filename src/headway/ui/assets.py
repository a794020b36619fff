"""Static files: the UI's CSS and script, and plotly.min.js from the installed package.

Nothing comes from a CDN, so the dashboard works without internet access. Each file is
read once; pages link it as ``/static/NAME?v=HASH`` (a digest of its bytes), so browsers
may keep it for a year and still never run a stale copy after an upgrade.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from headway.errors import NotFoundError

__all__ = ["Asset", "asset", "asset_url", "favicon", "serve_asset"]

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_SOURCES = {
    "plotly.min.js": ("plotly", "package_data/plotly.min.js"),
    "ui.css": ("headway.ui", "static/ui.css"),
    "ui.js": ("headway.ui", "static/ui.js"),
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@cache
def asset(name: str) -> Asset:
    """A static file by name, read once."""
    if name not in _SOURCES:
        raise NotFoundError(f"no static file {name!r}; the UI serves {', '.join(_SOURCES)}")
    package, path = _SOURCES[name]
    body = resources.files(package).joinpath(path).read_bytes()
    suffix = name[name.rfind(".") :]
    return Asset(body, _TYPES[suffix], hashlib.sha256(body).hexdigest()[:16])


@cache
def favicon() -> str:
    """The icon as a data: URL: no request for browsers to make (or to abort)."""
    svg = resources.files("headway.ui").joinpath("static/favicon.svg").read_text()
    return "data:image/svg+xml," + quote(svg.strip())


def asset_url(name: str) -> str:
    return f"/static/{name}?v={asset(name).etag}"


def serve_asset(request: Request, name: str) -> Response:
    """The file, cached for a year by browsers (its URL changes with its content)."""
    found = asset(name)
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "ETag": f'"{found.etag}"',
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == f'"{found.etag}"':
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)
