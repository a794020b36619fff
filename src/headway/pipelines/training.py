"""The standard training pipeline: a team adopts it with a TOML file instead of a DAG.

ingest -> profile -> validate -> split -> train -> register -> evaluate and gate
against the champion -> (optionally) challenge the deployment's primary on its recent
labelled traffic and roll out as a shadow or a canary. Each is a cached, tracked step
(:mod:`headway.pipelines`), so an unchanged ingest re-trains nothing and every model
version traces back to the rows it learnt from::

    # training.toml
    model = "churn"
    label = "churned"

    [data]
    source = "traffic:churn-api"    # or a Parquet/CSV path, or "duckdb:SELECT ..."
    since = "14d"                   # the last 14 days; or an ISO time; a trigger may pass it
    until = "2d"                    # leave the last 2 days to judge the challenger on
    drop = ["customer_id"]

    [validate]
    schema = "schema.yaml"          # stop on error-severity anomalies, with the report

    [split]
    strategy = "stratified"         # random | stratified | time | group
    test_size = 0.25

    [train]
    estimator = "sklearn.linear_model.LogisticRegression"   # or function = "module:fit"
    params = {max_iter = 1000}
    warm_start = false              # start from the champion's weights where it can
    # trusted_types = [...]         # classes beyond scikit-learn's its skops file may
                                    # rebuild (e.g. a LightGBM estimator): load_model's
    n_trials = 20
    [train.search]
    C = {low = 0.01, high = 10, log = true}

    [evaluate]
    slices = ["plan"]
    [evaluate.gate]
    thresholds = {roc_auc = 0.7}
    max_regression = {roc_auc = 0.01}

    [deploy]
    deployment = "churn-api"
    mode = "canary"                 # canary | shadow (for shadow_period, then the ramp) |
                                    # switch | none
    recent = "2d"                   # judge on the last 2 days (to [deploy] until, or now)
    ramp = {steps = [0.25, 0.5, 1.0], min_requests = 100}

Run it with ``headway train training.toml`` or ``standard_training.run(config=...)``.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from headway.errors import DataValidationError, InvalidArgumentError
from headway.monitoring.windows import window_seconds
from headway.pipelines._pipeline import pipeline
from headway.pipelines._step import step
from headway.workspace import current_workspace

__all__ = ["TrainingConfig", "load_training_config", "standard_training"]


@dataclass(frozen=True)
class TrainingConfig:
    """The standard pipeline's settings (see the module docstring for the TOML form)."""

    model: str
    label: str
    data: dict[str, Any]
    validate: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)
    deploy: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.data.get("source"):
            raise InvalidArgumentError(
                "the training config needs [data] source: a Parquet/CSV path, "
                "'traffic:<deployment>' or 'duckdb:<SQL>'"
            )
        if "estimator" not in self.train and "function" not in self.train:
            object.__setattr__(
                self,
                "train",
                {**self.train, "estimator": "sklearn.linear_model.LogisticRegression"},
            )
        mode = self.deploy.get("mode", "none")
        if mode not in ("canary", "shadow", "switch", "none"):
            raise InvalidArgumentError(
                f"[deploy] mode must be canary, shadow, switch or none, got {mode!r}"
            )
        if mode != "none" and not self.deploy.get("deployment"):
            raise InvalidArgumentError(f"[deploy] mode = {mode!r} needs a deployment name")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_training_config(source: str | Path | dict[str, Any]) -> TrainingConfig:
    """A config from a TOML file (relative paths in it are relative to the file) or a dict."""
    if isinstance(source, dict):
        data = dict(source)
    else:
        path = Path(source)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidArgumentError(f"no training config at {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidArgumentError(f"{path} is not valid TOML: {exc}") from None
        data = _relative_to(data, path.parent)
    known = set(TrainingConfig.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown or "model" not in data or "label" not in data:
        raise InvalidArgumentError(
            f"a training config has model, label and the tables "
            f"{sorted(known - {'model', 'label'})}; got {sorted(data)}"
        )
    return TrainingConfig(**data)


def _relative_to(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    fixed = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    source = fixed.get("data", {}).get("source", "")
    if source and ":" not in source.split("/")[0] and not Path(source).is_absolute():
        fixed["data"]["source"] = str(folder / source)
    schema = fixed.get("validate", {}).get("schema")
    if schema and not Path(schema).is_absolute():
        fixed["validate"]["schema"] = str(folder / schema)
    return fixed


# -- steps ------------------------------------------------------------------------------


@step(cache=False)  # the source's rows change under the same parameters
def ingest(
    source: str, label: str, since: str | None, until: str | None, drop: list[str]
) -> pd.DataFrame:
    """The training rows: a file, a DuckDB query, or a deployment's labelled traffic."""
    lo, hi = _moment(since), _moment(until)
    if source.startswith("traffic:"):
        from headway.serving.labelled import labelled_traffic

        df = labelled_traffic(current_workspace().log_root, source.split(":", 1)[1], lo, hi, label)
        df = df.drop(columns=["request_id"])
    elif source.startswith("duckdb:"):
        import duckdb

        relation = duckdb.sql(source.split(":", 1)[1])
        if relation is None:
            raise InvalidArgumentError(f"{source!r} is a statement without rows; use a SELECT")
        df = relation.df()
    else:
        from headway.data._read import iter_batches

        df = pd.concat(list(iter_batches(Path(source), 1_000_000)), ignore_index=True)
    if label not in df:
        raise InvalidArgumentError(
            f"the training data from {source} has no label column {label!r}; it has "
            f"{list(df.columns)}"
        )
    if "time" in df and (lo is not None or hi is not None) and not source.startswith("traffic:"):
        times = pd.to_datetime(df["time"], utc=True)
        keep = (times >= (lo or times.min())) & (times < (hi or times.max() + pd.Timedelta(1)))
        df = df[keep]
    if df.empty:
        raise InvalidArgumentError(
            f"no training rows in {source} between {since or 'the start'} and "
            f"{until or 'now'}; widen [data] since/until or wait for labelled traffic"
        )
    return df.drop(columns=[c for c in [*drop, "time"] if c in df]).reset_index(drop=True)


@step
def profile_data(df: pd.DataFrame) -> dict[str, Any]:
    """The training data's profile (the monitors' and the data reports' currency)."""
    from headway.data import profile

    return profile(df).to_dict()


@step
def validate_data(df: pd.DataFrame, schema: str | None) -> pd.DataFrame:
    """The rows, once checked against the schema: error-severity anomalies stop the
    pipeline here, before anything is trained, with the report in the error."""
    from headway.data import Schema
    from headway.data.validate import validate

    if schema is None:
        return df
    report = validate(df, Schema.load(schema))
    if not report.ok:
        raise DataValidationError(
            f"the training data breaks the schema {schema}; the pipeline stopped before "
            f"training:\n{report.summary()}"
        )
    return df


@step
def split_data(
    df: pd.DataFrame, label: str, options: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test rows by the configured strategy (leakage-checked by the data engine)."""
    from headway.data import split

    strategy = options.get("strategy", "stratified")
    result = split(
        df,
        strategy,
        label=label,
        time_column=options.get("time"),
        group_column=options.get("by"),
        test_size=float(options.get("test_size", 0.25)),
        seed=int(options.get("seed", 0)),
    )
    return result.splits["train"], result.splits["test"]


@step
def train_model(
    train: pd.DataFrame, label: str, options: dict[str, Any], champion: str | None
) -> Any:
    """Fit the configured estimator (after an Optuna search when a space is given)."""
    X, y = train.drop(columns=[label]), train[label]
    if "function" in options:
        fit = _import(options["function"])
        return fit(X, y, dict(options.get("params", {})))
    factory = _Estimator(options["estimator"], dict(options.get("params", {})), X)
    params: dict[str, Any] = {}
    if options.get("search"):
        from headway.pipelines._search import search

        found = search(
            factory,
            options["search"],
            X,
            y,
            n_trials=int(options.get("n_trials", 20)),
            scoring=options.get("scoring"),
            cv=int(options.get("cv", 3)),
            experiment=None,
        )
        params = found.best_params
    model = factory(**params)
    if options.get("warm_start") and champion is not None:
        model = _warm_from(champion, model)
    return model.fit(X, y)


@step
def register_version(model: Any, test: pd.DataFrame, label: str, name: str) -> str:
    """Register the model with its reference (the test rows); its URI."""
    from headway.registry import register_model

    features = test.drop(columns=[label])
    version = register_model(
        name,
        model,
        input_example=features.head(5),
        description="trained by the standard training pipeline",
        reference=test,
        label=label,
    )
    return version.uri


@step(cache=False)  # the champion may have moved since
def evaluate_and_gate(
    uri: str,
    test: pd.DataFrame,
    label: str,
    slices: list[str],
    gate_policy: dict[str, Any],
    champion: str | None,
    trusted_types: list[str],
) -> dict[str, Any]:
    """Evaluate on the test rows (slices, the champion) and pass the version through the
    gate; a blessed version becomes the ``challenger``."""
    from headway.evaluate.gates import GatePolicy
    from headway.registry import get_model_version, load_model, set_alias
    from headway.registry.evaluation import evaluate, gate

    ws = current_workspace()

    def loaded(model: str) -> Any:
        return load_model(model, trusted_types=trusted_types, workspace=ws)

    report = evaluate(
        loaded(uri),
        test,
        label=label,
        slices=slices or None,
        champion=None if champion is None else loaded(champion),
        workspace=ws,
    )
    outcome = gate(report, GatePolicy(**gate_policy), workspace=ws)
    if outcome.blessed:
        version = get_model_version(uri, workspace=ws)
        set_alias(version.name, "challenger", version.version, reason="blessed", workspace=ws)
    return {
        "uri": uri,
        "blessed": outcome.blessed,
        "reasons": [c.reason for c in outcome.checks],
        "metrics": {k: float(m.value) for k, m in report.overall.metrics.items()},
    }


@step(cache=False)
def deploy_version(
    gated: dict[str, Any], options: dict[str, Any], label: str, trusted_types: list[str]
) -> dict[str, Any]:
    """Challenge the deployment's primary on recent labelled traffic; roll out on a win."""
    from headway.pipelines.challenger import challenge
    from headway.serving.deployments import Ramp, list_deployments

    mode = options.get("mode", "none")
    if mode == "none" or not gated["blessed"]:
        why = "deploy mode is none" if mode == "none" else "the gate did not bless it"
        return {"verdict": "not deployed", "reasons": [why]}
    ws = current_workspace()
    name = options["deployment"]
    if name not in {r.deployment for r in list_deployments(ws)}:
        from headway.serving.deployments import create_deployment

        create_deployment(name, gated["uri"], workspace=ws)
        return {"verdict": "created", "reasons": [f"{name} did not exist: created on it"]}
    decision = challenge(
        name,
        gated["uri"],
        label=label,
        recent=_duration(options.get("recent", "2d")),
        until=_moment(options.get("until")),
        rollout=mode,
        ramp=Ramp(**options["ramp"]) if options.get("ramp") else None,
        shadow_period=_duration(options.get("shadow_period", "24h")),
        min_rows=int(options.get("min_rows", 200)),
        trusted_types=trusted_types,
        workspace=ws,
    )
    return decision.to_dict()


@pipeline
def standard_training(config: Any, since: str | None = None) -> Any:
    """The standard pipeline over ``config`` (a TOML path or a dict); ``since`` (an ISO
    time, e.g. from a drift alert) overrides ``[data] since``. Steps record into the
    current workspace (in process and Ray workers: the one their directory and
    ``HEADWAY_*`` settings give)."""
    cfg = load_training_config(config)
    data = cfg.data
    rows = ingest(
        data["source"],
        cfg.label,
        _absolute(since or data.get("since")),
        _absolute(data.get("until")),
        list(data.get("drop", [])),
    )
    profile_data(rows)
    checked = validate_data(rows, cfg.validate.get("schema"))
    train, test = split_data(checked, cfg.label, cfg.split)
    champion = _champion(cfg.model)
    trusted = [str(t) for t in cfg.train.get("trusted_types", [])]
    model = train_model(train, cfg.label, cfg.train, champion)
    uri = register_version(model, test, cfg.label, cfg.model)
    gated = evaluate_and_gate(
        uri,
        test,
        cfg.label,
        list(cfg.evaluate.get("slices", [])),
        dict(cfg.evaluate.get("gate", {})),
        champion,
        trusted,
    )
    return deploy_version(gated, cfg.deploy, cfg.label, trusted)


# -- helpers ----------------------------------------------------------------------------


class _Estimator:
    """Builds the configured estimator behind one-hot encoding and scaling, given params."""

    def __init__(self, dotted: str, params: dict[str, Any], X: pd.DataFrame) -> None:
        self.cls = _import(dotted)
        self.params = params
        kinds = X.dtypes
        self.categorical = [
            str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(kinds[c])
        ]
        self.categorical += [str(c) for c in X.columns if pd.api.types.is_bool_dtype(kinds[c])]

    def __call__(self, **params: Any) -> Any:
        from sklearn.compose import make_column_transformer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        prep = make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), sorted(set(self.categorical))),
            remainder=StandardScaler(),
        )
        return Pipeline([("prep", prep), ("model", self.cls(**{**self.params, **params}))])


def _warm_from(champion: str, model: Any) -> Any:
    """The champion's model set to continue from its fitted weights, when its final
    estimator is the same kind and takes ``warm_start``; else ``model`` unchanged."""
    from headway.registry import load_model

    native = load_model(champion).native
    final = native.steps[-1][1] if hasattr(native, "steps") else native
    new = model.steps[-1][1]
    if type(final) is not type(new) or "warm_start" not in new.get_params():
        return model
    final.set_params(**{**new.get_params(), "warm_start": True})
    return native


def _champion(name: str) -> str | None:
    from headway.errors import NotFoundError
    from headway.registry import get_model_version

    try:
        return get_model_version(f"models:/{name}@champion").uri
    except NotFoundError:
        return None


def _import(dotted: str) -> Any:
    module, _, attr = dotted.replace(":", ".").rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError):
        raise InvalidArgumentError(
            f"cannot import {dotted!r}; name a class or function as package.module.Name"
        ) from None


def _duration(text: str) -> timedelta:
    return timedelta(seconds=window_seconds(str(text)))


def _absolute(moment: str | None) -> str | None:
    """An ISO time: durations ("14d") count back from now, so each run has its own window."""
    if moment is None:
        return None
    try:
        return (datetime.now(UTC) - _duration(moment)).isoformat(timespec="seconds")
    except InvalidArgumentError:
        return _moment(moment).isoformat()  # type: ignore[union-attr]


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise InvalidArgumentError(
            f"{text!r} is neither an ISO time nor a duration such as 14d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
