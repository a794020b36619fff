"""The DAG a pipeline function builds: steps called while tracing become nodes, and their
results are handles that stand for outputs not computed yet.

A handle can be passed to other steps (alone, or inside lists, tuples and dicts),
indexed (``out["model"]``), and returned. Anything that needs the value itself (``if``,
attribute access, iteration) fails at once with a message saying to do it inside a step.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from headway.pipelines._errors import PipelineError

if TYPE_CHECKING:
    from headway.pipelines._step import Step

__all__ = ["Graph", "Handle", "Node", "find_handles", "replace", "tracing"]


@dataclass(eq=False)
class Node:
    """One call of a step in a pipeline: the step and its arguments (handles included)."""

    id: str
    step: Step[..., Any]
    arguments: dict[str, Any]  # parameter name -> value or handle structure, defaults applied
    call: inspect.BoundArguments
    position: int
    upstream: tuple[str, ...]
    outputs: int

    def __repr__(self) -> str:
        return f"Node({self.id!r})"


class Handle:
    """An output of a step that has not run yet, or a part of one (``handle["key"]``)."""

    __slots__ = ("_index", "_node", "_path")

    def __init__(self, node: Node, index: int, path: tuple[Any, ...] = ()) -> None:
        self._node = node
        self._index = index
        self._path = path

    @property
    def node(self) -> Node:
        return self._node

    @property
    def index(self) -> int:
        return self._index

    @property
    def path(self) -> tuple[Any, ...]:
        return self._path

    def __getitem__(self, key: Any) -> Handle:
        return Handle(self._node, self._index, (*self._path, key))

    def __repr__(self) -> str:
        which = f"output {self._index} of" if self._node.outputs > 1 else "output of"
        part = "".join(f"[{k!r}]" for k in self._path)
        return f"<{which} step {self._node.id!r}{part}>"

    def _not_yet(self, doing: str) -> NoReturn:
        raise PipelineError(
            f"cannot {doing} {self!r} while the pipeline is being built: steps run only after "
            "it is built, so their outputs are not known yet. Do this inside a step that "
            "takes the output as a parameter"
        )

    def __bool__(self) -> bool:
        self._not_yet("branch on")

    def __iter__(self) -> Iterator[Any]:
        self._not_yet(
            "iterate over or unpack (to return several outputs, annotate the step's return "
            "as tuple[A, B])"
        )

    def __len__(self) -> int:
        self._not_yet("take the length of")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # protocols probed by libraries (copy, IPython, NumPy)
            raise AttributeError(name)
        self._not_yet(f"read the attribute {name!r} of")


@dataclass
class Graph:
    """The nodes a pipeline function created, in call order."""

    nodes: dict[str, Node] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def add(self, step: Step[..., Any], call: inspect.BoundArguments) -> Any:
        """Record a call of ``step``; return its handle (or a tuple of handles)."""
        seen = self._counts.get(step.name, 0) + 1
        self._counts[step.name] = seen
        node_id = step.name if seen == 1 else f"{step.name}-{seen}"
        arguments = dict(call.arguments)
        upstream = []
        for handle in find_handles(arguments):
            if self.nodes.get(handle.node.id) is not handle.node:
                raise PipelineError(
                    f"step {step.name!r} was given {handle!r}, which comes from another "
                    "pipeline run; pass only outputs of steps called in this pipeline"
                )
            upstream.append(handle.node.id)
        count = len(step.outputs)
        node = Node(
            node_id,
            step,
            arguments,
            call,
            len(self.nodes),
            tuple(dict.fromkeys(upstream)),
            count,
        )
        self.nodes[node_id] = node
        if count == 1:
            return Handle(node, 0)
        return tuple(Handle(node, i) for i in range(count))


_current: ContextVar[Graph | None] = ContextVar("headway_pipeline_graph", default=None)


def current_graph() -> Graph | None:
    """The graph being built, when a pipeline function is being traced."""
    return _current.get()


@contextmanager
def tracing() -> Iterator[Graph]:
    """Build a graph from the steps called inside the block."""
    graph = Graph()
    token = _current.set(graph)
    try:
        yield graph
    finally:
        _current.reset(token)


def replace(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """``value`` with every leaf (not a list, tuple or dict) replaced by ``leaf(it)``."""
    kind = type(value)
    if kind is list:
        return [replace(v, leaf) for v in value]
    if kind is tuple:
        return tuple(replace(v, leaf) for v in value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return kind(*(replace(v, leaf) for v in value))
    if kind is dict:
        return {k: replace(v, leaf) for k, v in value.items()}
    return leaf(value)


def find_handles(value: Any) -> list[Handle]:
    """Every handle inside ``value``, in order."""
    found: list[Handle] = []

    def visit(leaf: Any) -> Any:
        if isinstance(leaf, Handle):
            found.append(leaf)
        return leaf

    replace(value, visit)
    return found
