import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from typer.testing import CliRunner

import headway
from headway.batch import predict
from headway.batch.predict import _in_order
from headway.cli import app
from headway.errors import InvalidArgumentError, NotFoundError, SignatureError
from headway.store import lineage
from headway.store.artifacts import sha256_file
from headway.store.datasets import get_dataset
from headway.workspace import Workspace

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "plan", "autopay"]
ROWS = 1000


@pytest.fixture(scope="module")
def churn() -> tuple[pd.DataFrame, object]:
    df = headway.make_churn(ROWS, seed=3)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
        ),
        LogisticRegression(max_iter=1000),
    ).fit(df[FEATURES], df["churned"])
    return df, model


@pytest.fixture
def registered(sqlite_ws: Workspace, churn: tuple) -> str:
    df, model = churn
    return headway.register_model("churn", model, input_example=df[FEATURES].head()).uri


def write(df: pd.DataFrame, path: Path, row_group_size: int | None = None) -> Path:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size)
    return path


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pq.read_table(path).to_pandas()


@pytest.mark.parametrize(
    ("source", "target", "workers", "row_group_size"),
    [
        ("in.parquet", "out.parquet", 1, None),
        ("in.csv", "out.csv", 1, None),
        ("in.parquet", "out.csv", 2, 150),  # workers read their own row groups
        ("in.csv", "out.parquet", 2, None),  # chunks are sent to the workers
    ],
)
def test_predictions_equal_the_model_in_memory_in_input_order(
    registered: str,
    churn: tuple,
    tmp_path: Path,
    source: str,
    target: str,
    workers: int,
    row_group_size: int | None,
) -> None:
    df, model = churn
    src = write(df, tmp_path / source, row_group_size)
    result = predict(
        registered,
        src,
        tmp_path / target,
        chunk_rows=64,
        workers=workers,
        passthrough=["customer_id"],
    )
    out = read(tmp_path / target)
    assert list(out.columns) == ["customer_id", "prediction"]
    np.testing.assert_array_equal(out["customer_id"], df["customer_id"])
    np.testing.assert_array_equal(out["prediction"], model.predict(df[FEATURES]))
    assert result.rows == ROWS and result.model == registered
    assert result.sha256 == sha256_file(tmp_path / target).sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["project", source, target])


def test_probabilities_of_a_classifier_are_written_per_class(
    registered: str, churn: tuple, tmp_path: Path
) -> None:
    df, model = churn
    src = write(df, tmp_path / "in.parquet")
    predict(registered, src, tmp_path / "out.parquet", proba=True, workers=1)
    out = read(tmp_path / "out.parquet")
    assert list(out.columns) == ["prediction", "proba_0", "proba_1"]
    np.testing.assert_allclose(
        out[["proba_0", "proba_1"]].to_numpy(), model.predict_proba(df[FEATURES])
    )


def test_probabilities_of_a_regressor_are_refused_on_the_first_chunk(
    sqlite_ws: Workspace, churn: tuple, tmp_path: Path
) -> None:
    df, _ = churn
    X = df[["tenure_months", "support_calls"]]
    uri = headway.register_model(
        "lin", LinearRegression().fit(X, df["monthly_charges"]), input_example=X.head()
    ).uri
    src = write(df, tmp_path / "in.parquet")
    with pytest.raises(InvalidArgumentError, match="gives no class probabilities"):
        predict(uri, src, tmp_path / "out.parquet", proba=True, workers=1)
    assert not (tmp_path / "out.parquet").exists()


@pytest.fixture
def exploding(sqlite_ws: Workspace, churn: tuple) -> str:
    """A model that fails on rows with tenure -1, planted in a late chunk."""

    class Exploding:  # local, so cloudpickle stores it by value for the worker processes
        def __init__(self, error: type[BaseException]) -> None:
            self.error = error

        def predict(self, X: pd.DataFrame) -> np.ndarray:
            if (X["tenure_months"] == -1).any():
                raise self.error("the model failed on this chunk")
            return np.zeros(len(X), dtype=np.int64)

    example = churn[0][FEATURES].head()
    for error in (RuntimeError, KeyboardInterrupt):
        headway.register_model(error.__name__, Exploding(error), input_example=example)
    return "models:/{}/1"


@pytest.mark.parametrize(
    ("error", "workers", "status", "reason"),
    [
        (RuntimeError, 1, "failed", "failed on this chunk"),
        (RuntimeError, 2, "failed", "failed on this chunk"),
        (KeyboardInterrupt, 1, "killed", "KeyboardInterrupt"),
    ],
)
def test_a_failure_leaves_the_previous_output_untouched_and_no_partial_file(
    exploding: str,
    churn: tuple,
    tmp_path: Path,
    error: type[BaseException],
    workers: int,
    status: str,
    reason: str,
) -> None:
    df = churn[0].copy()
    df.loc[ROWS - 10, "tenure_months"] = -1
    src = write(df, tmp_path / "in.parquet", row_group_size=100)
    target = tmp_path / "out.parquet"
    target.write_bytes(b"yesterday's predictions")
    with pytest.raises(error, match="failed on this chunk"):
        predict(
            exploding.format(error.__name__),
            src,
            target,
            chunk_rows=50,
            workers=workers,
            trusted=True,
        )
    assert target.read_bytes() == b"yesterday's predictions"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.parquet", "project"]
    [run] = headway.list_runs(experiment="batch-predict")
    assert run.status == status and reason in (run.error or "")


def test_the_run_records_params_metrics_and_lineage(
    ws: Workspace, churn: tuple, tmp_path: Path
) -> None:
    df, model = churn
    version = headway.register_model("churn", model, input_example=df[FEATURES].head())
    headway.set_alias("churn", "challenger", 1)
    src = write(df, tmp_path / "customers.parquet")
    result = predict(
        "models:/churn@challenger", src, tmp_path / "scores.csv", chunk_rows=300, workers=1
    )
    assert result.model == "models:/churn/1"  # the alias is resolved once
    run = headway.get_run(result.run_id)
    assert run.status == "finished" and run.experiment == "batch-predict"
    assert run.params["model"] == "models:/churn/1"
    assert run.params["model_uri"] == "models:/churn@challenger"
    assert (run.params["chunk_rows"], run.params["workers"]) == ("300", "1")
    assert run.metrics["rows"].value == ROWS and run.metrics["rows_per_s"].value > 0
    [dataset] = headway.list_run_inputs(run.id)
    assert (dataset.name, dataset.num_rows) == ("customers", ROWS)
    assert dataset.digest == sha256_file(src).sha256
    with ws.store.read() as conn:
        up = {(e.src_type, e.src_id, e.kind) for e in lineage.edges(conn, ("run", run.id), "up")}
        [down] = lineage.edges(conn, ("run", run.id), "down")
        output = get_dataset(conn, down.dst_id)
    assert up == {("model_version", version.id, "input"), ("dataset", dataset.id, "input")}
    assert (down.kind, output.name, output.num_rows) == ("produced", "scores", ROWS)
    assert output.digest == result.sha256 == sha256_file(tmp_path / "scores.csv").sha256
    assert [c["name"] for c in output.columns] == ["prediction"]


def test_a_missing_column_fails_before_any_work_naming_it(
    registered: str, churn: tuple, tmp_path: Path
) -> None:
    src = write(churn[0].drop(columns=["plan"]), tmp_path / "in.csv")
    with pytest.raises(SignatureError, match=r"missing column\(s\) \['plan'\]"):
        predict(registered, src, tmp_path / "out.csv")
    assert headway.list_runs(experiment="batch-predict") == []


def test_a_mistyped_csv_column_is_named(registered: str, churn: tuple, tmp_path: Path) -> None:
    src = write(churn[0].assign(support_calls="many"), tmp_path / "in.csv")
    with pytest.raises(SignatureError, match="'support_calls' should be integer but is string"):
        predict(registered, src, tmp_path / "out.csv")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"source": "missing.parquet"}, InvalidArgumentError, "does not exist"),
        ({"source": "in.json"}, InvalidArgumentError, "use a Parquet"),
        ({"source": "empty.parquet"}, InvalidArgumentError, "has no rows"),
        ({"source": "empty.csv"}, InvalidArgumentError, "has no rows"),
        ({"output": "out.json"}, InvalidArgumentError, "use a .parquet, .csv or .tsv"),
        ({"output": "nowhere/out.csv"}, InvalidArgumentError, "does not exist; create it"),
        ({"output": "in.parquet"}, InvalidArgumentError, "is the input file"),
        ({"passthrough": ["id"]}, InvalidArgumentError, r"pass through column\(s\) \['id'\]"),
        ({"chunk_rows": 0}, InvalidArgumentError, "chunk_rows must be a positive"),
        ({"workers": 0}, InvalidArgumentError, "workers must be a positive"),
        ({"model_uri": "models:/nope/1"}, NotFoundError, "nope"),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(
    registered: str, churn: tuple, tmp_path: Path, kwargs: dict, error: type, message: str
) -> None:
    write(churn[0], tmp_path / "in.parquet")
    write(churn[0].head(0), tmp_path / "empty.parquet")
    write(churn[0].head(0), tmp_path / "empty.csv")
    (tmp_path / "in.json").write_text("{}")
    args = {"model_uri": registered, "source": "in.parquet", "output": "out.csv"} | kwargs
    for key in ("source", "output"):
        args[key] = tmp_path / args[key]
    with pytest.raises(error, match=message):
        predict(**args)


def test_chunks_in_flight_never_exceed_the_bound_and_results_keep_their_order() -> None:
    limit, drawn, consumed, most = 4, 0, 0, 0
    lock = threading.Lock()

    def tasks():
        nonlocal drawn, most
        for i in range(200):
            with lock:
                drawn += 1
                most = max(most, drawn - consumed)  # drawn from the source, not yet written
            yield i

    def work(i: int) -> int:
        time.sleep(random.random() / 1000)  # finish out of order
        return i

    with ThreadPoolExecutor(8) as pool:
        results = []
        for result in _in_order(lambda i: pool.submit(work, i), tasks(), limit):
            results.append(result)
            with lock:
                consumed += 1
    assert results == list(range(200))
    assert most == limit


def test_cli_predicts_a_file(registered: str, churn: tuple, tmp_path: Path) -> None:
    src = write(churn[0], tmp_path / "in.parquet")
    result = CliRunner().invoke(
        app,
        [
            "predict",
            registered,
            str(src),
            "-o",
            str(tmp_path / "out.csv"),
            "--keep",
            "customer_id",
            "--proba",
            "--workers",
            "1",
            "--chunk-rows",
            "100",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert f"1,000 rows predicted by {registered}" in result.output
    assert list(read(tmp_path / "out.csv").columns) == [
        "customer_id",
        "prediction",
        "proba_0",
        "proba_1",
    ]


def test_cli_names_a_missing_column_in_one_line(
    registered: str, churn: tuple, tmp_path: Path
) -> None:
    src = write(churn[0].drop(columns=["plan"]), tmp_path / "in.parquet")
    result = CliRunner().invoke(
        app, ["predict", registered, str(src), "-o", str(tmp_path / "out.parquet")]
    )
    assert result.exit_code == 1
    assert "error:" in result.output and "['plan']" in result.output
    assert "Traceback" not in result.output
