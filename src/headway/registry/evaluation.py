"""Evaluate a model on a table: metrics with intervals, baselines, slices, the champion.

This is the service behind ``headway.evaluate``: it loads models from the registry,
predicts, and hands arrays to the pure computations in :mod:`headway.evaluate`. Inside a
run the report is stored as ``evaluation/<name>.json`` and headline metrics are logged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from headway._tabular import to_pandas
from headway.errors import InvalidArgumentError
from headway.evaluate import (
    BehaviourResult,
    FairnessReport,
    compute_metrics,
    define_slices,
    detect_task,
    directional,
    error_analysis,
    fairness,
    find_slices,
    invariance,
    lift,
    paired_bootstrap_diff,
    perturbation,
    slice_metrics,
)
from headway.evaluate import baselines as make_baselines
from headway.evaluate.gates import GateOutcome, GatePolicy
from headway.evaluate.gates import gate as decide
from headway.evaluate.metrics import Task
from headway.evaluate.report import ChampionComparison, EvaluationReport
from headway.registry.models import (
    GATE_ARTIFACT,
    GATE_TAG,
    MODEL_VERSION,
    LoadedModel,
    attach_text,
    get_model_version,
    load_model,
    read_attachment,
)
from headway.store import objects
from headway.tracking.run import active_run
from headway.workspace import Workspace, current_workspace

__all__ = ["ModelCard", "evaluate", "gate", "gate_outcome", "latest_evaluation", "model_card"]

EVALUATION_ARTIFACT = "evaluation/report.json"

# Metrics compared with the champion by paired bootstrap, per task.
CHAMPION_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "accuracy", "f1"),
    "multiclass": ("accuracy", "f1_macro"),
    "regression": ("rmse", "mae"),
}


def evaluate(
    model: Any,
    table: Any,
    label: str = "y",
    task: Task | None = None,
    *,
    slices: Sequence[str] | Mapping[str, Callable[[pd.DataFrame], Any]] | None = None,
    baselines: Mapping[str, Any] | None = None,
    tags: Sequence[str] | Mapping[str, Any] | None = None,
    behaviour: Sequence[Mapping[str, Any] | Callable[[Any, pd.DataFrame], Any]] = (),
    sensitive: str | Sequence[str] = (),
    champion: str | LoadedModel | None = None,
    find: bool = True,
    n_bootstrap: int = 200,
    seed: int = 0,
    name: str = "evaluation",
    workspace: Workspace | None = None,
) -> EvaluationReport:
    """Evaluate ``model`` (a ``models:/`` URI or any object with ``predict``) on ``table``.

    Parameters
    ----------
    label
        The label column of ``table``.
    slices
        Columns to slice by (one slice per value, numeric columns binned) or a mapping of
        name -> predicate ``df -> mask``.
    baselines
        Baselines beyond random and zero-rule, by kind: ``"heuristic"`` (a rule
        ``df -> predictions``), ``"human"`` (the column holding a second annotator's
        labels: human-level performance) and ``"existing"`` (the URI of a model in use).
    tags
        Boolean tag columns of ``table`` (e.g. ``"blurry"``), or a mapping of tag name ->
        column name, mask or predicate ``df -> mask``. Each tag becomes a slice
        (``tag=blurry``) and a row of the error analysis table. Tag columns are not
        passed to the model.
    behaviour
        Behavioural tests, each a mapping such as ``{"kind": "invariance", "column":
        "sex", "values": ["F", "M"]}`` (the other keys are the keyword arguments of
        :func:`headway.evaluate.perturbation`, ``invariance`` or ``directional``) or a
        function ``(model, features) -> BehaviourResult``. They run on up to
        10,000 rows sampled with ``seed``.
    sensitive
        Column(s) whose groups the fairness report compares (binary tasks).
    champion
        The model to beat, by URI (``models:/churn@champion``) or loaded (as
        :func:`~headway.registry.load_model` gives it, e.g. with ``trusted_types``): the
        report then holds paired bootstrap differences overall and on every slice.
    find
        Search single features and pairs for slices significantly worse than the whole.
    """
    ws = workspace or current_workspace()
    df = to_pandas(table)
    if label not in df.columns:
        raise InvalidArgumentError(
            f"label column {label!r} is not in the table; its columns are {list(df.columns)}"
        )
    extra = _baseline_kinds(baselines)
    human = extra.get("human")
    tag_masks, tag_columns = _tags(df, tags)
    y = df[label].to_numpy()
    features = df.drop(columns=[label, *([human] if human else []), *tag_columns])
    predictor, uri, size = _resolve(model, ws)
    y_pred, y_score = _predict(predictor, features)
    task = task or detect_task(y, y_score)
    overall = compute_metrics(y, y_pred, y_score, task, n_bootstrap=n_bootstrap, seed=seed)
    existing_pred = None
    if "existing" in extra:
        e_pred, e_score = _predict(_resolve(extra["existing"], ws)[0], features)
        existing_pred = e_pred if task == "regression" or e_score is None else e_score
    human_labels = None if human is None else _column(df, human, "human")
    base = make_baselines(
        y,
        task,
        seed=seed,
        n_bootstrap=n_bootstrap,
        heuristic=None if "heuristic" not in extra else np.asarray(extra["heuristic"](features)),
        human=human_labels,
        existing=existing_pred,
    )
    masks = define_slices(df, slices) if slices else {}
    masks.update({f"tag={t}": m for t, m in tag_masks.items()})
    report = EvaluationReport(
        model=uri,
        task=task,
        label=label,
        rows=len(df),
        overall=overall,
        baselines=base,
        lift={name_: lift(overall, b) for name_, b in base.items()},
        slices=slice_metrics(masks, y, y_pred, y_score, task, n_bootstrap=n_bootstrap, seed=seed),
        findings=(
            find_slices(features, y, y_pred, min_support=max(30, len(df) // 100))
            if find and task != "regression"
            else []
        ),
        champion=(
            None
            if champion is None
            else _compare(
                champion, ws, features, y, y_pred, y_score, task, masks, n_bootstrap, seed
            )
        ),
        latency_p99_ms=_latency_p99_ms(predictor, features),
        size_bytes=size,
        error_analysis=(
            error_analysis(y, y_pred, tag_masks, human=human_labels)
            if tag_masks and task != "regression"
            else []
        ),
        behaviour=_behaviour(predictor, features, behaviour, seed),
        fairness=_fairness(df, y, y_pred, task, sensitive),
    )
    if uri.startswith("models:/"):  # the latest evaluation travels with the version
        attach_text(ws, uri, EVALUATION_ARTIFACT, report.to_json())
    run = active_run()
    if run is not None:
        run.log_text(report.to_json(), f"evaluation/{name}.json")
        run.log_metrics(
            {f"{name}.{k}": m.value for k, m in overall.metrics.items() if np.isfinite(m.value)}
        )
    return report


_BASELINE_KINDS = ("heuristic", "human", "existing")
_BEHAVIOUR: dict[str, Callable[..., BehaviourResult]] = {
    "perturbation": perturbation,
    "invariance": invariance,
    "directional": directional,
}
BEHAVIOUR_ROWS = 10_000


def _baseline_kinds(baselines: Mapping[str, Any] | None) -> dict[str, Any]:
    given = dict(baselines or {})
    unknown = sorted(set(given) - set(_BASELINE_KINDS))
    if unknown:
        raise InvalidArgumentError(
            f"unknown baseline kind(s) {unknown}; use {list(_BASELINE_KINDS)} (random and "
            "zero_rule are always computed)"
        )
    if "heuristic" in given and not callable(given["heuristic"]):
        raise InvalidArgumentError("baselines['heuristic'] must be a function df -> predictions")
    if "human" in given and not isinstance(given["human"], str):
        raise InvalidArgumentError("baselines['human'] must name the second annotator's column")
    return given


def _tags(
    df: pd.DataFrame, tags: Sequence[str] | Mapping[str, Any] | None
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Tag name -> boolean mask, and the table columns that held tags (kept from the model)."""
    if not tags:
        return {}, []
    spec = dict(tags) if isinstance(tags, Mapping) else {t: t for t in tags}
    masks, columns = {}, []
    for tag, source in spec.items():
        if isinstance(source, str):
            values = _column(df, source, f"tag {tag!r}")
            columns.append(source)
        else:
            values = np.asarray(source(df) if callable(source) else source)
        if values.shape != (len(df),):
            raise InvalidArgumentError(
                f"tag {tag!r} must give one value per row ({len(df)}), got shape {values.shape}"
            )
        try:
            masks[tag] = pd.Series(values).fillna(False).astype(bool).to_numpy()
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"tag {tag!r} must be boolean (or 0/1) per row: {exc}"
            ) from exc
    return masks, columns


def _behaviour(
    model: Any,
    X: pd.DataFrame,
    tests: Sequence[Mapping[str, Any] | Callable[[Any, pd.DataFrame], Any]],
    seed: int,
) -> list[BehaviourResult]:
    sample = X.sample(n=BEHAVIOUR_ROWS, random_state=seed) if len(X) > BEHAVIOUR_ROWS else X
    results = []
    for test in tests:
        if callable(test):
            result = test(model, sample)
        else:
            options = dict(test)
            kind = options.pop("kind", None)
            if kind not in _BEHAVIOUR:
                raise InvalidArgumentError(
                    f"behavioural test {test!r} needs a 'kind' among {sorted(_BEHAVIOUR)}"
                )
            try:
                result = _BEHAVIOUR[kind](model, sample, **options)
            except TypeError as exc:
                raise InvalidArgumentError(f"behavioural test {test!r}: {exc}") from exc
        if not isinstance(result, BehaviourResult):
            raise InvalidArgumentError(
                f"behavioural test {test!r} returned {type(result).__name__}, not a "
                "BehaviourResult; build it with headway.evaluate.perturbation/invariance/"
                "directional"
            )
        results.append(result)
    return results


def _fairness(
    df: pd.DataFrame, y: np.ndarray, y_pred: np.ndarray, task: Task, sensitive: str | Sequence[str]
) -> dict[str, FairnessReport]:
    columns = [sensitive] if isinstance(sensitive, str) else list(sensitive)
    if columns and task != "binary":
        raise InvalidArgumentError(
            f"fairness rates (selection, TPR, FPR) need a binary task; this one is {task}"
        )
    return {c: fairness(y, y_pred, _column(df, c, "sensitive")) for c in columns}


def _resolve(model: Any, ws: Workspace) -> tuple[Any, str, int | None]:
    if isinstance(model, str):
        loaded = load_model(model, workspace=ws)
        return loaded, loaded.uri, loaded.version.size
    if isinstance(model, LoadedModel):
        return model, model.uri, model.version.size
    if not callable(getattr(model, "predict", None)):
        raise InvalidArgumentError(
            f"cannot evaluate a {type(model).__name__}: pass a "
            "models:/ URI or an object with predict(table)"
        )
    return model, f"{type(model).__module__}.{type(model).__qualname__}", None


def _predict(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and, for classifiers, scores (the positive class's for binary tasks)."""
    y_pred = np.asarray(model.predict(X))
    proba = getattr(model, "predict_proba", None)
    if proba is None:
        return y_pred, None
    scores = np.asarray(proba(X), dtype=np.float64)
    return y_pred, scores[:, 1] if scores.ndim == 2 and scores.shape[1] == 2 else scores


def _column(df: pd.DataFrame, column: str, role: str) -> np.ndarray:
    if column not in df.columns:
        raise InvalidArgumentError(f"the {role} column {column!r} is not in the table")
    return df[column].to_numpy()


def _latency_p99_ms(model: Any, X: pd.DataFrame, batch: int = 1000, repeats: int = 20) -> float:
    """p99 of predict() time on a batch of up to ``batch`` rows, in milliseconds."""
    sample = X.head(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(sample)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 99))


def _compare(
    champion: str | LoadedModel,
    ws: Workspace,
    X: pd.DataFrame,
    y: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None,
    task: Task,
    masks: Mapping[str, np.ndarray],
    n_bootstrap: int,
    seed: int,
) -> ChampionComparison:
    loaded = champion if isinstance(champion, LoadedModel) else load_model(champion, workspace=ws)
    c_pred, c_score = _predict(loaded, X)
    scopes = {"overall": np.ones(len(y), dtype=bool), **masks}
    differences = {}
    for scope, mask in scopes.items():
        by_metric = {}
        for metric in CHAMPION_METRICS[task]:
            ranked = metric == "roc_auc"  # needs scores; the others compare predictions
            a, b = (y_score, c_score) if ranked else (y_pred, c_pred)
            if a is None or b is None:
                continue
            by_metric[metric] = paired_bootstrap_diff(
                y[mask], a[mask], b[mask], metric, n_bootstrap=n_bootstrap, seed=seed, task=task
            )
        differences[scope] = by_metric
    return ChampionComparison(loaded.uri, differences)


def gate(
    report: EvaluationReport,
    policy: GatePolicy | str | os.PathLike[str],
    workspace: Workspace | None = None,
) -> GateOutcome:
    """Decide whether the evaluated model is blessed under ``policy`` (a GatePolicy, TOML
    text or a TOML file), with every reason.

    When the report is about a registered version (``models:/name/3``), the outcome is
    stored on it: the tag ``gate.blessed`` and the artifact ``gate/outcome.json``; setting
    the ``champion`` alias then requires it.
    """
    outcome = decide(report, _policy(policy))
    if report.model.startswith("models:/"):
        ws = workspace or current_workspace()
        version = attach_text(ws, report.model, GATE_ARTIFACT, outcome.to_json())
        with ws.store.write() as conn:
            objects.set_tags(
                conn, MODEL_VERSION, version.id, {GATE_TAG: str(outcome.blessed).lower()}
            )
    return outcome


def _read(ws: Workspace, uri: str, path: str) -> str | None:
    return read_attachment(ws, get_model_version(uri, workspace=ws), path)


def gate_outcome(uri: str, workspace: Workspace | None = None) -> GateOutcome | None:
    """The gate outcome stored on a model version, or None if it was never gated."""
    text = _read(workspace or current_workspace(), uri, GATE_ARTIFACT)
    return None if text is None else GateOutcome.from_json(text)


def latest_evaluation(uri: str, workspace: Workspace | None = None) -> EvaluationReport | None:
    """The last :func:`evaluate` report of a registered version, if it was evaluated."""
    text = _read(workspace or current_workspace(), uri, EVALUATION_ARTIFACT)
    return None if text is None else EvaluationReport.from_json(text)


@dataclass(frozen=True)
class ModelCard:
    uri: str
    markdown: str
    html: str


def model_card(
    uri: str, report: EvaluationReport | None = None, workspace: Workspace | None = None
) -> ModelCard:
    """Render and store the model card of a version (``card/model-card.md`` and ``.html``):
    details, training data with lineage, metrics with intervals, baselines, slices, the
    slice finder's findings, the champion comparison, the gate outcome and caveats."""
    from headway.registry.lineage import describe_lineage
    from headway.reports.card import card_html, card_markdown

    ws = workspace or current_workspace()
    version = get_model_version(uri, workspace=ws)
    report = report or latest_evaluation(version.uri, ws)
    if report is None:
        raise InvalidArgumentError(
            f"{version.uri} has not been evaluated; run headway.evaluate({version.uri!r}, "
            "table, label=...) or `headway evaluate` first"
        )
    outcome = gate_outcome(version.uri, ws)
    inputs = (version.signature or {}).get("inputs", {})
    details = [
        ("model", version.uri),
        ("flavor", version.flavor),
        ("description", version.description or "-"),
        ("run", version.run_id or "-"),
        ("aliases", ", ".join(version.aliases) or "-"),
        (
            "inputs",
            ", ".join(f"{c['name']} ({c['type']})" for c in inputs.get("columns", [])) or "-",
        ),
        (
            "requires",
            ", ".join(f"{k}=={v}" for k, v in version.requirements.get("packages", {}).items()),
        ),
    ]
    lineage = describe_lineage(version, ws)
    card = ModelCard(
        version.uri,
        card_markdown(report, details, lineage, outcome),
        card_html(report, details, lineage, outcome),
    )
    attach_text(ws, version.uri, "card/model-card.md", card.markdown)
    attach_text(ws, version.uri, "card/model-card.html", card.html)
    return card


def _policy(policy: GatePolicy | str | os.PathLike[str]) -> GatePolicy:
    """A GatePolicy as given, from a ``.toml`` file, or from TOML text."""
    if isinstance(policy, GatePolicy):
        return policy
    if isinstance(policy, os.PathLike) or (
        str(policy).endswith(".toml") and Path(str(policy)).is_file()
    ):
        return GatePolicy.from_file(Path(policy))
    return GatePolicy.from_toml(str(policy))
