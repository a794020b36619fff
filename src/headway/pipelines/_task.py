"""One step execution, where it runs: read the inputs, call the function with retries,
and write the outputs in their storage formats.

This is the only pipeline code that runs in worker processes and on Ray nodes, so it
touches neither the ledger nor the artifact store: the driver sends the inputs and
records what comes back.
"""

from __future__ import annotations

import hashlib
import pickle
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cloudpickle

from headway.pipelines._formats import Encoded, decode, encode
from headway.pipelines._graph import replace

__all__ = ["Input", "Outcome", "Task", "run_pickled", "run_task"]


@dataclass(frozen=True)
class Input:
    """Where an argument takes an upstream output: slot ``slot``, then indexed by ``path``."""

    slot: int
    path: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Shipped:
    """An upstream output sent as stored bytes, checked against its sha256 on arrival."""

    sha256: str
    encoded: Encoded


@dataclass(frozen=True)
class Task:
    """A step call with its inputs: values in this process, :class:`Shipped` elsewhere."""

    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]  # with Input markers where upstream outputs go
    kwargs: dict[str, Any]
    inputs: tuple[Any, ...]  # by slot
    outputs: int
    retries: int
    backoff: float
    keep_values: bool  # return the values themselves too (in-process executors)


@dataclass(frozen=True)
class Outcome:
    """How a task ended: encoded outputs (and values, in process) or the error."""

    attempts: int
    started_at: int  # ms since the epoch
    ended_at: int
    seconds: float
    encoded: tuple[Encoded, ...] = ()
    values: tuple[Any, ...] | None = None
    error: str | None = None
    exception: BaseException | None = None


def run_task(task: Task) -> Outcome:
    """Run ``task``, retrying with exponential backoff; never raises an ``Exception``."""
    started_at, start = time.time_ns() // 1_000_000, time.perf_counter()
    attempts = 0

    def ended(**fields: Any) -> Outcome:
        return Outcome(
            attempts, started_at, time.time_ns() // 1_000_000, time.perf_counter() - start, **fields
        )

    try:
        args, kwargs = _arguments(task)
    except Exception as exc:
        return ended(error=f"cannot read the step's inputs: {_describe(exc)}", exception=exc)
    while True:
        attempts += 1
        try:
            result = task.fn(*args, **kwargs)
            break
        except Exception as exc:
            if attempts > task.retries:
                return ended(error=_describe(exc), exception=exc)
            time.sleep(task.backoff * 2 ** (attempts - 1))
    try:
        values = _split(task, result)
        encoded = tuple(encode(v) for v in values)
    except Exception as exc:
        return ended(error=_describe(exc), exception=exc)
    return ended(encoded=encoded, values=values if task.keep_values else None)


def run_pickled(payload: bytes) -> Outcome:
    """Run a task sent as cloudpickle bytes (functions travel by value to other processes).

    The outcome travels back with the standard pickle, so an exception that cannot be
    pickled is sent as its text only.
    """
    outcome: Outcome = run_task(cloudpickle.loads(payload))
    if outcome.exception is not None:
        try:
            pickle.dumps(outcome.exception)
        except Exception:
            outcome = Outcome(
                outcome.attempts,
                outcome.started_at,
                outcome.ended_at,
                outcome.seconds,
                error=outcome.error,
            )
    return outcome


def _arguments(task: Task) -> tuple[tuple[Any, ...], dict[str, Any]]:
    values: dict[int, Any] = {}

    def value(slot: int) -> Any:
        if slot not in values:
            item = task.inputs[slot]
            if isinstance(item, Shipped):
                if hashlib.sha256(item.encoded.data).hexdigest() != item.sha256:
                    raise ValueError(f"input {slot} was corrupted on its way to this worker")
                item = decode(item.encoded)
            values[slot] = item
        return values[slot]

    def resolve(leaf: Any) -> Any:
        if not isinstance(leaf, Input):
            return leaf
        found = value(leaf.slot)
        for key in leaf.path:
            found = found[key]
        return found

    return replace(task.args, resolve), replace(task.kwargs, resolve)


def _split(task: Task, result: Any) -> tuple[Any, ...]:
    if task.outputs == 1:
        return (result,)
    if not isinstance(result, tuple | list) or len(result) != task.outputs:
        raise TypeError(
            f"step {task.name!r} is annotated to return {task.outputs} outputs (a tuple) but "
            f"returned {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, tuple | list) else "")
        )
    return tuple(result)


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(exc)).strip()
