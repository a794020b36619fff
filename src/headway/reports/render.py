"""Render data-engine results as self-contained HTML pages with Plotly charts."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from itertools import pairwise
from typing import Any

import numpy as np
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from plotly.offline import get_plotlyjs

from headway.data.drift import DriftReport
from headway.data.profile import ColumnProfile, Profile

__all__ = ["bin_shares", "render_drift", "render_profile", "render_validation"]

REFERENCE, CURRENT = "#52606d", "#d64545"
STATUS_COLOURS = {
    "drift": "#d64545",
    "significant_below_threshold": "#e8a33d",
    "no_drift": "#3f9142",
}


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("headway.reports", "templates"),
        autoescape=select_autoescape(["j2", "html"]),
    )


def _page(template: str, title: str, **context: Any) -> str:
    subtitle = f"Headway report, {datetime.now().strftime('%Y-%m-%d %H:%M')}"
    return (
        _env()
        .get_template(template)
        .render(title=title, subtitle=subtitle, plotly_js=get_plotlyjs(), **context)
    )


def _div(fig: go.Figure) -> str:
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 40, "b": 40}, height=300, template="plotly_white"
    )
    return str(
        fig.to_html(full_html=False, include_plotlyjs=False, config={"displayModeBar": False})
    )


def bin_shares(col: ColumnProfile) -> tuple[list[str], np.ndarray]:
    """Bin labels and shares of a column's histogram."""
    counts = col.histogram.array.astype(np.float64)
    shares = counts / counts.sum() if counts.sum() else counts
    if col.histogram.categories is not None:
        return [*col.histogram.categories, "other"], shares
    edges = col.histogram.edges or ()
    labels = [f"< {edges[0]:.4g}"] + [f"{a:.4g} to {b:.4g}" for a, b in pairwise(edges)]
    return [*labels, f">= {edges[-1]:.4g}"] if edges else labels, shares


def _overlay(name: str, ref: ColumnProfile, cur: ColumnProfile | None) -> str:
    labels, ref_shares = bin_shares(ref)
    fig = go.Figure(
        go.Bar(x=labels, y=ref_shares, name="reference", marker_color=REFERENCE, opacity=0.7)
    )
    if cur is not None:
        fig.add_bar(
            x=labels, y=bin_shares(cur)[1], name="current", marker_color=CURRENT, opacity=0.7
        )
    fig.update_layout(
        title=name,
        barmode="overlay",
        yaxis_title="share",
        showlegend=True,
        legend={"orientation": "h", "y": -0.3},
    )
    return _div(fig)


def render_drift(
    report: DriftReport, reference: Profile, current: Profile, title: str = "Drift report"
) -> str:
    """Drift scores per feature, then reference vs current distributions side by side."""
    features = report.features
    ratios = [f.effect_size / f.threshold if f.threshold else 0.0 for f in features]
    cap = 5.0  # one wild feature must not flatten the rest
    scores = go.Figure(
        go.Bar(
            x=[f.feature for f in features],
            y=[min(r, cap) for r in ratios],
            text=[f"{r:.2g}" for r in ratios],
            textposition="outside",
            marker_color=[STATUS_COLOURS[f.status] for f in features],
            hovertext=[f.reason for f in features],
        )
    )
    scores.add_hline(y=1.0, line_dash="dash", annotation_text="effect threshold")
    scores.update_layout(
        title=f"Effect size relative to its threshold (bars capped at {cap:g})",
        yaxis_title="effect / threshold",
        yaxis_range=[0, cap * 1.15],
    )
    order = sorted(features, key=lambda f: -(f.effect_size / f.threshold if f.threshold else 0))
    charts = [
        _overlay(
            f"{f.feature} ({f.status.replace('_', ' ')})",
            reference.columns[f.feature],
            current.columns.get(f.feature),
        )
        for f in order
        if f.feature in reference.columns
    ]
    return _page("drift.html.j2", title, report=report, scores=_div(scores), charts=charts)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def render_profile(profile: Profile, title: str = "Data profile") -> str:
    rows = []
    for c in profile.columns.values():
        m, q = c.moments, c.quantiles or {}
        numeric = c.kind in ("numeric", "datetime")
        rows.append(
            {
                "name": c.name,
                "kind": c.kind,
                "missing": c.missing,
                "distinct": c.distinct,
                "mean": _fmt(m.mean) if m and m.count else "",
                "std": _fmt(c.std),
                "min": c.display(m.min) if m and numeric else "",
                "p50": _fmt(q.get("p50")),
                "max": c.display(m.max) if m and numeric else "",
                "top": ", ".join(f"{v} ({n})" for v, n in c.top_values[:3]),
            }
        )
    charts = [_overlay(name, col, None) for name, col in profile.columns.items()]
    return _page("profile.html.j2", title, profile=profile, rows=rows, charts=charts)


def render_validation(report: Any, title: str = "Validation report") -> str:
    """Anomalies by kind and severity, then the table with examples and fixes."""
    kinds: dict[str, int] = {}
    for a in report.anomalies:
        kinds[a.kind] = kinds.get(a.kind, 0) + 1
    fig = go.Figure(go.Bar(x=list(kinds), y=list(kinds.values()), marker_color=CURRENT))
    fig.update_layout(title="Anomalies by kind", yaxis_title="anomalies")
    return _page("validation.html.j2", title, report=report, chart=_div(fig) if kinds else "")
