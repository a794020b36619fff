"""The scheduler: runs a traced graph on an executor, reusing cached steps, in the driver.

Each pass starts every node whose upstream nodes are done: a node is *reused* when its
cache key (code, parameters, input artifacts) matches a finished step of an earlier run
(or, when resuming, of the resumed run), else *dispatched* to the executor. A failed
node's downstream nodes are skipped; independent branches go on, so a resume has less
to redo. Outputs are kept in memory only while a node that reads them is yet to start.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from headway.pipelines._executors import Executor, ship
from headway.pipelines._formats import EXTENSIONS, Encoded, decode, digest
from headway.pipelines._graph import Graph, Handle, Node, find_handles, replace
from headway.pipelines._ledger import FLUSH_SECONDS, Ledger
from headway.pipelines._progress import Observer
from headway.pipelines._results import (
    CACHED,
    FAILED,
    FINISHED,
    SKIPPED,
    Artifact,
    StepResult,
)
from headway.pipelines._task import Input, Outcome, Shipped, Task, run_pickled, run_task
from headway.store.metadata import now_ms
from headway.store.pipelines import StepRow
from headway.workspace import Workspace

__all__ = ["Scheduler", "cache_key", "param_text"]

DONE = (FINISHED, CACHED)


def cache_key(node: Node, upstream: dict[str, tuple[Artifact, ...]]) -> str:
    """sha256 over the step's name and code digest and its arguments: literal values by
    content digest, upstream outputs by their artifact's sha256 (and the part taken)."""

    def leaf(value: Any) -> Any:
        if isinstance(value, Handle):
            sha256 = upstream[value.node.id][value.index].sha256
            return {"$output": sha256, "path": [repr(k) for k in value.path]}
        return digest(value)

    material = {
        "step": node.step.name,
        "code": node.step.code_digest,
        "arguments": replace(node.arguments, leaf),
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class Scheduler:
    """One pipeline run's execution state, driven by :meth:`run`."""

    def __init__(
        self,
        graph: Graph,
        output: Any,
        executor: Executor,
        ledger: Ledger,
        workspace: Workspace,
        observer: Observer,
        reusable: dict[str, StepRow] | None = None,
    ) -> None:
        self.graph = graph
        self.executor = executor
        self.ledger = ledger
        self.ws = workspace
        self.observer = observer
        self.reusable = reusable or {}  # rows of a resumed run, by cache key
        self.results: dict[str, StepResult] = {}
        self.exceptions: dict[str, BaseException] = {}
        self._artifacts: dict[str, tuple[Artifact, ...]] = {}
        self._held: dict[tuple[str, int], Any] = {}  # values in process, Encoded elsewhere
        self._readers = {node_id: 0 for node_id in graph.nodes}
        for node in graph.nodes.values():
            for up in node.upstream:
                self._readers[up] += 1
        self._pinned = {h.node.id for h in find_handles(output)}
        self._by_key: dict[str, str] = {}  # cache key -> the first node with it in this run
        self._failed_root: dict[str, str] = {}  # skipped node -> the failed node behind it
        self._running: dict[Future[Outcome], tuple[Node, str, str]] = {}

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Run every node; return when none is left (failures are in ``results``)."""
        pending = list(self.graph.nodes.values())
        try:
            while pending or self._running:
                pending = self._advance(pending)
                if self._running:
                    self.ledger.flush_if_due()
                    done, _ = wait(
                        list(self._running), timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED
                    )
                    for future in done:
                        self._complete(future)
        except BaseException:
            self._abandon()
            raise

    def _advance(self, pending: list[Node]) -> list[Node]:
        """Start what can start; return the nodes still waiting."""
        progressed = True
        while progressed and pending:
            progressed = False
            ready, waiting = [], []
            for node in pending:
                ups = [self.results.get(u) for u in node.upstream]
                failed = next((r for r in ups if r is not None and r.status not in DONE), None)
                if failed is not None:
                    self._skip(node, failed)
                    progressed = True
                elif all(r is not None for r in ups):
                    ready.append(node)
                else:
                    waiting.append(node)
            keys = {node.id: cache_key(node, self._artifacts) for node in ready}
            found = self._lookup(ready, keys)
            for node in ready:
                key = keys[node.id]
                first = self._by_key.get(key)
                if first is not None and node.step.cache:
                    earlier = self.results.get(first)
                    if earlier is None:  # the same call is running: wait and reuse it
                        waiting.append(node)
                        continue
                    if earlier.status in DONE:
                        self._reuse(node, key, earlier.run_id, earlier.outputs)
                        progressed = True
                        continue
                if key in found:
                    row = found[key]
                    outputs = tuple(Artifact.from_dict(o) for o in row.outputs)
                    self._reuse(node, key, row.run_id, outputs)
                    progressed = True
                    continue
                self._by_key.setdefault(key, node.id)
                self._dispatch(node, key)
            pending = waiting
        return pending

    def _lookup(self, ready: list[Node], keys: dict[str, str]) -> dict[str, StepRow]:
        """Reusable rows for the ready nodes: the resumed run's first, then the cache's."""
        found = {
            keys[n.id]: self.reusable[keys[n.id]] for n in ready if keys[n.id] in self.reusable
        }
        wanted = [
            keys[n.id]
            for n in ready
            if n.step.cache and keys[n.id] not in found and keys[n.id] not in self._by_key
        ]
        found.update(self.ledger.lookup(wanted))
        # A blob deleted from the artifact store turns a hit into a miss.
        return {
            key: row
            for key, row in found.items()
            if all(self.ws.artifacts.exists(o["sha256"]) for o in row.outputs)
        }

    # -- node outcomes -------------------------------------------------------------------

    def _dispatch(self, node: Node, key: str) -> None:
        params = {
            name: param_text(value)
            for name, value in node.arguments.items()
            if not find_handles(value)
        }
        run_id = self.ledger.start_step(node.id, node.step.name, params)
        slots: dict[tuple[str, int], int] = {}

        def mark(leaf: Any) -> Any:
            if not isinstance(leaf, Handle):
                return leaf
            slot = slots.setdefault((leaf.node.id, leaf.index), len(slots))
            return Input(slot, leaf.path)

        task = Task(
            name=node.step.name,
            fn=node.step.fn,
            args=replace(node.call.args, mark),
            kwargs=replace(node.call.kwargs, mark),
            inputs=tuple(self._input(up, index) for up, index in slots),
            outputs=node.outputs,
            retries=node.step.retries,
            backoff=node.step.backoff,
            keep_values=self.executor.in_process,
        )
        for up in node.upstream:
            self._release(up)
        self.observer.started(node.id)
        if self.executor.in_process:
            future = self.executor.submit(run_task, task)
        else:
            future = self.executor.submit(run_pickled, ship(task))
        self._running[future] = (node, run_id, key)

    def _complete(self, future: Future[Outcome]) -> None:
        node, run_id, key = self._running.pop(future)
        try:
            outcome = future.result()
        except Exception as exc:  # the worker died, or Ray lost the task
            now = now_ms()
            outcome = Outcome(
                0, now, now, 0.0, error=f"the worker running it died or lost it ({exc})"
            )
        outputs: tuple[Artifact, ...] = ()
        if outcome.error is None:
            outputs = tuple(self._store(node, i, e, outcome) for i, e in enumerate(outcome.encoded))
            self._artifacts[node.id] = outputs
        elif outcome.exception is not None:
            self.exceptions[node.id] = outcome.exception
        status = FINISHED if outcome.error is None else FAILED
        inputs = [a for up in node.upstream for a in self._artifacts[up]]
        self.ledger.end_step(
            run_id,
            status,
            outcome.started_at,
            outcome.ended_at,
            outcome.error,
            inputs,
            [(_path(node, i, a), a) for i, a in enumerate(outputs)],
        )
        result = StepResult(
            node.id,
            node.step.name,
            status,
            run_id,
            outcome.seconds,
            outcome.attempts,
            key,
            node.upstream,
            outputs,
            outcome.error,
        )
        self._record(node, result, outcome.started_at, outcome.ended_at)

    def _store(self, node: Node, index: int, encoded: Encoded, outcome: Outcome) -> Artifact:
        blob = self.ws.artifacts.put_bytes(encoded.data)
        if self._readers[node.id] or node.id in self._pinned:
            held = encoded if outcome.values is None else outcome.values[index]
            self._held[(node.id, index)] = held
        return Artifact(blob.sha256, blob.size, encoded.format)

    def _reuse(
        self, node: Node, key: str, run_id: str | None, outputs: tuple[Artifact, ...]
    ) -> None:
        self._artifacts[node.id] = outputs
        result = StepResult(
            node.id, node.step.name, CACHED, run_id, 0.0, 0, key, node.upstream, outputs
        )
        now = now_ms()
        self._record(node, result, now, now)

    def _skip(self, node: Node, cause: StepResult) -> None:
        root = self._failed_root.get(cause.node, cause.node)
        self._failed_root[node.id] = root
        result = StepResult(
            node.id,
            node.step.name,
            SKIPPED,
            None,
            0.0,
            0,
            "",
            node.upstream,
            (),
            f"not run: step {root!r} failed",
        )
        self._record(node, result, None, None)

    def _record(
        self, node: Node, result: StepResult, started: int | None, ended: int | None
    ) -> None:
        self.results[node.id] = result
        self.ledger.add_step(
            StepRow(
                pipeline_run_id=self.ledger.pipeline_run.id,
                node=node.id,
                step=node.step.name,
                position=node.position,
                upstream=list(node.upstream),
                status=result.status,
                run_id=result.run_id,
                cache_key=result.cache_key,
                outputs=[a.to_dict() for a in result.outputs],
                attempts=result.attempts,
                started_at=started,
                ended_at=ended,
                error=result.error,
            )
        )
        self.observer.ended(result)

    def _abandon(self) -> None:
        """On Ctrl-C or an internal error: cancel what is queued, end running steps killed."""
        now = now_ms()
        for future, (_, run_id, _) in self._running.items():
            future.cancel()
            self.ledger.end_step(run_id, "killed", now, now, "the pipeline run was stopped")
        self._running.clear()

    # -- values --------------------------------------------------------------------------

    def _input(self, node_id: str, index: int) -> Any:
        """An upstream output as a task takes it: the value in process, else its bytes."""
        held = self._held.get((node_id, index))
        artifact = self._artifacts[node_id][index]
        if held is None:
            data = self.ws.artifacts.get_bytes(artifact.sha256)  # checks the sha256
            encoded = Encoded(artifact.format, data)
            held = decode(encoded) if self.executor.in_process else encoded
            if self._readers[node_id] > 1 or node_id in self._pinned:
                self._held[(node_id, index)] = held
        if isinstance(held, Encoded):
            return Shipped(artifact.sha256, held)
        return held

    def _release(self, node_id: str) -> None:
        """One fewer node left to read ``node_id``'s outputs; drop them when none is."""
        self._readers[node_id] -= 1
        if self._readers[node_id] == 0 and node_id not in self._pinned:
            for index in range(self.graph.nodes[node_id].outputs):
                self._held.pop((node_id, index), None)

    def value(self, handle: Handle) -> Any:
        """The value a handle in the pipeline's return stands for."""
        found = self._input(handle.node.id, handle.index)
        if isinstance(found, Shipped):
            found = decode(found.encoded)
        for key in handle.path:
            found = found[key]
        return found


def _path(node: Node, index: int, artifact: Artifact) -> str:
    name = "output" if node.outputs == 1 else f"output-{index}"
    return f"{name}.{EXTENSIONS.get(artifact.format, 'bin')}"


def param_text(value: Any) -> str:
    """A parameter as the text a run records: JSON where it can be, else its repr."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
        return text if len(text) <= 500 else text[:497] + "..."
