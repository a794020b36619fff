"""Every executor through the same checks; search and batch prediction on Ray.

Ray runs as a local cluster of 2 CPUs, started once for this module and shut down after.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import headway
from headway.pipelines import StepFailedError, load_pipeline, search
from headway.workspace import Workspace


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # Start both workers now: on a loaded machine a cold worker can take longer to spawn
    # than a step takes to run, which would hide the parallelism the test looks for.
    warm = ray.remote(lambda seconds: time.sleep(seconds))  # by value: workers lack this module
    ray.get([warm.remote(0.2) for _ in range(2)])
    yield
    ray.shutdown()


@pytest.fixture(params=["inline", "process", "ray"])
def executor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("HEADWAY_RAY_ADDRESS", raising=False)
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return str(request.param)


@headway.step
def numbers(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


@headway.step
def nap(seconds: float, label: str) -> dict:
    start = time.time()
    time.sleep(seconds)
    return {"label": label, "start": start, "end": time.time()}


@headway.step
def mean(values: np.ndarray, naps: list) -> dict:
    return {"mean": float(values.mean()), "labels": [n["label"] for n in naps]}


@headway.step
def explode(values: np.ndarray) -> float:
    raise ValueError(f"cannot handle {len(values)} values")


@headway.pipeline
def parallel(n: int = 10, seconds: float = 1.5):
    naps = [nap(seconds, "a"), nap(seconds, "b")]
    return {"summary": mean(numbers(n), naps), "naps": naps}


@headway.pipeline
def failing(n: int = 3):
    return explode(numbers(n))


def test_every_executor_runs_caches_and_parallelises_the_same_pipeline(
    sqlite_ws: Workspace, executor: str
) -> None:
    result = parallel.run(n=10, executor=executor)
    assert result.executor == executor and result.status == "finished"
    assert result.output["summary"] == {"mean": 4.5, "labels": ["a", "b"]}
    a, b = result.output["naps"]
    overlap = min(a["end"], b["end"]) - max(a["start"], b["start"])
    if executor == "inline":
        assert overlap <= 0
    else:
        assert overlap > 0.3, (a, b)  # the two independent naps ran at the same time
    again = parallel.run(n=10, executor=executor)
    assert again.output == result.output
    assert all(s.cached for s in again.steps.values())
    run = headway.get_run(result.run_id)
    assert run.tags["pipeline.executor"] == executor


def test_every_executor_reports_a_failing_step_with_its_error(
    sqlite_ws: Workspace, executor: str
) -> None:
    with pytest.raises(StepFailedError, match="ValueError: cannot handle 3 values") as caught:
        failing.run(n=3, executor=executor)
    assert isinstance(caught.value.__cause__, ValueError)
    step = caught.value.result.steps["explode"]
    assert step.status == "failed" and step.attempts == 1
    assert headway.get_run(step.run_id).status == "failed"


def test_every_executor_runs_steps_from_a_file_loaded_by_path(
    sqlite_ws: Workspace, executor: str, tmp_path: Path
) -> None:
    (tmp_path / "byfile.py").write_text(
        "import headway\n\nclass Box:\n    def __init__(self, v):\n        self.v = v\n\n"
        "@headway.step\ndef boxed(x: int) -> Box:\n    return Box(x * 3)\n\n"
        "@headway.step\ndef unbox(box: Box) -> int:\n    return box.v + 1\n\n"
        "@headway.pipeline\ndef boxes(x: int = 2):\n    return unbox(boxed(x))\n"
    )
    found = load_pipeline(f"{tmp_path / 'byfile.py'}:boxes")
    result = found.run(x=5, executor=executor)
    assert result.output == 16
    assert [a.format for a in result.steps["boxed"].outputs] == ["cloudpickle"]


@pytest.mark.parametrize("where", ["inline", "ray"])
def test_search_finds_good_parameters_and_logs_its_trials(
    sqlite_ws: Workspace, where: str, request: pytest.FixtureRequest
) -> None:
    if where == "ray":
        request.getfixturevalue("ray_cluster")
    X, y = make_classification(300, n_features=8, random_state=0)
    found = search(
        LogisticRegression(max_iter=300),
        {
            "C": {"low": 0.001, "high": 10.0, "log": True},
            "fit_intercept": {"choices": [True, False]},
        },
        X,
        y,
        n_trials=6,
        cv=3,
        scoring="accuracy",
        executor=where,
        seed=1,
    )
    assert set(found.best_params) == {"C", "fit_intercept"} and len(found.trials) == 6
    scores = [t["score"] for t in found.trials]
    assert found.best_score == max(scores) > 0.8
    run = headway.get_run(found.run_id)
    assert run.params["executor"] == where and run.metrics["best_score"].value == found.best_score
    assert [m.value for m in headway.get_metric_history(run.id, "score")] == scores


def test_search_refuses_unusable_spaces_and_scorers(sqlite_ws: Workspace) -> None:
    X, y = make_classification(50, random_state=0)
    bad = headway.errors.InvalidArgumentError
    with pytest.raises(bad, match=r"\['alpha'\] are not parameters of LogisticRegression"):
        search(LogisticRegression(), {"alpha": [1, 2]}, X, y, experiment=None)
    with pytest.raises(bad, match=r"'C' = \{'low': 1\} is not usable"):
        search(LogisticRegression(), {"C": {"low": 1}}, X, y, experiment=None)
    with pytest.raises(bad, match="unknown scoring 'acc'"):
        search(LogisticRegression(), {"C": [1.0]}, X, y, scoring="acc", experiment=None)


def test_batch_prediction_runs_on_ray_actors(
    sqlite_ws: Workspace, ray_cluster: None, tmp_path: Path
) -> None:
    df = headway.make_churn(600, seed=2)
    features = ["tenure_months", "monthly_charges", "support_calls"]
    model = LogisticRegression(max_iter=500).fit(df[features], df["churned"])
    uri = headway.register_model("churn", model, input_example=df[features].head()).uri
    df.to_parquet(tmp_path / "in.parquet", row_group_size=100)
    result = headway.batch.predict(
        uri, tmp_path / "in.parquet", tmp_path / "out.parquet", executor="ray", chunk_rows=50
    )
    out = pd.read_parquet(tmp_path / "out.parquet")
    np.testing.assert_array_equal(out["prediction"], model.predict(df[features]))
    run = headway.get_run(result.run_id)
    assert (run.params["executor"], run.params["workers"]) == ("ray", "2")
    with pytest.raises(headway.errors.InvalidArgumentError, match="the Ray cluster has 2"):
        headway.batch.predict(
            uri, tmp_path / "in.parquet", tmp_path / "o.csv", executor="ray", workers=3
        )

    from typer.testing import CliRunner

    from headway.cli import app

    done = CliRunner().invoke(
        app,
        [
            "predict",
            uri,
            str(tmp_path / "in.parquet"),
            "-o",
            str(tmp_path / "cli.csv"),
            "-x",
            "ray",
        ],
    )
    assert done.exit_code == 0, done.output
    assert pd.read_csv(tmp_path / "cli.csv")["prediction"].tolist() == out["prediction"].tolist()
    wrong = CliRunner().invoke(
        app,
        ["predict", uri, str(tmp_path / "in.parquet"), "-o", str(tmp_path / "x.csv"), "-x", "yarn"],
    )
    assert wrong.exit_code != 0 and "executor must be 'process' or 'ray'" in wrong.output
