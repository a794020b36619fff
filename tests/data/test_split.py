import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headway.data.split import STRATEGIES, SplitReport, SplitResult, split
from headway.data.synthetic import make_churn
from headway.errors import InvalidArgumentError

N = 2000


def churn(n: int = N, seed: int = 0) -> pd.DataFrame:
    """make_churn plus a signup time and a household (about five customers each)."""
    df = make_churn(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    df["signup"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        rng.integers(0, 365 * 24, n), unit="h"
    )
    df["household"] = rng.integers(0, n // 5, n)
    return df


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return churn()


def assert_partition(result: SplitResult, table: pd.DataFrame) -> None:
    indexes = [part.index for part in result.splits.values()]
    combined = np.concatenate([index.to_numpy() for index in indexes])
    assert len(combined) == len(table), "splits do not add up to the table"
    assert len(np.unique(combined)) == len(combined), "a row is in two splits"
    assert set(combined) == set(table.index)
    for name, part in result.splits.items():
        pd.testing.assert_frame_equal(part, table.loc[part.index], obj=name)


STRATEGY_ARGS = {
    "random": {},
    "stratified": {"label": "churned"},
    "time": {"time_column": "signup"},
    "group": {"group_column": "household"},
}


@pytest.mark.parametrize("strategy", list(STRATEGY_ARGS))
def test_each_strategy_partitions_the_table_into_train_validation_and_test(
    df: pd.DataFrame, strategy: str
) -> None:
    result = split(df, strategy, validation_size=0.1, **STRATEGY_ARGS[strategy])
    assert list(result.splits) == ["train", "validation", "test"]
    assert_partition(result, df)
    assert result.report.strategy == strategy
    assert result.report.sizes == {name: len(part) for name, part in result.splits.items()}
    sizes = result.report.sizes
    if strategy == "group":  # shares of groups, so row counts are only close
        assert abs(sizes["test"] - 0.2 * N) < 0.05 * N
        assert abs(sizes["validation"] - 0.1 * N) < 0.05 * N
    else:
        assert sizes == {"train": 1400, "validation": 200, "test": 400}


def test_no_validation_split_unless_asked_for(df: pd.DataFrame) -> None:
    result = split(df, test_size=0.25)
    assert list(result.splits) == ["train", "test"]
    assert result.report.sizes == {"train": 1500, "test": 500}


def test_the_same_seed_gives_the_same_split_and_another_seed_another(df: pd.DataFrame) -> None:
    first, again, other = split(df, seed=3), split(df, seed=3), split(df, seed=4)
    assert first.splits["test"].index.equals(again.splits["test"].index)
    assert not first.splits["test"].index.equals(other.splits["test"].index)


def test_stratified_split_keeps_label_shares_within_one_point() -> None:
    table = make_churn(3000, seed=2)
    # A three-class label with a rare class, where a random split would drift furthest.
    table["tier"] = np.where(table["monthly_charges"] > 100, "high", "low")
    table.loc[table["tenure_months"] > 40, "tier"] = "loyal"
    overall = table["tier"].value_counts(normalize=True)
    result = split(table, "stratified", label="tier", validation_size=0.15, seed=5)
    for name, part in result.splits.items():
        shares = part["tier"].value_counts(normalize=True)
        assert (shares - overall).abs().max() < 0.01, name
    reported = {stats.name: stats.label_shares for stats in result.report.splits}
    assert reported["test"] == pytest.approx(
        result.splits["test"]["tier"].value_counts(normalize=True).to_dict()
    )
    assert result.report.label_kind == "classes"


def test_group_split_keeps_every_group_in_one_split_and_the_report_says_so(
    df: pd.DataFrame,
) -> None:
    result = split(df, "group", group_column="household", validation_size=0.1)
    groups = [set(part["household"]) for part in result.splits.values()]
    assert not groups[0] & groups[1] and not groups[0] & groups[2] and not groups[1] & groups[2]
    check = result.report.check("group_overlap")
    assert check.passed and check.count == 0


def test_random_split_of_grouped_data_reports_group_overlap(df: pd.DataFrame) -> None:
    check = split(df, group_column="household").report.check("group_overlap")
    train, test = (set(split(df).splits[name]["household"]) for name in ("train", "test"))
    assert not check.passed
    assert check.count == len(train & test)
    assert "strategy='group'" in check.detail


def test_time_split_trains_before_the_cutoff_and_tests_from_it(df: pd.DataFrame) -> None:
    cutoff = pd.Timestamp("2024-10-01")
    result = split(df, "time", time_column="signup", cutoff=cutoff)
    assert (result.splits["train"]["signup"] < cutoff).all()
    assert (result.splits["test"]["signup"] >= cutoff).all()
    assert result.report.sizes["test"] == int((df["signup"] >= cutoff).sum())
    assert result.report.check("time_overlap").passed
    assert_partition(result, df)


def test_time_split_accepts_a_date_string_cutoff(df: pd.DataFrame) -> None:
    by_string = split(df, "time", time_column="signup", cutoff="2024-10-01")
    by_stamp = split(df, "time", time_column="signup", cutoff=pd.Timestamp("2024-10-01"))
    assert by_string.report.sizes == by_stamp.report.sizes


def test_time_split_without_cutoff_tests_on_the_latest_rows(df: pd.DataFrame) -> None:
    result = split(df, "time", time_column="signup", test_size=0.25, validation_size=0.1)
    train, validation, test = (result.splits[name]["signup"] for name in result.splits)
    assert len(test) == 500 and len(validation) == 200
    assert train.max() <= validation.min() and validation.max() <= test.min()
    assert train.is_monotonic_increasing
    assert result.report.check("time_overlap").passed


def test_random_split_of_time_data_reports_time_overlap(df: pd.DataFrame) -> None:
    result = split(df, time_column="signup")
    check = result.report.check("time_overlap")
    latest_train = result.splits["train"]["signup"].max()
    assert not check.passed and not result.report.ok
    assert check.count == int((result.splits["test"]["signup"] < latest_train).sum())
    assert "strategy='time'" in check.detail


def test_rolling_split_gives_n_splits_expanding_folds(df: pd.DataFrame) -> None:
    result = split(df, "rolling", time_column="signup", n_splits=4)
    names = [f"fold{i}/{part}" for i in range(4) for part in ("train", "test")]
    assert list(result.splits) == names
    trains = [result.splits[f"fold{i}/train"] for i in range(4)]
    tests = [result.splits[f"fold{i}/test"] for i in range(4)]
    assert [len(train) for train in trains] == [400, 800, 1200, 1600]
    assert [len(test) for test in tests] == [400] * 4
    for i in range(4):
        assert trains[i]["signup"].max() <= tests[i]["signup"].min()
        assert not set(trains[i].index) & set(tests[i].index)
        if i:  # each window grows by the previous fold's test rows
            grown = set(trains[i - 1].index) | set(tests[i - 1].index)
            assert set(trains[i].index) == grown
    assert result.report.check("time_overlap").passed
    assert result.report.ok


def test_duplicate_rows_shared_across_splits_are_detected(df: pd.DataFrame) -> None:
    doubled = pd.concat([df.head(500), df.head(500)], ignore_index=True)
    result = split(doubled, seed=1)
    check = result.report.check("duplicate_rows")
    train_rows = set(map(tuple, result.splits["train"].itertuples(index=False)))
    shared = sum(row in train_rows for row in result.splits["test"].itertuples(index=False))
    assert not check.passed and not result.report.ok
    assert check.count == shared > 0
    assert "drop_duplicates" in check.detail


def test_a_table_without_duplicates_passes_the_duplicate_check(df: pd.DataFrame) -> None:
    check = split(df, validation_size=0.1).report.check("duplicate_rows")
    assert check.passed and check.count == 0


def test_a_feature_equal_to_the_label_is_flagged_as_leakage(df: pd.DataFrame) -> None:
    noise = np.random.default_rng(0).normal(0, 1e-3, len(df))
    leaky = df.assign(refund_amount=df["churned"] + noise)
    check = split(leaky, "stratified", label="churned").report.check("label_leakage")
    assert not check.passed and check.count == 1
    assert "refund_amount" in check.detail and "churned" in check.detail


def test_make_churn_features_are_not_flagged_as_leakage(df: pd.DataFrame) -> None:
    result = split(df, "stratified", label="churned")
    assert result.report.check("label_leakage").passed
    assert result.report.ok


def test_a_categorical_copy_of_the_label_is_flagged_but_an_id_column_is_not(
    df: pd.DataFrame,
) -> None:
    table = df.assign(
        status=np.where(df["churned"] == 1, "cancelled", "active"),
        account=[f"acct-{i}" for i in range(len(df))],
    )
    check = split(table, label="churned").report.check("label_leakage")
    assert check.count == 1
    assert "status" in check.detail and "account" not in check.detail


def test_a_feature_missing_exactly_for_one_class_is_flagged(df: pd.DataFrame) -> None:
    days_to_cancel = np.where(df["churned"] == 1, df["tenure_months"] * 30.0, np.nan)
    check = split(df.assign(days_to_cancel=days_to_cancel), label="churned").report.check(
        "label_leakage"
    )
    assert not check.passed and "days_to_cancel" in check.detail


def test_continuous_label_reports_mean_and_std_and_flags_a_scaled_copy(df: pd.DataFrame) -> None:
    noise = np.random.default_rng(1).normal(0, 0.1, len(df))
    table = df.assign(charges_in_cents=df["monthly_charges"] * 100 + noise)
    report = split(table, label="monthly_charges").report
    assert report.label_kind == "continuous"
    train = next(stats for stats in report.splits if stats.name == "train")
    assert train.label_shares == {}
    assert train.label_mean == pytest.approx(65, abs=3)
    assert train.label_std == pytest.approx(20, abs=3)
    check = report.check("label_leakage")
    assert not check.passed and "charges_in_cents" in check.detail and "Pearson" in check.detail
    assert split(df, label="monthly_charges").report.check("label_leakage").passed


def test_report_round_trips_through_json_and_holds_no_tables(df: pd.DataFrame) -> None:
    report = split(
        df, "time", label="churned", time_column="signup", group_column="household"
    ).report
    data = json.loads(json.dumps(report.to_dict()))
    assert SplitReport.from_dict(data) == report
    assert data["ok"] is report.ok is False  # households span the time cut
    assert [check["name"] for check in data["checks"]] == [
        "duplicate_rows",
        "group_overlap",
        "time_overlap",
        "label_leakage",
    ]


@pytest.mark.parametrize("convert", [pl.from_pandas, pa.Table.from_pandas])
def test_polars_and_pyarrow_tables_split_like_pandas(df: pd.DataFrame, convert: object) -> None:
    table = convert(df.head(300))  # type: ignore[operator]
    result = split(table, "stratified", label="churned")
    assert result.report.sizes == {"train": 240, "test": 60}
    assert all(isinstance(part, pd.DataFrame) for part in result.splits.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "kfold"}, "use one of random, stratified, time, rolling, group"),
        ({"strategy": "stratified", "label": "churn"}, "label='churn' is not a column"),
        ({"strategy": "stratified"}, "strategy 'stratified' needs label="),
        ({"strategy": "time"}, "needs time_column="),
        ({"strategy": "group"}, "needs group_column="),
        ({"strategy": "group", "group_column": "family"}, "available columns: customer_id"),
        ({"test_size": 0.0}, "test_size must be between 0 and 1"),
        ({"test_size": 1.0}, "test_size must be between 0 and 1"),
        ({"test_size": 0.6, "validation_size": 0.4}, "leave rows for train"),
        ({"strategy": "random", "cutoff": "2024-06-01"}, "cutoff applies to strategy 'time'"),
        (
            {"strategy": "time", "time_column": "signup", "cutoff": "2030-01-01"},
            "pick a cutoff inside that range",
        ),
        ({"strategy": "rolling", "time_column": "signup", "n_splits": 1}, "at least 2"),
        ({"leakage_threshold": 0.3}, "leakage_threshold"),
    ],
)
def test_bad_arguments_raise_clear_errors(
    df: pd.DataFrame, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message.replace("(", r"\(")):
        split(df, **kwargs)  # type: ignore[arg-type]


def test_missing_column_error_names_the_column_and_lists_the_available_ones(
    df: pd.DataFrame,
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        split(df, "time", time_column="created_at")
    assert "'created_at'" in str(info.value)
    assert all(column in str(info.value) for column in df.columns)


def test_too_few_rows_for_the_split_is_a_clear_error(df: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgumentError, match="too small"):
        split(df.head(1))
    with pytest.raises(InvalidArgumentError, match="too small"):
        split(df.head(2), validation_size=0.2)
    with pytest.raises(InvalidArgumentError, match="too small for 3 rolling folds"):
        split(df.head(3), "rolling", time_column="signup")
    with pytest.raises(InvalidArgumentError, match="too few for"):
        split(df.head(3).assign(household=1), "group", group_column="household")


def test_a_label_class_too_small_to_stratify_is_a_clear_error(df: pd.DataFrame) -> None:
    table = df.assign(plan=df["plan"].where(df.index > 0, "enterprise"))
    with pytest.raises(
        InvalidArgumentError, match="class 'enterprise' of label 'plan' has only 1 of"
    ):
        split(table, "stratified", label="plan")


def test_a_split_too_small_to_hold_every_class_is_a_clear_error(df: pd.DataFrame) -> None:
    table = df.head(12).assign(region=["north", "south", "east", "west"] * 3)
    with pytest.raises(InvalidArgumentError, match="test split would hold 3 rows, fewer than"):
        split(table, "stratified", label="region", test_size=0.2)


def test_every_strategy_is_covered() -> None:
    assert set(STRATEGIES) == {*STRATEGY_ARGS, "rolling"}


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(20, 150),
    strategy=st.sampled_from(list(STRATEGY_ARGS)),
    test_size=st.floats(0.1, 0.5),
    validation_size=st.sampled_from([0.0, 0.1, 0.2]),
    seed=st.integers(0, 2**16),
)
def test_splits_are_disjoint_and_add_up_to_the_table(
    n: int, strategy: str, test_size: float, validation_size: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "churned": np.arange(n) % 2,
            "signup": rng.integers(0, 1000, n),
            "household": rng.integers(0, n // 2, n),
        }
    )
    result = split(
        table,
        strategy,
        test_size=test_size,
        validation_size=validation_size,
        seed=seed,
        **STRATEGY_ARGS[strategy],
    )
    assert_partition(result, table)
    assert sum(result.report.sizes.values()) == n
    assert ("validation" in result.splits) == (validation_size > 0)
