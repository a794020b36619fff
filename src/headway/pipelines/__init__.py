"""Pipelines: steps, DAGs, caching, executors (inline, process pool, Ray) and search.

A step is a function; a pipeline is a function that calls steps::

    import headway

    @headway.step
    def load(n: int) -> pd.DataFrame: ...

    @headway.step(retries=2)
    def fit(df: pd.DataFrame, c: float) -> LogisticRegression: ...

    @headway.pipeline
    def training(n: int = 1000, c: float = 1.0):
        return fit(load(n), c)

    result = training.run(n=5000, executor="process")
    result.output                  # the fitted model
    result.steps["fit"].cached     # True when nothing it depends on changed

See docs/pipelines.md.
"""

from headway.pipelines._errors import PipelineError, StepFailedError
from headway.pipelines._executors import (
    Executor,
    InlineExecutor,
    ProcessExecutor,
    RayExecutor,
    get_executor,
)
from headway.pipelines._loader import load_pipeline
from headway.pipelines._pipeline import Pipeline, pipeline
from headway.pipelines._queries import PipelineRun, get_pipeline_run, list_pipeline_runs
from headway.pipelines._results import Artifact, PipelineResult, StepResult
from headway.pipelines._search import SearchResult, search
from headway.pipelines._step import Step, step

__all__ = [
    "Artifact",
    "Executor",
    "InlineExecutor",
    "Pipeline",
    "PipelineError",
    "PipelineResult",
    "PipelineRun",
    "ProcessExecutor",
    "RayExecutor",
    "SearchResult",
    "Step",
    "StepFailedError",
    "StepResult",
    "get_executor",
    "get_pipeline_run",
    "list_pipeline_runs",
    "load_pipeline",
    "pipeline",
    "search",
    "step",
]
