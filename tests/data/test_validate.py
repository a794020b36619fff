"""Validation: silent on fresh samples of the same data, loud on each kind of real breakage."""

import json
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sklearn.datasets import load_diabetes, load_iris, load_wine

from headway.data import expectations as expect
from headway.data import make_churn, profile
from headway.data.expectations import Anomaly
from headway.data.schema import ColumnSchema, RowRange, Schema, infer_schema
from headway.data.validate import ValidationReport, validate
from headway.errors import InvalidArgumentError

WORDS = np.array([c + v + c for c in "bdfgklmnprst" for v in "aeiou"])  # 60 syllables
DOMAINS = np.array(["example.com", "mail.org", "corp.net", "shop.io"])


def make_orders(n: int, seed: int) -> pd.DataFrame:
    """Orders: an id with a format, start <= end timestamps, emails, free text, nulls."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86_400, n), "s")
    end = start + pd.to_timedelta(rng.exponential(3 * 86_400, n).round(), "s")
    first = int(rng.integers(0, 10**8 - n))
    words = pd.Series(WORDS[rng.integers(0, len(WORDS), (3, n))].T.tolist()).str.join(" ")
    words[rng.random(n) < 0.3] = None
    user = pd.Series(WORDS[rng.integers(0, len(WORDS), n)])
    number = pd.Series(rng.integers(1, 10_000, n)).astype(str)
    channel = np.array(["web", "app", "store", "phone"], dtype=object)[
        rng.choice(4, n, p=[0.5, 0.3, 0.15, 0.05])
    ]
    channel[rng.random(n) < 0.05] = None
    gift = (rng.random(n) < 0.2).astype(object)
    gift[rng.random(n) < 0.1] = None
    discount = rng.uniform(0, 0.3, n).round(3)
    discount[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "order_id": "ORD-" + pd.Series(np.arange(first, first + n)).astype(str).str.zfill(8),
            "start": start,
            "end": end,
            "email": user + number + "@" + DOMAINS[rng.integers(0, 4, n)],
            "amount": rng.lognormal(3, 0.5, n).round(2),
            "discount": discount,
            "channel": channel,
            "note": words,
            "gift": gift,
            "items": rng.poisson(2, n) + 1,
        }
    )


def make_sensors(n: int, seed: int) -> pd.DataFrame:
    """Sensor readings: hex device codes, zip codes, symmetric and bounded numbers, a
    pandas Categorical, a datetime and a nullable column."""
    rng = np.random.default_rng(seed)
    pressure = rng.normal(1013, 8, n)
    pressure[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame(
        {
            "device": pd.Series(rng.integers(0, 16**6, n)).map("{:06x}".format),
            "zip": pd.Series(rng.integers(0, 10**5, n)).astype(str).str.zfill(5),
            "temperature": rng.normal(20, 5, n),
            "humidity": rng.beta(2, 5, n),
            "readings": rng.poisson(20, n),
            "pressure": pressure,
            "ok": rng.random(n) < 0.97,
            "read_at": pd.Timestamp("2023-06-01")
            + pd.to_timedelta(rng.uniform(0, 90 * 86_400, n), "s"),
            "status": pd.Categorical(
                rng.choice(["idle", "active", "fault"], n, p=[0.3, 0.68, 0.02])
            ),
        }
    )


def churn(n: int, seed: int) -> pd.DataFrame:
    return make_churn(n, seed=seed)


GENERATORS: dict[str, Callable[[int, int], pd.DataFrame]] = {
    "churn": churn,
    "orders": make_orders,
    "sensors": make_sensors,
}


def kinds(report: ValidationReport) -> list[tuple[str, str | None, str]]:
    return [(a.kind, a.column, a.severity) for a in report.anomalies]


@pytest.fixture(scope="module")
def orders_schema() -> Schema:
    return infer_schema(make_orders(5000, seed=1)).with_relations("start <= end")


@pytest.fixture
def orders() -> pd.DataFrame:
    return make_orders(1000, seed=99)


# -- the clean-table property ----------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("name", list(GENERATORS))
def test_fresh_samples_of_the_same_data_yield_no_anomalies(name: str, seed: int) -> None:
    make = GENERATORS[name]
    schema = infer_schema(make(5000, seed))
    report = validate(make(1000, seed + 10_000), schema)
    assert report.anomalies == [], report.summary()
    assert report.ok and report.rows == 1000


@pytest.mark.parametrize("load", [load_iris, load_wine, load_diabetes])
def test_bootstrap_samples_of_a_shipped_dataset_yield_no_anomalies(load: Callable) -> None:
    frame = load(as_frame=True).frame
    schema = infer_schema(frame)
    for seed in range(5):
        sample = frame.sample(1000, replace=True, random_state=seed)
        report = validate(sample, schema, reference=profile(frame))
        assert report.anomalies == [], report.summary()


def test_a_schema_round_tripped_through_yaml_validates_the_same(orders_schema: Schema) -> None:
    reloaded = Schema.from_yaml(orders_schema.to_yaml())
    fresh = make_orders(1000, seed=5)
    assert validate(fresh, reloaded).anomalies == validate(fresh, orders_schema).anomalies == []


# -- each anomaly kind -----------------------------------------------------------------


def test_missing_and_unexpected_columns(orders_schema: Schema, orders: pd.DataFrame) -> None:
    report = validate(orders.drop(columns="email").assign(extra=1), orders_schema)
    assert kinds(report) == [
        ("missing_column", "email", "error"),
        ("unexpected_column", "extra", "warning"),
    ]


def test_a_column_that_may_be_absent_is_not_missing() -> None:
    df = make_churn(1000, seed=1)
    schema = infer_schema(df)
    optional = replace(schema["churned"], required=False)
    relaxed = replace(schema, columns={**schema.columns, "churned": optional})
    assert validate(df.drop(columns="churned"), relaxed).anomalies == []


def test_a_string_in_a_numeric_column_is_a_type_mismatch(
    orders_schema: Schema, orders: pd.DataFrame
) -> None:
    orders["amount"] = orders["amount"].astype(object)
    orders.loc[[3, 4], "amount"] = ["n/a", "12,50"]
    (anomaly,) = validate(orders, orders_schema).anomalies
    assert (anomaly.kind, anomaly.column, anomaly.severity) == ("type_mismatch", "amount", "error")
    assert anomaly.count == 2 and anomaly.examples == ["n/a", "12,50"]
    assert "numeric" in anomaly.message and anomaly.hint


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("email", np.arange(1000)),  # numbers in a text column
        ("start", ["yesterday"] * 1000),  # unparseable timestamps
        ("gift", ["yes"] * 1000),  # not a boolean
        ("amount", pd.date_range("2024-01-01", periods=1000)),  # timestamps as numbers
    ],
)
def test_other_type_mismatches(
    orders_schema: Schema, orders: pd.DataFrame, column: str, values: object
) -> None:
    orders[column] = values
    report = validate(orders, orders_schema)
    assert ("type_mismatch", column, "error") in kinds(report)
    assert not report.ok


def test_compatible_representations_are_not_type_mismatches(
    orders_schema: Schema, orders: pd.DataFrame
) -> None:
    orders["start"] = orders["start"].dt.strftime("%Y-%m-%dT%H:%M:%S")  # ISO 8601 text
    orders["gift"] = orders["gift"].map({True: "true", False: "false"})
    orders["items"] = orders["items"].astype("Int64")
    orders["channel"] = orders["channel"].astype("category")
    assert validate(orders, orders_schema).anomalies == []


def test_too_many_missing(orders_schema: Schema, orders: pd.DataFrame) -> None:
    orders.loc[:599, "discount"] = np.nan  # tolerated: about 17%
    orders.loc[0, "amount"] = np.nan  # not nullable: one stray missing value
    report = validate(orders, orders_schema)
    assert kinds(report) == [
        ("too_many_missing", "amount", "warning"),
        ("too_many_missing", "discount", "error"),
    ]
    discount = report.anomalies[1]
    assert discount.count >= 600 and discount.fraction == discount.count / 1000


def test_values_out_of_range_slightly_or_far(orders_schema: Schema, orders: pd.DataFrame) -> None:
    high = orders_schema["amount"].max
    assert isinstance(high, int | float)
    slightly = orders.copy()
    slightly.loc[0, "amount"] = high + 1
    (anomaly,) = validate(slightly, orders_schema).anomalies
    assert (anomaly.kind, anomaly.severity, anomaly.examples) == (
        "out_of_range",
        "warning",
        [high + 1],
    )
    orders.loc[0, "amount"] = 1e9  # far beyond the range: an error even on one row
    (anomaly,) = validate(orders, orders_schema).anomalies
    assert (anomaly.kind, anomaly.column, anomaly.severity) == ("out_of_range", "amount", "error")
    orders.loc[:50, "amount"] = high + 1  # slightly out, but on 5% of the rows
    assert validate(orders, orders_schema).anomalies[0].severity == "error"


def test_negative_amount_is_out_of_range(orders_schema: Schema, orders: pd.DataFrame) -> None:
    orders.loc[7, "amount"] = -1.0  # a sentinel: amounts never go below zero
    assert kinds(validate(orders, orders_schema)) == [("out_of_range", "amount", "warning")]


def test_datetime_out_of_range(orders_schema: Schema, orders: pd.DataFrame) -> None:
    orders.loc[0, ["start", "end"]] = pd.Timestamp("1970-01-01")
    report = validate(orders, orders_schema)
    assert kinds(report) == [
        ("out_of_range", "start", "error"),
        ("out_of_range", "end", "error"),
    ]
    assert report.anomalies[0].examples == ["1970-01-01T00:00:00"]


def test_unknown_category_severity_grows_with_rows(
    orders_schema: Schema, orders: pd.DataFrame
) -> None:
    orders.loc[0, "channel"] = "fax"
    (anomaly,) = validate(orders, orders_schema).anomalies
    assert (anomaly.kind, anomaly.column, anomaly.severity) == (
        "unknown_category",
        "channel",
        "warning",
    )
    assert anomaly.examples == ["fax"]
    orders.loc[:99, "channel"] = "fax"
    (anomaly,) = validate(orders, orders_schema).anomalies
    assert anomaly.severity == "error" and anomaly.count == 100 and anomaly.fraction == 0.1


def test_pattern_mismatch(orders_schema: Schema, orders: pd.DataFrame) -> None:
    assert orders_schema["order_id"].pattern == "[A-Z]{3}-[0-9]{8}"
    assert orders_schema["email"].pattern is not None
    orders.loc[0, "order_id"] = "ORD_123"
    orders.loc[1, "email"] = "not an email"
    report = validate(orders, orders_schema)
    assert kinds(report) == [
        ("pattern_mismatch", "order_id", "warning"),
        ("pattern_mismatch", "email", "warning"),
    ]
    assert report.anomalies[0].examples == ["ORD_123"]


def test_duplicate_keys(orders_schema: Schema, orders: pd.DataFrame) -> None:
    assert orders_schema.key == ["order_id"]
    doubled = pd.concat([orders, orders.head(3)], ignore_index=True)
    (anomaly,) = validate(doubled, orders_schema).anomalies
    assert (anomaly.kind, anomaly.column, anomaly.severity, anomaly.count) == (
        "duplicate_key",
        "order_id",
        "error",
        3,
    )
    assert anomaly.examples == orders["order_id"].head(3).tolist()


def test_composite_key() -> None:
    df = pd.DataFrame({"store": [1, 1, 2, 2], "day": [1, 2, 1, 1], "sales": [5.0, 6, 7, 8]})
    schema = Schema({n: ColumnSchema(n, "numeric") for n in df.columns}, key=["store", "day"])
    (anomaly,) = validate(df, schema).anomalies
    assert anomaly.kind == "duplicate_key" and anomaly.column is None
    assert anomaly.examples == [{"store": 2, "day": 1}]


def test_row_count(orders_schema: Schema) -> None:
    assert orders_schema.rows == RowRange(500, 50_000)
    few = make_orders(100, seed=3)
    (anomaly,) = validate(few, orders_schema).anomalies
    assert (anomaly.kind, anomaly.column, anomaly.severity) == ("row_count", None, "warning")
    assert "100 rows" in anomaly.message
    empty = validate(few.head(0), orders_schema)
    assert kinds(empty) == [("row_count", None, "error")]


def test_relation_start_before_end(orders_schema: Schema, orders: pd.DataFrame) -> None:
    orders.loc[5, "end"] = orders.loc[5, "start"] - pd.Timedelta(days=1)
    (anomaly,) = validate(orders, orders_schema).anomalies
    assert (anomaly.kind, anomaly.column, anomaly.severity, anomaly.count) == (
        "relation_violated",
        None,
        "warning",
        1,
    )
    assert "start <= end" in anomaly.message
    assert anomaly.examples == [
        {"start": orders.loc[5, "start"].isoformat(), "end": orders.loc[5, "end"].isoformat()}
    ]
    orders["end"] = orders["start"] - pd.Timedelta(hours=1)  # every row: an error
    assert validate(orders, orders_schema).anomalies[0].severity == "error"


def test_several_problems_at_once_are_each_reported(
    orders_schema: Schema, orders: pd.DataFrame
) -> None:
    orders = pd.concat([orders, orders.head(1)], ignore_index=True).drop(columns="note")
    orders.loc[1, "channel"] = "fax"
    orders.loc[2, "amount"] = 1e9
    report = validate(orders, orders_schema)
    assert {a.kind for a in report.anomalies} == {
        "missing_column",
        "unknown_category",
        "out_of_range",
        "duplicate_key",
    }
    assert [a.kind for a in report.errors] == ["missing_column", "out_of_range", "duplicate_key"]
    assert [a.kind for a in report.warnings] == ["unknown_category"]


# -- training/serving skew -------------------------------------------------------------


def test_skew_against_the_training_profile() -> None:
    train = make_churn(3000, seed=1)
    serving = make_churn(1000, seed=2).drop(columns=["churned", "region"])
    serving["autopay"] = serving["autopay"].astype(int)  # encoded differently at serving
    serving["device"] = "ios"
    report = validate(serving, infer_schema(train), reference=profile(train))
    skew = [(a.column, a.severity) for a in report.anomalies if a.kind == "schema_skew"]
    assert skew == [
        ("region", "error"),
        ("churned", "error"),
        ("device", "warning"),
        ("autopay", "error"),
    ]
    autopay = next(a for a in report.anomalies if a.kind == "schema_skew" and a.column == "autopay")
    assert "boolean at training but numeric at serving" in autopay.message


def test_skew_against_a_schema_honours_optional_columns() -> None:
    train = make_churn(3000, seed=1)
    schema = infer_schema(train)
    optional = replace(
        schema, columns={**schema.columns, "churned": replace(schema["churned"], required=False)}
    )
    serving = make_churn(1000, seed=2).drop(columns="churned")
    report = validate(serving, optional, reference=optional)
    assert report.anomalies == []


def test_categorical_and_text_are_the_same_kind_for_skew() -> None:
    train = pd.DataFrame({"city": [f"c{i}" for i in range(5000)]})  # text at training
    serving = pd.DataFrame({"city": ["c1", "c2"] * 20})  # categorical in a small batch
    report = validate(serving, infer_schema(train, row_count_slack=1000), reference=profile(train))
    assert report.anomalies == []


def test_reference_must_be_a_profile_or_schema(orders_schema: Schema) -> None:
    with pytest.raises(InvalidArgumentError, match="Profile or Schema"):
        validate(make_orders(1000, 1), orders_schema, reference=make_orders(10, 1))  # type: ignore[arg-type]


# -- expectations ----------------------------------------------------------------------

EVENTS = pd.DataFrame(
    {
        "age": [23, 41, 150, None, 35],
        "plan": ["basic", "gold", "basic", "premium", "basic"],
        "id": [1, 2, 2, 3, 4],
        "code": ["AB-1", "AB-2", "x", "AB-4", None],
        "start": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-02-01", None, "2024-03-01"]),
        "end": pd.to_datetime(["2024-01-02", "2024-01-04", "2024-02-01", "2024-01-01", None]),
    }
)


@pytest.mark.parametrize(
    ("expectation", "count", "examples"),
    [
        (expect.between("age", 0, 120), 1, [150]),
        (expect.between("start", "2024-01-01", "2024-02-15"), 1, ["2024-03-01T00:00:00"]),
        (expect.in_set("plan", ["basic", "premium"]), 1, ["gold"]),
        (expect.not_null("age"), 1, []),
        (expect.unique("id"), 1, [2]),
        (expect.unique(["id", "plan"]), 0, []),
        (expect.matches_regex("code", r"[A-Z]{2}-\d"), 1, ["x"]),
        (
            expect.column_less_equal("start", "end"),
            1,
            [{"start": "2024-01-05T00:00:00", "end": "2024-01-04T00:00:00"}],
        ),
        (expect.mean_between("age", 0, 50), 4, [62.25]),
        (expect.mean_between("age", 0, 100), 0, []),
        (expect.quantile_between("age", 0.5, 30, 40), 0, []),
        (expect.quantile_between("age", 1.0, None, 100), 4, [150.0]),
    ],
)
def test_expectations_check_vectorised(
    expectation: expect.Expectation, count: int, examples: list[object]
) -> None:
    anomalies = expectation.check(EVENTS)
    if not count:
        assert anomalies == []
        return
    (anomaly,) = anomalies
    assert anomaly.kind == expectation.name and anomaly.severity == "error"
    assert anomaly.count == count and anomaly.examples == examples
    assert anomaly.message and anomaly.hint
    assert expect.from_dict(expectation.to_dict()) == expectation


def test_expectation_on_a_missing_column_reports_it() -> None:
    (anomaly,) = expect.not_null("salary").check(EVENTS)
    assert anomaly.kind == "not_null" and "no column 'salary'" in anomaly.message


def test_expectations_from_python_and_from_yaml_agree(orders: pd.DataFrame) -> None:
    declared = [
        expect.between("amount", 0, 100),
        expect.in_set("channel", ["web", "app", "store"], severity="warning"),
        expect.column_less_equal("start", "end"),
    ]
    schema = infer_schema(make_orders(5000, seed=1))
    from_python = validate(orders, schema, declared)
    yaml_text = schema.with_expectations(*declared).to_yaml()
    assert "- {expect: in_set, column: channel, values: [web, app, store], severity: warning}" in (
        yaml_text
    )
    from_yaml = validate(orders, Schema.from_yaml(yaml_text))
    assert from_python.anomalies == from_yaml.anomalies
    assert kinds(from_yaml) == [("between", "amount", "error"), ("in_set", "channel", "warning")]


def test_hand_written_expectations_in_yaml(orders: pd.DataFrame) -> None:
    text = (
        "columns:\n"
        "  amount: {kind: numeric}\n"
        "  items: {kind: numeric}\n"
        "expectations:\n"
        "- {expect: mean_between, column: amount, min: 20, max: 30}\n"
        "- {expect: quantile_between, column: items, q: 0.99, max: 3, severity: warning}\n"
        "- {expect: unique, columns: [order_id]}\n"
    )
    schema = Schema.from_yaml(text)
    report = validate(orders[["amount", "items", "order_id"]], schema)
    assert kinds(report) == [
        ("unexpected_column", "order_id", "warning"),
        ("quantile_between", "items", "warning"),
    ]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: expect.between("a"), "give min, max or both"),
        (lambda: expect.between("a", 5, 1), "min \\(5\\) is above max"),
        (lambda: expect.between("a", "soon"), "ISO 8601"),
        (lambda: expect.between("a", 0, severity="fatal"), "severity"),  # type: ignore[arg-type]
        (lambda: expect.matches_regex("a", "("), "not a valid regular expression"),
        (lambda: expect.quantile_between("a", 1.5, 0, 1), "q must be"),
        (lambda: expect.unique([]), "at least one column"),
        (lambda: expect.in_set("a", "abc"), "list of allowed values"),
        (lambda: expect.not_null(3), "column name"),  # type: ignore[arg-type]
    ],
)
def test_bad_expectations_are_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        build()


def test_numeric_bounds_on_a_datetime_column_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="ISO 8601"):
        expect.between("start", 0, 1).check(EVENTS)


# -- the report and inputs -------------------------------------------------------------


def test_report_serialises(orders_schema: Schema, orders: pd.DataFrame) -> None:
    orders.loc[0, "channel"] = "fax"
    orders.loc[1, "start"] = pd.Timestamp("1970-01-01")
    report = validate(orders, orders_schema)
    data = json.loads(report.to_json())
    assert data["ok"] is False and data["rows"] == 1000
    assert (data["errors"], data["warnings"]) == (1, 1)
    assert [Anomaly.from_dict(a) for a in data["anomalies"]] == report.anomalies
    assert "error" in report.summary() and "fax" not in report.summary()
    assert validate(make_orders(1000, 2), orders_schema).summary() == "1000 rows: no anomalies"


def test_polars_pyarrow_and_non_text_labels() -> None:
    df = make_churn(1000, seed=1)
    schema = infer_schema(make_churn(5000, seed=0))
    assert validate(pl.from_pandas(df), schema).anomalies == []
    assert validate(pa.Table.from_pandas(df), schema).anomalies == []
    numbered = pd.DataFrame({0: [1.0, 2.0, 3.0], 1: ["a", "b", "a"]})
    numbered_schema = infer_schema(numbered)
    assert list(numbered_schema.columns) == ["0", "1"]
    assert validate(numbered, numbered_schema).anomalies == []


def test_validate_needs_a_schema() -> None:
    with pytest.raises(InvalidArgumentError, match="needs a Schema"):
        validate(make_churn(10), profile(make_churn(10)))  # type: ignore[arg-type]


def test_a_million_rows_validate_without_python_loops() -> None:
    schema = infer_schema(make_orders(5000, seed=1)).with_relations("start <= end")
    big = pd.concat([make_orders(10_000, seed=2)] * 100, ignore_index=True)
    big["order_id"] = "ORD-" + pd.Series(np.arange(len(big))).astype(str).str.zfill(8)
    started = time.perf_counter()
    report = validate(big, schema, [expect.unique("order_id")], reference=schema)
    elapsed = time.perf_counter() - started
    assert kinds(report) == [("row_count", None, "warning")]
    assert elapsed < 8, f"validating 1M rows took {elapsed:.1f}s"


def test_timezone_aware_timestamps_compare_as_wall_time() -> None:
    stamps = pd.date_range("2024-01-01", periods=200, freq="h")
    schema = infer_schema(pd.DataFrame({"at": stamps}))
    assert validate(pd.DataFrame({"at": stamps.tz_localize("Europe/Paris")}), schema).ok
    zoned = Schema.from_yaml(
        "columns:\n  at: {kind: datetime, min: '2024-01-01T00:00:00+01:00', "
        "max: '2024-01-09T08:00:00+01:00'}\n"
    )
    assert validate(pd.DataFrame({"at": stamps}), zoned).anomalies == []
    late = pd.DataFrame({"at": stamps + pd.Timedelta(days=30)})
    assert kinds(validate(late, zoned))[0][:2] == ("out_of_range", "at")
