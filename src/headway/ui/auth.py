"""Who may use the dashboard: the workspace's token, a session cookie, same-origin writes.

With a token configured (``HEADWAY_TOKEN`` or ``[auth] token``), the API needs
``Authorization: Bearer <token>`` (or the session cookie) and the pages need a session:
the login form checks the token and sets an HttpOnly, SameSite=Strict cookie, signed with
the token by itsdangerous, valid for 12 hours and void as soon as the token changes.
Without a token the UI is open, and ``headway ui`` binds 127.0.0.1.

Writes (a review label, an alert acknowledgement, logging in) also refuse cross-site
requests, token or not: a request whose ``Sec-Fetch-Site`` or ``Origin`` says it came
from another site gets 403, and a write from a browser session must carry a same-origin
``Origin`` or ``Referer``. With the SameSite=Strict cookie this stops cross-site request
forgery; without a token it stops any web page from writing to a UI on localhost.
"""

from __future__ import annotations

import hmac
from typing import Literal
from urllib.parse import urlsplit

from itsdangerous import BadSignature, TimestampSigner
from starlette.requests import Request

__all__ = [
    "COOKIE",
    "SESSION_SECONDS",
    "Access",
    "Auth",
    "LoginRequired",
    "Refused",
    "Unauthorized",
    "api_guard",
    "cross_site",
    "page_guard",
    "shows_same_origin",
    "write_refusal",
]

COOKIE = "headway_session"
SESSION_SECONDS = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Access = Literal["open", "bearer", "cookie"]


class Auth:
    """The token (None: open) and the sessions it signs."""

    def __init__(self, token: str | None) -> None:
        self.token = token or None
        self._signer = (
            None if self.token is None else TimestampSigner(self.token, salt="headway-ui-session")
        )

    @property
    def required(self) -> bool:
        return self.token is not None

    def check_token(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def new_session(self) -> str:
        assert self._signer is not None
        return self._signer.sign(b"ui").decode()

    def access(self, request: Request) -> Access | None:
        """How the request is allowed in, or None when it is not."""
        if self._signer is None:
            return "open"
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.check_token(value.strip()):
            return "bearer"
        cookie = request.cookies.get(COOKIE)
        if cookie:
            try:
                self._signer.unsign(cookie, max_age=SESSION_SECONDS)
                return "cookie"
            except BadSignature:
                return None
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}".lower()


def cross_site(request: Request) -> bool:
    """The browser says this request came from another site."""
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("origin")
    return origin is not None and _origin(origin) != _own_origin(request)


def shows_same_origin(request: Request) -> bool:
    """The request carries an Origin or Referer of this very server."""
    source = request.headers.get("origin") or request.headers.get("referer")
    return source is not None and _origin(source) == _own_origin(request)


def write_refusal(request: Request, access: Access) -> str | None:
    """Why a write must be refused (see the module docstring), or None to let it through."""
    if request.method in SAFE_METHODS:
        return None
    if cross_site(request):
        return "cross-site requests cannot change anything here; use the dashboard's own pages"
    if access == "cookie" and not shows_same_origin(request):
        return "a write from a browser session must come from this dashboard's own pages"
    return None


class Unauthorized(Exception):
    """An API request without the token (or with a wrong one): 401."""


class Refused(Exception):
    """A write the same-origin rule refuses: 403."""


class LoginRequired(Exception):
    """A page needs a session: to the login form, then back to ``target``."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def api_guard(request: Request) -> Access:
    """The API's door: the token (or a session), and no cross-site writes."""
    auth: Auth = request.app.state.auth
    access = auth.access(request)
    if access is None:
        raise Unauthorized(
            "this API needs 'Authorization: Bearer <token>' with the workspace's HEADWAY_TOKEN"
        )
    refusal = write_refusal(request, access)
    if refusal is not None:
        raise Refused(refusal)
    return access


def page_guard(request: Request) -> Access:
    """The pages' door: a session when a token is configured, and no cross-site writes."""
    auth: Auth = request.app.state.auth
    access = auth.access(request)
    if access is None:
        query = request.url.query
        raise LoginRequired(request.url.path + (f"?{query}" if query else ""))
    refusal = write_refusal(request, access)
    if refusal is not None:
        raise Refused(refusal)
    return access
