"""Headway: run machine learning in production on one platform.

The SDK. Everything here works on the current workspace (the nearest ``headway.toml``,
or one made with :func:`init`), or on the ``workspace=`` you pass.

A run, a registered model, an alias, a prediction::

    import headway

    with headway.start_run(experiment="churn", params={"C": 1.0}) as run:
        run.log_metric("auc", 0.91)
        version = headway.register_model("churn", model, input_example=X[:5])
    headway.set_alias("churn", "challenger", version.version)  # champion needs a passed gate
    headway.load_model("models:/churn@challenger").predict(X)
"""

from importlib.metadata import PackageNotFoundError, version

from headway import errors
from headway.data import (
    DriftReport,
    Profile,
    Schema,
    ValidationReport,
    expectations,
    make_churn,
    make_churn_stream,
    merge,
    reservoir_sample,
    split,
    stratified_sample,
    weighted_sample,
)
from headway.pipelines import (
    Pipeline,
    PipelineResult,
    Step,
    StepResult,
    pipeline,
    step,
)
from headway.registry import (
    LoadedModel,
    alias_history,
    delete_alias,
    get_model_version,
    list_model_versions,
    list_models,
    load_model,
    register_model,
    set_alias,
)
from headway.registry.evaluation import evaluate, gate, gate_outcome, model_card
from headway.store.records import Dataset, Metric, ModelVersion, RegisteredModel, RunRecord
from headway.tracking import (
    Run,
    active_run,
    autolog,
    download_artifact,
    get_metric_history,
    get_run,
    get_run_environment,
    list_run_artifacts,
    list_run_inputs,
    list_runs,
    start_run,
)
from headway.tracking.checks import compare, infer_schema, profile, validate
from headway.workspace import Workspace, current_workspace, use_workspace
from headway.workspace import init_workspace as init

try:
    __version__ = version("headway")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
    "Dataset",
    "DriftReport",
    "LoadedModel",
    "Metric",
    "ModelVersion",
    "Pipeline",
    "PipelineResult",
    "Profile",
    "RegisteredModel",
    "Run",
    "RunRecord",
    "Schema",
    "Step",
    "StepResult",
    "ValidationReport",
    "Workspace",
    "__version__",
    "active_run",
    "alias_history",
    "autolog",
    "compare",
    "current_workspace",
    "delete_alias",
    "download_artifact",
    "errors",
    "evaluate",
    "expectations",
    "gate",
    "gate_outcome",
    "get_metric_history",
    "get_model_version",
    "get_run",
    "get_run_environment",
    "infer_schema",
    "init",
    "list_model_versions",
    "list_models",
    "list_run_artifacts",
    "list_run_inputs",
    "list_runs",
    "load_model",
    "make_churn",
    "make_churn_stream",
    "merge",
    "model_card",
    "pipeline",
    "profile",
    "register_model",
    "reservoir_sample",
    "set_alias",
    "split",
    "start_run",
    "step",
    "stratified_sample",
    "use_workspace",
    "validate",
    "weighted_sample",
]
