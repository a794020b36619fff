"""``@headway.step``: a function whose calls inside a pipeline become cached, tracked steps.

A step's inputs are its parameters and its outputs its return value; a return annotated
``tuple[A, B]`` is two outputs, stored separately. Called outside a pipeline, a step is
just the function.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import marshal
import textwrap
import typing
from collections.abc import Callable
from functools import cached_property
from typing import Any, Generic, ParamSpec, TypeVar, overload

from headway.errors import InvalidArgumentError
from headway.pipelines._errors import PipelineError
from headway.pipelines._graph import current_graph

__all__ = ["Step", "step"]

P = ParamSpec("P")
R = TypeVar("R")
MAX_NAME = 250


class Step(Generic[P, R]):
    """A function made a pipeline step by :func:`step`."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        cache: bool = True,
    ) -> None:
        if not callable(fn) or inspect.isclass(fn):
            raise InvalidArgumentError(f"@step decorates a function, not {fn!r}")
        if inspect.iscoroutinefunction(fn):
            raise InvalidArgumentError(
                f"step {fn.__name__!r} is an async function; make it a plain function "
                "(run an event loop inside it if it needs one)"
            )
        self.fn = fn
        self.name = _check_name(name if name is not None else fn.__name__)
        self.retries = _check_count("retries", retries)
        self.backoff = _check_seconds(backoff)
        if not isinstance(cache, bool):
            raise InvalidArgumentError(f"cache must be True or False, got {cache!r}")
        self.cache = cache
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"Step({self.name!r})"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        graph = current_graph()
        if graph is None:
            return self.fn(*args, **kwargs)
        result: R = graph.add(self, self.bind(args, kwargs))
        return result

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        """The call's arguments by parameter name, defaults applied."""
        try:
            call = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineError(
                f"step {self.name!r} cannot be called with these arguments: {exc}; its "
                f"parameters are {self.signature}"
            ) from None
        call.apply_defaults()
        return call

    @cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.fn)

    @cached_property
    def _hints(self) -> dict[str, Any]:
        try:
            return typing.get_type_hints(self.fn)
        except Exception:  # names only imported for type checkers: keep the raw annotations
            return dict(getattr(self.fn, "__annotations__", {}))

    @property
    def inputs(self) -> dict[str, Any]:
        """Each parameter's type hint (``inspect.Parameter.empty`` when it has none)."""
        return {
            name: self._hints.get(name, inspect.Parameter.empty)
            for name in self.signature.parameters
        }

    @cached_property
    def outputs(self) -> tuple[Any, ...]:
        """The type of each output: several for a ``tuple[A, B]`` return hint, else one."""
        hint = self._hints.get("return", inspect.Parameter.empty)
        args = typing.get_args(hint)
        if typing.get_origin(hint) is tuple and args and Ellipsis not in args and args != ((),):
            return args
        return (hint,)

    @cached_property
    def code_digest(self) -> str:
        """The sha256 of the function's code: its syntax tree without its name,
        decorators and docstring, so comments, formatting and the step's options do not
        count."""
        return hashlib.sha256(_code_text(self.fn)).hexdigest()


def _code_text(fn: Callable[..., Any]) -> bytes:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        func = tree.body[0]
        if not isinstance(func, ast.FunctionDef):
            raise TypeError("not a def statement")
        func.decorator_list = []
        func.name = ""  # the step's name is part of the cache key on its own
        body = func.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            func.body = body[1:] or [ast.Pass()]
        return ast.dump(func).encode()
    except (OSError, TypeError, SyntaxError, IndexError):
        # No source (a lambda, a REPL, compiled code): fall back to the bytecode.
        code = getattr(fn, "__code__", None)
        if code is None:
            return repr(fn).encode()
        return marshal.dumps((code.co_code, code.co_consts, code.co_names))


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *,
    name: str | None = None,
    retries: int = 0,
    backoff: float = 1.0,
    cache: bool = True,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    backoff: float = 1.0,
    cache: bool = True,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a pipeline step, bare (``@step``) or with options.

    Parameters
    ----------
    name
        The step's name in the ledger (default: the function's name).
    retries
        Run the step again up to this many times when it raises.
    backoff
        Seconds before the first retry; each further retry waits twice as long.
    cache
        Reuse the outputs of an earlier run of the same code with the same parameters and
        inputs instead of running again (see docs/pipelines.md for what counts as the same).

    Examples
    --------
    >>> @step(retries=2)
    ... def double(x: int) -> int:
    ...     return 2 * x
    >>> double(4)  # outside a pipeline, a step is just the function
    8
    >>> double.name, double.retries, double.outputs
    ('double', 2, (<class 'int'>,))
    """

    def make(f: Callable[P, R]) -> Step[P, R]:
        return Step(f, name=name, retries=retries, backoff=backoff, cache=cache)

    return make if fn is None else make(fn)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidArgumentError(
            f"a step name must be a non-empty string of at most {MAX_NAME} characters, got {name!r}"
        )
    return name


def _check_count(label: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"{label} must be a whole number >= 0, got {value!r}")
    return value


def _check_seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidArgumentError(f"backoff must be a number of seconds >= 0, got {value!r}")
    return float(value)
