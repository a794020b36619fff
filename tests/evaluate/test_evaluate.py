"""headway.evaluate end to end: a registered model, baselines, slices, the champion, a run."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import headway
from headway.cli import app
from headway.errors import InvalidArgumentError
from headway.evaluate.report import EvaluationReport
from headway.workspace import Workspace

FEATURES = ["tenure_months", "monthly_charges", "support_calls"]


class FailsOnPremium:
    """Right on most customers, a coin flip on premium ones: fine overall, bad on a slice."""

    def __init__(self, model: LogisticRegression) -> None:
        self.model = model

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        pred = self.model.predict(X[FEATURES])
        flip = (X["plan"] == "premium").to_numpy() & (np.arange(len(X)) % 2 == 0)
        return np.where(flip, 1 - pred, pred)


@pytest.fixture
def models(sqlite_ws: Workspace) -> tuple[str, str]:
    train = headway.make_churn(3000, seed=1)
    plain = LogisticRegression(max_iter=500).fit(train[FEATURES], train["churned"])
    good = headway.register_model("churn", plain, input_example=train[FEATURES].head())
    headway.set_alias("churn", "champion", good.version, force=True)
    bad = headway.register_model("churn", FailsOnPremium(plain))
    return good.uri, bad.uri


def test_a_model_fine_overall_but_failing_on_a_slice_is_exposed(models: tuple[str, str]) -> None:
    good, _ = models
    data = headway.make_churn(4000, seed=2)
    report = headway.evaluate(good, data, label="churned", slices=["plan"], n_bootstrap=50)
    assert report.task == "binary" and report.rows == 4000
    acc = report.overall["accuracy"]
    assert acc.low is not None and acc.low <= acc.value <= acc.high
    assert report.lift["zero_rule"]["roc_auc"] > 0.1
    assert {s.name for s in report.slices} == {"plan=basic", "plan=standard", "plan=premium"}
    assert report.latency_p99_ms is not None and report.size_bytes
    assert EvaluationReport.from_json(report.to_json()) == report

    wrapped = FailsOnPremium(LogisticRegression(max_iter=500).fit(data[FEATURES], data["churned"]))
    worse = headway.evaluate(wrapped, data, label="churned", slices=["plan"], n_bootstrap=50)
    premium = worse.metric("accuracy", "plan=premium")
    assert premium < worse.metric("accuracy") - 0.15
    assert worse.findings[0].name.startswith("plan=premium")


def test_champion_comparison_is_paired_and_per_slice(models: tuple[str, str]) -> None:
    good, _ = models
    data = headway.make_churn(3000, seed=3)
    same = headway.evaluate(
        good,
        data,
        label="churned",
        slices=["plan"],
        champion="models:/churn@champion",
        n_bootstrap=50,
    )
    assert same.champion is not None
    assert same.champion.champion == good
    assert same.champion.differences["overall"]["roc_auc"].diff == 0.0
    assert set(same.champion.differences) == {
        "overall",
        "plan=basic",
        "plan=standard",
        "plan=premium",
    }


def test_human_and_heuristic_baselines(models: tuple[str, str]) -> None:
    good, _ = models
    data = headway.make_churn(2000, seed=4)
    rng = np.random.default_rng(0)
    data["annotator"] = np.where(rng.random(2000) < 0.05, 1 - data["churned"], data["churned"])
    report = headway.evaluate(
        good,
        data,
        label="churned",
        baselines={
            "human": "annotator",
            "heuristic": lambda df: (df["support_calls"] > 3).astype(int),
        },
        n_bootstrap=20,
    )
    assert {"random", "zero_rule", "human", "heuristic"} <= set(report.baselines)
    assert report.lift["human"]["accuracy"] < 0  # the annotator beats the model
    with pytest.raises(InvalidArgumentError, match="unknown baseline kind"):
        headway.evaluate(good, data, label="churned", baselines={"oracle": "annotator"})


def test_tags_slice_the_data_and_rank_the_error_analysis(models: tuple[str, str]) -> None:
    bad = FailsOnPremium(headway.load_model(models[0]).native)
    data = headway.make_churn(3000, seed=8)
    rng = np.random.default_rng(1)
    data["annotator"] = np.where(rng.random(3000) < 0.03, 1 - data["churned"], data["churned"])
    data["premium_customer"] = data["plan"] == "premium"  # a tag column, not a feature
    report = headway.evaluate(
        bad,
        data,
        label="churned",
        tags={
            "premium_customer": "premium_customer",
            "long_tenure": lambda df: df.tenure_months > 36,
        },
        baselines={"human": "annotator"},
        n_bootstrap=20,
    )
    assert {"tag=premium_customer", "tag=long_tenure"} <= {s.name for s in report.slices}
    first = report.error_analysis[0]
    assert first.tag == "premium_customer" and first.potential_basis == "gap_to_human"
    assert first.human_accuracy is not None and first.gap_to_human is not None
    assert first.gap_to_human > 0.2 and first.potential > report.error_analysis[1].potential
    assert EvaluationReport.from_json(report.to_json()) == report


def test_behavioural_tests_and_fairness_are_in_the_report(models: tuple[str, str]) -> None:
    good = models[0]
    bad = FailsOnPremium(headway.load_model(good).native)
    data = headway.make_churn(2000, seed=9)
    tests = [
        {"kind": "invariance", "column": "plan", "values": ["basic", "premium"]},
        {"kind": "directional", "column": "support_calls", "delta": 2.0},
        {"kind": "perturbation", "columns": ["monthly_charges"], "noise": 0.01},
    ]
    fine = headway.evaluate(
        good, data, label="churned", behaviour=tests[1:], sensitive="plan", n_bootstrap=20
    )
    assert [b.passed for b in fine.behaviour] == [True, True]
    assert {g.group for g in fine.fairness["plan"].groups} == {"basic", "standard", "premium"}
    flips = headway.evaluate(bad, data, label="churned", behaviour=tests[:1], n_bootstrap=20)
    (invariant,) = flips.behaviour
    assert not invariant.passed and invariant.violation_rate > 0.1 and invariant.examples
    assert EvaluationReport.from_json(fine.to_json()) == fine
    with pytest.raises(InvalidArgumentError, match="needs a 'kind'"):
        headway.evaluate(good, data, label="churned", behaviour=[{"column": "plan"}])


def test_inside_a_run_the_report_is_stored(models: tuple[str, str]) -> None:
    good, _ = models
    with headway.start_run("evaluation") as run:
        headway.evaluate(
            good, headway.make_churn(1000, seed=5), label="churned", n_bootstrap=20, name="holdout"
        )
    assert "evaluation/holdout.json" in {a.path for a in headway.list_run_artifacts(run.id)}
    assert "holdout.roc_auc" in headway.get_run(run.id).metrics


def test_bad_input_is_explained(models: tuple[str, str]) -> None:
    with pytest.raises(InvalidArgumentError, match="label column 'nope'"):
        headway.evaluate(models[0], headway.make_churn(100), label="nope")
    with pytest.raises(InvalidArgumentError, match="cannot evaluate"):
        headway.evaluate(object(), headway.make_churn(100), label="churned")


def test_the_cli_prints_metrics_slices_and_champion(
    models: tuple[str, str], tmp_path: Path
) -> None:
    headway.make_churn(2000, seed=6).to_parquet(tmp_path / "holdout.parquet")
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            models[0],
            str(tmp_path / "holdout.parquet"),
            "--label",
            "churned",
            "--slice",
            "plan",
            "--champion",
            "--resamples",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "roc_auc" in result.output and "plan=premium" in result.output
    assert "against the champion models:/churn/1" in result.output
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            models[0],
            str(tmp_path / "holdout.parquet"),
            "--label",
            "churned",
            "--json",
            "--resamples",
            "10",
        ],
    )
    assert result.exit_code == 0 and '"task": "binary"' in result.output


POLICY = """
[thresholds]
roc_auc = 0.7
[min_lift.zero_rule]
roc_auc = 0.1
[max_regression]
roc_auc = 0.02
"""


def test_gate_outcome_is_stored_and_guards_the_champion(
    models: tuple[str, str], tmp_path: Path
) -> None:
    from headway.errors import PromotionRefusedError

    good, _ = models
    data = headway.make_churn(3000, seed=7)
    candidate = headway.register_model(
        "churn", headway.load_model(good).native, input_example=data[FEATURES].head()
    )
    with pytest.raises(PromotionRefusedError, match="never gated"):
        headway.set_alias("churn", "champion", candidate.version)

    report = headway.evaluate(
        candidate.uri, data, label="churned", champion="models:/churn@champion", n_bootstrap=100
    )
    (tmp_path / "gate.toml").write_text(POLICY)
    outcome = headway.gate(report, tmp_path / "gate.toml")
    assert outcome.blessed, [c.reason for c in outcome.checks]
    assert headway.get_model_version(candidate.uri).tags["gate.blessed"] == "true"
    assert headway.gate_outcome(candidate.uri) == outcome
    assert headway.set_alias("churn", "champion", candidate.version) == 1

    strict = headway.gate(report, "[thresholds]\nroc_auc = 0.99\n")
    assert not strict.blessed and "0.99" in strict.failures[0].reason
    with pytest.raises(PromotionRefusedError, match="did not bless it: roc_auc"):
        headway.set_alias("churn", "champion", candidate.version)
    headway.set_alias("churn", "champion", candidate.version, force=True, reason="hotfix")
    last = headway.alias_history("churn", "champion")[-1]
    assert last.reason is not None and last.reason.startswith("FORCED past the gate")
    assert last.reason.endswith(": hotfix")


def test_model_card_is_rendered_stored_and_written_by_the_cli(
    models: tuple[str, str], tmp_path: Path
) -> None:
    good, _ = models
    with pytest.raises(InvalidArgumentError, match="has not been evaluated"):
        headway.model_card(good)
    data = headway.make_churn(2000, seed=8)
    data["premium_customer"] = data["plan"] == "premium"
    report = headway.evaluate(
        good,
        data,
        label="churned",
        slices=["plan"],
        tags=["premium_customer"],
        behaviour=[{"kind": "invariance", "column": "region", "values": ["north", "south"]}],
        sensitive="region",
        n_bootstrap=30,
    )
    headway.gate(report, "[thresholds]\nroc_auc = 0.6\n")
    card = headway.model_card(good)
    assert "## Metrics" in card.markdown and "plan=premium" in card.markdown
    assert "## Error analysis by tag" in card.markdown and "| premium_customer |" in card.markdown
    assert "| invariance: region in ['north', 'south'] | pass |" in card.markdown
    assert "## Fairness by region" in card.markdown
    assert "Potential overall improvement" in card.html and "Rates by region" in card.html
    assert "Promotion gate: blessed" in card.markdown
    assert "<script src=" not in card.html and "Calibration" in card.html
    files = {f.path for f in headway.get_model_version(good).files}
    assert {
        "card/model-card.md",
        "card/model-card.html",
        "evaluation/report.json",
        "gate/outcome.json",
    } <= files
    headway.load_model(good)  # attachments are not fetched as part of the package

    runner = CliRunner()
    result = runner.invoke(app, ["models", "card", "churn/1", "-o", str(tmp_path / "cards")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cards" / "churn-v1-card.md").read_text().startswith("# Model card")
    data.to_parquet(tmp_path / "holdout.parquet")
    result = runner.invoke(
        app,
        [
            "evaluate",
            good,
            str(tmp_path / "holdout.parquet"),
            "--label",
            "churned",
            "--resamples",
            "10",
            "--tag",
            "premium_customer",
            "--sensitive",
            "region",
            "--invariant",
            "region",
            "--increases",
            "support_calls",
            "--noise",
            "monthly_charges",
            "--html",
            str(tmp_path / "card.html"),
        ],
    )
    assert result.exit_code == 0, result.output
    for title in ("error analysis by tag", "behavioural tests", "fairness by region"):
        assert title in result.output
    assert "directional: support_calls" in result.output
    assert "Model card: models:/churn/1" in (tmp_path / "card.html").read_text()
