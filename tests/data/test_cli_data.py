import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import headway
from headway.cli import app
from headway.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.csv"
    headway.make_churn(3000, seed=1).to_parquet(ref)
    headway.make_churn(3000, seed=2, drift=0.6).to_csv(cur, index=False)
    return ref, cur


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), terminal_width=200)
    return result.exit_code, result.output


def test_profile_prints_saves_and_renders(files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, _ = files
    code, out = invoke(
        "data",
        "profile",
        str(ref),
        "-o",
        str(tmp_path / "p.json"),
        "--html",
        str(tmp_path / "p.html"),
    )
    assert code == 0 and "3,000 rows" in out and "plan" in out and "categorical" in out
    assert headway.data.Profile.from_json((tmp_path / "p.json").read_text()).rows == 3000
    assert "Plotly" in (tmp_path / "p.html").read_text()
    code, out = invoke("data", "profile", str(ref), "--json")
    assert code == 0 and json.loads(out)["rows"] == 3000


def test_drift_between_files_and_profiles(files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, cur = files
    code, out = invoke("data", "drift", str(ref), str(cur), "--html", str(tmp_path / "d.html"))
    assert code == 0 and "monthly_charges" in out and "drift" in out
    assert (tmp_path / "d.html").stat().st_size > 100_000
    code, _ = invoke("data", "drift", str(ref), str(cur), "--fail-on-drift")
    assert code == 1
    code, out = invoke("data", "drift", str(ref), str(ref), "--json", "--fail-on-drift")
    assert code == 0 and json.loads(out)["verdict"] == "no_drift"
    invoke("data", "profile", str(ref), "-o", str(tmp_path / "ref.json"))
    code, out = invoke("data", "drift", str(tmp_path / "ref.json"), str(cur), "--json")
    assert code == 0 and json.loads(out)["method"] == "binned"
    code, out = invoke("data", "drift", str(ref), str(tmp_path / "nope.parquet"))
    assert code == 1 and "does not exist" in out


def test_split_writes_parquet_per_split_and_a_report(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    ref, _ = files
    code, out = invoke(
        "data",
        "split",
        str(ref),
        "-o",
        str(tmp_path / "s"),
        "--strategy",
        "stratified",
        "--label",
        "churned",
        "--validation-size",
        "0.1",
    )
    assert code == 0 and "train" in out and "validation" in out
    assert {p.name for p in (tmp_path / "s").iterdir()} == {
        "train.parquet",
        "validation.parquet",
        "test.parquet",
        "split-report.json",
    }
    code, out = invoke("data", "split", str(ref), "-o", str(tmp_path / "s2"), "--strategy", "group")
    assert code == 1 and "group" in out


def test_checks_inside_a_run_record_inputs_and_reports(sqlite_ws: Workspace) -> None:
    ref, cur = headway.make_churn(1000, seed=1), headway.make_churn(1000, seed=2, drift=0.5)
    with headway.start_run("checks") as run:
        headway.profile(ref, name="train")
        report = headway.compare(ref, cur, name="weekly")
    paths = {a.path for a in headway.list_run_artifacts(run.id)}
    assert paths == {"profiles/train.json", "drift/weekly.json"}
    names = {d.name for d in headway.list_run_inputs(run.id)}
    assert names == {"train", "weekly-reference", "weekly-current"}
    assert headway.get_run(run.id).metrics["weekly.drifted_features"].value == len(report.drifted)
    outside = headway.profile(ref)  # outside a run: computes, records nothing
    assert outside.rows == 1000


def test_schema_then_validate_gates_ci(files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, _ = files
    schema = tmp_path / "schema.yaml"
    code, out = invoke("data", "schema", str(ref), "-o", str(schema))
    assert code == 0 and "kind: categorical" in schema.read_text()
    code, out = invoke("data", "validate", str(ref), "--schema", str(schema))
    assert code == 0 and "no anomalies" in out
    bad = headway.make_churn(3000, seed=5)
    bad.loc[:99, "plan"] = "platinum"
    bad = bad.drop(columns=["region"])
    bad.to_parquet(tmp_path / "bad.parquet")
    code, out = invoke(
        "data",
        "validate",
        str(tmp_path / "bad.parquet"),
        "--schema",
        str(schema),
        "--html",
        str(tmp_path / "v.html"),
        "--reference",
        str(ref),
    )
    assert code == 1 and "missing_column" in out and "unknown_category" in out
    assert "schema_skew" in out
    assert "Anomalies by kind" in (tmp_path / "v.html").read_text()
    code, out = invoke(
        "data", "validate", str(tmp_path / "bad.parquet"), "--schema", str(schema), "--json"
    )
    assert code == 1 and json.loads(out)["anomalies"]


def test_schema_and_validation_inside_a_run_are_recorded(sqlite_ws: Workspace) -> None:
    train = headway.make_churn(2000, seed=1)
    with headway.start_run("validation") as run:
        schema = headway.infer_schema(train, name="train")
        report = headway.validate(headway.make_churn(1000, seed=2), schema, name="batch")
    assert report.ok
    assert {a.path for a in headway.list_run_artifacts(run.id)} == {
        "schemas/train.yaml",
        "validation/batch.json",
    }
    assert headway.get_run(run.id).metrics["batch.anomaly_errors"].value == 0
