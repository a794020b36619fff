"""Four processes logging into one SQLite workspace at once lose nothing and never fail."""

import multiprocessing as mp
from pathlib import Path

import headway
from headway.workspace import Workspace

POINTS = 3000


def _log(project: str, worker: int, barrier: "mp.synchronize.Barrier") -> None:
    ws = Workspace.open(project)
    barrier.wait()  # start together, to contend for the lock
    with headway.start_run("contended", name=f"worker-{worker}", workspace=ws) as run:
        for i in range(POINTS):
            run.log_metric("loss", 1.0 / (i + 1))
            if i % 500 == 0:
                run.flush()  # many small transactions interleaved across processes
                run.log_param(f"p{i}", i)
        run.log_metrics({"acc": 0.5, "f1": 0.25}, step=0)
    ws.close()


def test_four_processes_log_into_one_sqlite_workspace(tmp_path: Path) -> None:
    ws = headway.init(tmp_path / "shared")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_log, args=(str(ws.project_dir), i, barrier)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    runs = headway.list_runs(experiment="contended", workspace=ws)
    assert sorted(r.name for r in runs) == [f"worker-{i}" for i in range(4)]
    for run in runs:
        assert run.status == "finished"
        assert len(headway.get_metric_history(run.id, "loss", workspace=ws)) == POINTS
        assert run.metrics["loss"].step == POINTS - 1
        assert set(run.metrics) == {"loss", "acc", "f1"}
        assert len(run.params) == POINTS // 500
