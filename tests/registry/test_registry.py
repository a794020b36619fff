from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import headway
from headway.errors import (
    ChecksumMismatchError,
    FlavorError,
    InvalidArgumentError,
    NotFoundError,
    SignatureError,
)
from headway.registry import parse_model_uri
from headway.registry.lineage import upstream
from headway.workspace import Workspace

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "plan", "autopay"]


@pytest.fixture(scope="module")
def trained() -> tuple:
    df = headway.make_churn(500, seed=5)
    X, y = df[FEATURES], df["churned"]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
        ),
        LogisticRegression(max_iter=1000),
    ).fit(X, y)
    return df, X, y, model


def test_versions_count_up_and_aliases_resolve(ws: Workspace, trained: tuple) -> None:
    _, X, _, model = trained
    v1 = headway.register_model("churn", model, input_example=X.head())
    v2 = headway.register_model("churn", model, input_example=X.head(), tags={"k": "v"})
    assert (v1.version, v2.version) == (1, 2)
    assert v2.uri == "models:/churn/2" and v2.tags == {"k": "v"}
    assert headway.set_alias("churn", "challenger", 1) is None
    assert headway.get_model_version("models:/churn@challenger").version == 1
    assert headway.set_alias("churn", "challenger", 2, reason="better") == 1
    assert headway.get_model_version("models:/churn@challenger").version == 2
    assert headway.get_model_version("models:/churn/latest").version == 2
    assert headway.get_model_version("churn", 1).aliases == []
    history = headway.alias_history("churn", "challenger")
    assert [(h.previous_version, h.version) for h in history] == [(None, 1), (1, 2)]
    assert history[1].reason == "better"
    assert headway.delete_alias("churn", "challenger") == 2
    with pytest.raises(NotFoundError, match="no alias 'challenger'"):
        headway.load_model("models:/churn@challenger")
    [model_record] = headway.list_models()
    assert model_record.latest_version == 2 and model_record.aliases == {}


class Constant:
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(X))


def test_identical_model_files_are_stored_once(ws: Workspace, tmp_path: Path) -> None:
    v1 = headway.register_model("same", Constant())
    v2 = headway.register_model("same", Constant())
    assert [f.sha256 for f in v1.files] == [f.sha256 for f in v2.files]
    assert v1.id != v2.id


def test_lineage_goes_from_model_version_to_run_to_datasets(ws: Workspace, trained: tuple) -> None:
    df, X, _, model = trained
    with headway.start_run("churn") as run:
        dataset = run.log_input(df, name="train")
        version = headway.register_model("churn", model, input_example=X.head())
    assert version.run_id == run.id
    edges = {(e.src_type, e.src_id, e.kind, e.dst_type) for e in upstream(version)}
    assert edges == {
        ("run", run.id, "produced", "model_version"),
        ("dataset", dataset.id, "input", "run"),
    }


def test_predict_checks_the_signature(sqlite_ws: Workspace, trained: tuple) -> None:
    _, X, _, model = trained
    loaded = headway.load_model(headway.register_model("c", model, input_example=X.head()).uri)
    with pytest.raises(SignatureError, match=r"missing column\(s\) \['plan'\]"):
        loaded.predict(X.drop(columns=["plan"]))
    wrong = X.assign(support_calls=X["support_calls"].astype(str))
    with pytest.raises(SignatureError, match="'support_calls' should be integer but is string"):
        loaded.predict(wrong)
    with pytest.raises(SignatureError, match="takes a table"):
        loaded.predict(np.zeros((2, 5)))
    # Extra columns are ignored and the column order does not matter.
    shuffled = X[FEATURES[::-1]].assign(extra=1)
    np.testing.assert_array_equal(loaded.predict(shuffled), model.predict(X))
    # Integers where floats are expected are widened.
    as_int = X.assign(monthly_charges=X["monthly_charges"].round().astype("int64"))
    assert len(loaded.predict(as_int)) == len(X)


def test_polars_and_pyarrow_inputs_predict_like_pandas(
    sqlite_ws: Workspace, trained: tuple
) -> None:
    pl = pytest.importorskip("polars")
    _, X, _, model = trained
    loaded = headway.load_model(headway.register_model("c", model, input_example=X.head()).uri)
    expected = model.predict(X)
    np.testing.assert_array_equal(loaded.predict(pa.Table.from_pandas(X)), expected)
    np.testing.assert_array_equal(loaded.predict(pl.from_pandas(X)), expected)


def test_a_tampered_model_file_is_refused(sqlite_ws: Workspace, trained: tuple) -> None:
    model = trained[3]
    version = headway.register_model("t", model)
    blob = {f.path: f.sha256 for f in version.files}["model.skops"]
    Path(sqlite_ws.artifacts._key(blob)).write_bytes(b"not the model")
    with pytest.raises(ChecksumMismatchError):
        headway.load_model(version.uri)


def test_tensor_signatures_check_the_shape(sqlite_ws: Workspace) -> None:
    X = np.random.default_rng(0).normal(size=(50, 4))
    model = LogisticRegression().fit(X, X[:, 0] > 0)
    version = headway.register_model("np", model, input_example=X[:3])
    assert version.signature["inputs"] == {"type": "tensor", "dtype": "float64", "shape": [-1, 4]}
    loaded = headway.load_model(version.uri)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(SignatureError, match="expects"):
        loaded.predict(X[:, :3])


@pytest.mark.parametrize("uri", ["churn", "models:/", "models:/a/b", "models:/a@", "runs:/x"])
def test_malformed_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidArgumentError, match="not a model URI"):
        parse_model_uri(uri)


def test_bad_names_and_models_are_refused(sqlite_ws: Workspace, trained: tuple) -> None:
    with pytest.raises(InvalidArgumentError, match="valid model name"):
        headway.register_model("a/b", trained[3])
    with pytest.raises(FlavorError, match="no predict method"):
        headway.register_model("x", object())
    headway.register_model("ok", trained[3])
    with pytest.raises(InvalidArgumentError, match="reads as a version"):
        headway.set_alias("ok", "3", 1)
    with pytest.raises(NotFoundError, match="no version 7"):
        headway.set_alias("ok", "challenger", 7)
    with pytest.raises(NotFoundError, match="no registered model named 'nope'"):
        headway.load_model("models:/nope/1")


def test_a_table_of_strings_example_gives_column_types(sqlite_ws: Workspace) -> None:
    df = pd.DataFrame({"text": ["a", "b"], "n": [1.5, 2.0]})

    class Echo:
        def predict(self, X: pd.DataFrame) -> np.ndarray:
            return X["n"].to_numpy()

    version = headway.register_model("echo", Echo(), input_example=df)
    assert version.signature["inputs"]["columns"] == [
        {"name": "text", "type": "string"},
        {"name": "n", "type": "float"},
    ]
    assert version.signature["outputs"] == {"type": "tensor", "dtype": "float64", "shape": [-1]}


class Unpicklable:
    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(X))


def test_a_model_that_cannot_be_saved_leaves_no_version(ws: Workspace) -> None:
    from headway.errors import ModelError

    with pytest.raises(ModelError, match="could not save the python model 'broken'"):
        headway.register_model("broken", Unpicklable())
    assert headway.list_models() == []
