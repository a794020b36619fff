"""Model cards: what a model is, what it was trained on, how good it is and where it fails.

Rendered from an :class:`~headway.evaluate.report.EvaluationReport` (and the gate outcome,
when there is one) as a self-contained HTML page with Plotly charts and as Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from headway.evaluate.fairness import RATES
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
    failed = [b.name for b in report.behaviour if not b.passed]
    if failed:
        notes.append("Failed behavioural tests: " + "; ".join(failed) + ".")
    for column, f in report.fairness.items():
        ratio = f.ratios["selection_rate"]
        if ratio is not None and ratio < 0.8:  # the "four-fifths rule" of US hiring practice
            notes.append(
                f"Selection rates by {column} differ: the smallest is {ratio:.0%} of the "
                "largest (below the four-fifths rule of thumb)."
            )
    if not report.behaviour:
        notes.append("No behavioural tests were run.")
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
    lines += _analysis_markdown(report)
    if outcome is not None:
        lines += ["", f"## Promotion gate: {'blessed' if outcome.blessed else 'not blessed'}", ""]
        lines += [f"- {'pass' if c.passed else 'FAIL'}: {c.reason}" for c in outcome.checks]
    lines += ["", "## Caveats", ""] + [f"- {c}" for c in _caveats(report, outcome)]
    return "\n".join(lines) + "\n"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _analysis_markdown(report: EvaluationReport) -> list[str]:
    """Error analysis, behavioural tests and fairness, for the Markdown card."""
    lines: list[str] = []
    if report.error_analysis:
        lines += [
            "",
            "## Error analysis by tag (sorted by potential improvement)",
            "",
            "| tag | rows | share of data | share of errors | error rate | accuracy "
            "| human accuracy | gap to human | potential |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t.tag} | {t.rows:,} | {t.share_of_data:.3f} | {t.share_of_errors:.3f} "
            f"| {_rate(t.error_rate)} | {_rate(t.accuracy)} | {_rate(t.human_accuracy)} "
            f"| {_rate(t.gap_to_human)} | {t.potential:.4f} |"
            for t in report.error_analysis
        ]
    if report.behaviour:
        lines += [
            "",
            "## Behavioural tests",
            "",
            "| test | result | violating rows | tolerance | example |",
            "|---|---|---|---|---|",
        ]
        for b in report.behaviour:
            example = (
                ""
                if not b.examples
                else f"row {b.examples[0].row}: {b.examples[0].before} -> "
                f"{b.examples[0].after} ({b.examples[0].change})"
            )
            lines.append(
                f"| {b.name} | {'pass' if b.passed else 'FAIL'} | {b.violation_rate:.3f} "
                f"| {b.threshold:.3f} | {example} |"
            )
    for column, f in report.fairness.items():
        lines += [
            "",
            f"## Fairness by {column} (positive label {f.positive_label!r})",
            "",
            "| group | rows | selection rate | true positive rate | false positive rate |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {g.group} | {g.count:,} | {g.selection_rate:.3f} "
            f"| {_rate(g.true_positive_rate)} | {_rate(g.false_positive_rate)} |"
            for g in f.groups
        ]
        lines.append(
            "| largest gap | | "
            + " | ".join(_rate(f.gaps[r]) for r in RATES)
            + " |\n| smallest ratio | | "
            + " | ".join(_rate(f.ratios[r]) for r in RATES)
            + " |"
        )
    return lines


def _errors_chart(report: EvaluationReport) -> str:
    if not report.error_analysis:
        return ""
    rows = report.error_analysis
    fig = go.Figure(go.Bar(x=[t.potential for t in rows], y=[t.tag for t in rows], orientation="h"))
    fig.update_layout(
        title="Potential overall improvement by tag",
        xaxis_title="accuracy gained by closing the tag's gap",
        yaxis_autorange="reversed",
    )
    return _div(fig)


def _fairness_charts(report: EvaluationReport) -> dict[str, str]:
    """One grouped bar chart of the rates per group, for each sensitive column."""
    charts = {}
    for column, f in report.fairness.items():
        fig = go.Figure(
            [
                go.Bar(
                    name=rate.replace("_", " "),
                    x=[str(g.group) for g in f.groups],
                    y=[getattr(g, rate) for g in f.groups],
                )
                for rate in RATES
            ]
        )
        fig.update_layout(barmode="group", title=f"Rates by {column}", yaxis_range=[0, 1])
        charts[column] = _div(fig)
    return charts


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
        errors_chart=_errors_chart(report),
        fairness_charts=_fairness_charts(report),
        caveats=_caveats(report, outcome),
    )
