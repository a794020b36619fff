"""Schemas: inferred generously from profiles, readable YAML, strict about hand edits."""

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headway.data import expectations as expect
from headway.data import make_churn, profile
from headway.data.profile import KINDS
from headway.data.schema import ColumnSchema, Relation, RowRange, Schema, infer_schema
from headway.errors import InvalidArgumentError


@pytest.fixture(scope="module")
def churn_schema() -> Schema:
    return infer_schema(make_churn(5000, seed=1))


# -- inference -------------------------------------------------------------------------


def test_kinds_and_domains_of_churn(churn_schema: Schema) -> None:
    s = churn_schema
    assert list(s.columns) == list(make_churn(10).columns)
    assert {n: c.kind for n, c in s.columns.items()} == {
        "customer_id": "numeric",
        "tenure_months": "numeric",
        "monthly_charges": "numeric",
        "support_calls": "numeric",
        "plan": "categorical",
        "region": "categorical",
        "autopay": "boolean",
        "churned": "numeric",
    }
    assert s["plan"].values == ["basic", "premium", "standard"]
    assert s["region"].values == ["east", "north", "south", "west"]
    assert not any(c.nullable for c in s.columns.values())
    assert all(c.max_missing_rate == 0 for c in s.columns.values())


def test_profile_and_table_give_the_same_schema() -> None:
    df = make_churn(3000, seed=4)
    assert infer_schema(df) == infer_schema(profile(df))


def test_numeric_range_covers_the_data_with_a_margin() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(100, 10, 5000)
    col = infer_schema(pd.DataFrame({"x": x}))["x"]
    assert isinstance(col.min, float | int) and isinstance(col.max, float | int)
    # widened on each side by at least half the observed range, at most ~ a full range
    spread = x.max() - x.min()
    assert x.min() - spread <= col.min <= x.min() - spread / 2
    assert x.max() + spread / 2 <= col.max <= x.max() + spread


def test_range_margin_zero_keeps_the_observed_range() -> None:
    df = pd.DataFrame({"x": [1.25, 2.5, 7.75]})
    col = infer_schema(df, range_margin=0)["x"]
    assert (col.min, col.max) == (1.25, 7.75)


def test_heavy_tail_widens_its_side_more() -> None:
    rng = np.random.default_rng(1)
    x = rng.lognormal(3, 0.5, 5000)
    col = infer_schema(pd.DataFrame({"x": x}))["x"]
    assert isinstance(col.max, float | int)
    assert col.max - x.max() > (x.max() - x.min()) / 2  # the tail term, not the range, rules


def test_zero_is_a_floor_for_skewed_non_negative_columns_only() -> None:
    rng = np.random.default_rng(2)
    df = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 10.0, 5000),  # right-skewed, never negative
            "temperature": rng.normal(20, 5, 5000),  # symmetric, happens to sit above 0
        }
    )
    assert df["temperature"].min() > 0
    schema = infer_schema(df)
    assert schema["amount"].min == 0
    assert isinstance(schema["temperature"].min, float | int)
    assert schema["temperature"].min < 0


def test_bounds_are_rounded_outward_to_readable_values() -> None:
    df = pd.DataFrame({"x": np.linspace(0.123456, 9.87654, 101)})
    col = infer_schema(df)["x"]
    for bound in (col.min, col.max):
        assert isinstance(bound, float | int)
        assert round(bound, 1) == bound


def test_datetime_bounds_are_iso_timestamps_on_day_boundaries() -> None:
    stamps = pd.date_range("2024-01-01", "2024-03-31 18:00", periods=500)
    col = infer_schema(pd.DataFrame({"at": stamps}))["at"]
    assert col.kind == "datetime"
    assert isinstance(col.min, str) and isinstance(col.max, str)
    low, high = pd.Timestamp(col.min), pd.Timestamp(col.max)
    assert low < stamps.min() and high > stamps.max()
    assert low == low.normalize() and high == high.normalize()


def test_missing_rate_gets_slack_and_nullable_follows() -> None:
    values = np.arange(1000, dtype=float)
    values[:100] = np.nan  # 10% missing
    col = infer_schema(pd.DataFrame({"x": values}))["x"]
    assert col.nullable
    assert col.max_missing_rate == pytest.approx(0.1 * 1.25 + 0.05)
    tighter = infer_schema(pd.DataFrame({"x": values}), missing_tolerance=0.0)["x"]
    assert tighter.max_missing_rate == pytest.approx(0.125)


def test_row_range_around_the_profiled_count() -> None:
    df = make_churn(2000, seed=3)
    assert infer_schema(df).rows == RowRange(200, 20_000)
    assert infer_schema(df, row_count_slack=2).rows == RowRange(1000, 4000)
    assert infer_schema(df.head(0)).rows == RowRange(0, None)
    assert infer_schema(df.head(3)).rows.min == 1  # an empty table never fits


def test_values_only_when_every_value_was_seen_at_least_twice() -> None:
    common = ["a", "b", "c"] * 50
    assert infer_schema(pd.DataFrame({"c": common}))["c"].values == ["a", "b", "c"]
    with_singleton = pd.DataFrame({"c": [*common, "rare"]})
    assert infer_schema(with_singleton)["c"].values is None
    many = pd.DataFrame({"c": [f"v{i % 400}" for i in range(20_000)]})  # beyond the top 100
    schema = infer_schema(many)
    assert schema["c"].kind == "categorical" and schema["c"].values is None


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda i: f"AB-{i:04d}", "[A-Z]{2}-[0-9]{4}"),
        (lambda i: f"{i * 2654435761 % 16**6:06x}", "[a-z0-9]{6}"),
        (lambda i: f"{i:05d}", "[0-9]{5}"),
        (lambda i: str(i * 37), "[0-9]+"),
        (lambda i: f"user{i}@example.com", r"[^@ ]+@[^@ ]+\.[^@ ]+"),
        (lambda i: f"v1.{i:03d}", r"[a-z][0-9]\.[0-9]{3}"),
    ],
)
def test_pattern_inferred_when_evident(make: Any, pattern: str) -> None:
    df = pd.DataFrame({"code": [make(i) for i in range(300)]})
    col = infer_schema(df)["code"]
    assert col.pattern == pattern
    assert df["code"].str.fullmatch(pattern).all()


def test_no_pattern_without_evidence_or_shape() -> None:
    words = ["alpha", "Bravo 2", "c-3", "delta!", "e"] * 60
    assert (
        infer_schema(pd.DataFrame({"w": words + [f"x{i}" for i in range(300)]}))["w"].pattern
        is None
    )
    few = [f"AB-{i:04d}" for i in range(10)]  # fewer than 20 distinct values
    assert infer_schema(pd.DataFrame({"w": few}))["w"].pattern is None


def test_unique_is_exact_and_the_key_is_an_identifier() -> None:
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=500),  # unique, but a measurement
            "row": np.arange(500) + 10_000,  # consecutive integers: an identifier
            "plan": rng.choice(["a", "b"], 500),
        }
    )
    schema = infer_schema(df)
    assert schema["x"].unique and schema["row"].unique and not schema["plan"].unique
    assert schema.key == ["row"]
    assert schema["row"].min is None and schema["row"].max is None  # ids have no range
    named = infer_schema(pd.DataFrame({"orderId": [f"o{i}" for i in range(50)]}))
    assert named.key == ["orderId"]
    assert infer_schema(df[["x", "plan"]]).key is None


def test_churn_key_is_customer_id(churn_schema: Schema) -> None:
    assert churn_schema.key == ["customer_id"]


def test_invalid_inference_settings_are_refused() -> None:
    df = make_churn(50)
    with pytest.raises(InvalidArgumentError, match="missing_tolerance"):
        infer_schema(df, missing_tolerance=2)
    with pytest.raises(InvalidArgumentError, match="row_count_slack"):
        infer_schema(df, row_count_slack=0.5)
    with pytest.raises(InvalidArgumentError, match="range_margin"):
        infer_schema(df, range_margin=-1)


# -- relations and editing -------------------------------------------------------------


def test_relations_parse_and_print() -> None:
    r = Relation.parse("start <= end")
    assert (r.left, r.op, r.right) == ("start", "<=", "end")
    assert str(r) == "start <= end"
    assert Relation.parse("  signup date  >  birth date ") == Relation(
        "signup date", ">", "birth date"
    )
    with pytest.raises(InvalidArgumentError, match="left OP right"):
        Relation.parse("start<=end")
    with pytest.raises(InvalidArgumentError, match="operator"):
        Relation("a", "=<", "b")


def test_with_relations_and_expectations_add_to_a_copy(churn_schema: Schema) -> None:
    edited = churn_schema.with_relations("support_calls <= tenure_months").with_expectations(
        expect.between("tenure_months", 0, 600)
    )
    assert churn_schema.relations == [] and churn_schema.expectations == []
    assert edited.relations == [Relation("support_calls", "<=", "tenure_months")]
    assert edited.expectations == [expect.Between("tenure_months", 0, 600)]
    with pytest.raises(InvalidArgumentError, match="'nope'"):
        churn_schema.with_relations("nope < plan")


def test_schema_refuses_inconsistent_construction() -> None:
    col = ColumnSchema("a", "numeric")
    with pytest.raises(InvalidArgumentError, match="key names column 'b'"):
        Schema({"a": col}, key=["b"])
    with pytest.raises(InvalidArgumentError, match="under the name"):
        Schema({"b": col})
    with pytest.raises(InvalidArgumentError, match="not an expectation"):
        Schema({"a": col}, expectations=["between a 0 1"])  # type: ignore[list-item]


# -- YAML ------------------------------------------------------------------------------


def test_yaml_round_trip_and_readability(churn_schema: Schema, tmp_path: Path) -> None:
    schema = churn_schema.with_relations("support_calls <= tenure_months").with_expectations(
        expect.between("tenure_months", 0, 600),
        expect.in_set("plan", ["basic", "premium", "standard"], severity="warning"),
        expect.unique(["customer_id"]),
    )
    text = schema.to_yaml()
    assert Schema.from_yaml(text) == schema
    assert text.startswith("# Headway schema")
    assert "!!" not in text and "python" not in text.split("version:")[1]
    body = yaml.safe_load(text)
    assert list(body) == ["version", "rows", "key", "columns", "relations", "expectations"]
    assert list(body["columns"]["plan"]) == ["kind", "nullable", "values"]
    assert "values: [basic, premium, standard]" in text
    assert "- support_calls <= tenure_months" in text
    assert "- {expect: between, column: tenure_months, min: 0, max: 600}" in text
    path = schema.save(tmp_path / "schema.yaml")
    assert Schema.load(path) == schema


def test_hand_edited_yaml_is_read(churn_schema: Schema) -> None:
    text = churn_schema.to_yaml().replace(
        "  plan:\n    kind: categorical\n    nullable: false\n",
        "  plan:\n    kind: categorical\n    nullable: true\n",
    )
    edited = Schema.from_yaml(text)
    assert edited["plan"].nullable and edited["plan"].max_missing_rate == 1.0
    minimal = Schema.from_yaml(
        "columns:\n"
        "  at: {kind: datetime, min: 2024-01-01, max: '2024-12-31T23:59:59'}\n"
        "  code: {kind: categorical, values: [1, '02', x]}\n"
        "  label: {kind: numeric, required: false}\n"
        "relations: [{left: at, op: '<=', right: at}]\n"
        "expectations:\n"
        "- {expect: not_null, column: code, severity: warning}\n"
    )
    assert minimal["at"].min == "2024-01-01T00:00:00"  # an unquoted YAML date
    assert minimal["code"].values == ["1", "02", "x"]
    assert not minimal["label"].required
    assert minimal.rows == RowRange(0, None) and minimal.key is None
    assert minimal.expectations == [expect.not_null("code", severity="warning")]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("colums: {}\n", "unknown field colums"),
        ("columns:\n  a: {kind: numeric, maxx: 3}\n", "unknown field columns.a.maxx"),
        ("columns:\n  a: {kind: number}\n", "field 'kind' is 'number'"),
        ("columns:\n  a: {nullable: true}\n", "columns.a: field 'kind' is missing"),
        ("columns:\n  a: {kind: numeric, min: 5, max: 1}\n", "'min' \\(5\\) is above 'max'"),
        ("columns:\n  a: {kind: numeric, min: low}\n", "field 'min' must be a number"),
        ("columns:\n  a: {kind: datetime, max: soon}\n", "field 'max' must be an ISO 8601"),
        ("columns:\n  a: {kind: categorical, min: 1}\n", "apply to numeric and datetime"),
        ("columns:\n  a: {kind: numeric, values: [x]}\n", "apply to categorical and text"),
        ("columns:\n  a: {kind: categorical, values: [yes, no]}\n", "quote it"),
        ("columns:\n  a: {kind: text, pattern: '[a-'}\n", "field 'pattern'.*not a valid"),
        (
            "columns:\n  a: {kind: numeric, nullable: false, max_missing_rate: 0.1}\n",
            "'nullable' is false but 'max_missing_rate' is 0.1",
        ),
        ("columns:\n  a: {kind: numeric, max_missing_rate: 2}\n", "'max_missing_rate' must be"),
        ("columns:\n  a: {kind: numeric, unique: maybe}\n", "field 'unique' must be true"),
        ("columns:\n  a: {kind: numeric}\nkey: [b]\n", "key names column 'b'"),
        ("columns:\n  a: {kind: numeric}\nrows: {min: 9, max: 1}\n", "rows.min \\(9\\)"),
        ("columns:\n  a: {kind: numeric}\nrows: {min: -1}\n", "rows.min must be"),
        ("columns:\n  a: {kind: numeric}\nrows: {least: 1}\n", "unknown field rows.least"),
        ("columns:\n  a: {kind: numeric}\nrelations: [a =< a]\n", "cannot read the relation"),
        ("columns:\n  a: {kind: numeric}\nrelations: [a < b]\n", "names column 'b'"),
        (
            "columns:\n  a: {kind: numeric}\nexpectations: [{expect: betwen, column: a}]\n",
            "expectations\\[0\\]: unknown expectation 'betwen'",
        ),
        (
            "columns:\n  a: {kind: numeric}\nexpectations: [{expect: between, col: a}]\n",
            "expectations\\[0\\]: unknown field 'col'",
        ),
        (
            "columns:\n  a: {kind: numeric}\nexpectations: [{expect: in_set, column: a}]\n",
            "in_set needs the field 'values'",
        ),
        (
            "columns:\n  a: {kind: numeric}\nexpectations: [{expect: between, column: a}]\n",
            "give min, max or both",
        ),
        ("columns:\n  a: {kind: numeric}\nversion: 7\n", "field 'version' is 7"),
        ("columns: [a, b]\n", "field 'columns' must map"),
        ("- just a list\n", "a schema is a mapping"),
        ("columns:\n  a: {kind: numeric\n", "not valid YAML"),
    ],
)
def test_bad_yaml_names_the_field(edit: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        Schema.from_yaml(edit)


def test_load_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="no schema file"):
        Schema.load(tmp_path / "absent.yaml")


# -- property: any schema survives YAML --------------------------------------------------

_names = st.text(min_size=1, max_size=10)
_finite = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**9), 10**9)
_stamps = st.datetimes(min_value=pd.Timestamp("1900-01-01"), max_value=pd.Timestamp("2200-01-01"))
_patterns = st.sampled_from([None, "[0-9]+", "[A-Z]{2}-[0-9]{4}", r"[^@ ]+@[^@ ]+\.[^@ ]+", ".*"])


@st.composite
def _columns(draw: st.DrawFn, name: str) -> ColumnSchema:
    kind = draw(st.sampled_from(KINDS))
    nullable = draw(st.booleans())
    rate = draw(st.floats(0.001, 1.0)) if nullable else 0.0
    low: Any = None
    high: Any = None
    values = pattern = None
    if kind == "numeric":
        low, high = sorted(draw(st.lists(_finite, min_size=2, max_size=2)))
        low = draw(st.sampled_from([low, None]))
    elif kind == "datetime":
        low, high = (s.isoformat() for s in sorted(draw(st.lists(_stamps, min_size=2, max_size=2))))
    elif kind in ("categorical", "text"):
        values = draw(st.none() | st.lists(st.text(max_size=8), max_size=5))
        pattern = draw(_patterns)
    return ColumnSchema(
        name,
        kind,
        nullable,
        rate,
        low,
        high,
        values,
        pattern,
        draw(st.booleans()),
        draw(st.booleans()),
    )


@st.composite
def _schemas(draw: st.DrawFn) -> Schema:
    names = draw(st.lists(_names, min_size=1, max_size=5, unique=True))
    columns = {n: draw(_columns(n)) for n in names}
    low = draw(st.integers(0, 10**6))
    rows = RowRange(low, draw(st.none() | st.integers(low, 10**7)))
    key = draw(st.none() | st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    pair = st.tuples(
        st.sampled_from(names), st.sampled_from(expect.OPERATORS), st.sampled_from(names)
    )
    relations = [Relation(*p) for p in draw(st.lists(pair, max_size=3))]
    some = st.sampled_from(names)
    expectation = st.one_of(
        st.builds(expect.between, some, st.just(0), st.integers(0, 100)),
        st.builds(expect.in_set, some, st.lists(st.text(max_size=5) | st.integers(), max_size=4)),
        st.builds(expect.not_null, some, severity=st.sampled_from(["error", "warning"])),
        st.builds(expect.unique, st.lists(some, min_size=1, max_size=2)),
        st.builds(expect.matches_regex, some, _patterns.filter(bool)),
        st.builds(expect.column_less_equal, some, some),
        st.builds(expect.mean_between, some, st.floats(-1, 0), st.floats(0, 1)),
        st.builds(expect.quantile_between, some, st.floats(0, 1), st.just(None), _finite),
    )
    return Schema(columns, rows, key, relations, draw(st.lists(expectation, max_size=4)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_schemas())
def test_any_schema_survives_yaml(schema: Schema) -> None:
    text = schema.to_yaml()
    assert Schema.from_yaml(text) == schema
    assert Schema.from_dict(schema.to_dict()) == schema


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=200))
def test_inferred_range_always_contains_the_data(values: list[float]) -> None:
    col = infer_schema(pd.DataFrame({"x": values}))["x"]
    assert isinstance(col.min, float | int) and isinstance(col.max, float | int)
    assert col.min <= min(values) and max(values) <= col.max
    assert math.isfinite(col.min) and math.isfinite(col.max)


def test_numpy_bounds_become_plain_numbers() -> None:
    col = ColumnSchema("x", "numeric", min=np.int64(1), max=np.float64(2.5))
    assert (col.min, col.max) == (1, 2.5) and type(col.min) is int
    assert Schema.from_yaml(Schema({"x": col}).to_yaml())["x"] == col
