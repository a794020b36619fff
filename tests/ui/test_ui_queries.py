"""The dashboard's query layer without a server: bucketing, health, filters, lineage, auth."""

from __future__ import annotations

import pytest
from starlette.requests import Request

import headway
from headway.errors import InvalidArgumentError
from headway.monitoring.alerts import Alert
from headway.monitoring.checks import (
    DriftResult,
    OpsResult,
    PerformanceResult,
    QualityResult,
    WindowChecks,
)
from headway.monitoring.monitor import WindowResult
from headway.serving.feedback import label_from_text
from headway.store import alerts as alerts_repo
from headway.store import deployments as deployments_repo
from headway.store import monitors as monitors_repo
from headway.store import objects
from headway.store.records import Metric, RunRecord
from headway.ui.auth import Auth, cross_site, write_refusal
from headway.ui.deployments import health
from headway.ui.models import _layout
from headway.ui.runs import parse_filter
from headway.ui.timeseries import _class_labels, span, window_series
from headway.workspace import Workspace

HOUR, MINUTE = 3_600_000, 60_000
T0 = 1_780_000_000_000 // HOUR * HOUR


def checks(
    rows: int,
    p50: float,
    drift: dict[str, float],
    drifted: tuple[str, ...] = (),
    accuracy: float | None = None,
) -> WindowChecks:
    labelled = 50 if accuracy is not None else 0
    return WindowChecks(
        QualityResult("ok", rows, {}, {}, {}, (), "fine"),
        DriftResult("flagged" if drifted else "ok", rows, drift, {}, drifted, ""),
        DriftResult("not_available", rows, {}, {}, (), ""),
        OpsResult("ok", rows, rows // 10, 0.1, p50, p50, 2 * p50, 3 * p50, ""),
        PerformanceResult(
            "ok" if labelled else "not_available",
            labelled,
            metrics={} if accuracy is None else {"accuracy": accuracy},
            reference={} if accuracy is None else {"accuracy": 0.9},
        ),
    )


def store_windows(ws: Workspace, windows: list[tuple[int, int, WindowChecks]]) -> str:
    with ws.store.write() as conn:
        deployments_repo.create(conn, "d", {"primary": "models:/m/1"}, None, "test")
        monitor = monitors_repo.create(conn, "d", 300, None, {})
        monitors_repo.save_windows(
            conn,
            [
                {
                    "monitor_id": monitor.id,
                    "start_ms": start,
                    "end_ms": start + 5 * MINUTE,
                    "rows": rows,
                    "errors": rows // 10,
                    "labelled": c.performance.labelled,
                    "labels_until_ms": 0,
                    "profile_sha256": "0" * 64,
                    "ops": c.to_dict()["ops"],
                    "checks": c.to_dict(),
                    "computed_at": 0,
                }
                for start, rows, c in windows
            ],
        )
    return monitor.id


def test_windows_merge_into_bounded_buckets_on_both_backends(ws: Workspace) -> None:
    windows = [
        (T0, 100, checks(100, 10.0, {"a": 0.1, "b": 0.2})),
        (T0 + 5 * MINUTE, 300, checks(300, 20.0, {"a": 0.5, "b": 0.1}, ("a",), accuracy=0.8)),
        # the second hour is empty: a gap, not zeros
        (T0 + 2 * HOUR, 200, checks(200, 5.0, {"a": 0.0, "b": 0.3}, ("b",), accuracy=0.6)),
    ]
    monitor = store_windows(ws, windows)
    spanned = span("24h", 5 * MINUTE, T0 + 3 * HOUR, first_ms=T0)
    assert spanned.start_ms == T0 and spanned.bucket_ms == 5 * MINUTE
    hourly = spanned.__class__("24h", T0, T0 + 3 * HOUR, HOUR)  # force hour buckets
    result = window_series(ws, monitor, hourly)
    s = result.series
    assert result.windows == 3 and s.t == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert s.requests == [400, None, 200] and s.windows == [2, 0, 1]
    assert s.error_rate[0] == pytest.approx(40 / 400) and s.error_rate[1] is None
    assert s.latency_p50_ms[0] == pytest.approx((10 * 100 + 20 * 300) / 400)  # request-weighted
    assert s.flagged["feature_drift"] == [0.5, None, 1.0]
    d = result.drift
    assert d.features == ["a", "b"]
    assert d.effect[0] == [0.5, None, 0.0] and d.effect[1] == [0.2, None, 0.3]
    assert d.drifted == [[1, 0, 0], [0, 0, 1]]
    p = result.performance
    assert p.labelled == [50, 0, 50] and p.reference == {"accuracy": 0.9}
    assert p.metrics["accuracy"][0] == pytest.approx(0.8) and p.metrics["accuracy"][1] is None


def test_a_span_is_bounded_clipped_to_the_monitor_and_named() -> None:
    end = T0 + 30 * 24 * HOUR
    month = span("30d", 5 * MINUTE, end)
    assert month.bucket_ms == HOUR and (month.end_ms - month.start_ms) // month.bucket_ms == 720
    assert span("7d", 5 * MINUTE, end).bucket_ms == 15 * MINUTE
    assert span("24h", HOUR, end).bucket_ms == HOUR  # never finer than a window
    assert span("30d", HOUR, end, first_ms=end - 5 * HOUR).start_ms == end - 5 * HOUR
    with pytest.raises(InvalidArgumentError, match="range '1y' is not one of 24h, 7d, 30d"):
        span("1y", HOUR, end)


def window(flagged: bool, end_ms: int) -> WindowResult:
    c = checks(500, 5.0, {"a": 0.9 if flagged else 0.0}, ("a",) if flagged else ())
    return WindowResult(end_ms - HOUR, end_ms, 500, 0, "0" * 64, c)


def alert(severity: str) -> Alert:
    return Alert(
        "id", "m", f"{severity}-rule", "ops.error_rate", "m", severity, "firing", 0, {}, "s", "r"
    )


def test_health_is_the_worst_of_alerts_checks_and_freshness() -> None:
    now = T0 + 10 * HOUR
    assert health([alert("warning"), alert("critical")], None, HOUR, now).status == "critical"
    assert health([alert("warning")], window(False, now), HOUR, now).status == "warning"
    assert health([], None, HOUR, now).status == "unknown"
    flagged = health([], window(True, now), HOUR, now)
    assert flagged.status == "warning" and "feature_drift" in flagged.reason
    stale = health([], window(False, now - 5 * HOUR), HOUR, now)
    assert stale.status == "stale" and "5 h ago" in stale.reason
    assert health([], window(False, now), HOUR, now).status == "healthy"


def run(metrics: dict[str, float], params: dict[str, str]) -> RunRecord:
    found = {k: Metric(k, v, 0, 0) for k, v in metrics.items()}
    return RunRecord("id", "e", "r", "finished", 0, 1, params=params, metrics=found)


def test_run_filters_read_like_mlflow_and_refuse_what_they_cannot_mean() -> None:
    clauses = parse_filter("metrics.auc >= 0.7 AND params.C = 0.5 and params.plan != 'pro'")
    good = run({"auc": 0.75}, {"C": "0.50", "plan": "basic"})
    assert all(c.matches(good) for c in clauses)
    assert not all(c.matches(run({"auc": 0.6}, {"C": "0.5", "plan": "basic"})) for c in clauses)
    assert not parse_filter("metrics.missing > 0")[0].matches(good)  # no key: no match
    assert parse_filter("  ") == []
    for bad, message in [
        ("accuracy > 0.8", "is not KIND.KEY OP VALUE"),
        ("metrics.auc > high", "compares with a number"),
        ("params.plan > 'pro'", "text compares with = or != only"),
    ]:
        with pytest.raises(InvalidArgumentError, match=message):
            parse_filter(bad)


def test_typed_labels_keep_numbers_numbers() -> None:
    assert label_from_text(" 1 ") == 1 and label_from_text("0.5") == 0.5
    assert label_from_text("true") is True and label_from_text("yes") == "yes"
    assert label_from_text('"1"') == "1"  # quoted: the text 1
    with pytest.raises(InvalidArgumentError, match="empty"):
        label_from_text("  ")


def test_bins_between_whole_numbers_are_named_as_classes() -> None:
    labels = ["< 0", "0 to 1", ">= 1"]
    assert _class_labels(labels, (0.0, 1.0)) == ["< 0", "0", "1 or more"]
    assert _class_labels(labels, (0.0, 0.5)) == labels


def test_lineage_lays_out_columns_by_longest_path() -> None:
    labels = {
        "dataset:d": ("dataset", "d", "", None),
        "run:r": ("run", "r", "", None),
        "model_version:v": ("model_version", "m v1", "", None),
        "deployment:x": ("deployment", "x", "", None),
    }
    links = [
        ("dataset:d", "run:r", "input", True),
        ("run:r", "model_version:v", "produced", True),
        ("model_version:v", "deployment:x", "primary", True),
        ("dataset:d", "model_version:v", "shortcut", True),  # longest path still wins
    ]
    graph = _layout(labels, links)
    x = {n.key: n.x for n in graph.nodes}
    assert x["dataset:d"] < x["run:r"] < x["model_version:v"] < x["deployment:x"]
    assert all(link.path.startswith("M") for link in graph.links)


def request(method: str, headers: dict[str, str], cookie: str | None = None) -> Request:
    raw = [
        (k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1:8765", **headers}.items()
    ]
    if cookie:
        raw.append((b"cookie", f"headway_session={cookie}".encode()))
    scope = {"type": "http", "method": method, "scheme": "http", "path": "/", "headers": raw}
    return Request({**scope, "query_string": b""})


def test_sessions_are_signed_and_writes_must_be_same_origin() -> None:
    auth = Auth("s3cret")
    session = auth.new_session()
    assert auth.access(request("GET", {})) is None
    assert auth.access(request("GET", {"Authorization": "Bearer s3cret"})) == "bearer"
    assert auth.access(request("GET", {}, cookie=session)) == "cookie"
    assert auth.access(request("GET", {}, cookie=Auth("other").new_session())) is None
    assert Auth(None).access(request("GET", {})) == "open"
    own = {"Origin": "http://127.0.0.1:8765"}
    evil = {"Origin": "http://evil.example"}
    assert write_refusal(request("POST", own, session), "cookie") is None
    assert write_refusal(request("POST", {}, session), "cookie") is not None  # no proof
    assert write_refusal(request("POST", evil), "open") is not None
    assert cross_site(request("POST", {"Sec-Fetch-Site": "cross-site"}))
    assert write_refusal(request("POST", {}), "bearer") is None  # scripts send no Origin
    assert write_refusal(request("GET", evil), "open") is None  # reads are not writes


def test_a_nan_in_stored_checks_reads_as_missing(sqlite_ws: Workspace) -> None:
    # Python's json writes NaN, SQLite's JSON functions refuse it: the read still works.
    nan = checks(100, 10.0, {"a": 0.1}, accuracy=float("nan"))
    fine = checks(100, 10.0, {"a": 0.2}, accuracy=0.7)
    monitor = store_windows(sqlite_ws, [(T0, 100, nan), (T0 + HOUR, 100, fine)])
    result = window_series(sqlite_ws, monitor, span("24h", HOUR, T0 + 2 * HOUR, first_ms=T0))
    assert result.windows == 2 and result.drift.effect == [[0.1, 0.2]]
    assert result.performance.metrics["accuracy"] == [None, 0.7]


def test_the_dashboards_store_reads_work_on_both_backends(ws: Workspace) -> None:
    windows = [(T0 + i * 5 * MINUTE, 10 + i, checks(10, 1.0, {"a": 0.0})) for i in range(12)]
    monitor = store_windows(ws, windows)
    with ws.store.read() as conn:
        assert monitors_repo.count_windows(conn, monitor, T0, T0 + HOUR) == 12
        every_third = monitors_repo.window_profiles(
            conn, monitor, T0, T0 + HOUR, 15 * MINUTE, T0 + 55 * MINUTE
        )
    assert [s for s, _, _ in every_third] == [T0 + m * MINUTE for m in (10, 25, 40, 55)]

    with headway.start_run(experiment="e") as run:
        run.log_text("{}", "profiles/train.json")
        run.log_text("{}", "drift/a_b.json")
        run.log_text("{}", "notes/profiles.txt")
    item = {"deployment": "d", "revision": 1, "created_at": 0, "reason": "human", "inputs": {}}
    states = ["pending", "pending", "decided"]
    with ws.store.write() as conn:
        deployments_repo.add_review_items(
            conn,
            [{**item, "request_id": f"r{i}", "status": s} for i, s in enumerate(states)],
        )
        alerts_repo.add_events(
            conn,
            monitor,
            [
                {"alert_id": "x", "rule": "r", "kind": k, "severity": "info", "at": i, "event": {}}
                for i, k in enumerate(["firing", "updated", "resolved"])
            ],
        )
    with ws.store.read() as conn:
        found = objects.find_artifacts(conn, "run", ["profiles/", "drift/a_"])
        assert sorted(r.path for _, r in found) == ["drift/a_b.json", "profiles/train.json"]
        assert {o for o, _ in found} == {run.id}
        assert deployments_repo.count_reviews(conn) == {"d": 2}
        kinds = [e["kind"] for e in alerts_repo.events(conn, monitor, kinds=["firing", "resolved"])]
    assert kinds == ["resolved", "firing"]
