"""The prediction server's HTTP interface: three protocols over one data plane.

=============================================  ============================================
``GET /v2/health/live``, ``/v2/health/ready``   Open Inference Protocol v2 (KServe v2,
``GET /v2``, ``GET /v2/models/{name}[/ready]``  Triton, MLServer) over REST: metadata and
``POST /v2/models/{name}/infer``                inference with its tensor JSON
``POST /invocations``, ``GET /ping``            MLflow's scoring protocol
``POST /predict``                               Headway's: records or columns in; predictions,
                                                probabilities, request id, version out
``POST /feedback``                              ground-truth labels for request ids
``GET /review``, ``POST /review/{request_id}``  the review queue of human-in-the-loop modes
``POST /admin/reload``, ``GET /admin/status``   apply the newest revision now; what is served
``GET /metrics``                                Prometheus metrics
=============================================  ============================================

Bad requests get 400, 404, 415 or 422 with a message naming the problem, never a 5xx; a
full queue gets 503 with ``Retry-After``. When a token is configured (``HEADWAY_TOKEN``),
feedback, review and admin endpoints require ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from headway import __version__
from headway.errors import HeadwayError, NotFoundError, SignatureError
from headway.serving import codec
from headway.serving.batcher import Overloaded
from headway.serving.codec import RequestError
from headway.serving.feedback import parse_decision, parse_feedback
from headway.serving.metrics import CONTENT_TYPE_LATEST
from headway.serving.review import decide, list_pending
from headway.serving.server import Answer, DataPlane, ServeOptions
from headway.workspace import Workspace

__all__ = ["create_app"]

JSON = b"application/json"


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: a whole body, its status and headers, and the route that gave it."""

    body: bytes
    status: int = 200
    headers: tuple[tuple[bytes, bytes], ...] = ()
    route: str = "-"  # for the request metrics; also sent as x-headway-route when set
    media_type: bytes = JSON


Handler = Callable[[Request], Awaitable[Reply]]


def _json(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None, route: str = "-"
) -> Reply:
    pairs = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    if route != "-":
        pairs.append((b"x-headway-route", route.encode("latin-1")))
    return Reply(body, status, tuple(pairs), route)


def _error(message: str, status: int, headers: dict[str, str] | None = None) -> Reply:
    return _json(codec.infer_error(message), status, headers)


class _Request(Request):
    """A request whose body its endpoint has already read (Starlette's stream of chunks
    cost more than a plain loop over ``receive``)."""

    def __init__(self, scope: Scope, body: bytes) -> None:
        super().__init__(scope)
        self._payload = body

    async def body(self) -> bytes:
        return self._payload


class _Endpoint:
    """A route's ASGI app: the handler's reply, sent with nothing wrapped around it.

    Starlette's application, its per-route wrapper and its ``Response`` add error
    middleware and header handling that ``guarded`` and :class:`Reply` already cover;
    left out, a prediction costs about a fifth less.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        reply = await self.handler(_Request(scope, b"".join(chunks)))
        headers = [
            (b"content-type", reply.media_type),
            (b"content-length", b"%d" % len(reply.body)),
            *reply.headers,
        ]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})


def create_app(workspace: Workspace, target: str, options: ServeOptions | None = None) -> Router:
    """The ASGI app serving ``target``: a deployment name or a ``models:/`` URI."""
    plane = DataPlane(workspace, target, options or ServeOptions())
    token = workspace.settings.token or None

    @functools.cache
    def counters(route: str, endpoint: str, status: int) -> tuple[Any, Any, Any]:
        """The labelled metrics of one kind of answer, looked up once (labels() locks)."""
        m, name, code = plane.metrics, plane.name, str(status)
        return (
            m.requests.labels(name, route, endpoint, code),
            m.errors.labels(name, endpoint, code) if status >= 400 else None,
            m.latency.labels(name, route),
        )

    def guarded(endpoint: str, handler: Handler, protected: bool = False) -> _Endpoint:
        """Map errors to 4xx/503, check the token, and count every answer."""

        async def run(request: Request) -> Reply:
            start = time.perf_counter()
            if protected and token and not _authorized(request, token):
                response = _error(
                    "this endpoint needs 'Authorization: Bearer <token>' with the server's "
                    "HEADWAY_TOKEN",
                    401,
                    {"WWW-Authenticate": "Bearer"},
                )
            else:
                try:
                    response = await handler(request)
                except RequestError as exc:
                    response = _error(str(exc), exc.status)
                except SignatureError as exc:
                    response = _error(str(exc), 422)
                except NotFoundError as exc:
                    response = _error(str(exc), 404)
                except Overloaded:
                    plane.metrics.overloaded.labels(plane.name).inc()
                    response = _error(
                        "the server is at capacity; retry shortly", 503, {"Retry-After": "1"}
                    )
                except HeadwayError as exc:
                    response = _error(str(exc), 400)
            requests, errors, latency = counters(response.route, endpoint, response.status)
            requests.inc()
            if errors is not None:
                errors.inc()
            latency.observe(time.perf_counter() - start)
            return response

        return _Endpoint(run)

    async def serve(inputs: codec.Inputs, key: str | None, request_id: str | None) -> Answer:
        if not plane.ready:
            raise Overloaded("still loading")
        return await plane.predict(inputs, request_id or plane.new_request_id(), key)

    async def predict(request: Request) -> Reply:
        parsed = codec.parse_predict(await request.body(), plane.signature)
        answer = await serve(parsed.inputs, parsed.key, parsed.request_id)
        body: dict[str, Any] = {
            "request_id": answer.request_id,
            "model_version": answer.model_version,
            "route": answer.route,
        }
        outputs = answer.outputs
        if answer.deferred:
            body.update(deferred=True, predictions=None, review=f"/review/{answer.request_id}")
        elif outputs is not None:
            body["predictions"] = outputs.prediction
            if outputs.probabilities is not None:
                body["probabilities"] = outputs.probabilities
                body["classes"] = outputs.classes
        if answer.advice:
            body.update(advice=True, review=f"/review/{answer.request_id}")
        if answer.fallback:
            body["fallback"] = True
        return _json(codec.encode_json(body), route=answer.route)

    async def invocations(request: Request) -> Reply:
        inputs = codec.parse_invocations(
            await request.body(), request.headers.get("content-type"), plane.signature
        )
        answer = await serve(inputs, None, None)
        assert answer.outputs is not None
        return _json(
            codec.encode_invocations(answer.outputs.prediction),
            headers={"x-request-id": answer.request_id},
            route=answer.route,
        )

    async def infer(request: Request) -> Reply:
        _check_model(request, plane)
        parsed = codec.parse_infer(
            await request.body(),
            plane.signature,
            _header_length(request.headers.get("inference-header-content-length")),
        )
        answer = await serve(parsed.inputs, None, parsed.request_id)
        assert answer.outputs is not None
        tensors = [("predict", answer.outputs.prediction)]
        if answer.outputs.probabilities is not None:
            tensors.append(("predict_proba", answer.outputs.probabilities))
        if parsed.outputs:
            tensors = [t for t in tensors if t[0] in parsed.outputs]
        version = answer.model_version.rsplit("/", 1)[-1]
        return _json(
            codec.encode_infer(plane.name, version, answer.request_id, tensors),
            route=answer.route,
        )

    async def live(request: Request) -> Reply:
        return _json(b'{"live":true}')

    async def ready(request: Request) -> Reply:
        return _json(b'{"ready":true}') if plane.ready else _error("loading models", 503)

    async def server_metadata(request: Request) -> Reply:
        return _json(
            codec.encode_json(
                {"name": "headway", "version": __version__, "extensions": ["binary_tensor_data"]}
            )
        )

    async def model_metadata(request: Request) -> Reply:
        _check_model(request, plane)
        version = plane.primary.uri.rsplit("/", 1)[-1]
        meta = codec.model_metadata(plane.name, [version], plane.signature)
        if plane.primary.is_classifier and "outputs" not in (plane.signature or {}):
            classes = len(plane.primary.classes or [])
            meta["outputs"] = [
                {"name": "predict", "datatype": "BYTES", "shape": [-1]},
                {"name": "predict_proba", "datatype": "FP64", "shape": [-1, classes]},
            ]
        return _json(codec.encode_json(meta))

    async def model_ready(request: Request) -> Reply:
        _check_model(request, plane)
        return await ready(request)

    async def feedback(request: Request) -> Reply:
        ids, labels = parse_feedback(await request.body())
        plane.feedback.log(ids, labels, source="api")
        return _json(codec.encode_json({"accepted": len(ids)}))

    async def review_list(request: Request) -> Reply:
        limit = _int_param(request, "limit", 100)
        items = list_pending(plane.name, limit, workspace=plane.ws)
        return _json(codec.encode_json({"items": [i.to_dict() for i in items]}))

    async def review_decide(request: Request) -> Reply:
        decision = parse_decision(await request.body())
        item = decide(
            request.path_params["request_id"],
            decision["label"],
            note=decision.get("note"),
            user=decision.get("user"),
            workspace=plane.ws,
            feedback=plane.feedback,
        )
        return _json(codec.encode_json(item.to_dict()))

    async def reload(request: Request) -> Reply:
        changed = await plane.refresh() if plane.is_deployment else False
        return await status(request, changed)

    async def status(request: Request, changed: bool | None = None) -> Reply:
        routing = plane.routing
        body = {
            "name": plane.name,
            "revision": routing.revision,
            "config": routing.config.to_dict(),
            "queues": {uri: b.queue_depth for uri, b in routing.batchers.items()},
            "log": None if plane.predictions is None else plane.predictions.stats.__dict__,
        }
        if changed is not None:
            body["changed"] = changed
        return _json(codec.encode_json(body))

    async def metrics(request: Request) -> Reply:
        for uri, batcher in plane.routing.batchers.items():
            plane.metrics.queue_depth.labels(plane.name, uri).set(batcher.queue_depth)
        return Reply(plane.metrics.render(), media_type=CONTENT_TYPE_LATEST.encode())

    async def ping(request: Request) -> Reply:
        return _json(b"\n") if plane.ready else _error("loading", 503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Router) -> AsyncIterator[None]:
        await plane.start()
        try:
            yield
        finally:
            await plane.stop()

    g = guarded
    routes = [
        Route("/predict", g("predict", predict), methods=["POST"]),
        Route("/invocations", g("invocations", invocations), methods=["POST"]),
        Route("/ping", g("ping", ping), methods=["GET"]),
        Route("/health", g("ping", ping), methods=["GET"]),
        Route("/v2/health/live", g("live", live), methods=["GET"]),
        Route("/v2/health/ready", g("ready", ready), methods=["GET"]),
        Route("/v2", g("metadata", server_metadata), methods=["GET"]),
        Route("/v2/models/{model}", g("metadata", model_metadata), methods=["GET"]),
        Route("/v2/models/{model}/versions/{version}", g("metadata", model_metadata)),
        Route("/v2/models/{model}/ready", g("ready", model_ready), methods=["GET"]),
        Route("/v2/models/{model}/versions/{version}/ready", g("ready", model_ready)),
        Route("/v2/models/{model}/infer", g("infer", infer), methods=["POST"]),
        Route("/v2/models/{model}/versions/{version}/infer", g("infer", infer), methods=["POST"]),
        Route("/feedback", g("feedback", feedback, True), methods=["POST"]),
        Route("/review", g("review", review_list, True), methods=["GET"]),
        Route("/review/{request_id}", g("review", review_decide, True), methods=["POST"]),
        Route("/admin/reload", g("admin", reload, True), methods=["POST"]),
        Route("/admin/status", g("admin", status, True), methods=["GET"]),
        Route("/metrics", _Endpoint(metrics), methods=["GET"]),
    ]
    return Router(routes=routes, lifespan=lifespan)


def _authorized(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


def _check_model(request: Request, plane: DataPlane) -> None:
    name = request.path_params["model"]
    if name != plane.name:
        raise NotFoundError(f"this server serves model {plane.name!r}, not {name!r}")
    version = request.path_params.get("version")
    if version is not None and version != plane.primary.uri.rsplit("/", 1)[-1]:
        raise NotFoundError(
            f"{plane.name} serves version {plane.primary.uri.rsplit('/', 1)[-1]}, not {version}"
        )


def _header_length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise RequestError(
            f"Inference-Header-Content-Length must be an integer, got {value!r}"
        ) from None


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return max(1, min(int(raw), 10_000))
    except ValueError:
        raise RequestError(f"query parameter {name} must be an integer, got {raw!r}") from None


def app_from_env() -> Router:
    """The app for ``uvicorn --factory`` worker processes, configured by environment."""
    import json

    workspace = Workspace.open(os.environ.get("HEADWAY_PROJECT_DIR"))
    options = ServeOptions(**json.loads(os.environ.get("HEADWAY_SERVE_OPTIONS", "{}")))
    return create_app(workspace, os.environ["HEADWAY_SERVE_TARGET"], options)
