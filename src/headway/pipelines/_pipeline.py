"""``@headway.pipeline``: a function that calls steps, run as a cached, tracked DAG.

Running a pipeline first calls its function with steps recording their calls (a DAG of
handles), then runs the DAG on an executor. The pipeline run is a tracked run in the
experiment named after the pipeline; each step that runs is a run too, tagged with the
pipeline run's id, with lineage edges from its input artifacts and to its outputs.
"""

from __future__ import annotations

import functools
import inspect
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

from headway.errors import InvalidArgumentError, NotFoundError
from headway.pipelines._errors import PipelineError, StepFailedError
from headway.pipelines._executors import Executor, get_executor
from headway.pipelines._graph import Graph, Handle, replace, tracing
from headway.pipelines._ledger import PIPELINE_TAG, Ledger
from headway.pipelines._progress import observe
from headway.pipelines._results import FAILED, PipelineResult, StepResult
from headway.pipelines._runner import Scheduler, param_text
from headway.pipelines._step import MAX_NAME
from headway.store import objects
from headway.store import pipelines as steps_repo
from headway.store import runs as run_repo
from headway.store.pipelines import PIPELINE_ROLE, REUSABLE, ROLE_TAG, StepRow
from headway.tracking.run import RUN, start_run
from headway.workspace import Workspace, current_workspace

__all__ = ["PARAMS_ARTIFACT", "Pipeline", "pipeline"]

P = ParamSpec("P")
R = TypeVar("R")
RESERVED = ("executor", "resume", "workspace", "progress", "tags")
PARAMS_ARTIFACT = "pipeline/params.json"
EXECUTOR_TAG = "pipeline.executor"
RESUMED_TAG = "pipeline.resumed_from"


class Pipeline(Generic[P, R]):
    """A function made a pipeline by :func:`pipeline`; run it with :meth:`run`."""

    def __init__(self, fn: Callable[P, R], name: str | None = None) -> None:
        if not callable(fn) or inspect.isclass(fn):
            raise InvalidArgumentError(f"@pipeline decorates a function, not {fn!r}")
        self.fn = fn
        self.name = name if name is not None else fn.__name__
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > MAX_NAME:
            raise InvalidArgumentError(f"{self.name!r} cannot name a pipeline: use a short string")
        self.signature = inspect.signature(fn)
        clash = [p for p in self.signature.parameters if p in RESERVED]
        if clash:
            raise InvalidArgumentError(
                f"pipeline {self.name!r} has parameter(s) {clash}, names that run() takes "
                f"itself ({', '.join(RESERVED)}); rename them"
            )
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r})"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """The plain function: inside another pipeline its steps join that pipeline."""
        return self.fn(*args, **kwargs)

    def build(self, **params: Any) -> tuple[Graph, Any, dict[str, Any]]:
        """Trace the function with ``params``: the DAG, the returned structure (with
        handles) and every parameter's value (defaults applied)."""
        try:
            call = self.signature.bind(**params)
        except TypeError as exc:
            raise InvalidArgumentError(
                f"pipeline {self.name!r} cannot take these parameters: {exc}; its parameters "
                f"are {self.signature}"
            ) from None
        call.apply_defaults()
        with tracing() as graph:
            output = self.fn(*call.args, **call.kwargs)
        return graph, output, dict(call.arguments)

    def run(
        self,
        *,
        executor: str | Executor = "inline",
        resume: str | None = None,
        workspace: Workspace | None = None,
        progress: bool = False,
        tags: Mapping[str, str] | None = None,
        **params: Any,
    ) -> PipelineResult:
        """Run the pipeline with ``params``; return each step's result and the output.

        Parameters
        ----------
        executor
            ``"inline"`` (this process), ``"process"`` (a local process pool: independent
            steps in parallel) or ``"ray"`` (Ray: local, or ``[pipelines] ray_address``).
        resume
            The id of an earlier run of this pipeline (failed, usually): steps that
            finished there with the same code, parameters and inputs are reused even if
            their step has ``cache=False``; the failed step and what follows run again.
        progress
            Show a progress bar of the steps on stderr.
        tags
            Extra tags of the pipeline's run, set when it starts (e.g. why it runs).

        Raises
        ------
        StepFailedError
            A step failed after its retries; ``.result`` holds every step's result, and
            the message says how to resume.

        Examples
        --------
        >>> import tempfile, headway
        >>> tmp = tempfile.TemporaryDirectory()
        >>> ws = headway.init(tmp.name)
        >>> @headway.step
        ... def square(x: int) -> int:
        ...     return x * x
        >>> @headway.pipeline
        ... def squares(n: int = 3):
        ...     return [square(i) for i in range(n)]
        >>> result = squares.run(n=4, workspace=ws)
        >>> result.output, [s.status for s in result.steps.values()][:2]
        ([0, 1, 4, 9], ['finished', 'finished'])
        >>> squares.run(n=4, workspace=ws).cached
        ['square', 'square-2', 'square-3', 'square-4']
        >>> tmp.cleanup()
        """
        ws = workspace or current_workspace()
        graph, output, values = self.build(**params)
        reusable = _reusable(ws, resume, self.name) if resume else {}
        chosen = get_executor(executor, ws.settings)
        run_tags = {
            **(tags or {}),
            ROLE_TAG: PIPELINE_ROLE,
            PIPELINE_TAG: self.name,
            EXECUTOR_TAG: chosen.name,
        }
        if resume:
            run_tags[RESUMED_TAG] = resume
        run = start_run(
            experiment=self.name,
            name=self.name,
            params={k: param_text(v) for k, v in values.items()},
            tags=run_tags,
            workspace=ws,
        )
        if _is_json(values):
            run.log_text(json.dumps(values), PARAMS_ARTIFACT)
        start = time.perf_counter()
        try:
            ledger = Ledger(ws, run, self.name)
            try:
                with observe(progress, len(graph.nodes), self.name) as observer:
                    scheduler = Scheduler(graph, output, chosen, ledger, ws, observer, reusable)
                    scheduler.run()
            finally:
                ledger.close()
                chosen.close()
            steps = scheduler.results
            failed = [s for s in steps.values() if s.status == FAILED]
            result = PipelineResult(
                pipeline=self.name,
                run_id=run.id,
                status=FAILED if failed else "finished",
                executor=chosen.name,
                seconds=time.perf_counter() - start,
                steps=steps,
                output=None if failed else replace(output, _resolver(scheduler)),
                resumed_from=resume,
            )
            run.log_metrics(_counts(steps, result.seconds))
        except BaseException as exc:
            run.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if failed:
            message = _failure(self.name, failed, steps, run.id)
            run.end(FAILED, message)
            raise StepFailedError(message, result) from scheduler.exceptions.get(failed[0].node)
        run.end("finished")
        return result

    def resume(
        self,
        run_id: str,
        *,
        executor: str | Executor = "inline",
        workspace: Workspace | None = None,
        progress: bool = False,
        **params: Any,
    ) -> PipelineResult:
        """Run again from where run ``run_id`` failed, with its parameters (stored with the
        run when they are JSON) unless ``params`` are given."""
        ws = workspace or current_workspace()
        if not params:
            params = _stored_params(ws, run_id, self.name)
        return self.run(executor=executor, resume=run_id, workspace=ws, progress=progress, **params)


@overload
def pipeline(fn: Callable[P, R], /) -> Pipeline[P, R]: ...


@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[P, R]], Pipeline[P, R]]: ...


def pipeline(
    fn: Callable[P, R] | None = None, /, *, name: str | None = None
) -> Pipeline[P, R] | Callable[[Callable[P, R]], Pipeline[P, R]]:
    """Make a function that calls steps a pipeline, bare (``@pipeline``) or named
    (``@pipeline(name="churn-training")``; default: the function's name)."""

    def make(f: Callable[P, R]) -> Pipeline[P, R]:
        return Pipeline(f, name)

    return make if fn is None else make(fn)


def _resolver(scheduler: Scheduler) -> Callable[[Any], Any]:
    def leaf(value: Any) -> Any:
        return scheduler.value(value) if isinstance(value, Handle) else value

    return leaf


def _reusable(ws: Workspace, run_id: str, name: str) -> dict[str, StepRow]:
    """The steps of run ``run_id`` that a resume may reuse, by cache key."""
    with ws.store.read() as conn:
        run = run_repo.get_run(conn, run_id)
        tags = objects.get_tags(conn, RUN, run.id)
        if tags.get(ROLE_TAG) != PIPELINE_ROLE or tags.get(PIPELINE_TAG) != name:
            what = f"pipeline {tags[PIPELINE_TAG]!r}" if PIPELINE_TAG in tags else "no pipeline"
            raise PipelineError(
                f"cannot resume pipeline {name!r} from run {run.id}: that run is of {what}; "
                f"`headway pipeline list` shows the runs of each pipeline"
            )
        rows = steps_repo.steps_of(conn, run.id)
    return {row.cache_key: row for row in rows if row.status in REUSABLE}


def _stored_params(ws: Workspace, run_id: str, name: str) -> dict[str, Any]:
    with ws.store.read() as conn:
        run = run_repo.get_run(conn, run_id)
        files = {a.path: a for a in objects.list_artifacts(conn, RUN, run.id)}
    if PARAMS_ARTIFACT not in files:
        raise NotFoundError(
            f"run {run.id} stored no parameters to resume with (they were not JSON); pass "
            f"them again: {name}.run(..., resume={run.id!r})"
        )
    loaded: dict[str, Any] = json.loads(ws.artifacts.get_bytes(files[PARAMS_ARTIFACT].sha256))
    return loaded


def _is_json(values: Mapping[str, Any]) -> bool:
    try:
        return json.loads(json.dumps(values)) == values
    except (TypeError, ValueError):
        return False


def _counts(steps: Mapping[str, StepResult], seconds: float) -> dict[str, float]:
    statuses = [s.status for s in steps.values()]
    return {
        "steps": len(statuses),
        "steps_cached": statuses.count("cached"),
        "steps_failed": statuses.count(FAILED),
        "seconds": seconds,
    }


def _failure(name: str, failed: list[StepResult], steps: Mapping[str, StepResult], run: str) -> str:
    first = failed[0]
    skipped = sum(s.status == "skipped" for s in steps.values())
    tries = f" (after {first.attempts} attempts)" if first.attempts > 1 else ""
    others = f" and {len(failed) - 1} other step(s)" if len(failed) > 1 else ""
    return (
        f"pipeline {name!r} failed: step {first.node!r} failed{tries}: {first.error}{others}; "
        f"{skipped} step(s) after it did not run. Fix the step and resume from it: "
        f"{name}.run(..., resume={run!r}) or `headway pipeline run FILE:{name} --resume {run}`"
    )
