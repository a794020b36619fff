import json
import multiprocessing
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.errors import InvalidArgumentError
from headway.serving.log import (
    FEEDBACK_SCHEMA,
    PREDICTION_SCHEMA,
    FeedbackLog,
    PredictionLog,
    SegmentLog,
    compact,
    connect,
    query,
    read,
)
from headway.workspace import Workspace

HOUR = datetime(2024, 3, 1, 10, tzinfo=UTC)
fork = multiprocessing.get_context("fork")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def plog(root: Path) -> Iterator[PredictionLog]:
    with PredictionLog(root, fsync=False) as log:
        yield log


def log_batch(
    log: PredictionLog,
    ids: list[str],
    time: Any = None,
    revision: int = 1,
    inputs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> bool:
    x = np.arange(len(ids), dtype=np.float64) + np.array([int(i.split("-")[-1]) for i in ids])
    return log.log(
        ids,
        inputs=inputs if inputs is not None else {"x": x, "plan": ["basic"] * len(ids)},
        outputs={"prediction": x * 2, "proba": np.column_stack([1 - x / 1e6, x / 1e6])},
        deployment="churn",
        revision=revision,
        model_version=f"models:/churn/{revision}",
        latency_ms=np.full(len(ids), 3.5),
        time=time,
        **kwargs,
    )


def utc_ms(moments: list[datetime]) -> np.ndarray:
    """Naive datetime64 in UTC (NumPy has no time zones; the log reads naive times as UTC)."""
    return np.array([m.replace(tzinfo=None) for m in moments], dtype="datetime64[ms]")


def ids_for(prefix: str, start: int, n: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(start, start + n)]


def count(root: Path, table: str = "predictions") -> int:
    return int(query(root, f"SELECT count(*) AS n FROM {table}")["n"][0].as_py())


def segment_files(root: Path, stream: str = "predictions") -> list[Path]:
    return sorted((root / stream / "segments").glob("*/*/*.arrow"))


def parquet_files(root: Path, stream: str = "predictions") -> list[Path]:
    return sorted((root / stream / "hourly").glob("*/*/*.parquet"))


def _child_logs(root: Path, prefix: str, inherited: PredictionLog | None) -> None:
    log = inherited if inherited is not None else PredictionLog(root, fsync=False)
    for b in range(20):
        log_batch(log, ids_for(prefix, b * 16, 16))
    log.close()  # a multiprocessing child ends with os._exit: atexit does not run


def test_rows_from_threads_and_processes_are_read_exactly_once(root: Path) -> None:
    plog = PredictionLog(root, fsync=False, flush_rows=64)  # the writer flushes as we append
    log_batch(plog, ids_for("parent", 0, 16))  # buffered in the parent when it forks
    children = [
        fork.Process(target=_child_logs, args=(root, "own", None)),
        fork.Process(target=_child_logs, args=(root, "inherited", plog)),
    ]
    for child in children:
        child.start()

    def worker(t: int) -> None:
        for b in range(50):
            log_batch(plog, ids_for(f"thread{t}", b * 8, 8))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for child in children:
        child.join(20)
        assert child.exitcode == 0
    plog.close()

    expected = 16 + 2 * 20 * 16 + 4 * 50 * 8
    found = query(
        root,
        "SELECT count(*) AS n, count(DISTINCT request_id) AS ids, "
        "sum((outputs.prediction != 2 * inputs.x)::int) AS wrong FROM predictions",
    ).to_pylist()
    assert found == [{"n": expected, "ids": expected, "wrong": 0}]
    assert plog.stats.written == 16 + 4 * 50 * 8 and plog.stats.dropped == 0
    names = {p.name.rsplit("-", 1)[0] for p in segment_files(root)}
    assert len(names) == 3  # parent, and each child under its own pid and token


def test_rows_reach_disk_within_the_flush_interval(root: Path) -> None:
    with PredictionLog(root, flush_interval=0.2) as log:
        log_batch(log, ids_for("r", 0, 10))
        deadline = time.monotonic() + 5
        while not segment_files(root) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert read(root, "predictions").num_rows == 10  # written without flush()
        assert log.stats.written == 10
    assert not log_batch(log, ids_for("late", 0, 3))  # closed: refused and counted
    assert log.stats.dropped == 3 and count(root) == 10


def test_append_returns_while_the_writer_is_stuck(root: Path) -> None:
    log = PredictionLog(root, flush_interval=0.05, flush_rows=100, max_buffer_rows=1000)
    entered, release = threading.Event(), threading.Event()
    write = log._write_segment

    def stuck(hour: int, table: pa.Table) -> None:
        entered.set()
        release.wait(10)
        write(hour, table)

    log._write_segment = stuck  # type: ignore[method-assign]
    log_batch(log, ids_for("first", 0, 100))
    assert entered.wait(5)  # the writer holds those 100 rows and cannot write them
    accepted: list[bool] = []
    appender = threading.Thread(
        target=lambda: accepted.extend(log_batch(log, ids_for(f"b{i}", 0, 100)) for i in range(20))
    )
    appender.start()
    appender.join(5)  # the writer stays stuck for 10 s unless released
    assert not appender.is_alive(), "append waited for the stuck writer"
    # 100 rows in flight + 900 buffered fill the bound; the rest is refused and counted.
    assert accepted == [True] * 9 + [False] * 11
    assert log.stats.dropped == 1100 and log.stats.buffered == 1000
    release.set()
    log.close()
    assert log.stats.written == 1000 and count(root) == 1000


def test_a_failed_write_keeps_its_rows_for_the_next_flush(plog: PredictionLog, root: Path) -> None:
    times = utc_ms([HOUR, HOUR + timedelta(hours=1)] * 5)
    log_batch(plog, ids_for("r", 0, 10), time=times)
    write, calls = plog._write_segment, []

    def second_fails(hour: int, table: pa.Table) -> None:
        calls.append(hour)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        write(hour, table)

    plog._write_segment = second_fails  # type: ignore[method-assign]
    with pytest.raises(OSError, match="No space"):
        plog.flush()
    assert plog.stats.written == 5 and plog.stats.buffered == 5
    assert plog.flush() == 5
    distinct = query(root, "SELECT count(DISTINCT request_id) AS n FROM predictions")
    assert count(root) == 10 and distinct["n"].to_pylist() == [10]


def test_rows_crossing_an_hour_boundary_land_in_their_hour(plog: PredictionLog, root: Path) -> None:
    edge = HOUR + timedelta(hours=1)
    times = utc_ms([edge - timedelta(milliseconds=100), edge + timedelta(milliseconds=100)] * 3)
    log_batch(plog, ids_for("r", 0, 6), time=times)
    plog.flush()
    folders = sorted(p.parent.relative_to(root / "predictions") for p in segment_files(root))
    assert [str(f) for f in folders] == [
        "segments/date=2024-03-01/hour=10",
        "segments/date=2024-03-01/hour=11",
    ]
    late = read(root, "predictions", start=edge, end=edge + timedelta(hours=1))
    assert sorted(late["request_id"].to_pylist()) == ["r-1", "r-3", "r-5"]
    assert late.schema.field("time").type == pa.timestamp("ms", tz="UTC")
    early = read(root, "predictions", end=edge, columns=["request_id", "latency_ms"])
    assert early.column_names == ["request_id", "latency_ms"] and early.num_rows == 3


def _log_hours(log: PredictionLog, hours: int, flushes: int, rows: int) -> None:
    for h in range(hours):
        for f in range(flushes):
            start = (h * flushes + f) * rows
            when = utc_ms([HOUR + timedelta(hours=h, minutes=f)] * rows)
            log_batch(log, ids_for("r", start, rows), time=when)
            log.flush()


def test_compaction_merges_closed_hours_and_deletes_their_segments(
    plog: PredictionLog, root: Path
) -> None:
    _log_hours(plog, hours=2, flushes=3, rows=10)
    log_batch(plog, ids_for("now", 0, 5))  # the current hour stays as segments
    plog.flush()
    assert len(segment_files(root)) == 7

    done = compact(root, "predictions")
    assert (done.hours, done.segments, done.rows, done.files) == (2, 6, 60, 2)
    assert [p.parent.name for p in segment_files(root)] == [f"hour={datetime.now(UTC):%H}"]
    assert (
        len(parquet_files(root)) == 2
        and not (root / "predictions/segments/date=2024-03-01").exists()
    )
    assert count(root) == 65
    assert read(root, "predictions", HOUR, HOUR + timedelta(hours=2)).num_rows == 60
    again = compact(root, "predictions")
    assert (again.hours, again.segments, again.files) == (0, 0, 0) and count(root) == 65


def test_a_crash_mid_compaction_counts_each_row_once(plog: PredictionLog, root: Path) -> None:
    _log_hours(plog, hours=2, flushes=2, rows=10)
    backup = root.parent / "backup"
    shutil.copytree(root / "predictions" / "segments", backup)
    compact(root, "predictions", before=HOUR + timedelta(hours=3))
    # The crash: Parquet files renamed into place, segments not yet deleted, and a
    # second compaction's half-written Parquet file left behind.
    shutil.copytree(backup, root / "predictions" / "segments", dirs_exist_ok=True)
    hour_dir = parquet_files(root)[0].parent
    (hour_dir / ".part-crashed.parquet.tmp").write_bytes(b"PAR1 half")
    assert len(segment_files(root)) == 4
    assert count(root) == 40 and read(root, "predictions").num_rows == 40

    done = compact(root, "predictions", before=HOUR + timedelta(hours=3))
    assert (done.segments, done.rows, done.files) == (4, 0, 0)  # finished the job
    assert not segment_files(root) and len(parquet_files(root)) == 2
    assert not list(hour_dir.glob(".*.tmp"))
    assert count(root) == 40


def test_a_torn_segment_is_skipped_and_set_aside(plog: PredictionLog, root: Path) -> None:
    _log_hours(plog, hours=1, flushes=1, rows=10)
    torn = segment_files(root)[0].with_name("1-torn-00000000.arrow")
    torn.write_bytes(b"ARROW1\x00")  # renamed into place, data lost in a power cut
    assert count(root) == 10
    done = compact(root, "predictions", before=HOUR + timedelta(hours=1))
    assert (done.segments, done.rows) == (2, 10) and count(root) == 10
    assert (root / "predictions" / "quarantine" / torn.name).is_file()


def _compact_in_child(root: Path) -> None:
    compact(root, "predictions", before=HOUR + timedelta(days=1))


def test_concurrent_compactions_neither_lose_nor_duplicate_rows(
    plog: PredictionLog, root: Path
) -> None:
    _log_hours(plog, hours=6, flushes=2, rows=10)
    children = [fork.Process(target=_compact_in_child, args=(root,)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(20)
        assert child.exitcode == 0
    assert not segment_files(root) and len(parquet_files(root)) == 6
    assert query(root, "SELECT count(*), count(DISTINCT request_id) FROM predictions").to_pylist()[
        0
    ] == {"count_star()": 120, "count(DISTINCT request_id)": 120}


def test_revisions_with_different_inputs_query_together(plog: PredictionLog, root: Path) -> None:
    v1 = {"age": np.array([30, 40])}
    v2 = {"age": np.array([50, 60]), "plan": ["pro", "basic"]}
    v3 = {"age": ["unknown", "70"]}  # a feature that changed type
    log_batch(plog, ids_for("v1", 0, 2), time=[HOUR, HOUR], inputs=v1)
    log_batch(plog, ids_for("v2", 0, 2), time=[HOUR, HOUR], revision=2, inputs=v2)
    log_batch(plog, ids_for("v3", 0, 2), time=[HOUR, HOUR], revision=3, inputs=v3)
    plog.flush()
    log_batch(plog, ids_for("v2-later", 0, 2), revision=2, inputs=v2)  # stays a segment
    plog.flush()
    sql = "SELECT request_id, inputs.plan, inputs.age::VARCHAR AS age FROM predictions ORDER BY 1"
    before = query(root, sql).to_pylist()
    assert before[0] == {"request_id": "v1-0", "plan": None, "age": "30"}
    assert before[2] == {"request_id": "v2-0", "plan": "pro", "age": "50"}
    assert before[-1] == {"request_id": "v3-1", "plan": None, "age": "70"}
    compact(root, "predictions")
    assert query(root, sql).to_pylist() == before


def test_shadow_rows_sit_beside_the_primary(plog: PredictionLog, root: Path) -> None:
    ids = ids_for("r", 0, 4)
    log_batch(plog, ids)
    log_batch(plog, ids, route="shadow", status=np.array([200, 200, 500, 200]), error=None)
    plog.flush()
    rows = query(
        root,
        "SELECT route, count(*) AS n, count(DISTINCT request_id) AS ids, max(status) AS worst "
        "FROM predictions GROUP BY route ORDER BY route",
    ).to_pylist()
    assert rows == [
        {"route": "primary", "n": 4, "ids": 4, "worst": 200},
        {"route": "shadow", "n": 4, "ids": 4, "worst": 500},
    ]
    with pytest.raises(InvalidArgumentError, match="route 'blue'"):
        log_batch(plog, ids, route="blue")


def test_feedback_labels_join_their_predictions(plog: PredictionLog, root: Path) -> None:
    log_batch(plog, ids_for("r", 0, 4))
    plog.flush()
    with FeedbackLog(root, fsync=False) as feedback:
        feedback.log(["r-0", "r-1"], np.array([1, 0]))
        feedback.log(["r-2"], ["churned"], source="review", note="called the customer")
        feedback.log(["r-3"], ["2.5e1"], time=datetime(2024, 3, 2, 12))
    rows = query(
        root,
        "SELECT p.request_id, f.label, f.label_value, f.source, f.note "
        "FROM predictions p JOIN feedback f USING (request_id) ORDER BY 1",
    ).to_pylist()
    assert [(r["label"], r["label_value"], r["source"]) for r in rows] == [
        ("1", 1.0, "api"),
        ("0", 0.0, "api"),
        ("churned", None, "review"),
        ("2.5e1", 25.0, "api"),
    ]
    assert rows[2]["note"] == "called the customer"
    late = segment_files(root, "feedback")[0].relative_to(root / "feedback" / "segments")
    assert str(late.parent) == "date=2024-03-02/hour=12"  # labels land in their own hour


def test_an_empty_log_has_both_views(root: Path) -> None:
    con = connect(root)
    try:
        for table, schema in (("predictions", PREDICTION_SCHEMA), ("feedback", FEEDBACK_SCHEMA)):
            described = con.sql(f"SELECT * FROM {table}").columns
            assert described == schema.names
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    finally:
        con.close()
    assert read(root, "feedback").column_names == FEEDBACK_SCHEMA.names


def test_any_stream_of_columns_can_be_logged(root: Path) -> None:
    with SegmentLog(root, "events", fsync=False) as events:
        assert events.append({"kind": ["a", "b"], "vector": np.eye(2)})
        assert events.append(pa.table({"kind": ["c"], "vector": [[0.5, 0.5]]}))
        with pytest.raises(InvalidArgumentError, match="needs 2 values"):
            events.append({"kind": ["a", "b"], "n": [1]})
    rows = query(root, "SELECT kind, vector FROM events ORDER BY kind").to_pylist()
    assert rows == [
        {"kind": "a", "vector": [1.0, 0.0]},
        {"kind": "b", "vector": [0.0, 1.0]},
        {"kind": "c", "vector": [0.5, 0.5]},
    ]


runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), terminal_width=200)
    return result.exit_code, result.output


def test_cli_queries_and_compacts_the_workspace_log(sqlite_ws: Workspace) -> None:
    assert sqlite_ws.log_root == sqlite_ws.project_dir / ".headway" / "logs"
    with PredictionLog(sqlite_ws.log_root, fsync=False) as log:
        log_batch(log, ids_for("r", 0, 3), time=[HOUR] * 3)
    code, out = invoke(
        "logs", "query", "SELECT request_id, outputs.prediction AS p FROM predictions ORDER BY 1"
    )
    assert code == 0 and "3 row(s)" in out and "r-2" in out and "8" in out
    code, out = invoke("logs", "query", "SELECT request_id FROM predictions", "--limit", "2")
    assert code == 0 and "2 row(s)" in out and "--all" in out
    code, out = invoke("logs", "query", "SELECT * FROM predictions", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("request_id,time,deployment")
    assert "inputs.x" in out.splitlines()[0] and len(out.splitlines()) == 4
    code, out = invoke("logs", "query", "SELECT request_id, inputs FROM predictions", "-f", "json")
    assert code == 0 and json.loads(out.splitlines()[0])["inputs"]["plan"] == "basic"
    code, out = invoke("logs", "query", "SELEC nonsense FROM predictions")
    assert code == 1 and out.startswith("error: the query failed: Parser Error")
    assert len(out.strip().splitlines()) == 1
    code, out = invoke("logs", "compact")
    assert code == 0 and "predictions: 1 segment file(s) of 1 hour(s) -> 1 Parquet" in out
    assert "feedback: nothing to compact" in out
