"""Automatic logging for scikit-learn: every top-level ``fit`` becomes a tracked run.

``autolog()`` wraps ``fit`` on every scikit-learn estimator class. A top-level call (not
one a Pipeline or a meta-estimator makes internally) logs the estimator's params, the
training data as a dataset input, the training score, and the fitted model as a skops
artifact, into the active run or a new one. ``autolog(disable=True)`` restores ``fit``.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headway.errors import HeadwayError
from headway.tracking.run import Run, active_run, start_run

__all__ = ["autolog"]

_originals: dict[type, Callable[..., Any]] = {}
_state = threading.local()


def autolog(disable: bool = False, experiment: str = "default", log_models: bool = True) -> None:
    """Turn scikit-learn autologging on (or off with ``disable=True``)."""
    if disable:
        for cls, fit in _originals.items():
            setattr(cls, "fit", fit)  # noqa: B010
        _originals.clear()
        return
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    # Patch fit where it is defined (RandomForestClassifier inherits it from BaseForest).
    owners = {_fit_owner(cls) for _, cls in all_estimators()} | {Pipeline}
    for owner in owners - set(_originals):
        fit = owner.__dict__["fit"]
        _originals[owner] = fit
        setattr(owner, "fit", _wrap(fit, experiment, log_models))  # noqa: B010


def _fit_owner(cls: type) -> type:
    return next(k for k in cls.__mro__ if "fit" in k.__dict__)


def _wrap(fit: Callable[..., Any], experiment: str, log_models: bool) -> Callable[..., Any]:
    @functools.wraps(fit)
    def fit_and_log(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_state, "depth", 0) > 0:  # a fit inside a fit: log only the outer one
            return fit(self, *args, **kwargs)
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        _state.depth = 1
        try:
            run = active_run()
            owned = run is None
            if run is None:
                run = start_run(experiment, tags={"autolog": "sklearn"})
            try:
                result = fit(self, *args, **kwargs)
                _log_fit(run, self, X, y, log_models)
            except BaseException as exc:
                if owned:
                    run.__exit__(type(exc), exc, exc.__traceback__)
                raise
            if owned:
                run.end()
            return result
        finally:
            _state.depth = 0

    return fit_and_log


def _log_fit(run: Run, estimator: Any, X: Any, y: Any, log_models: bool) -> None:
    """Log one fit. The n-th fit in a run (n > 0) logs its params under ``fit<n>.``, since
    params are set once per run; its training score is step n of ``training_score``."""
    fit = _fits[run.id] = _fits.get(run.id, -1) + 1
    prefix = f"fit{fit}." if fit else ""
    params = {
        k: v for k, v in estimator.get_params(deep=True).items() if not hasattr(v, "get_params")
    }  # nested estimators appear by their params
    run.log_params(
        {f"{prefix}{k}": v for k, v in {"estimator": type(estimator).__name__, **params}.items()}
    )
    with contextlib.suppress(HeadwayError):  # inputs we cannot describe (sparse, lists)
        run.log_input(X, name="training")
    if y is not None and hasattr(estimator, "score"):
        run.log_metric("training_score", float(estimator.score(X, y)), step=fit)
    if log_models:
        import skops.io

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.skops"
            skops.io.dump(estimator, path)
            run.log_artifact(path, name=f"{prefix}model.skops")


_fits: dict[str, int] = {}  # run id -> index of its latest autologged fit
