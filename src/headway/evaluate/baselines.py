"""Baselines: what a model must beat before anyone should trust it.

Always computed, from the evaluation labels themselves (as scikit-learn's dummy estimators
would learn them if fitted on these labels):

- ``random``: predictions drawn from the label distribution (``DummyClassifier`` with
  ``strategy="stratified"``: a drawn class with probability 1; regression: values drawn from
  the labels with replacement).
- ``zero_rule``: the majority class with the class shares as probabilities
  (``DummyClassifier(strategy="prior")``), or the mean for regression
  (``DummyRegressor(strategy="mean")``).

Computed when given: ``heuristic`` (a simple rule's predictions or scores), ``human`` (a
second annotator's labels: human-level performance) and ``existing`` (the predictions or
scores of the model in production). :func:`lift` turns a model's report and a baseline's
into per-metric improvements, positive when the model is better.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from headway.errors import InvalidArgumentError
from headway.evaluate.metrics import (
    MetricReport,
    Task,
    _check_task,
    _codes,
    _column,
    _split_prediction,
    compute_metrics,
    detect_task,
    higher_is_better,
)

__all__ = ["baselines", "lift"]


def baselines(
    y_true: Any,
    task: Task | None = None,
    *,
    heuristic: Any = None,
    human: Any = None,
    existing: Any = None,
    seed: int = 0,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    threshold: float = 0.5,
    sample_weight: Any = None,
    labels: Sequence[Any] | None = None,
) -> dict[str, MetricReport]:
    """Metric reports of the baselines, keyed ``random``, ``zero_rule`` and any given one.

    Parameters
    ----------
    y_true
        True labels or values of the evaluation rows.
    task
        As in :func:`~headway.evaluate.compute_metrics`; detected from ``y_true`` if None.
    heuristic, existing
        Predictions or scores of a simple rule and of the model in production, one per row
        (binary floats that are not labels, and 2-D arrays, are scores).
    human
        A second annotator's labels (or values, for regression), one per row.
    seed
        Seed of the random baseline's draws and of the bootstrap resamples.
    n_bootstrap, confidence, threshold, sample_weight, labels
        Passed to :func:`~headway.evaluate.compute_metrics` for every baseline.

    Examples
    --------
    >>> reports = baselines([0, 0, 0, 1] * 50, n_bootstrap=0)
    >>> sorted(reports), reports["zero_rule"]["accuracy"].value
    (['random', 'zero_rule'], 0.75)
    """
    y = _column(y_true, "y_true")
    task = _check_task(task) if task is not None else detect_task(y)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    rng = np.random.default_rng(seed)
    options = {
        "n_bootstrap": n_bootstrap,
        "confidence": confidence,
        "threshold": threshold,
        "seed": seed,
        "sample_weight": sample_weight,
    }
    given = {"heuristic": heuristic, "human": human, "existing": existing}
    if task == "regression":
        values = np.asarray(y, dtype=np.float64)
        draws = rng.choice(values, size=len(values), p=None if w is None else w / w.sum())
        mean = np.full(len(values), np.average(values, weights=w))
        predictions: dict[str, tuple[Any, Any]] = {
            "random": (draws, None),
            "zero_rule": (mean, None),
        }
    else:
        predictions = _class_baselines(y, task, w, labels, rng)
        options["labels"] = _labels(y, task, labels, given)
    for name, values in given.items():
        if values is not None:
            predictions[name] = _split_prediction(task, y, _rows(values, name, len(y)))
    return {
        name: compute_metrics(y, y_pred, y_score, task, **options)
        for name, (y_pred, y_score) in predictions.items()
    }


def lift(model: MetricReport, baseline: MetricReport) -> dict[str, float]:
    """The model's improvement over a baseline, per metric both reports have.

    Signed so that positive is better: ``model - baseline`` for higher-is-better metrics,
    ``baseline - model`` for lower-is-better ones (log loss, Brier score, ECE, MAE, RMSE,
    MAPE).

    Examples
    --------
    >>> from headway.evaluate import compute_metrics
    >>> y = [0, 1, 1, 0, 1, 0, 1, 1]
    >>> model = compute_metrics(y, y_score=[0.1, 0.8, 0.7, 0.3, 0.9, 0.2, 0.6, 0.4], n_bootstrap=0)
    >>> base = baselines(y, n_bootstrap=0)["zero_rule"]
    >>> gains = lift(model, base)
    >>> gains["accuracy"], gains["log_loss"] > 0
    (0.25, True)
    """
    if model.task != baseline.task:
        raise InvalidArgumentError(
            f"cannot compare a {model.task} report with a {baseline.task} baseline; "
            "compute both for the same task"
        )
    shared = [name for name in model.metrics if name in baseline.metrics]
    return {
        name: (1.0 if higher_is_better(name) else -1.0)
        * (model.metrics[name].value - baseline.metrics[name].value)
        for name in shared
    }


def _class_baselines(
    y: np.ndarray,
    task: Task,
    w: np.ndarray | None,
    labels: Sequence[Any] | None,
    rng: np.random.Generator,
) -> dict[str, tuple[Any, Any]]:
    classes = np.unique(y) if labels is None else np.asarray(labels)
    if task == "binary" and labels is None and len(classes) == 1 and classes[0] in (0, 1):
        classes = np.array([0, 1], dtype=classes.dtype)
    codes = _codes(y, classes, "y_true")
    shares = np.bincount(codes, weights=w, minlength=len(classes))
    shares = shares / shares.sum()
    majority = np.full(len(y), classes[int(np.argmax(shares))])
    drawn = rng.choice(len(classes), size=len(y), p=shares)
    one_hot = np.eye(len(classes))[drawn]
    prior = np.tile(shares, (len(y), 1))
    if task == "binary":
        one_hot, prior = one_hot[:, 1], prior[:, 1]
    return {"random": (classes[drawn], one_hot), "zero_rule": (majority, prior)}


def _labels(
    y: np.ndarray, task: Task, labels: Sequence[Any] | None, given: dict[str, Any]
) -> list[Any] | None:
    """One class list for every baseline, so their reports line up."""
    if labels is not None:
        return list(labels)
    seen = [y]
    for name, values in given.items():
        if values is not None:
            pred, _ = _split_prediction(task, y, _rows(values, name, len(y)))
            if pred is not None:
                seen.append(_column(pred, name, len(y)))
    classes = np.unique(np.concatenate(seen))
    if task == "binary" and len(classes) == 1 and classes[0] in (0, 1):
        classes = np.array([0, 1], dtype=classes.dtype)
    return classes.tolist()


def _rows(values: Any, name: str, n: int) -> np.ndarray:
    array = np.asarray(values)
    if len(array) != n:
        raise InvalidArgumentError(
            f"{name} has {len(array)} rows but y_true has {n}; pass one value per labelled row"
        )
    return array
