import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import headway
from headway.errors import InvalidArgumentError, NotFoundError
from headway.store import lineage
from headway.workspace import Workspace


def test_a_run_records_params_metrics_tags_and_status(ws: Workspace) -> None:
    with headway.start_run(
        "churn", params={"C": 0.5, "tree": {"depth": 3}}, tags={"team": "a"}
    ) as run:
        run.log_param("solver", "lbfgs")
        for i in range(5):
            run.log_metric("loss", 1.0 / (i + 1))
        run.log_metrics({"auc": 0.91, "f1": float("nan")})
        run.set_tag("stage", "dev")
    info = headway.get_run(run.id)
    assert info.status == "finished" and info.end_time is not None
    assert info.experiment == "churn"
    assert info.params == {"C": "0.5", "tree.depth": "3", "solver": "lbfgs"}
    assert info.tags == {"team": "a", "stage": "dev"}
    assert info.metrics["loss"].value == pytest.approx(0.2) and info.metrics["loss"].step == 4
    assert info.metrics["auc"].value == 0.91
    assert math.isnan(info.metrics["f1"].value)
    assert [m.step for m in headway.get_metric_history(run.id, "loss")] == [0, 1, 2, 3, 4]
    assert info.python_version and info.command is not None


def test_latest_metric_is_the_highest_step_not_the_last_logged(ws: Workspace) -> None:
    with headway.start_run() as run:
        run.log_metric("acc", 0.9, step=10)
        run.flush()
        run.log_metric("acc", 0.1, step=3)  # a late point for an earlier step
    assert headway.get_run(run.id).metrics["acc"].value == 0.9


def test_an_exception_marks_the_run_failed_and_keeps_buffered_points(ws: Workspace) -> None:
    with pytest.raises(ZeroDivisionError), headway.start_run() as run:
        for i in range(1000):
            run.log_metric("x", i)
        _ = 1 / 0
    info = headway.get_run(run.id)
    assert info.status == "failed"
    assert "ZeroDivisionError" in (info.error or "")
    assert len(headway.get_metric_history(run.id, "x")) == 1000


def test_params_are_set_once(ws: Workspace) -> None:
    with headway.start_run() as run:
        run.log_param("C", 1)
        run.log_param("C", 1)  # the same value again is fine
        with pytest.raises(InvalidArgumentError, match="set once"):
            run.log_param("C", 2)


@pytest.mark.parametrize("bad", ["not a number", None, [1, 2]])
def test_a_non_numeric_metric_is_refused_with_its_name(sqlite_ws: Workspace, bad: object) -> None:
    with headway.start_run() as run, pytest.raises(InvalidArgumentError, match="'loss'"):
        run.log_metric("loss", bad)  # type: ignore[arg-type]


def test_unknown_run_is_not_found(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="headway runs list"):
        headway.get_run("f" * 32)


def test_runs_are_listed_newest_first_and_filtered(ws: Workspace) -> None:
    ids = []
    for exp in ("a", "b", "a"):
        with headway.start_run(exp) as run:
            run.log_metric("m", 1.0)
        ids.append(run.id)
    with pytest.raises(RuntimeError), headway.start_run("a"):
        raise RuntimeError("boom")
    listed = headway.list_runs(experiment="a")
    assert [r.id for r in listed][1:] == [ids[2], ids[0]]
    assert [r.status for r in headway.list_runs(status="failed")] == ["failed"]
    assert len(headway.list_runs(limit=2)) == 2
    assert headway.get_run(ids[1][:10]).id == ids[1]  # a unique prefix is enough


def test_artifacts_are_content_addressed_and_listed(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.txt").write_text("alpha")
    with headway.start_run() as run:
        records = run.log_artifact(folder)
        run.log_artifact(folder / "a.txt", name="renamed.txt")
    assert [r.path for r in records] == ["plots/a.txt", "plots/sub/b.txt"]
    assert records[0].sha256 == records[1].sha256
    listed = headway.list_run_artifacts(run.id)
    assert {a.path for a in listed} == {"plots/a.txt", "plots/sub/b.txt", "renamed.txt"}
    assert ws.artifacts.get_bytes(listed[0].sha256) == b"alpha"


def test_dataset_inputs_record_digest_rows_columns_and_lineage(
    ws: Workspace, tmp_path: Path
) -> None:
    df = headway.make_churn(300)
    pq.write_table(pa.Table.from_pandas(df), tmp_path / "train.parquet")
    df.to_csv(tmp_path / "train.csv", index=False)
    with headway.start_run() as run:
        from_pandas = run.log_input(df, name="train")
        again = run.log_input(df.copy(), name="train")
        from_parquet = run.log_input(tmp_path / "train.parquet")
        from_csv = run.log_input(tmp_path / "train.csv")
        from_numpy = run.log_input(np.ones((7, 3)), name="arr")
    assert again.id == from_pandas.id  # same content, same dataset version
    assert from_pandas.num_rows == from_parquet.num_rows == from_csv.num_rows == 300
    assert from_parquet.name == "train"
    assert {c["name"]: c["type"] for c in from_pandas.columns}["plan"] == "string"
    assert {c["name"]: c["type"] for c in from_csv.columns}["monthly_charges"] == "float"
    assert from_numpy.num_rows == 7
    changed = df.copy()
    changed.loc[0, "tenure_months"] += 1
    with headway.start_run() as other:
        assert other.log_input(changed, name="train").digest != from_pandas.digest
    inputs = {d.id for d in headway.list_run_inputs(run.id)}
    assert inputs == {from_pandas.id, from_parquet.id, from_csv.id, from_numpy.id}
    with ws.store.read() as conn:
        down = lineage.edges(conn, ("dataset", from_pandas.id), "down")
    assert {(e.dst_type, e.dst_id, e.kind) for e in down} == {("run", run.id, "input")}


def test_unreadable_inputs_are_refused_clearly(sqlite_ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with headway.start_run() as run:
        with pytest.raises(InvalidArgumentError, match="Parquet"):
            run.log_input(tmp_path / "notes.txt")
        with pytest.raises(InvalidArgumentError, match="does not exist"):
            run.log_input(tmp_path / "missing.parquet")
        with pytest.raises(InvalidArgumentError, match="cannot log"):
            run.log_input(object())


def test_polars_and_pyarrow_tables_hash_like_pandas(sqlite_ws: Workspace) -> None:
    pl = pytest.importorskip("polars")
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    with headway.start_run() as run:
        digests = {
            run.log_input(t, name="t").digest
            for t in (df, pa.Table.from_pandas(df), pl.from_pandas(df))
        }
    assert len(digests) == 1


def test_open_runs_are_flushed_and_finished_at_exit(tmp_path: Path) -> None:
    headway.init(tmp_path / "p")
    script = (
        "import headway\n"
        "run = headway.start_run('exit')\n"
        "for i in range(5000): run.log_metric('x', i)\n"
        "print(run.id)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path / "p",
        check=True,
        capture_output=True,
        text=True,
    )
    ws = Workspace.open(tmp_path / "p")
    info = headway.get_run(out.stdout.strip(), workspace=ws)
    assert info.status == "finished"
    assert len(headway.get_metric_history(info.id, "x", workspace=ws)) == 5000


def test_runs_capture_the_git_commit_and_dirty_flag(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.email=t@e", "-c", "user.name=t", *args],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    git("init", "-q")
    (repo / "train.py").write_text("print('v1')\n")
    git("add", "train.py")
    git("commit", "-qm", "first")
    head = git("rev-parse", "HEAD").strip()
    script = "import headway\nwith headway.start_run() as run: print(run.id)\n"
    clean = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    (repo / "train.py").write_text("print('v2')\n")
    dirty = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    ws = Workspace.open(repo)
    assert headway.get_run(clean, workspace=ws).git_commit == head
    assert headway.get_run(clean, workspace=ws).git_dirty is False
    assert headway.get_run(dirty, workspace=ws).git_dirty is True


def test_an_uncaught_exception_marks_open_runs_failed(tmp_path: Path) -> None:
    headway.init(tmp_path / "p")
    script = (
        "import headway\n"
        "run = headway.start_run('crash')\n"
        "print(run.id, flush=True)\n"
        "raise SystemError('the GPU caught fire')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path / "p", capture_output=True, text=True
    )
    assert out.returncode == 1 and "the GPU caught fire" in out.stderr
    info = headway.get_run(out.stdout.strip(), workspace=Workspace.open(tmp_path / "p"))
    assert info.status == "failed" and "the GPU caught fire" in (info.error or "")
