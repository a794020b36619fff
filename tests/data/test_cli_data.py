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
