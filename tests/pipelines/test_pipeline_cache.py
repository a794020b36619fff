"""Caching (what counts as unchanged, and the record of each reuse), retries and resume."""

import time
from pathlib import Path

import pytest

import headway
from headway.config import Settings
from headway.pipelines import StepFailedError
from headway.store import pipelines as steps_repo
from headway.workspace import Workspace

CALLS: list[str] = []


@headway.step
def source(n: int) -> list:
    CALLS.append("source")
    return list(range(n))


@headway.step
def total(values: list) -> int:
    CALLS.append("total")
    return sum(values)


@headway.step(cache=False)
def fresh(values: list) -> list:
    CALLS.append("fresh")
    return sorted(values)


@headway.pipeline
def summing(n: int = 5):
    values = source(n)
    return {"total": total(values), "sorted_total": total(fresh(values))}


@pytest.fixture(autouse=True)
def _calls() -> None:
    CALLS.clear()


def test_an_unchanged_run_reuses_every_cached_step_and_records_from_which_run(
    sqlite_ws: Workspace,
) -> None:
    first = summing.run(n=5)
    assert first.output == {"total": 10, "sorted_total": 10}
    assert CALLS == ["source", "total", "fresh"]  # total(fresh(values)) reuses total(values)
    assert first.steps["total-2"].status == "cached"
    assert first.steps["total-2"].run_id == first.steps["total"].run_id
    CALLS.clear()
    runs_before = len(headway.list_runs())
    second = summing.run(n=5)
    assert second.output == first.output
    assert CALLS == ["fresh"]  # cache=False runs again; its identical output keeps total cached
    assert {k: s.status for k, s in second.steps.items()} == {
        "source": "cached",
        "total": "cached",
        "fresh": "finished",
        "total-2": "cached",
    }
    assert second.cached == ["source", "total", "total-2"]
    assert second.steps["source"].run_id == first.steps["source"].run_id
    assert len(headway.list_runs()) == runs_before + 2  # the pipeline run and fresh's run
    with sqlite_ws.store.read() as conn:
        rows = {r.node: r for r in steps_repo.steps_of(conn, second.run_id)}
    assert (
        rows["source"].status == "cached" and rows["source"].run_id == first.steps["source"].run_id
    )
    assert headway.get_run(second.run_id).metrics["steps_cached"].value == 3


def test_a_changed_parameter_reruns_only_what_depends_on_it(sqlite_ws: Workspace) -> None:
    summing.run(n=5)
    CALLS.clear()
    result = summing.run(n=6)
    assert result.output["total"] == 15
    assert CALLS == ["source", "total", "fresh"]


def test_changed_code_reruns_that_step_and_what_follows(sqlite_ws: Workspace) -> None:
    summing.run(n=5)

    @headway.step(name="total")
    def changed_total(values: list) -> int:
        return sum(values) * 100

    @headway.pipeline(name="summing")
    def summing_v2(n: int = 5):
        return changed_total(source(n))

    result = summing_v2.run(n=5)
    assert result.output == 1000
    assert [s.status for s in result.steps.values()] == ["cached", "finished"]


def test_a_deleted_blob_turns_a_hit_into_a_run(sqlite_ws: Workspace) -> None:
    first = summing.run(n=3)
    sha = first.steps["source"].outputs[0].sha256
    blob = Path(sqlite_ws.artifacts.root) / "blobs" / "sha256" / sha[:2] / sha
    blob.unlink()
    CALLS.clear()
    again = summing.run(n=3)
    assert again.steps["source"].status == "finished" and "source" in CALLS


ATTEMPTS: dict[str, int] = {}


@headway.step(retries=2, backoff=0.05)
def flaky(x: int) -> int:
    ATTEMPTS["flaky"] = ATTEMPTS.get("flaky", 0) + 1
    if ATTEMPTS["flaky"] < 3:
        raise ConnectionError("the database blinked")
    return x


@headway.pipeline
def retrying(x: int = 1):
    return flaky(x)


def test_retries_back_off_exponentially_until_the_step_succeeds(sqlite_ws: Workspace) -> None:
    ATTEMPTS.clear()
    start = time.perf_counter()
    result = retrying.run(x=4)
    assert result.output == 4 and result.steps["flaky"].attempts == 3
    assert time.perf_counter() - start >= 0.05 + 0.1  # waited 0.05 s, then 0.1 s


BROKEN = {"fit": True}


@headway.step(cache=False)
def prepare(n: int) -> list:
    CALLS.append("prepare")
    return list(range(n))


@headway.step
def train(values: list) -> int:
    CALLS.append("train")
    if BROKEN["fit"]:
        raise ZeroDivisionError("division by zero")
    return max(values)


@headway.step
def report(best: int) -> str:
    CALLS.append("report")
    return f"best {best}"


@headway.step
def side(values: list) -> int:
    CALLS.append("side")
    return len(values)


@headway.pipeline
def fragile(n: int = 4):
    values = prepare(n)
    return {"report": report(train(values)), "side": side(values)}


def test_a_failure_skips_what_follows_finishes_the_rest_and_resume_picks_up(
    sqlite_ws: Workspace,
) -> None:
    BROKEN["fit"] = True
    with pytest.raises(StepFailedError, match="resume=") as caught:
        fragile.run(n=4)
    failed = caught.value.result
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    assert "step 'train' failed: ZeroDivisionError: division by zero" in str(caught.value)
    assert {k: s.status for k, s in failed.steps.items()} == {
        "prepare": "finished",
        "train": "failed",
        "report": "skipped",
        "side": "finished",
    }
    assert failed.steps["report"].error == "not run: step 'train' failed"
    run = headway.get_run(failed.run_id)
    assert run.status == "failed" and "train" in (run.error or "")
    assert headway.get_run(failed.steps["train"].run_id).status == "failed"

    BROKEN["fit"] = False
    CALLS.clear()
    resumed = fragile.resume(failed.run_id)  # the parameters come from the failed run
    assert resumed.output == {"report": "best 3", "side": 4}
    assert CALLS == ["train", "report"]  # prepare (cache=False) is reused only by resume
    assert resumed.steps["prepare"].status == "cached"
    assert resumed.steps["prepare"].run_id == failed.steps["prepare"].run_id
    assert resumed.resumed_from == failed.run_id
    assert headway.get_run(resumed.run_id).tags["pipeline.resumed_from"] == failed.run_id


def test_resuming_another_pipelines_run_is_refused(sqlite_ws: Workspace) -> None:
    first = summing.run(n=2)
    with pytest.raises(headway.pipelines.PipelineError, match="that run is of pipeline 'summing'"):
        fragile.run(n=2, resume=first.run_id)


@pytest.mark.postgres
def test_a_cached_pipeline_run_on_postgresql(pg_uri: str, tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    ws = Workspace(Settings(tmp_path / "project", pg_uri, str(tmp_path / "artifacts")))
    try:
        first = summing.run(n=7, workspace=ws)
        second = summing.run(n=7, workspace=ws)
        assert second.output == first.output == {"total": 21, "sorted_total": 21}
        assert second.cached == ["source", "total", "total-2"]
        with ws.store.read() as conn:
            [(run_id, counts)] = steps_repo.list_pipeline_runs(conn, "summing", limit=1)
        assert run_id == second.run_id and counts == {"cached": 3, "finished": 1}
    finally:
        ws.close()
