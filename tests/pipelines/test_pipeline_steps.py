"""Steps, the DAG a pipeline builds, what a run records, and the storage formats."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.linear_model import LogisticRegression

import headway
from headway.pipelines import PipelineError, Step
from headway.pipelines._formats import decode, encode
from headway.pipelines._ledger import ARTIFACT
from headway.store import lineage
from headway.store import pipelines as steps_repo
from headway.workspace import Workspace

FEATURES = ["tenure_months", "monthly_charges", "support_calls"]


@headway.step
def load(n: int) -> pd.DataFrame:
    return headway.make_churn(n, seed=7)


@headway.step(retries=1, backoff=0.0)
def fit(df: pd.DataFrame, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=300).fit(df[FEATURES], df["churned"])


@headway.step
def accuracy(model: LogisticRegression, df: pd.DataFrame) -> float:
    return float(model.score(df[FEATURES], df["churned"]))


@headway.pipeline
def training(n: int = 300, c: float = 1.0):
    df = load(n)
    model = fit(df, c)
    return {"model": model, "accuracy": accuracy(model, df)}


def test_a_step_called_outside_a_pipeline_is_just_the_function() -> None:
    assert len(load(5)) == 5
    assert isinstance(fit, Step) and fit.name == "fit" and fit.retries == 1
    assert fit.inputs == {"df": pd.DataFrame, "c": float}
    assert fit.outputs == (LogisticRegression,)


def test_the_sdk_shape_runs_and_returns_the_output_and_each_step(sqlite_ws: Workspace) -> None:
    result = training.run(n=400, executor="inline")
    assert result.status == "finished" and result.executor == "inline"
    model = result.output["model"]
    assert isinstance(model, LogisticRegression) and model.C == 1.0
    df = headway.make_churn(400, seed=7)
    assert result.output["accuracy"] == model.score(df[FEATURES], df["churned"])
    assert list(result.steps) == ["load", "fit", "accuracy"]
    for s in result.steps.values():
        assert s.status == "finished" and not s.cached and s.attempts == 1
        assert s.seconds >= 0 and len(s.run_id) == 32
    assert result.steps["accuracy"].upstream == ("fit", "load")
    assert [a.format for a in result.steps["load"].outputs] == ["parquet-pandas"]
    assert [a.format for a in result.steps["fit"].outputs] == ["skops"]
    assert [a.format for a in result.steps["accuracy"].outputs] == ["json"]


def test_a_run_is_tracked_with_step_runs_artifacts_and_lineage(sqlite_ws: Workspace) -> None:
    result = training.run(n=200, c=0.5, tags={"why": "a cron tick"})
    run = headway.get_run(result.run_id)
    assert (run.experiment, run.name, run.status) == ("training", "training", "finished")
    assert run.tags["why"] == "a cron tick"
    assert run.params == {"n": "200", "c": "0.5"}
    assert run.tags["pipeline.role"] == "pipeline" and run.tags["pipeline.executor"] == "inline"
    assert run.metrics["steps"].value == 3 and run.metrics["steps_cached"].value == 0
    fit_step = result.steps["fit"]
    fit_run = headway.get_run(fit_step.run_id)
    assert (
        fit_run.tags["pipeline.run_id"] == result.run_id and fit_run.tags["pipeline.step"] == "fit"
    )
    assert fit_run.params == {"c": "0.5"} and fit_run.status == "finished"
    assert fit_run.duration_ms is not None and fit_run.duration_ms >= 0
    [artifact] = headway.list_run_artifacts(fit_step.run_id)
    assert (artifact.path, artifact.sha256) == ("output.skops", fit_step.outputs[0].sha256)
    loaded_df = result.steps["load"].outputs[0]
    with sqlite_ws.store.read() as conn:
        up = lineage.edges(conn, ("run", fit_step.run_id), "up")
        down = lineage.edges(conn, ("run", fit_step.run_id), "down")
        rows = steps_repo.steps_of(conn, result.run_id)
    assert [(e.src_type, e.src_id, e.kind) for e in up] == [(ARTIFACT, loaded_df.sha256, "input")]
    assert [(e.dst_type, e.dst_id, e.kind) for e in down] == [
        (ARTIFACT, fit_step.outputs[0].sha256, "produced")
    ]
    assert [(r.node, r.status, r.run_id) for r in rows] == [
        (s.node, "finished", s.run_id) for s in result.steps.values()
    ]
    # The stored bytes are the value: sha256-checked and read back in their safe format.
    data = sqlite_ws.artifacts.get_bytes(loaded_df.sha256)
    pd.testing.assert_frame_equal(
        pd.read_parquet(pa.BufferReader(data)), headway.make_churn(200, seed=7)
    )


@headway.step
def split(df: pd.DataFrame, at: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return df.iloc[:at], df.iloc[at:]


@headway.step
def sizes(parts: list, extra: dict) -> dict:
    return {"rows": [len(p) for p in parts], "extra": extra}


@headway.step
def pick(summary: dict, first: int) -> list:
    return [summary["rows"][0], first]


@headway.pipeline
def shapes(n: int = 10):
    head, tail = split(load(n), 3)
    summary = sizes([head, tail], {"tail": tail, "n": n})
    return {"summary": summary, "picked": pick(summary, summary["rows"][0]), "n": n}


def test_handles_nest_in_lists_and_dicts_index_and_split_into_tuple_outputs(
    sqlite_ws: Workspace,
) -> None:
    result = shapes.run(n=10)
    assert result.output["n"] == 10 and result.output["picked"] == [3, 3]
    summary = result.output["summary"]
    assert summary["rows"] == [3, 7] and summary["extra"]["n"] == 10
    assert len(summary["extra"]["tail"]) == 7
    assert [a.format for a in result.steps["split"].outputs] == ["parquet-pandas"] * 2
    files = [a.path for a in headway.list_run_artifacts(result.steps["split"].run_id)]
    assert files == ["output-0.parquet", "output-1.parquet"]


@headway.step
def identity(x: int) -> int:
    return x


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda h: bool(h), "cannot branch on <output of step 'identity'>"),
        (lambda h: h.shape, "cannot read the attribute 'shape'"),
        (lambda h: list(h), "annotate the step's return as tuple"),
        (lambda h: identity(h, 2), "cannot be called with these arguments"),
    ],
)
def test_using_an_output_while_building_says_to_do_it_in_a_step(
    sqlite_ws: Workspace, body: object, message: str
) -> None:
    @headway.pipeline
    def misuse():
        return body(identity(1))  # type: ignore[operator]

    with pytest.raises(PipelineError, match=message):
        misuse.run()
    assert headway.list_runs(experiment="misuse") == []  # nothing ran, nothing recorded


def test_bad_parameters_and_reserved_names_are_refused(sqlite_ws: Workspace) -> None:
    with pytest.raises(headway.errors.InvalidArgumentError, match="unexpected keyword"):
        training.run(m=3)
    with pytest.raises(headway.errors.InvalidArgumentError, match="rename them"):

        @headway.pipeline
        def clash(executor: str = "x"):
            return executor

    with pytest.raises(headway.errors.InvalidArgumentError, match="retries must be"):
        headway.step(retries=-1)(identity.fn)
    with pytest.raises(headway.errors.InvalidArgumentError, match="unknown executor 'gpu'"):
        training.run(executor="gpu")


def test_the_code_digest_ignores_comments_docstrings_and_options_but_not_the_body() -> None:
    def a(x: int) -> int:
        return x + 1

    def b(x: int) -> int:
        """Docs."""
        # a comment
        return (x
                + 1)  # fmt: skip

    def c(x: int) -> int:
        return x + 2

    digests = [headway.step(f).code_digest for f in (a, b, c)]
    assert digests[0] == digests[1] != digests[2]
    assert headway.step(retries=3)(a).code_digest == digests[0]


class Opaque:
    def __init__(self, value: int) -> None:
        self.value = value


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(value=json_values)
def test_json_values_round_trip_exactly(value: object) -> None:
    encoded = encode(value)
    assert encoded.format == "json" and decode(encoded) == value


@settings(max_examples=40, deadline=None)
@given(array=hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(max_dims=3, max_side=5)))
def test_numpy_arrays_round_trip_as_npy(array: np.ndarray) -> None:
    encoded = encode(array)
    assert encoded.format == "npy"
    back = decode(encoded)
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def test_tables_models_and_other_values_use_their_formats() -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", None]}, index=pd.Index([5, 9], name="id"))
    series = pd.Series([1.5, math.nan], name="score")
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    cases = {
        "parquet-pandas": df,
        "parquet-series": series,
        "parquet-arrow": pa.table({"a": [1, 2]}),
        "npy-scalar": np.float32(2.5),
        "skops": model,
        "cloudpickle": Opaque(3),
    }
    for fmt, value in cases.items():
        encoded = encode(value)
        assert encoded.format == fmt
        back = decode(encoded)
        if fmt == "parquet-pandas":
            pd.testing.assert_frame_equal(back, df)
        elif fmt == "parquet-series":
            pd.testing.assert_series_equal(back, series)
        elif fmt == "skops":
            assert back.predict([[0.9]]) == model.predict([[0.9]])
        elif fmt == "cloudpickle":
            assert isinstance(back, Opaque) and back.value == 3
        else:
            assert back == value
    assert encode((1, 2)).format == "cloudpickle"  # a tuple would come back a list in JSON
    assert encode(np.float64(1.5)).format == "npy-scalar"  # not JSON: its type would change


def test_a_file_loaded_by_path_gives_its_pipeline(tmp_path: Path, sqlite_ws: Workspace) -> None:
    (tmp_path / "flows.py").write_text(
        "import headway\n\n@headway.step\ndef twice(x: int) -> int:\n    return 2 * x\n\n"
        "@headway.pipeline\ndef doubled(x: int = 2):\n    return twice(x)\n"
    )
    found = headway.pipelines.load_pipeline(f"{tmp_path / 'flows.py'}:doubled")
    assert found.run(x=21).output == 42
    with pytest.raises(PipelineError, match=r"has no pipeline named 'nope'; it has \['doubled'\]"):
        headway.pipelines.load_pipeline(f"{tmp_path / 'flows.py'}:nope")
    with pytest.raises(PipelineError, match="does not name a pipeline"):
        headway.pipelines.load_pipeline("flows.py")
    with pytest.raises(PipelineError, match="cannot import 'no_such_module'"):
        headway.pipelines.load_pipeline("no_such_module:x")
