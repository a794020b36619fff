"""``headway pipeline run|list|show``."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.workspace import Workspace

runner = CliRunner()

FLOW = """
import headway

@headway.step
def make(n: int, scale: float) -> list:
    return [i * scale for i in range(n)]

@headway.step
def check(values: list, strict: bool) -> float:
    if strict and len(values) > 3:
        raise ValueError("too many values")
    return sum(values)

@headway.pipeline
def flow(n: int = 3, scale: float = 1.0, strict: bool = False):
    return check(make(n, scale), strict)
"""


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), terminal_width=200)
    return result.exit_code, result.output


@pytest.fixture
def flow_file(sqlite_ws: Workspace, tmp_path: Path) -> str:
    (tmp_path / "flow.py").write_text(FLOW)
    return str(tmp_path / "flow.py")


def test_run_converts_params_shows_steps_and_caches(flow_file: str) -> None:
    code, out = invoke("pipeline", "run", f"{flow_file}:flow", "--param", "n=4", "-p", "scale=0.5")
    assert code == 0, out
    assert "finished" in out and "output: 3.0" in out and "0 cached" in out
    code, out = invoke("pipeline", "run", f"{flow_file}:flow", "-p", "n=4", "-p", "scale=0.5")
    assert code == 0 and "2 cached" in out and "from " in out


def test_a_failed_run_is_shown_and_resumed(flow_file: str) -> None:
    code, out = invoke("pipeline", "run", f"{flow_file}:flow", "-p", "n=5", "-p", "strict=true")
    assert code == 1 and "too many values" in out and "--resume" in out
    run_id = out.split("--resume ")[1].split("`")[0].strip()
    code, out = invoke("pipeline", "show", run_id[:8])
    assert code == 0 and "failed" in out and "check" in out and "strict=true" in out
    code, out = invoke(
        "pipeline", "run", f"{flow_file}:flow", "-p", "n=5", "-p", "strict=no", "--resume", run_id
    )
    assert code == 0 and "1 cached" in out and "output: 10.0" in out
    code, out = invoke("pipeline", "list")
    assert code == 0 and "2 pipeline run(s)" in out and "1 failed" in out and "1 cached" in out


def test_bad_targets_and_params_are_one_line_errors(flow_file: str) -> None:
    code, out = invoke("pipeline", "run", f"{flow_file}:nope")
    assert code == 1 and "has no pipeline named 'nope'" in out
    code, out = invoke("pipeline", "run", f"{flow_file}:flow", "-p", "n=many")
    assert code == 1 and "--param n='many': expected int" in out
    code, out = invoke("pipeline", "run", f"{flow_file}:flow", "-p", "m=1")
    assert code == 1 and "no parameter 'm'" in out
    code, out = invoke("pipeline", "run", f"{flow_file}:flow", "--executor", "gpu")
    assert code == 2
    code, out = invoke("pipeline", "show", "0123456789abcdef0123456789abcdef")
    assert code == 1 and "no run with id" in out
