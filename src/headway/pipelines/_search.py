"""Hyperparameter search with Optuna, trials run on any executor (Ray included).

The search space is plain data, so it can come from TOML::

    [train.search]
    C = {low = 0.01, high = 10, log = true}    # a float (log scale)
    max_iter = {low = 100, high = 500, step = 100}  # an int: both bounds are ints
    penalty = {choices = ["l2", "l1"]}

Each trial cross-validates one candidate (scikit-learn's ``cross_val_score``, greater is
better); trials run a few at a time on the executor, with Optuna's TPE sampler told to
expect the ones still running (``constant_liar``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import cloudpickle
import numpy as np

from headway.errors import InvalidArgumentError
from headway.pipelines._errors import PipelineError
from headway.pipelines._executors import Executor, get_executor, ship
from headway.tracking.run import Run, start_run
from headway.workspace import Workspace

__all__ = ["SearchResult", "search"]


@dataclass(frozen=True)
class SearchResult:
    """The best candidate found, and every trial (number, params, score, seconds, error)."""

    best_params: dict[str, Any]
    best_score: float
    scoring: str
    n_trials: int
    trials: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def search(
    estimator: Any,
    space: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    n_trials: int = 20,
    scoring: str | Callable[..., float] | None = None,
    cv: Any = 5,
    executor: str | Executor = "inline",
    seed: int | None = 0,
    experiment: str | None = "search",
    progress: bool = False,
    workspace: Workspace | None = None,
) -> SearchResult:
    """Search ``space`` for the parameters of ``estimator`` that score best in cross-validation.

    Parameters
    ----------
    estimator
        A scikit-learn estimator (cloned, then ``set_params(**candidate)``), or a function
        or class called with the candidate's parameters that returns one.
    space
        Parameter name -> ``{low, high[, log][, step]}`` (ints when both bounds are ints),
        ``{choices: [...]}``, a list of choices, or an Optuna distribution.
    scoring, cv
        As for scikit-learn's ``cross_val_score`` (default: the estimator's ``score``).
    executor
        Where trials run: ``inline``, ``process`` or ``ray`` (several at once but inline).
    experiment
        The experiment of the tracked run the trials are logged to; ``None`` logs nothing
        (do that inside a step on the process or Ray executor: only the driver writes to
        the ledger there, so return the result from the step instead).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(200, random_state=0)
    >>> found = search(LogisticRegression(), {"C": {"low": 0.01, "high": 10, "log": True}},
    ...                X, y, n_trials=5, cv=3, experiment=None)
    >>> sorted(found.best_params), len(found.trials), 0.5 < found.best_score <= 1.0
    (['C'], 5, True)
    """
    import optuna

    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise InvalidArgumentError(f"n_trials must be a whole number >= 1, got {n_trials!r}")
    distributions = _distributions(space)
    factory = _Factory(estimator, distributions)
    scorer_name = _check_scoring(scoring)
    chosen = get_executor(executor, workspace.settings if workspace else None)
    sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=chosen.slots > 1)
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction="maximize", sampler=sampler)
        with _tracked(
            experiment, estimator, space, n_trials, scorer_name, cv, chosen, workspace
        ) as run:
            trials = _optimise(
                study, distributions, factory, X, y, scoring, cv, chosen, n_trials, run, progress
            )
            scored = [t for t in trials if t["score"] is not None]
            if not scored:
                raise PipelineError(
                    f"every one of the {n_trials} trials failed; the first: {trials[0]['error']}"
                )
            result = SearchResult(
                best_params=dict(study.best_params),
                best_score=float(study.best_value),
                scoring=scorer_name,
                n_trials=n_trials,
                trials=trials,
                run_id=run.id if run else None,
            )
            if run is not None:
                run.log_params({f"best.{k}": v for k, v in result.best_params.items()})
                run.log_metric("best_score", result.best_score)
                run.log_text(json.dumps(trials, indent=2, default=str), "search/trials.json")
    finally:
        optuna.logging.set_verbosity(previous)
        chosen.close()
    return result


class _Factory:
    """Builds the candidate estimator from a trial's parameters."""

    def __init__(self, estimator: Any, distributions: Mapping[str, Any]) -> None:
        self.estimator = estimator
        if _is_estimator(estimator):
            known = estimator.get_params()
            unknown = [name for name in distributions if name not in known]
            if unknown:
                raise InvalidArgumentError(
                    f"{unknown} are not parameters of {type(estimator).__name__}; its "
                    f"parameters are {sorted(known)}"
                )
        elif not callable(estimator):
            raise InvalidArgumentError(
                f"search needs a scikit-learn estimator or a function returning one, got "
                f"{type(estimator).__name__}"
            )

    def __call__(self, params: Mapping[str, Any]) -> Any:
        if _is_estimator(self.estimator):
            from sklearn.base import clone

            return clone(self.estimator).set_params(**params)
        return self.estimator(**params)


def _is_estimator(obj: Any) -> bool:
    return not isinstance(obj, type) and hasattr(obj, "get_params") and hasattr(obj, "fit")


def _evaluate(
    factory: _Factory | bytes, params: dict[str, Any], X: Any, y: Any, scoring: Any, cv: Any
) -> float:
    """One trial, where it runs: the mean cross-validated score of the candidate."""
    from sklearn.model_selection import cross_val_score

    build: _Factory = cloudpickle.loads(factory) if isinstance(factory, bytes) else factory
    return float(np.mean(cross_val_score(build(params), X, y, scoring=scoring, cv=cv)))


def _optimise(
    study: Any,
    distributions: dict[str, Any],
    factory: _Factory,
    X: Any,
    y: Any,
    scoring: Any,
    cv: Any,
    executor: Executor,
    n_trials: int,
    run: Run | None,
    progress: bool,
) -> list[dict[str, Any]]:
    from optuna.trial import TrialState

    if executor.in_process:
        job: Any = factory
        data = (X, y)
    else:
        job = ship(factory)
        data = (executor.put(X), executor.put(y))
    running: dict[Future[float], tuple[Any, float]] = {}
    trials: list[dict[str, Any]] = []
    asked = 0
    with _bar(progress, n_trials) as advance:
        while len(trials) < n_trials:
            while asked < n_trials and len(running) < executor.slots:
                trial = study.ask(distributions)
                asked += 1
                future = executor.submit(_evaluate, job, trial.params, *data, scoring, cv)
                running[future] = (trial, time.perf_counter())
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                trial, started = running.pop(future)
                entry = {
                    "number": trial.number,
                    "params": trial.params,
                    "score": None,
                    "error": None,
                }
                try:
                    score = future.result()
                    study.tell(trial, score)
                    entry["score"] = score
                    if run is not None:
                        run.log_metric("score", score, step=trial.number)
                except Exception as exc:
                    study.tell(trial, state=TrialState.FAIL)
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                entry["seconds"] = time.perf_counter() - started
                trials.append(entry)
                advance()
    return sorted(trials, key=lambda t: t["number"])


def _distributions(space: Mapping[str, Any]) -> dict[str, Any]:
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if not isinstance(space, Mapping) or not space:
        raise InvalidArgumentError(
            f"the search space must be a non-empty mapping of parameter -> range, got {space!r}; "
            "e.g. {'C': {'low': 0.01, 'high': 10, 'log': True}}"
        )
    found: dict[str, Any] = {}
    for name, spec in space.items():
        try:
            if isinstance(spec, BaseDistribution):
                found[name] = spec
            elif isinstance(spec, list | tuple):
                found[name] = CategoricalDistribution(list(spec))
            elif isinstance(spec, Mapping) and set(spec) == {"choices"}:
                found[name] = CategoricalDistribution(list(spec["choices"]))
            elif isinstance(spec, Mapping) and {"low", "high"} <= set(spec) <= {
                "low",
                "high",
                "log",
                "step",
            }:
                low, high, step = spec["low"], spec["high"], spec.get("step")
                log = bool(spec.get("log", False))
                if all(
                    isinstance(v, int) and not isinstance(v, bool) for v in (low, high, step or 1)
                ):
                    found[name] = IntDistribution(low, high, log=log, step=step or 1)
                else:
                    found[name] = FloatDistribution(low, high, log=log, step=step)
            else:
                raise ValueError(
                    "use {low, high[, log][, step]}, {choices: [...]}, a list of choices "
                    "or an Optuna distribution"
                )
        except (ValueError, TypeError) as exc:
            raise InvalidArgumentError(
                f"search space entry {name!r} = {spec!r} is not usable: {exc}"
            ) from None
    return found


def _check_scoring(scoring: Any) -> str:
    if scoring is None:
        return "score"
    if isinstance(scoring, str):
        from sklearn.metrics import get_scorer, get_scorer_names

        try:
            get_scorer(scoring)
        except ValueError:
            raise InvalidArgumentError(
                f"unknown scoring {scoring!r}; use one of scikit-learn's scorers, such as "
                f"{', '.join(sorted(get_scorer_names())[:8])}, ..."
            ) from None
        return scoring
    return getattr(scoring, "__name__", type(scoring).__name__)


@contextmanager
def _tracked(
    experiment: str | None,
    estimator: Any,
    space: Mapping[str, Any],
    n_trials: int,
    scoring: str,
    cv: Any,
    executor: Executor,
    workspace: Workspace | None,
) -> Iterator[Run | None]:
    if experiment is None:
        yield None
        return
    params = {
        "estimator": getattr(estimator, "__name__", None) or type(estimator).__name__,
        "space": json.dumps(space, default=str),
        "n_trials": n_trials,
        "scoring": scoring,
        "cv": cv if isinstance(cv, int) else type(cv).__name__,
        "executor": executor.name,
    }
    with start_run(experiment=experiment, name="search", params=params, workspace=workspace) as run:
        yield run


@contextmanager
def _bar(enabled: bool, total: int) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True)) as bar:
        task = bar.add_task("search trials", total=total)
        yield lambda: bar.advance(task)
