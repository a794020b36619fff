from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from monitoring_helpers import features, log_batch, outputs

from headway.data import merge, profile
from headway.errors import InvalidArgumentError
from headway.monitoring import (
    LatencyHistogram,
    OpsStats,
    WindowProfile,
    merge_windows,
    summarise,
    window_seconds,
    window_starts,
)

HOUR = 3_600_000


@pytest.fixture(scope="module")
def reference() -> tuple:
    train = features(5000, seed=1)
    return profile(train), profile(outputs(train, seed=1))


def test_window_lengths_parse_from_text_numbers_and_timedeltas() -> None:
    assert window_seconds("1h") == 3600
    assert window_seconds("5m") == 300
    assert window_seconds("1d") == 86_400
    assert window_seconds(45) == 45
    assert window_seconds(timedelta(minutes=2)) == 120
    for bad in ("fortnight", 0, "0.5s", -3):
        with pytest.raises(InvalidArgumentError, match="window"):
            window_seconds(bad)


def test_windows_are_aligned_and_only_complete_ones_are_listed() -> None:
    assert window_starts(HOUR + 1, 4 * HOUR + 10, HOUR) == [2 * HOUR, 3 * HOUR]
    assert window_starts(0, HOUR - 1, HOUR) == []


def test_merged_windows_count_exactly_what_one_profile_of_all_rows_counts(reference) -> None:
    inputs_ref, outputs_ref = reference
    parts = [features(700 + 300 * i, seed=10 + i, shift=0.5 * i) for i in range(3)]
    parts[1].loc[::7, "tenure"] = np.nan
    windows = [
        summarise(
            log_batch(p, outputs(p, seed=i)).to_batches(max_chunksize=256),
            i * HOUR,
            (i + 1) * HOUR,
            inputs_ref,
            outputs_ref,
        )
        for i, p in enumerate(parts)
    ]
    merged = merge_windows(*windows)
    everything = merge(*(profile(p, bins_from=inputs_ref) for p in parts))
    assert merged.rows == everything.rows == sum(len(p) for p in parts)
    assert (merged.start_ms, merged.end_ms) == (0, 3 * HOUR)
    for name, column in everything.columns.items():
        got = merged.inputs[name]
        assert got.histogram.counts == column.histogram.counts
        assert (got.count, got.missing) == (column.count, column.missing)
        if column.moments is not None and column.kind == "numeric":
            assert got.moments is not None
            assert got.moments.count == column.moments.count
            assert got.moments.mean == pytest.approx(column.moments.mean)
            assert got.moments.std == pytest.approx(column.moments.std)
            assert (got.moments.min, got.moments.max) == (column.moments.min, column.moments.max)


def test_window_quantiles_are_read_off_its_histogram_within_a_bin_of_the_exact_ones(
    reference,
) -> None:
    data = features(20_000, seed=7, shift=0.3)
    data.loc[::9, "tenure"] = np.nan
    window = summarise([log_batch(data)], 0, HOUR, *reference)
    halves = merge_windows(
        *(summarise([log_batch(h)], 0, HOUR, *reference) for h in (data[:8000], data[8000:]))
    )
    for name in ("tenure", "charges"):
        column, values = window.inputs[name], data[name].dropna().to_numpy()
        assert column.quantiles is not None and not column.quantiles_exact
        # one window and a merge of windows report the same estimate
        assert column.quantiles == pytest.approx(halves.inputs[name].quantiles)
        bounds = np.r_[values.min(), column.histogram.edges, values.max()]
        for key, estimate in column.quantiles.items():
            exact = np.quantile(values, int(key[1:]) / 100)
            i = int(np.clip(np.searchsorted(bounds, exact, side="right"), 1, bounds.size - 1))
            assert abs(estimate - exact) <= bounds[i] - bounds[i - 1] + 1e-9, (name, key)


def test_a_window_profile_survives_json(reference) -> None:
    data = features(500, seed=3)
    data.loc[:10, "plan"] = None
    window = summarise([log_batch(data)], 0, HOUR, *reference)
    assert WindowProfile.from_json(window.to_json()) == window


def test_an_empty_window_has_zero_counts_over_the_reference_bins(reference) -> None:
    window = summarise([], 0, HOUR, *reference)
    assert window.rows == 0 and window.ops.requests == 0
    assert sum(window.inputs["charges"].histogram.counts) == 0
    merged = merge_windows(
        window, summarise([log_batch(features(50, seed=4))], HOUR, 2 * HOUR, *reference)
    )
    assert merged.rows == 50


def test_ops_stats_count_requests_errors_and_latency_percentiles() -> None:
    latency = np.arange(1, 1001, dtype=np.float64)  # 1..1000 ms
    status = np.r_[np.full(950, 200), np.full(30, 503), np.full(20, 422)].astype(np.int16)
    ops = OpsStats.of(status, latency)
    assert (ops.requests, ops.server_errors, ops.client_errors) == (1000, 30, 20)
    assert ops.error_rate == pytest.approx(0.03)
    assert ops.latency_mean_ms == pytest.approx(500.5)
    for q, exact in ((0.5, 500.0), (0.9, 900.0), (0.99, 990.0)):
        assert ops.latency_ms(q) == pytest.approx(exact, rel=0.025)


def test_merged_latency_histograms_estimate_percentiles_of_all_rows() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.lognormal(1, 0.5, 5000), rng.lognormal(3, 0.5, 5000)
    merged = LatencyHistogram.of(a) + LatencyHistogram.of(b)
    assert merged.count == 10_000
    for q in (0.5, 0.9, 0.99):
        assert merged.quantile(q) == pytest.approx(np.quantile(np.r_[a, b], q), rel=0.03)
    assert LatencyHistogram().quantile(0.5) is None


def test_windows_count_schema_violations_and_out_of_range_values(reference) -> None:
    data = features(400, seed=5)
    outs = outputs(data, seed=5)
    data["charges"] = data["charges"].astype(str)  # a client sending text
    data.loc[:9, "charges"] = "n/a"  # that does not parse
    data.loc[10:14, "tenure"] = 10_000.0  # far beyond the reference's maximum
    data["extra"] = 1.0
    window = summarise([log_batch(data.drop(columns=["plan"]), outs)], 0, HOUR, *reference)
    assert window.quality.type_errors == {"charges": 10}
    assert window.quality.out_of_range == {"tenure": 5}
    assert window.quality.unknown_columns == {"extra": 400}
    assert window.quality.absent_columns == {"plan": 400}
    assert window.inputs["plan"].missing == 400
