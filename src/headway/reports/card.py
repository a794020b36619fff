"""Model cards: what a model is, what it was trained on, how good it is and where it fails.

Rendered from an :class:`~headway.evaluate.report.EvaluationReport` (and the gate outcome,
when there is one) as a self-contained HTML page with Plotly charts and as Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from headway.evaluate.gates import GateOutcome
from headway.evaluate.report import EvaluationReport
from headway.reports.render import _div, _page

__all__ = ["card_html", "card_markdown"]


def _caveats(report: EvaluationReport, outcome: GateOutcome | None) -> list[str]:
    notes = [
        f"Evaluated on {report.rows:,} rows; intervals are 95% percentile bootstrap "
        f"intervals ({report.overall.n_bootstrap} resamples)."
    ]
    if report.findings:
        worst = report.findings[0]
        notes.append(
            f"Weakest slice found: {worst.name} ({worst.rows:,} rows, error rate "
            f"{worst.error_rate:.3f} vs {worst.rest_error_rate:.3f} elsewhere)."
        )
    if outcome is not None and not outcome.blessed:
        notes.append(
            "Not blessed by its promotion gate: " + "; ".join(c.reason for c in outcome.failures)
        )
    if report.champion is None:
        notes.append("Not compared with a champion.")
    return notes


def card_markdown(
    report: EvaluationReport,
    details: Sequence[tuple[str, str]] = (),
    lineage: Sequence[str] = (),
    outcome: GateOutcome | None = None,
) -> str:
    """The model card as Markdown, for a repository or a review."""
    lines = [f"# Model card: {report.model}", "", "## Model details", ""]
    lines += [f"- **{k}**: {v}" for k, v in details] or ["- (none recorded)"]
    lines += ["", "## Training data and lineage", ""]
    lines += [f"- {line}" for line in lineage] or ["- no lineage recorded"]
    lines += [
        "",
        f"## Metrics ({report.rows:,} rows, 95% intervals)",
        "",
        "| metric | value | interval | lift vs zero-rule |",
        "|---|---|---|---|",
    ]
    for name, m in report.overall.metrics.items():
        interval = "" if m.low is None else f"[{m.low:.3f}, {m.high:.3f}]"
        lift = report.lift.get("zero_rule", {}).get(name)
        lines.append(
            f"| {name} | {m.value:.4g} | {interval} | {'' if lift is None else f'{lift:+.3f}'} |"
        )
    if report.slices:
        key = next(iter(report.overall.metrics))
        lines += [
            "",
            f"## Slices ({key})",
            "",
            "| slice | rows | value | interval |",
            "|---|---|---|---|",
        ]
        for s in report.slices:
            m = s.report[key]
            interval = "" if m.low is None else f"[{m.low:.3f}, {m.high:.3f}]"
            lines.append(f"| {s.name} | {s.rows:,} | {m.value:.4g} | {interval} |")
    if report.findings:
        lines += [
            "",
            "## Slices significantly worse than the whole",
            "",
            "| slice | rows | error rate | rest |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {f.name} | {f.rows:,} | {f.error_rate:.3f} | {f.rest_error_rate:.3f} |"
            for f in report.findings
        ]
    if outcome is not None:
        lines += ["", f"## Promotion gate: {'blessed' if outcome.blessed else 'not blessed'}", ""]
        lines += [f"- {'pass' if c.passed else 'FAIL'}: {c.reason}" for c in outcome.checks]
    lines += ["", "## Caveats", ""] + [f"- {c}" for c in _caveats(report, outcome)]
    return "\n".join(lines) + "\n"


def card_html(
    report: EvaluationReport,
    details: Sequence[tuple[str, str]] = (),
    lineage: Sequence[str] = (),
    outcome: GateOutcome | None = None,
) -> str:
    """The model card as one self-contained HTML page (opens without internet)."""
    metrics = [(n, m) for n, m in report.overall.metrics.items() if m.low is not None]
    chart = go.Figure(
        go.Scatter(
            x=[m.value for _, m in metrics],
            y=[n for n, _ in metrics],
            mode="markers",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [(m.high or m.value) - m.value for _, m in metrics],
                "arrayminus": [m.value - (m.low or m.value) for _, m in metrics],
            },
        )
    )
    chart.update_layout(title="Metrics with 95% intervals")
    calibration = ""
    if report.overall.calibration_curve:
        rows = [r for r in report.overall.calibration_curve if r["mean_predicted"] is not None]
        fig = go.Figure(
            go.Scatter(
                x=[r["mean_predicted"] for r in rows],
                y=[r["fraction_positive"] for r in rows],
                mode="lines+markers",
                name="model",
            )
        )
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dash"})
        fig.update_layout(
            title="Calibration",
            xaxis_title="mean predicted probability",
            yaxis_title="fraction positive",
        )
        calibration = _div(fig)
    slices_chart = ""
    if report.slices:
        key = next(iter(report.overall.metrics))
        ms = [(s.name, s.report[key]) for s in report.slices]
        fig = go.Figure(
            go.Bar(
                x=[n for n, _ in ms],
                y=[m.value for _, m in ms],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [(m.high or m.value) - m.value for _, m in ms],
                    "arrayminus": [m.value - (m.low or m.value) for _, m in ms],
                },
            )
        )
        fig.add_hline(y=report.overall[key].value, line_dash="dash", annotation_text="overall")
        fig.update_layout(title=f"{key} by slice, with 95% intervals")
        slices_chart = _div(fig)
    return _page(
        "card.html.j2",
        f"Model card: {report.model}",
        report=report,
        details=list(details),
        lineage=list(lineage),
        outcome=outcome,
        metrics_chart=_div(chart),
        calibration_chart=calibration,
        slices_chart=slices_chart,
        caveats=_caveats(report, outcome),
    )
