"""Executors: where tasks run. One small protocol, three implementations.

* ``inline`` runs each task in this process when it is submitted.
* ``process`` runs tasks in a pool of local worker processes, so independent steps run
  in parallel.
* ``ray`` runs tasks on Ray: a local Ray, or the cluster in ``[pipelines] ray_address``.

The driver (the process that called ``run``) submits tasks and records every result in
the ledger; workers never write to it.
"""

from __future__ import annotations

import importlib.metadata
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from functools import cache
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import cloudpickle
from threadpoolctl import threadpool_limits

# The same worker start-up as batch prediction: a fork server that has Headway imported.
from headway.batch.predict import _context, _cpus
from headway.config import Settings
from headway.errors import InvalidArgumentError
from headway.pipelines._ray import connect
from headway.workspace import current_workspace

__all__ = [
    "EXECUTORS",
    "Executor",
    "InlineExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "get_executor",
    "ship",
]

R = TypeVar("R")


@runtime_checkable
class Executor(Protocol):
    """Runs functions somewhere and hands back futures.

    ``submit`` takes a function importable by name where the task runs (pass user code as
    bytes from :func:`ship`); ``put`` stores a large value once for many tasks to read.
    """

    name: ClassVar[str]
    in_process: ClassVar[bool]  # tasks share this process's objects: no copies, no bytes

    @property
    def slots(self) -> int:
        """How many tasks run at once."""
        ...

    def put(self, value: Any) -> Any: ...

    def submit(self, fn: Callable[..., R], /, *args: Any) -> Future[R]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """Each task runs in this process as it is submitted: the simplest, and easy to debug."""

    name: ClassVar[str] = "inline"
    in_process: ClassVar[bool] = True
    slots = 1

    def put(self, value: Any) -> Any:
        return value

    def submit(self, fn: Callable[..., R], /, *args: Any) -> Future[R]:
        future: Future[R] = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # KeyboardInterrupt stops the run instead
            future.set_exception(exc)
        return future

    def close(self) -> None:
        pass


class ProcessExecutor:
    """A pool of local worker processes (default: one per CPU)."""

    name: ClassVar[str] = "process"
    in_process: ClassVar[bool] = False

    def __init__(self, workers: int | None = None) -> None:
        self.slots = workers or _cpus()
        self._pool = ProcessPoolExecutor(
            max_workers=self.slots,
            mp_context=_context(),
            initializer=_start_worker,
            initargs=(max(1, _cpus() // self.slots),),
        )

    def put(self, value: Any) -> Any:
        return value

    def submit(self, fn: Callable[..., R], /, *args: Any) -> Future[R]:
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Tasks on Ray, one CPU each; Ray is started or joined on first use (see ``connect``)."""

    name: ClassVar[str] = "ray"
    in_process: ClassVar[bool] = False

    def __init__(self, settings: Settings | None = None) -> None:
        self._ray = connect(settings or current_workspace().settings)
        # Retries are the step's own (retries=, backoff=), the same on every executor.
        self._call = self._ray.remote(max_retries=0)(_call)

    @property
    def slots(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def put(self, value: Any) -> Any:
        return self._ray.put(value)

    def submit(self, fn: Callable[..., R], /, *args: Any) -> Future[R]:
        future: Future[R] = self._call.remote(fn, *args).future()
        return future

    def close(self) -> None:
        pass  # Ray stays up for the next run; it shuts down with the process


EXECUTORS = ("inline", "process", "ray")


def get_executor(executor: str | Executor, settings: Settings | None = None) -> Executor:
    """An executor by name (``inline``, ``process``, ``ray``), or the one given. Only Ray
    reads ``settings`` (default: the current workspace's)."""
    if isinstance(executor, Executor):
        return executor
    if executor == "inline":
        return InlineExecutor()
    if executor == "process":
        return ProcessExecutor()
    if executor == "ray":
        return RayExecutor(settings)
    raise InvalidArgumentError(
        f"unknown executor {executor!r}; use one of {', '.join(map(repr, EXECUTORS))}"
    )


def ship(obj: Any) -> bytes:
    """cloudpickle bytes of ``obj``, with the code of the modules it comes from by value.

    Workers can import installed packages by name, but not a script, a notebook, a test
    module or a file loaded by path; so the module of ``obj`` (or of its function) travels
    with it unless it belongs to an installed distribution.
    """
    for candidate in (obj, getattr(obj, "fn", None)):
        module = sys.modules.get(getattr(candidate, "__module__", None) or "")
        if module is not None and _by_value(module.__name__):
            cloudpickle.register_pickle_by_value(module)
    return cloudpickle.dumps(obj)


def _by_value(module: str) -> bool:
    top = module.partition(".")[0]
    return module != "__main__" and top not in _installed_packages() and top != "builtins"


@cache
def _installed_packages() -> frozenset[str]:
    """Top-level import names that installed distributions provide (stdlib included)."""
    return frozenset(importlib.metadata.packages_distributions()) | frozenset(
        sys.stdlib_module_names
    )


def _call(fn: Callable[..., R], *args: Any) -> R:
    return fn(*args)


def _start_worker(threads: int) -> None:
    # Ctrl-C is the driver's to handle: it cancels what is queued and records the run.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers times threads must not exceed the cores, or BLAS threads fight for them.
    threadpool_limits(threads)
