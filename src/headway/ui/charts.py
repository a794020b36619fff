"""Plotly figures (as plain JSON-able dicts) for the pages, from the query layer's values.

Figures are built as the dicts Plotly.js reads rather than through
``plotly.graph_objects``, whose validation costs milliseconds per trace; the page embeds
them with :func:`figure_json` (orjson) and ``ui.js`` draws them with the plotly.min.js
that ships inside the installed ``plotly`` package.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import orjson

from headway.ui.deployments import DeploymentView, RevisionView
from headway.ui.runs import RunComparison
from headway.ui.timeseries import FAMILIES, DriftMap, OutputDistribution, PerformanceSeries, Series

__all__ = ["comparison_charts", "deployment_charts", "duration_label", "figure_json"]

Figure = dict[str, Any]
INK, MUTED, GRID = "#1f2933", "#7b8794", "#e4e7eb"
BLUE, RED, AMBER, GREEN, GREY = "#2f6fdb", "#d64545", "#e8a33d", "#3f9142", "#52606d"
SERIES = ["#2f6fdb", "#d64545", "#3f9142", "#e8a33d", "#8e44ad", "#16a2b8", "#52606d"]
HEAT = [[0.0, "#f5f7fa"], [0.35, "#f7d9a6"], [0.7, "#e8a33d"], [1.0, "#d64545"]]
FAMILY_NAMES = {
    "quality": "quality",
    "feature_drift": "feature drift",
    "prediction_drift": "prediction drift",
    "ops": "operations",
    "performance": "performance",
}


def figure_json(figure: Figure) -> str:
    """JSON safe to put inside ``<script type="application/json">`` (no ``</script>``)."""
    return orjson.dumps(figure, option=orjson.OPT_SERIALIZE_NUMPY).decode().replace("<", "\\u003c")


def _layout(title: str, height: int = 260, **extra: Any) -> dict[str, Any]:
    axis = {"gridcolor": GRID, "zeroline": False, "linecolor": GRID, "automargin": True}
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14, "color": INK}, "x": 0, "xanchor": "left"},
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 36, "b": 36},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "font": {
            "family": "system-ui, -apple-system, Segoe UI, sans-serif",
            "size": 12,
            "color": INK,
        },
        "xaxis": {**axis, "type": "date"},
        "yaxis": dict(axis),
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "hovermode": "x unified",
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _line(x: list[Any], y: list[Any], name: str, color: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": y,
        "name": name,
        "line": {"color": color, "width": 2},
        **extra,
    }


# -- deployment ------------------------------------------------------------------------


def deployment_charts(view: DeploymentView) -> dict[str, Figure]:
    """The deployment page's figures by name (only those with something to draw)."""
    charts: dict[str, Figure] = {}
    if view.windows is not None:
        s = view.windows.series
        bucket = duration_label(view.windows.span.bucket_ms)
        charts["traffic"] = _traffic(s, bucket)
        charts["errors"] = _errors(
            s, bucket, None if view.monitor is None else view.monitor.max_error_rate
        )
        charts["latency"] = _latency(s, bucket)
        charts["checks"] = _checks(s, bucket)
        if view.windows.drift.features:
            charts["drift"] = _drift(view.windows.drift, bucket)
        if any(view.windows.performance.labelled):
            charts["performance"] = _performance(view.windows.performance, bucket)
    for i, dist in enumerate(view.predictions):
        charts[f"prediction-{i}"] = _distribution(dist)
    if view.revisions:
        charts["revisions"] = _revisions(view.revisions, view.generated_at)
    if view.windows is not None:  # one time axis for all, whatever each chart holds
        spanned = view.windows.span
        half = spanned.bucket_ms // 2  # a point stands for its bucket, centred
        for figure in charts.values():
            figure["layout"]["xaxis"]["range"] = [spanned.start_ms - half, spanned.end_ms - half]
    return charts


def duration_label(ms: int) -> str:
    """A window or bucket length as people say it: ``5 min``, ``1 h``, ``1 d``."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


def _traffic(s: Series, bucket: str) -> Figure:
    bars = {
        "type": "bar",
        "x": s.t,
        "y": s.requests,
        "name": "requests",
        "marker": {"color": BLUE},
        "hovertemplate": "%{y:,} requests<extra></extra>",
    }
    return {"data": [bars], "layout": _layout(f"Requests per {bucket}", bargap=0.05)}


def _errors(s: Series, bucket: str, limit: float | None) -> Figure:
    data = [_line(s.t, s.error_rate, "error rate", RED, hovertemplate="%{y:.2%}<extra></extra>")]
    shapes = []
    if limit is not None:
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": limit,
                "y1": limit,
                "line": {"color": MUTED, "dash": "dash", "width": 1},
            }
        )
    return {
        "data": data,
        "layout": _layout(
            f"Server error rate per {bucket} (dashed: the ops check's limit)",
            yaxis={"tickformat": ".1%", "rangemode": "tozero"},
            shapes=shapes,
        ),
    }


def _latency(s: Series, bucket: str) -> Figure:
    data = [
        _line(s.t, s.latency_p50_ms, "p50", GREEN),
        _line(s.t, s.latency_p90_ms, "p90", AMBER),
        _line(s.t, s.latency_p99_ms, "p99", RED),
    ]
    title = "Latency percentiles (ms)" + (
        ""
        if bucket.endswith("min") and bucket.startswith("5")
        else f", request-weighted over {bucket}"
    )
    return {
        "data": data,
        "layout": _layout(title, yaxis={"rangemode": "tozero", "ticksuffix": " ms"}),
    }


def _checks(s: Series, bucket: str) -> Figure:
    names = [FAMILY_NAMES[f] for f in FAMILIES]
    z = [s.flagged[f] for f in FAMILIES]
    heat = {
        "type": "heatmap",
        "x": s.t,
        "y": names,
        "z": z,
        "zmin": 0,
        "zmax": 1,
        "colorscale": HEAT,
        "showscale": False,
        "xgap": 0,
        "ygap": 2,
        "hovertemplate": "%{y}: %{z:.0%} of windows flagged<extra></extra>",
    }
    return {
        "data": [heat],
        "layout": _layout(
            f"Checks: share of windows flagged per {bucket}",
            height=190,
            hovermode="closest",
            yaxis={"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)"},
        ),
    }


def _drift(d: DriftMap, bucket: str) -> Figure:
    # Effects past 1 (or a zero-spread reference's 1e308) saturate, so one wild feature
    # does not wash out the others.
    seen = [e for row in d.effect for e in row if e is not None]
    heat = {
        "type": "heatmap",
        "x": d.t,
        "y": d.features,
        "z": d.effect,
        "zmin": 0,
        "zmax": min(1.0, max([0.3, *seen])),
        "colorscale": HEAT,
        "colorbar": {"title": {"text": "effect"}, "thickness": 10},
        "customdata": d.drifted,
        "hovertemplate": "%{y}: effect %{z:.3f}, drift flagged in %{customdata} window(s)"
        "<extra></extra>",
    }
    xs, ys = [], []
    for j, feature in enumerate(d.features):
        for i, count in enumerate(d.drifted[j]):
            if count:
                xs.append(d.t[i])
                ys.append(feature)
    marks = {
        "type": "scatter",
        "mode": "markers",
        "x": xs,
        "y": ys,
        "name": "drift flagged",
        "marker": {
            "symbol": "x-thin",
            "size": 5,
            "line": {"width": 1, "color": "rgba(31, 41, 51, 0.55)"},
        },
        "hoverinfo": "skip",
    }
    height = max(220, 60 + 18 * len(d.features))
    return {
        "data": [heat, marks],
        "layout": _layout(
            f"Feature drift: largest effect size per {bucket} (x: the drift test flagged it)",
            height=height,
            hovermode="closest",
            showlegend=False,
            yaxis={"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)", "type": "category"},
        ),
    }


def _distribution(d: OutputDistribution) -> Figure:
    sampled = (
        f", from {d.windows_read:,} of {d.windows_total:,} windows"
        if d.windows_read < d.windows_total
        else ""
    )
    title = f"Prediction distribution: {d.column}{sampled}"
    if len(d.bins) <= 6:
        data = [
            {
                "type": "scatter",
                "mode": "lines",
                "stackgroup": "one",
                "x": d.t,
                "y": d.shares[j],
                "name": label,
                "line": {"width": 0.5, "color": SERIES[j % len(SERIES)]},
                "hovertemplate": f"{label}: " + "%{y:.1%}<extra></extra>",
            }
            for j, label in enumerate(d.bins)
        ]
        return {
            "data": data,
            "layout": _layout(title, yaxis={"tickformat": ".0%", "range": [0, 1]}),
        }
    heat = {
        "type": "heatmap",
        "x": d.t,
        "y": d.bins,
        "z": d.shares,
        "zmin": 0,
        "colorscale": [[0, "#f5f7fa"], [1, BLUE]],
        "colorbar": {"thickness": 10},
        "hovertemplate": "%{y}: %{z:.1%}<extra></extra>",
    }
    return {
        "data": [heat],
        "layout": _layout(
            title,
            height=320,
            hovermode="closest",
            yaxis={"type": "category", "gridcolor": "rgba(0,0,0,0)"},
        ),
    }


def _performance(p: PerformanceSeries, bucket: str) -> Figure:
    preferred = ["accuracy", "roc_auc", "f1", "mae", "rmse", "r2"]
    names = ([m for m in preferred if m in p.metrics] or list(p.metrics))[:3]
    data, shapes = [], []
    for i, name in enumerate(names):
        color = SERIES[i]
        data.append(
            _line(
                p.t,
                p.metrics[name],
                name,
                color,
                connectgaps=True,
                mode="lines+markers",
                marker={"size": 5},
                customdata=p.labelled,
                hovertemplate=f"{name} " + "%{y:.3f} on %{customdata:,} labels<extra></extra>",
            )
        )
        if name in p.reference:
            shapes.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": p.reference[name],
                    "y1": p.reference[name],
                    "line": {"color": color, "dash": "dot", "width": 1},
                }
            )
    return {
        "data": data,
        "layout": _layout(
            f"Performance on labelled traffic per {bucket} (dotted: the reference)", shapes=shapes
        ),
    }


def _revisions(revisions: list[RevisionView], now: int) -> Figure:
    ordered = sorted(revisions, key=lambda r: r.number)
    x = [r.created_at for r in ordered]
    weights = [r.canary_weight if r.canary else 0.0 for r in ordered]
    text = [
        f"r{r.number}: primary {r.primary}"
        + (f", canary {r.canary} at {r.canary_weight:.0%}" if r.canary else "")
        + (f"<br>{r.reason}" if r.reason else "")
        for r in ordered
    ]
    # The active revision lasts until now: draw its weight up to the present.
    x, weights, text = [*x, max(now, x[-1])], [*weights, weights[-1]], [*text, "now"]
    step = {
        "type": "scatter",
        "mode": "lines+markers",
        "x": x,
        "y": weights,
        "name": "canary weight",
        "line": {"shape": "hv", "color": AMBER, "width": 2},
        "marker": {"size": 8, "color": AMBER},
        "text": text,
        "hovertemplate": "%{text}<extra></extra>",
    }
    switches = [r for prev, r in pairwise(ordered) if r.primary != prev.primary]
    marks = {
        "type": "scatter",
        "mode": "markers",
        "x": [r.created_at for r in switches],
        "y": [1.0] * len(switches),
        "name": "primary changed",
        "marker": {"symbol": "diamond", "size": 11, "color": BLUE},
        "text": [f"r{r.number}: {r.primary} became primary" for r in switches],
        "hovertemplate": "%{text}<extra></extra>",
    }
    return {
        "data": [step, marks],
        "layout": _layout(
            "Revisions: canary weight over time (diamonds: a new primary)",
            height=230,
            hovermode="closest",
            yaxis={"tickformat": ".0%", "range": [-0.05, 1.1]},
        ),
    }


# -- runs ------------------------------------------------------------------------------


def comparison_charts(comparison: RunComparison) -> dict[str, Figure]:
    """One chart per metric: its history in every compared run."""
    names = {r.id: f"{r.name} ({r.id[:8]})" for r in comparison.runs}
    colors = {r.id: SERIES[i % len(SERIES)] for i, r in enumerate(comparison.runs)}
    charts: dict[str, Figure] = {}
    for history in comparison.histories:
        figure = charts.setdefault(
            history.key,
            {
                "data": [],
                "layout": _layout(
                    history.key,
                    height=240,
                    xaxis={"type": "linear", "title": {"text": "step"}},
                    hovermode="closest",
                ),
            },
        )
        figure["data"].append(
            _line(
                history.steps,
                history.values,
                names[history.run_id],
                colors[history.run_id],
                mode="lines+markers",
                marker={"size": 5},
            )
        )
    return charts
