"""The data plane of one server process: routes, models, batchers, logs, fallbacks.

It loads its deployment from the ledger once, then serves from memory: if the metadata
store goes away, requests are still answered. A poller looks for a new revision every
``poll_interval`` seconds; a new one is applied by loading any new model versions first
and then swapping the routing table in one assignment, so in-flight requests finish on
the models they started on and none fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import random
import threading
import time
import uuid
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from headway._heap import freeze_heap
from headway.errors import HeadwayError
from headway.registry.models import get_model_version, load_model
from headway.serving import canary
from headway.serving.batcher import Batcher, Overloaded, Pending
from headway.serving.codec import Inputs
from headway.serving.deployments import DeploymentConfig
from headway.serving.log import FeedbackLog, PredictionLog, compact
from headway.serving.metrics import Metrics
from headway.serving.model import Outputs, ServedModel
from headway.serving.review import ReviewQueue
from headway.store import deployments as repo
from headway.store.metadata import now_ms
from headway.workspace import Workspace

__all__ = ["Answer", "DataPlane", "ServeOptions"]

log = logging.getLogger("headway.serving")

# The model_version of answers given by the fallback rule (a constant).
RULE = "rule:fallback_value"
# Closed hours of the logs are compacted to Parquet this often (seconds).
COMPACT_EVERY = 300.0
# The prediction log gathers batches this long (or this many batches) before appending them.
LOG_GATHER = 0.1
LOG_GATHER_BATCHES = 1024
# Allocations between young-generation collections (CPython's default is 700).
GC_YOUNG_THRESHOLD = 20_000


@dataclass(frozen=True)
class ServeOptions:
    """How one server process batches, logs and follows its deployment."""

    max_batch_size: int = 64
    max_wait_ms: float = 0.0
    max_queue_rows: int = 2048
    poll_interval: float = 1.0
    flush_interval: float = 1.0
    log_predictions: bool = True
    trusted: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """What the server answers one request with."""

    request_id: str
    model_version: str
    route: str
    outputs: Outputs | None
    fallback: bool = False
    deferred: bool = False  # partial/human automation: a person decides
    advice: bool = False  # assist automation: the prediction is advice to a person


class _Batch(NamedTuple):
    """One model call, as the prediction log gets it: plain per-request lists rather than
    the requests themselves, so their futures and parsed inputs die with the response."""

    uri: str
    ids: list[str]
    rows: list[int]
    arrival: list[float]  # time.time() when each request arrived
    route: list[str]
    revision: list[int]
    inputs: Inputs
    outputs: Outputs | None
    error: BaseException | None
    done: float  # time.time() when the call returned

    @classmethod
    def of(
        cls,
        uri: str,
        items: list[Pending],
        inputs: Inputs,
        outputs: Outputs | None,
        error: BaseException | None,
    ) -> _Batch:
        return cls(
            uri,
            [i.request_id for i in items],
            [i.inputs.rows for i in items],
            [i.arrival for i in items],
            [i.route for i in items],
            [i.revision for i in items],
            inputs,
            outputs,
            error,
            time.time(),
        )


@dataclass(frozen=True)
class _Routing:
    """One revision, ready: its config and a batcher per model version it uses."""

    revision: int
    config: DeploymentConfig
    since: int  # when the revision was made (ms): its traffic is logged after that
    batchers: dict[str, Batcher] = field(default_factory=dict)


class DataPlane:
    """Serve a deployment (by name) or a single model (by ``models:/`` URI)."""

    def __init__(self, workspace: Workspace, target: str, options: ServeOptions) -> None:
        self.ws = workspace
        self.target = target
        self.options = options
        self.is_deployment = not target.startswith("models:/")
        self.name = (
            target if self.is_deployment else get_model_version(target, workspace=workspace).name
        )
        self.metrics = Metrics()
        self._id_prefix = uuid.uuid4().hex[:16]
        self._ids = itertools.count()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self._models: dict[str, ServedModel] = {}
        self._batchers: dict[str, Batcher] = {}
        self._routing: _Routing | None = None
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        root = workspace.log_root
        self.predictions = (
            PredictionLog(root, flush_interval=options.flush_interval)
            if options.log_predictions
            else None
        )
        self.feedback = FeedbackLog(root, flush_interval=options.flush_interval)
        # Batches are logged from a thread of their own, so building their Arrow columns
        # never delays the next prediction. It wakes every LOG_GATHER seconds rather than
        # on each batch: a wake-up per batch cost more than the logging itself.
        self._unlogged: deque[_Batch] = deque()  # appends and pops are thread-safe
        self._log_wake = threading.Event()
        self._log_stopping = False
        self._log_thread = threading.Thread(
            target=self._log_batches, name="prediction-log", daemon=True
        )
        self._log_thread.start()
        self.reviews = ReviewQueue(workspace) if self.is_deployment else None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._routing is not None

    @property
    def routing(self) -> _Routing:
        if self._routing is None:
            raise HeadwayError("the server is still loading its models")
        return self._routing

    @property
    def signature(self) -> dict[str, Any] | None:
        return self._models[self.routing.config.primary].signature

    @property
    def primary(self) -> ServedModel:
        return self._models[self.routing.config.primary]

    async def start(self) -> None:
        await self._apply(*await asyncio.to_thread(self._read_active))
        if self.is_deployment:
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        self._background(self._compact_now_and_then())

    async def stop(self) -> None:
        for task in [self._poller, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for batcher in self._batchers.values():
            await batcher.close()
        self._executor.shutdown(wait=True)
        self._log_stopping = True
        self._log_wake.set()
        self._log_thread.join(timeout=10)
        for stream in (self.predictions, self.feedback):
            if stream is not None:
                stream.close()
        if self.reviews is not None:
            self.reviews.close()

    def _read_active(self) -> tuple[int, DeploymentConfig, int]:
        if not self.is_deployment:
            pinned = get_model_version(self.target, workspace=self.ws).uri
            return 0, DeploymentConfig(primary=pinned), now_ms()
        with self.ws.store.read() as conn:
            active = repo.revisions(conn, self.target, last=1)[-1]
        return active.number, DeploymentConfig.from_dict(active.config), active.created_at

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.options.poll_interval)
            try:
                await self.refresh()
                routing = self.routing
                if routing.config.ramp is not None and self.predictions is not None:
                    moved = await asyncio.to_thread(
                        canary.tick,
                        self.ws,
                        self.name,
                        routing.revision,
                        routing.config,
                        routing.since,
                    )
                    if moved is not None:
                        log.warning("%s revision %s: %s", self.name, moved.number, moved.reason)
                        await self.refresh()
            except Exception:  # the control plane may be down; keep serving what we have
                log.exception("could not check %s for a new revision", self.target)

    async def _compact_now_and_then(self) -> None:
        """Merge the logs' closed hours into Parquet (a lock keeps workers from racing)."""
        while True:
            await asyncio.sleep(COMPACT_EVERY)
            for stream in ("predictions", "feedback"):
                try:
                    await asyncio.to_thread(compact, self.ws.log_root, stream)
                except Exception:
                    log.exception("could not compact the %s log", stream)

    async def refresh(self) -> bool:
        """Apply the deployment's newest revision if it is not the one served; True if so."""
        with self.ws.store.read() as conn:
            number = repo.active_number(conn, self.target)
        if number is None or number == self.routing.revision:
            return False
        await self._apply(*await asyncio.to_thread(self._read_active))
        return True

    async def _apply(self, revision: int, config: DeploymentConfig, since: int) -> None:
        missing = [uri for uri in config.models if uri not in self._models]
        for uri in missing:  # load first, swap after: requests never see a half state
            loaded = await asyncio.to_thread(load_model, uri, self.options.trusted, None, self.ws)
            self._models[uri] = ServedModel(loaded)
        for uri in config.models:
            if uri not in self._batchers:
                self._batchers[uri] = Batcher(
                    self._models[uri],
                    self._executor,
                    max_batch_size=self.options.max_batch_size,
                    max_wait_ms=self.options.max_wait_ms,
                    max_queue_rows=self.options.max_queue_rows,
                    on_batch=self._on_batch,
                )
        self._routing = _Routing(
            revision, config, since, {uri: self._batchers[uri] for uri in config.models}
        )
        if missing:
            freeze_heap(GC_YOUNG_THRESHOLD)  # the models stay for the server's life
        log.info("serving %s revision %s: %s", self.name, revision, config.models)

    # -- requests --------------------------------------------------------------------------

    def new_request_id(self) -> str:
        """A unique id: a random per-process prefix and a counter (uuid4 reads the kernel's
        entropy pool on every call, which costs tens of microseconds on some machines)."""
        return f"{self._id_prefix}{next(self._ids):08x}"

    def _route(self, routing: _Routing, key: str | None) -> tuple[str, str]:
        config = routing.config
        if config.canary and config.canary_weight > 0:
            draw = (zlib.crc32(key.encode()) % 10_000) / 10_000 if key else random.random()
            if draw < config.canary_weight:
                return "canary", config.canary
        return "primary", config.primary

    async def predict(
        self, inputs: Inputs, request_id: str, key: str | None = None, automate: bool = True
    ) -> Answer:
        """Answer one request: route it, predict (with fallback), apply automation."""
        arrival = time.time()
        routing = self.routing
        config = routing.config
        if automate and config.automation == "human":
            self._background(self._shadow_for_review(routing, inputs, request_id, arrival))
            return Answer(request_id, config.primary, "review", None, deferred=True)
        route, uri = self._route(routing, key)
        answer = await self._answer(routing, route, uri, inputs, request_id, arrival)
        if route == "canary":  # the primary on the same request, for the agreement gate
            self._shadow(routing, config.primary, inputs, request_id, arrival)
        for shadow in config.shadows:
            self._shadow(routing, shadow, inputs, request_id, arrival)
        if automate and config.automation in ("partial", "assist") and answer.outputs is not None:
            return self._automate(routing, answer, inputs)
        return answer

    async def _answer(
        self,
        routing: _Routing,
        route: str,
        uri: str,
        inputs: Inputs,
        request_id: str,
        arrival: float,
    ) -> Answer:
        future = routing.batchers[uri].submit(inputs, request_id, route, routing.revision, arrival)
        # A timer on the future rather than asyncio.timeout(): a third of the cost per request.
        timer = asyncio.get_running_loop().call_later(
            routing.config.timeout_ms / 1000, _expire, future, routing.config.timeout_ms
        )
        try:
            return Answer(request_id, uri, route, await future)
        except Exception as exc:  # timeout or model error: answer from the fallback
            fallback = (
                routing.config.primary if route == "canary" else routing.config.fallback_model
            )
            value = routing.config.fallback_value
            if (fallback is None or fallback == uri) and value is None:
                raise
            log.warning("%s failed on request %s (%r); falling back", uri, request_id, exc)
            self.metrics.fallbacks.labels(self.name, route).inc()
            if fallback is None or fallback == uri:
                return self._rule(routing, inputs, request_id, arrival, value)
            future = routing.batchers[fallback].submit(
                inputs, request_id, "fallback", routing.revision, arrival
            )
            return Answer(request_id, fallback, "fallback", await future, fallback=True)
        finally:
            timer.cancel()

    def _rule(
        self, routing: _Routing, inputs: Inputs, request_id: str, arrival: float, value: Any
    ) -> Answer:
        """Answer with the deployment's fallback value, and log it like any answer."""
        outputs = Outputs(np.full(inputs.rows, value))
        pending = Pending(
            inputs,
            request_id,
            arrival,
            "fallback",
            routing.revision,
            asyncio.get_running_loop().create_future(),
        )
        self._on_batch(RULE, [pending], inputs, outputs, None, 0.0)
        return Answer(request_id, RULE, "fallback", outputs, fallback=True)

    def _shadow(
        self, routing: _Routing, uri: str, inputs: Inputs, request_id: str, arrival: float
    ) -> None:
        try:
            future = routing.batchers[uri].submit(
                inputs, request_id, "shadow", routing.revision, arrival
            )
        except Overloaded:  # shadows never hold up or fail real traffic
            self.metrics.shadow_dropped.labels(self.name).inc()
            return
        future.add_done_callback(_ignore_result)

    async def _shadow_for_review(
        self, routing: _Routing, inputs: Inputs, request_id: str, arrival: float
    ) -> None:
        advice = None
        with contextlib.suppress(Exception):
            outputs = await routing.batchers[routing.config.primary].submit(
                inputs, request_id, "shadow", routing.revision, arrival
            )
            advice = _advice(outputs)
        assert self.reviews is not None
        self.reviews.add(self.name, routing.revision, request_id, "human", inputs, advice)

    def _automate(self, routing: _Routing, answer: Answer, inputs: Inputs) -> Answer:
        assert self.reviews is not None and answer.outputs is not None
        config = routing.config
        confidence = answer.outputs.confidence
        advice = _advice(answer.outputs)
        if config.automation == "assist":
            self.reviews.add(
                self.name, routing.revision, answer.request_id, "assist", inputs, advice
            )
            return replace(answer, advice=True)
        if (
            confidence is not None
            and config.threshold is not None
            and float(confidence.min()) < config.threshold
        ):
            self.reviews.add(
                self.name, routing.revision, answer.request_id, "low_confidence", inputs, advice
            )
            return replace(answer, deferred=True)
        return answer

    def _background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- after each batch ------------------------------------------------------------------

    def _on_batch(
        self,
        uri: str,
        items: list[Pending],
        inputs: Inputs,
        outputs: Outputs | None,
        error: BaseException | None,
        seconds: float,
    ) -> None:
        """On the predict thread: count the batch, leave it for the log thread, and get out
        of the way."""
        self._batch_sizes(uri).observe(inputs.rows)
        if self.predictions is not None:
            self._unlogged.append(_Batch.of(uri, items, inputs, outputs, error))
            if len(self._unlogged) >= LOG_GATHER_BATCHES:
                self._log_wake.set()

    @functools.cache  # noqa: B019  (one entry per model version; the plane lives as long)
    def _batch_sizes(self, uri: str) -> Any:
        return self.metrics.batch_size.labels(self.name, uri)

    def _log_batches(self) -> None:
        """The log thread: every ``LOG_GATHER`` seconds (sooner after ``LOG_GATHER_BATCHES``
        batches), log the batches since the last time in one append per model version, so
        the log costs a few microseconds per request, not a few hundred per batch."""
        while True:
            self._log_wake.wait(LOG_GATHER)
            self._log_wake.clear()
            stopping = self._log_stopping  # read before draining: no batch is left behind
            batches = []
            while self._unlogged:
                batches.append(self._unlogged.popleft())
            if batches:
                self._log_pending(batches)
            if stopping:
                return

    def _log_pending(self, batches: list[_Batch]) -> None:
        groups: dict[tuple[str, bool], list[_Batch]] = {}
        for batch in batches:
            groups.setdefault((batch.uri, batch.error is None), []).append(batch)
        for (uri, _), group in groups.items():
            try:
                self._log_group(uri, group)
            except Exception:
                log.exception("could not log %d batch(es) of %s", len(group), uri)

    def _log_group(self, uri: str, group: list[_Batch]) -> None:
        assert self.predictions is not None

        def joined(field: str) -> list[Any]:
            return list(itertools.chain.from_iterable(getattr(b, field) for b in group))

        rows = np.array(joined("rows"), dtype=np.int64)
        per_batch = [batch.inputs.rows for batch in group]
        ids = _row_ids(joined("ids"), rows)
        arrival = np.repeat(joined("arrival"), rows)
        done = np.repeat([batch.done for batch in group], per_batch)
        inputs = Inputs.concat([batch.inputs for batch in group])
        columns = inputs.columns if inputs.columns is not None else _tensor_columns(inputs)
        failed = group[0].error is not None
        self.predictions.log(
            ids,
            inputs=columns,
            outputs={"prediction": pa.nulls(len(ids))}
            if failed
            else Outputs.concat([b.outputs for b in group if b.outputs is not None]).columns(),
            deployment=self.name,
            revision=np.repeat(joined("revision"), rows),
            model_version=uri,
            latency_ms=(done - arrival) * 1000,
            route=np.repeat(joined("route"), rows),
            status=500 if failed else 200,
            error=np.repeat([f"{type(b.error).__name__}: {b.error}" for b in group], per_batch)
            if failed
            else None,
            time=(arrival * 1000).astype("datetime64[ms]"),
        )


def _expire(future: asyncio.Future[Any], timeout_ms: float) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f"no answer within the time budget of {timeout_ms} ms"))


def _ignore_result(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so asyncio does not warn about it


def _advice(outputs: Outputs) -> dict[str, Any]:
    confidence = outputs.confidence
    return {
        "prediction": outputs.prediction.tolist(),
        "confidence": None if confidence is None else confidence.tolist(),
    }


def _row_ids(request_ids: list[str], rows: np.ndarray) -> list[str]:
    """One id per logged row: the request id, suffixed ``:i`` for multi-row requests."""
    if bool((rows == 1).all()):
        return request_ids
    return [
        request_id if n == 1 else f"{request_id}:{k}"
        for request_id, n in zip(request_ids, rows.tolist(), strict=True)
        for k in range(n)
    ]


def _tensor_columns(inputs: Inputs) -> dict[str, np.ndarray]:
    assert inputs.tensor is not None
    flat = inputs.tensor.reshape(inputs.rows, -1)
    return {f"x{j}": flat[:, j] for j in range(flat.shape[1])}
