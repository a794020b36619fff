from pathlib import Path

import pytest
from typer.testing import CliRunner

import headway
from headway.cli import app
from headway.workspace import Workspace

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), terminal_width=200)
    return result.exit_code, result.output


@pytest.fixture
def populated(sqlite_ws: Workspace) -> dict[str, str]:
    ids = {}
    for c in (0.1, 1.0):
        with headway.start_run("churn", params={"C": c, "solver": "lbfgs"}) as run:
            run.log_metric("auc", 0.8 + c / 10)
            run.log_input(headway.make_churn(50), name="train")
        ids[str(c)] = run.id
    headway.register_model("churn", _Model(), run=ids["1.0"])
    headway.set_alias("churn", "champion", 1, reason="first", force=True)
    return ids


class _Model:
    def predict(self, X: object) -> list[int]:
        return [0]


def test_init_creates_a_workspace(tmp_path: Path) -> None:
    code, out = invoke("init", str(tmp_path / "ws"))
    assert code == 0 and "Created workspace" in out
    assert (tmp_path / "ws" / "headway.toml").is_file()
    code, out = invoke("init", str(tmp_path / "ws"))
    assert "Using existing workspace" in out


def test_runs_list_show_and_compare(populated: dict[str, str]) -> None:
    code, out = invoke("runs", "list")
    assert code == 0 and "2 run(s)" in out and populated["0.1"][:8] in out and "auc" in out
    code, out = invoke("runs", "list", "--experiment", "nope")
    assert code == 0 and "No runs match these filters" in out
    code, out = invoke("runs", "list", "--status", "finished")
    assert code == 0 and "2 run(s)" in out
    code, out = invoke("runs", "list", "--status", "exploded")
    assert code == 2 and "exploded" in out
    code, out = invoke("runs", "compare", populated["0.1"])
    assert code == 2 and "two or more" in out
    code, out = invoke("runs", "show", populated["1.0"][:8])
    assert code == 0 and "finished" in out and "train" in out and "0.9" in out
    code, out = invoke("runs", "compare", populated["0.1"], populated["1.0"])
    assert code == 0 and "param C" in out and "0.1" in out and "metric auc" in out


def test_models_list_show_and_alias(populated: dict[str, str]) -> None:
    code, out = invoke("models", "list")
    assert code == 0 and "churn" in out and "champion→v1" in out
    code, out = invoke("models", "show", "churn")
    assert code == 0 and "models:/churn/1" in out and "--produced-->" in out
    assert "versions of churn" in out and "set to v1" in out
    assert "--input-->" in out and "first" in out
    headway.register_model("churn", _Model())
    code, out = invoke("models", "alias", "churn", "champion", "2", "--reason", "newer")
    assert code == 1 and "cannot become champion: it was never gated" in out
    code, out = invoke("models", "alias", "churn", "champion", "2", "--reason", "newer", "--force")
    assert code == 0 and "(was v1)" in out
    code, out = invoke("models", "show", "models:/churn@champion")
    assert code == 0 and "models:/churn/2" in out


def test_errors_are_one_line_without_traceback(sqlite_ws: Workspace) -> None:
    code, out = invoke("runs", "show", "0" * 32)
    assert code == 1 and "error: no run with id" in out and "Traceback" not in out
    code, out = invoke("models", "show", "nope")
    assert code == 1 and "no registered model named 'nope'" in out
    code, out = invoke("models", "alias", "nope", "champion", "1")
    assert code == 1 and "error:" in out


def test_debug_shows_the_traceback(sqlite_ws: Workspace) -> None:
    result = runner.invoke(app, ["--debug", "runs", "show", "0" * 32])
    assert result.exit_code != 0 and result.exception is not None


def test_error_messages_keep_their_brackets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "headway.toml").write_text('[store]\nuri = "mysql://u:secret@h/db"\n')
    monkeypatch.chdir(tmp_path)
    headway.use_workspace(None)
    code, out = invoke("runs", "list")
    assert code == 1 and "headway[postgres]" in out and "secret" not in out


def test_version_option() -> None:
    code, out = invoke("--version")
    assert code == 0 and out.startswith("headway ")
