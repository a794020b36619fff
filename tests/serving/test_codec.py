"""The serving codec: three wire formats into one typed table, and no 5xx from a bad body."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headway.serving.codec import (
    Inputs,
    OutputTensor,
    RequestError,
    encode_infer,
    encode_invocations,
    encode_json,
    infer_error,
    model_metadata,
    parse_infer,
    parse_invocations,
    parse_predict,
)

MIXED = {
    "inputs": {
        "type": "columns",
        "columns": [
            {"name": "age", "type": "float"},
            {"name": "visits", "type": "integer"},
            {"name": "plan", "type": "string"},
            {"name": "active", "type": "boolean"},
        ],
    }
}
NUMERIC = {
    "inputs": {
        "type": "columns",
        "columns": [{"name": n, "type": "float"} for n in ("x0", "x1", "x2")],
    }
}
TENSOR = {"inputs": {"type": "tensor", "dtype": "float32", "shape": [-1, 3]}}
WHEN = {"inputs": {"type": "columns", "columns": [{"name": "at", "type": "datetime"}]}}

ROWS = [
    {"age": 41.5, "visits": 3, "plan": "pro", "active": True},
    {"age": 19, "visits": 0, "plan": "free", "active": False},
]
EXPECTED = Inputs(
    columns={
        "age": np.array([41.5, 19.0]),
        "visits": np.array([3, 0]),
        "plan": np.array(["pro", "free"], dtype=object),
        "active": np.array([True, False]),
    },
    rows=2,
)


def body(obj: object) -> bytes:
    return orjson.dumps(obj)


def tensor(name: str, datatype: str, shape: list[int], data: list) -> dict:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def per_column_request(rows: list[dict]) -> dict:
    return {
        "inputs": [
            tensor("age", "FP64", [len(rows)], [r["age"] for r in rows]),
            tensor("visits", "INT64", [len(rows), 1], [[r["visits"]] for r in rows]),
            tensor("plan", "BYTES", [len(rows)], [r["plan"] for r in rows]),
            tensor("active", "BOOL", [len(rows)], [r["active"] for r in rows]),
        ]
    }


@contextmanager
def refused(status: int, *fragments: str) -> Iterator[None]:
    """The block raises a RequestError with this status whose message has every fragment."""
    with pytest.raises(RequestError) as info:
        yield
    assert info.value.status == status, str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


# --- Open Inference Protocol: two tabular conventions -----------------------------------------


def test_oip_matrix_and_per_column_tensors_give_the_same_inputs():
    matrix = {"inputs": [tensor("input-0", "FP32", [2, 3], [1, 2, 3, 4.5, 5, 6])]}
    columns = {
        "inputs": [
            tensor("x0", "FP32", [2], [1, 4.5]),
            tensor("x1", "INT64", [2], [2, 5]),
            tensor("x2", "FP64", [2, 1], [[3], [6]]),
        ]
    }
    a = parse_infer(body(matrix), NUMERIC).inputs
    b = parse_infer(body(columns), NUMERIC).inputs
    assert a == b
    assert list(a.columns) == ["x0", "x1", "x2"]
    np.testing.assert_array_equal(a.to_matrix(), [[1, 2, 3], [4.5, 5, 6]])


def test_oip_per_column_tensors_with_mixed_datatypes_fill_typed_columns():
    parsed = parse_infer(body(per_column_request(ROWS)), MIXED).inputs
    assert parsed == EXPECTED
    assert [c.dtype.kind for c in parsed.columns.values()] == ["f", "i", "O", "b"]


def test_oip_matrix_fills_integer_and_boolean_columns_with_whole_and_zero_one_values():
    kinds = {"age": "float", "visits": "integer", "active": "boolean"}
    signature = {
        "inputs": {"type": "columns", "columns": [{"name": n, "type": k} for n, k in kinds.items()]}
    }
    ok = {"inputs": [tensor("x", "FP64", [2, 3], [41.5, 3, 1, 19, 0, 0])]}
    parsed = parse_infer(body(ok), signature).inputs
    assert parsed.columns["visits"].dtype == np.int64
    assert parsed.columns["active"].tolist() == [True, False]
    half = {"inputs": [tensor("x", "FP64", [1, 3], [1.0, 2.5, 1])]}
    with refused(422, "'visits'", "whole numbers"):
        parse_infer(body(half), signature)
    two = {"inputs": [tensor("x", "FP64", [1, 3], [1.0, 2, 2])]}
    with refused(422, "'active'", "true or false"):
        parse_infer(body(two), signature)
    strings = {"inputs": [tensor("x", "FP64", [1, 3], [41.5, 3, "yes"])]}
    with refused(400, "'x'", "FP64", "string 'yes'"):
        parse_infer(body(strings), signature)


def test_oip_matrix_for_a_model_with_string_columns_says_to_send_one_tensor_per_column():
    matrix = {"inputs": [tensor("x", "BYTES", [1, 4], ["41", "3", "pro", "true"])]}
    with refused(422, "one tensor per column", "content_type"):
        parse_infer(body(matrix), MIXED)


def test_oip_pd_content_type_reads_a_lone_2d_tensor_as_a_column():
    single = {"inputs": {"type": "columns", "columns": [{"name": "x", "type": "float"}]}}
    request = {
        "parameters": {"content_type": "pd"},
        "inputs": [tensor("x", "FP64", [2, 1], [1.0, 2.0])],
    }
    assert parse_infer(body(request), single).inputs.columns["x"].tolist() == [1.0, 2.0]


def test_oip_bytes_tensor_carries_strings_for_a_string_column():
    signature = {"inputs": {"type": "columns", "columns": [{"name": "plan", "type": "string"}]}}
    request = {"inputs": [tensor("plan", "BYTES", [3], ["pro", "", "ünïcode ✓"])]}
    plan = parse_infer(body(request), signature).inputs.columns["plan"]
    assert plan.dtype == object and plan.tolist() == ["pro", "", "ünïcode ✓"]


def test_oip_nested_and_flat_data_parse_the_same():
    flat = {"inputs": [tensor("t", "FP32", [2, 3], [1, 2, 3, 4, 5, 6])]}
    nested = {"inputs": [tensor("t", "FP32", [2, 3], [[1, 2, 3], [4, 5, 6]])]}
    assert parse_infer(body(flat), TENSOR).inputs == parse_infer(body(nested), TENSOR).inputs
    assert parse_infer(body(flat), NUMERIC).inputs == parse_infer(body(nested), NUMERIC).inputs


def test_oip_tensor_signature_gives_a_tensor_of_its_dtype_and_checks_trailing_shape():
    request = {"inputs": [tensor("any-name", "FP64", [2, 3], [1, 2, 3, 4, 5, 6])]}
    parsed = parse_infer(body(request), TENSOR).inputs
    assert parsed.columns is None and parsed.rows == 2
    assert parsed.tensor.dtype == np.float32 and parsed.tensor.shape == (2, 3)
    wrong = {"inputs": [tensor("t", "FP32", [3, 2], [1, 2, 3, 4, 5, 6])]}
    with refused(422, "[3, 2]", "[rows, 3]"):
        parse_infer(body(wrong), TENSOR)
    strings = {"inputs": [tensor("t", "BYTES", [1, 3], ["a", "b", "c"])]}
    with refused(422, "BYTES", "float32"):
        parse_infer(body(strings), TENSOR)
    two = {"inputs": [request["inputs"][0], tensor("u", "FP32", [1], [1])]}
    with refused(422, "one tensor"):
        parse_infer(body(two), TENSOR)


def test_oip_integer_tensor_signature_refuses_values_out_of_its_range():
    int8 = {"inputs": {"type": "tensor", "dtype": "int8", "shape": [-1]}}
    fits = parse_infer(body({"inputs": [tensor("t", "INT64", [2], [-128, 127])]}), int8)
    assert fits.inputs.tensor.dtype == np.int8
    with refused(422, "int8"):
        parse_infer(body({"inputs": [tensor("t", "INT64", [1], [300])]}), int8)
    with refused(422, "FP32", "int8"):
        parse_infer(body({"inputs": [tensor("t", "FP32", [1], [1.0])]}), int8)


def test_oip_keeps_request_id_parameters_and_requested_outputs():
    request = {
        "id": "req-1",
        "parameters": {"trace": True},
        "outputs": [{"name": "predict", "parameters": {"binary_data": False}}],
        **per_column_request(ROWS),
    }
    parsed = parse_infer(body(request), MIXED)
    assert parsed.request_id == "req-1"
    assert parsed.parameters == {"trace": True}
    assert parsed.outputs == ("predict",)
    assert parse_infer(body(per_column_request(ROWS)), MIXED).outputs is None


def test_oip_null_in_fp_data_is_nan_and_extra_tensors_are_ignored():
    request = {
        "inputs": [
            tensor("x0", "FP64", [2], [None, 1]),
            tensor("x1", "FP64", [2], [1, 1]),
            tensor("x2", "FP64", [2], [1, 1]),
            tensor("request_time", "BYTES", [2], ["now", "later"]),
        ]
    }
    parsed = parse_infer(body(request), NUMERIC).inputs
    assert list(parsed.columns) == ["x0", "x1", "x2"]
    assert np.isnan(parsed.columns["x0"][0])


def test_oip_without_signature_takes_tensors_as_sent_in_their_datatypes():
    one = {"inputs": [tensor("t", "FP32", [2, 2], [1, 2, 3, 4])]}
    parsed = parse_infer(body(one), None).inputs
    assert parsed.tensor.dtype == np.float32 and parsed.tensor.shape == (2, 2)
    several = {"inputs": [tensor("a", "INT16", [2], [1, 2]), tensor("b", "BYTES", [2], ["x", "y"])]}
    columns = parse_infer(body(several), None).inputs.columns
    assert columns["a"].dtype == np.int16 and columns["b"].tolist() == ["x", "y"]


def binary(name: str, datatype: str, shape: list[int], size: int) -> dict:
    return {
        "name": name,
        "shape": shape,
        "datatype": datatype,
        "parameters": {"binary_data_size": size},
    }


def test_oip_binary_tensor_data_extension():
    header = body(
        {
            "inputs": [
                binary("x0", "FP32", [2], 8),
                binary("x1", "BOOL", [2], 2),
                binary("x2", "INT16", [2, 1], 4),
                binary("s", "BYTES", [2], 12),
            ]
        }
    )
    data = (
        np.array([1.5, 2], "<f4").tobytes()
        + bytes([1, 0])
        + np.array([-3, 7], "<i2").tobytes()
        + b"".join(struct.pack("<I", len(s)) + s for s in (b"ab", "é".encode()))
    )
    parsed = parse_infer(header + data, NUMERIC, header_length=len(header)).inputs
    assert parsed.columns["x0"].tolist() == [1.5, 2.0]
    assert parsed.columns["x1"].tolist() == [1.0, 0.0]
    assert parsed.columns["x2"].tolist() == [-3.0, 7.0]
    as_sent = parse_infer(header + data, None, header_length=len(header)).inputs.columns
    assert as_sent["s"].tolist() == ["ab", "é"] and as_sent["x2"].dtype == np.int16
    with refused(400, "Inference-Header-Content-Length"):
        parse_infer(header + data, NUMERIC)
    with refused(400, "binary"):
        parse_infer(header + data + b"x", NUMERIC, header_length=len(header))
    with refused(400, "'x0'"):
        parse_infer(header + data[:5], NUMERIC, header_length=len(header))


def x0(**fields: object) -> bytes:
    """A request with one tensor x0, ``fields`` replacing its defaults."""
    return body({"inputs": [{**tensor("x0", "FP32", [1], [1]), **fields}]})


@pytest.mark.parametrize(
    ("request_body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"inputs": []}', "'inputs'"),
        (b'{"inputs": {"x0": 1}}', "'inputs'"),
        (b'{"inputs": [1]}', "name, shape, datatype"),
        (x0(datatype="FP128"), "FP128"),
        (x0(datatype=["FP32"]), "datatype"),
        (x0(shape=[-1]), "non-negative"),
        (x0(shape=[1e3]), "shape"),
        (x0(shape=[True]), "shape"),
        (x0(shape=[2]), "2 elements"),
        (x0(data=1), "JSON array"),
        (x0(data=["NaN"]), "string 'NaN'"),
        (x0(datatype="INT32", data=[True]), "boolean true"),
        (x0(data=[False]), "boolean false"),
        (x0(datatype="BOOL", data=[1]), "true or false"),
        (x0(datatype="INT64", data=[1.5]), "number 1.5"),
        (x0(datatype="UINT8", data=[256]), "UINT8 range"),
        (x0(datatype="BYTES", data=[1]), "strings"),
        (x0(shape=[2, 2], data=[[1], [2, 3]]), "ragged"),
        (x0(parameters={"shared_memory_region": "r"}), "shared memory"),
        (body({"id": 5, "inputs": [tensor("x0", "FP32", [1], [1])]}), "'id'"),
        (body({"outputs": "all", "inputs": [tensor("x0", "FP32", [1], [1])]}), "'outputs'"),
    ],
)
def test_oip_malformed_requests_are_400_and_say_what_is_wrong(request_body, fragment):
    signature = {"inputs": {"type": "columns", "columns": [{"name": "x0", "type": "float"}]}}
    with refused(400, fragment):
        parse_infer(request_body, signature)


def test_oip_mismatch_with_the_signature_is_422_naming_the_columns():
    only_x0 = {"inputs": [tensor("x0", "FP32", [1], [1])]}
    with refused(422, "['x1', 'x2']", "one tensor per column"):
        parse_infer(body(only_x0), NUMERIC)
    wrong_kind = per_column_request(ROWS)
    wrong_kind["inputs"][0] = tensor("age", "BYTES", [2], ["old", "young"])
    with refused(422, "'age'", "BYTES", "float"):
        parse_infer(body(wrong_kind), MIXED)
    narrow = {"inputs": [tensor("x", "FP32", [1, 2], [1, 2])]}
    with refused(422, "2 columns", "takes 3"):
        parse_infer(body(narrow), NUMERIC)


def test_oip_huge_declared_shape_is_refused_without_allocating():
    for shape in ([10**12, 10**12], [2**62, 2**62, 2**62], [10**6] * 30):
        request = {"inputs": [tensor("t", "FP32", shape, [1.0, 2.0])]}
        with refused(400, "elements by its shape"):
            parse_infer(body(request), TENSOR)
    deep = {"inputs": [tensor("t", "FP32", [1] * 40, [1.0])]}
    with refused(400, "at most"):
        parse_infer(body(deep), None)
    binary_header = body({"inputs": [binary("t", "BYTES", [10**12], 4)]})
    with refused(400, "length-prefixed"):
        parse_infer(
            binary_header + struct.pack("<I", 10**9), None, header_length=len(binary_header)
        )


def test_oip_row_counts_must_agree_between_column_tensors():
    request = {
        "inputs": [
            tensor("x0", "FP32", [2], [1, 2]),
            tensor("x1", "FP32", [1], [1]),
            tensor("x2", "FP32", [2], [1, 2]),
        ]
    }
    with refused(400, "row counts"):
        parse_infer(body(request), NUMERIC)


# --- Open Inference Protocol: responses and metadata ------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "datatype"),
    [
        (np.bool_, "BOOL"),
        (np.uint8, "UINT8"),
        (np.uint64, "UINT64"),
        (np.int8, "INT8"),
        (np.int32, "INT32"),
        (np.int64, "INT64"),
        (np.float16, "FP16"),
        (np.float32, "FP32"),
        (np.float64, "FP64"),
        (object, "BYTES"),
        (str, "BYTES"),
    ],
)
def test_encode_infer_maps_numpy_dtypes_to_oip_datatypes(dtype, datatype):
    data = np.array([[1, 0], [0, 1]]).astype(dtype)
    response = orjson.loads(encode_infer("m", "1", None, [("out", data)]))
    [output] = response["outputs"]
    assert output == {
        "name": "out",
        "shape": [2, 2],
        "datatype": datatype,
        "data": data.ravel().tolist() if datatype != "BYTES" else [str(v) for v in data.ravel()],
    }


def test_encode_infer_round_trips_through_parse_infer():
    outputs = [
        OutputTensor("x0", np.array([1.5, np.nan])),
        ("x1", np.array([[3], [4]], dtype=np.int32)),
        ("x2", np.array([True, False])),
    ]
    response = orjson.loads(encode_infer("m", None, "r1", outputs, {"took_ms": 3}))
    assert response["id"] == "r1" and response["parameters"] == {"took_ms": 3}
    assert "model_version" not in response
    again = parse_infer(body({"inputs": response["outputs"]}), NUMERIC).inputs
    assert again == Inputs(
        columns={
            "x0": np.array([1.5, np.nan]),
            "x1": np.array([3.0, 4.0]),
            "x2": np.array([1.0, 0.0]),
        },
        rows=2,
    )


def test_encode_infer_writes_datetimes_and_labels_as_bytes_strings():
    labels = np.array(["churn", None, b"stay"], dtype=object)
    when = np.array(["2024-05-01T12:00"], dtype="datetime64[ns]")
    response = orjson.loads(encode_infer("m", "1", None, [("label", labels), ("when", when)]))
    label, at = response["outputs"]
    assert label["datatype"] == "BYTES" and label["data"] == ["churn", "None", "stay"]
    assert at["datatype"] == "BYTES" and at["data"][0].startswith("2024-05-01T12:00")


def test_model_metadata_lists_signature_columns_and_a_default_output():
    metadata = model_metadata("churn", ["1", "2"], MIXED)
    assert metadata["name"] == "churn" and metadata["versions"] == ["1", "2"]
    assert metadata["platform"] == "headway"
    assert metadata["inputs"] == [
        {"name": "age", "datatype": "FP64", "shape": [-1]},
        {"name": "visits", "datatype": "INT64", "shape": [-1]},
        {"name": "plan", "datatype": "BYTES", "shape": [-1]},
        {"name": "active", "datatype": "BOOL", "shape": [-1]},
    ]
    assert metadata["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]


def test_model_metadata_for_a_tensor_model_with_recorded_outputs():
    signature = {**TENSOR, "outputs": {"type": "tensor", "dtype": "int64", "shape": [-1]}}
    metadata = model_metadata("digits", ["7"], signature, platform="onnx")
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 3]}]
    assert metadata["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]
    assert model_metadata("m", [], None)["inputs"] == []


def test_infer_error_is_the_oip_error_object():
    assert orjson.loads(infer_error("input 'x' is missing")) == {"error": "input 'x' is missing"}


# --- tritonclient, the reference client ---------------------------------------------------------


def _triton_inputs(httpclient, binary: bool):
    x = httpclient.InferInput("input-0", [2, 3], "FP32")
    x.set_data_from_numpy(np.array([[1, 2, 3], [4.5, 5, 6]], dtype=np.float32), binary_data=binary)
    return [x]


@pytest.mark.parametrize("binary", [False, True])
def test_tritonclient_request_bodies_parse(binary):
    httpclient = pytest.importorskip("tritonclient.http")
    outputs = [httpclient.InferRequestedOutput("predict", binary_data=False)]
    request, json_size = httpclient.InferenceServerClient.generate_request_body(
        _triton_inputs(httpclient, binary), outputs=outputs, request_id="t-1"
    )
    assert (json_size is not None) == binary
    parsed = parse_infer(request, NUMERIC, header_length=json_size)
    assert parsed.request_id == "t-1" and parsed.outputs == ("predict",)
    np.testing.assert_array_equal(parsed.inputs.to_matrix(), [[1, 2, 3], [4.5, 5, 6]])


TRITON_COLUMNS = [
    ("age", "FP64", np.array([41.5, 19.0])),
    ("visits", "INT64", np.array([[3], [0]])),
    ("plan", "BYTES", np.array([b"pro", b"free"], dtype=object)),
    ("active", "BOOL", np.array([True, False])),
]


@pytest.mark.parametrize("binary", [False, True])
def test_tritonclient_per_column_tensors_parse(binary):
    httpclient = pytest.importorskip("tritonclient.http")
    inputs = [
        httpclient.InferInput(name, list(values.shape), datatype).set_data_from_numpy(
            values, binary_data=binary
        )
        for name, datatype, values in TRITON_COLUMNS
    ]
    request, json_size = httpclient.InferenceServerClient.generate_request_body(inputs)
    assert parse_infer(request, MIXED, header_length=json_size).inputs == EXPECTED


def test_tritonclient_reads_our_json_response():
    httpclient = pytest.importorskip("tritonclient.http")
    response = encode_infer(
        "m",
        "1",
        "t-1",
        [("proba", np.array([[0.25, 0.75]], np.float32)), ("label", np.array(["churn"], object))],
    )
    result = httpclient.InferResult.from_response_body(response)
    np.testing.assert_array_equal(result.as_numpy("proba"), [[0.25, 0.75]])
    assert result.as_numpy("label").tolist() == ["churn"]
    assert result.get_response()["id"] == "t-1"


# --- MLflow scoring format ---------------------------------------------------------------------

MLFLOW_BODIES = {
    "dataframe_split": {
        "dataframe_split": {
            "index": [7, 8],
            "columns": ["active", "plan", "visits", "age"],
            "data": [[True, "pro", 3, 41.5], [False, "free", 0, 19]],
        }
    },
    "dataframe_records": {"dataframe_records": ROWS},
    "instances as objects": {"instances": ROWS},
    "instances as rows": {"instances": [[41.5, 3, "pro", True], [19, 0, "free", False]]},
    "inputs as columns": {"inputs": {k: [r[k] for r in ROWS] for k in ROWS[0]}},
    "inputs as rows": {"inputs": [[41.5, 3, "pro", True], [19, 0, "free", False]], "params": {}},
}


@pytest.mark.parametrize("name", list(MLFLOW_BODIES))
def test_every_mlflow_json_format_gives_the_same_inputs(name):
    parsed = parse_invocations(body(MLFLOW_BODIES[name]), "application/json", MIXED)
    assert parsed == EXPECTED


def test_mlflow_csv_reads_typed_columns_and_empty_fields_as_missing():
    csv_body = b"plan,age,visits,active,extra\r\npro,41.5,3,true,x\nfree,19,0,False,y\n"
    assert parse_invocations(csv_body, "text/csv; charset=utf-8", MIXED) == EXPECTED
    gaps = parse_invocations(b"plan,age,visits,active\n,,3,1\n", "text/csv", MIXED)
    assert gaps.columns["plan"].tolist() == [None] and np.isnan(gaps.columns["age"][0])
    with refused(422, "'visits'", "'x'", "row 0"):
        parse_invocations(b"plan,age,visits,active\na,1,x,1\n", "text/csv", MIXED)
    with refused(400, "line 3"):
        parse_invocations(b"plan,age,visits,active\na,1,2,1\nb,2\n", "text/csv", MIXED)


def test_mlflow_csv_without_signature_infers_numbers():
    parsed = parse_invocations(b"a,b,c\n1,1.5,x\n2,,y\n", "text/csv", None)
    assert parsed.columns["a"].dtype == np.int64
    assert parsed.columns["b"].dtype == np.float64 and np.isnan(parsed.columns["b"][1])
    assert parsed.columns["c"].tolist() == ["x", "y"]


def test_mlflow_instances_feed_a_tensor_model():
    parsed = parse_invocations(body({"instances": [[1, 2, 3]]}), "application/json", TENSOR)
    assert parsed.tensor.dtype == np.float32 and parsed.tensor.shape == (1, 3)


def test_mlflow_request_needs_exactly_one_format_key_and_a_known_content_type():
    with refused(400, "exactly one of", "dataframe_split"):
        parse_invocations(b'{"data": [[1]]}', "application/json", MIXED)
    with refused(400, "exactly one of"):
        parse_invocations(body({"instances": ROWS, "inputs": ROWS}), "application/json", MIXED)
    with refused(415, "application/json"):
        parse_invocations(body({"instances": ROWS}), "application/x-www-form-urlencoded", MIXED)


def test_encode_invocations_wraps_predictions():
    assert orjson.loads(encode_invocations(np.array([0.5, 1]))) == {"predictions": [0.5, 1.0]}
    assert orjson.loads(encode_invocations({"label": np.array(["a"])})) == {
        "predictions": {"label": ["a"]}
    }


# --- Headway /predict ---------------------------------------------------------------------------


def test_predict_records_columns_and_single_record_forms_agree():
    records = parse_predict(body({"records": ROWS}), MIXED).inputs
    columns = parse_predict(body({"columns": {k: [r[k] for r in ROWS] for k in ROWS[0]}}), MIXED)
    assert records == EXPECTED == columns.inputs
    single = parse_predict(body({**ROWS[0], "key": "user-7", "id": "r1"}), MIXED)
    assert single.inputs.rows == 1 and single.key == "user-7" and single.request_id == "r1"
    assert single.inputs.columns["plan"].tolist() == ["pro"]


def test_predict_integer_key_routes_as_text():
    assert parse_predict(body({**ROWS[0], "key": 12345}), MIXED).key == "12345"
    with refused(400, "'key'"):
        parse_predict(body({**ROWS[0], "key": [1]}), MIXED)


def test_predict_ignores_columns_the_signature_does_not_name():
    parsed = parse_predict(body({**ROWS[0], "user_id": "u-1", "ts": 17}), MIXED).inputs
    assert list(parsed.columns) == ["age", "visits", "plan", "active"]


def test_predict_missing_columns_are_listed_by_name():
    with refused(422, "['visits', 'active']", "it takes"):
        parse_predict(body({"age": 1, "plan": "pro"}), MIXED)
    with refused(422, "record 1", "'plan'"):
        parse_predict(body({"records": [ROWS[0], {"age": 1, "visits": 1, "active": True}]}), MIXED)


@pytest.mark.parametrize(
    ("column", "value", "fragments"),
    [
        ("age", "abc", ["column 'age' should be float but got string 'abc' at row 1"]),
        ("visits", 1.5, ["'visits' should be integer but got number 1.5 at row 1"]),
        ("visits", None, ["'visits' should be integer but got null", "cannot hold null"]),
        ("visits", 2**63, ["outside the int64 range"]),
        ("plan", 3, ["'plan' should be string but got integer 3"]),
        ("active", 1, ["'active' should be boolean but got integer 1"]),
        ("age", [1], ["'age' should be float but got an array"]),
    ],
)
def test_predict_mistyped_values_name_column_value_and_row(column, value, fragments):
    records = [ROWS[0], {**ROWS[1], column: value}]
    with refused(422, *fragments):
        parse_predict(body({"records": records}), MIXED)


def test_predict_nulls_are_nan_for_floats_and_none_for_strings():
    parsed = parse_predict(body({**ROWS[0], "age": None, "plan": None}), MIXED).inputs
    assert np.isnan(parsed.columns["age"][0]) and parsed.columns["plan"][0] is None


def test_predict_whole_floats_fill_integer_columns_and_integers_fill_float_columns():
    parsed = parse_predict(body({**ROWS[0], "age": 40, "visits": 3.0}), MIXED).inputs
    assert parsed.columns["age"].dtype == np.float64 and parsed.columns["visits"].tolist() == [3]


def test_predict_datetime_columns_parse_iso_strings_to_utc():
    at = parse_predict(
        body({"columns": {"at": ["2024-05-01T14:00:00+02:00", "2024-05-01", None]}}), WHEN
    ).inputs.columns["at"]
    assert at.dtype == "datetime64[ns]"
    assert at[0] == np.datetime64("2024-05-01T12:00") and np.isnat(at[2])
    with refused(422, "'at'", "ISO 8601"):
        parse_predict(body({"at": "yesterday"}), WHEN)


def test_predict_without_signature_infers_column_dtypes():
    parsed = parse_predict(
        body({"records": [{"a": 1, "b": 1.5, "c": "x", "d": True}, {"a": 2}]}), None
    )
    columns = parsed.inputs.columns
    assert columns["a"].dtype == np.int64
    assert columns["b"].dtype == np.float64 and np.isnan(columns["b"][1])
    assert columns["c"].tolist() == ["x", None] and columns["d"].tolist() == [True, None]


def test_predict_tensor_model_takes_records_as_arrays():
    parsed = parse_predict(body({"records": [[1, 2, 3], [4, 5, 6]]}), TENSOR).inputs
    assert parsed.tensor.shape == (2, 3) and parsed.tensor.dtype == np.float32
    with refused(422, "takes a tensor"):
        parse_predict(body(ROWS[0]), TENSOR)


COMPLETE = {"age": [1], "visits": [1], "plan": ["a"], "active": [True]}


@pytest.mark.parametrize(
    ("request_body", "fragment"),
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"records": []}', "no rows"),
        (b'{"records": [1]}', "record 0"),
        (body({"columns": {**COMPLETE, "age": [1, 2]}}), "lengths"),
        (body({"columns": {**COMPLETE, "age": 1}}), "JSON array"),
        (body({**ROWS[0], "id": 7}), "'id'"),
    ],
)
def test_predict_malformed_bodies_are_400(request_body, fragment):
    with refused(400, fragment):
        parse_predict(request_body, MIXED)


def test_bodies_written_by_python_json_with_nan_are_read():
    written = json.dumps({"records": [{**ROWS[0], "age": float("nan")}]}).encode()
    assert np.isnan(parse_predict(written, MIXED).inputs.columns["age"][0])


# --- Inputs ------------------------------------------------------------------------------------


def test_inputs_concat_stacks_rows_for_micro_batching():
    first = parse_predict(body(ROWS[0]), MIXED).inputs
    second = parse_predict(body(ROWS[1]), MIXED).inputs
    assert Inputs.concat([first, second]) == EXPECTED
    tensors = [parse_predict(body({"records": [[1, 2, 3]]}), TENSOR).inputs] * 2
    assert Inputs.concat(tensors).tensor.shape == (2, 3)


def test_inputs_to_frame_and_to_matrix():
    frame = EXPECTED.to_frame()
    assert list(frame.columns) == ["age", "visits", "plan", "active"] and len(frame) == 2
    assert EXPECTED.to_matrix() is None
    numeric = parse_predict(body({"x0": 1, "x1": 2, "x2": True}), NUMERIC).inputs
    np.testing.assert_array_equal(numeric.to_matrix(), [[1.0, 2.0, 1.0]])


def test_encode_json_handles_numpy_and_nan():
    assert (
        encode_json({"a": np.array([np.nan, 1.0]), "b": np.int32(2)}) == b'{"a":[null,1.0],"b":2}'
    )
    assert encode_json(np.array(["x", "y"]).reshape(1, 2)) == b'["x","y"]'


# --- No input escapes as anything but RequestError ------------------------------------------

SIGNATURES = [None, MIXED, NUMERIC, TENSOR, WHEN]
NAMES = ["age", "visits", "plan", "active", "x0", "x1", "x2", "at", "name", "shape", "datatype"]
NAMES += ["data", "inputs", "records", "columns", "id", "key", "parameters", "outputs"]
NAMES += ["dataframe_split", "dataframe_records", "instances", "content_type", "binary_data_size"]
DATATYPES = ["BOOL", "UINT8", "UINT64", "INT8", "INT64", "FP16", "FP32", "FP64", "BF16", "BYTES"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(NAMES + DATATYPES + ["pd", "2024-05-01", "NaN", "1e400"]),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=4), children, max_size=6)
    ),
    max_leaves=40,
)
shapes = st.lists(
    st.integers(min_value=-1, max_value=4) | st.sampled_from([10**12, 2**63]), max_size=3
)
oip_tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(NAMES[:8]) | scalars,
        "shape": shapes | json_values,
        "datatype": st.sampled_from(DATATYPES) | scalars,
        "data": st.lists(scalars | st.lists(scalars, max_size=3), max_size=8) | json_values,
    },
    optional={"parameters": st.just({"content_type": "pd"}) | json_values},
)
oip_requests = st.fixed_dictionaries(
    {"inputs": st.lists(oip_tensors, max_size=4)},
    optional={
        "id": scalars,
        "parameters": st.just({"content_type": "pd"}) | json_values,
        "outputs": json_values,
    },
)
records = st.dictionaries(st.sampled_from(NAMES[:8]), scalars, max_size=8)
predict_requests = st.one_of(
    records,
    st.fixed_dictionaries({"records": st.lists(records | json_values, max_size=4)}),
    st.fixed_dictionaries({"columns": st.dictionaries(st.sampled_from(NAMES[:8]), json_values)}),
)
mlflow_requests = st.one_of(
    st.fixed_dictionaries(
        {
            "dataframe_split": st.fixed_dictionaries(
                {"data": st.lists(st.lists(scalars, max_size=5), max_size=3) | json_values},
                optional={
                    "columns": st.lists(st.sampled_from(NAMES[:8]), max_size=5) | json_values
                },
            )
        }
    ),
    st.fixed_dictionaries({"dataframe_records": st.lists(records, max_size=3) | json_values}),
    st.fixed_dictionaries({"instances": st.lists(records | json_values, max_size=3)}),
    st.fixed_dictionaries({"inputs": st.dictionaries(st.sampled_from(NAMES[:8]), json_values)}),
)

fuzz = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def parses_or_refuses(parse, *args, **kwargs) -> None:
    try:
        parse(*args, **kwargs)
    except RequestError as error:
        assert error.status in (400, 415, 422)
        assert str(error)


@fuzz
@given(json_values, st.sampled_from(SIGNATURES))
def test_any_json_value_parses_or_is_refused_with_a_request_error(value, signature):
    raw = body(value)
    parses_or_refuses(parse_infer, raw, signature)
    parses_or_refuses(parse_predict, raw, signature)
    parses_or_refuses(parse_invocations, raw, "application/json", signature)


@fuzz
@given(st.binary(max_size=200), st.sampled_from(SIGNATURES), st.integers(-2, 210) | st.none())
def test_any_bytes_parse_or_are_refused_with_a_request_error(raw, signature, header_length):
    parses_or_refuses(parse_infer, raw, signature, header_length=header_length)
    parses_or_refuses(parse_predict, raw, signature)
    for content_type in ("application/json", "text/csv", None):
        parses_or_refuses(parse_invocations, raw, content_type, signature)


@fuzz
@given(oip_requests, st.sampled_from(SIGNATURES))
def test_oip_shaped_requests_parse_or_are_refused(request, signature):
    parses_or_refuses(parse_infer, body(request), signature)


@fuzz
@given(oip_requests, st.binary(max_size=64), st.sampled_from(SIGNATURES))
def test_oip_binary_requests_parse_or_are_refused(request, binary, signature):
    for raw in request["inputs"]:
        raw["parameters"] = {"binary_data_size": len(binary) // max(1, len(request["inputs"]))}
    header = body(request)
    parses_or_refuses(parse_infer, header + binary, signature, header_length=len(header))


@fuzz
@given(predict_requests, st.sampled_from(SIGNATURES))
def test_predict_shaped_requests_parse_or_are_refused(request, signature):
    parses_or_refuses(parse_predict, body(request), signature)


@fuzz
@given(mlflow_requests, st.sampled_from(SIGNATURES))
def test_mlflow_shaped_requests_parse_or_are_refused(request, signature):
    parses_or_refuses(parse_invocations, body(request), "application/json", signature)


@fuzz
@given(
    st.lists(
        st.lists(st.text(max_size=4) | st.sampled_from(["1", "1.5", "", "true", "x"]), max_size=5),
        max_size=4,
    ),
    st.sampled_from(SIGNATURES),
)
def test_csv_parses_or_is_refused(table, signature):
    text = "\n".join(",".join(row) for row in [["age", "visits", "plan", "active"], *table])
    parses_or_refuses(parse_invocations, text.encode(), "text/csv", signature)


def test_nasty_bodies_are_refused_with_request_errors():
    nasty = [
        b"[" * 5000 + b"]" * 5000,
        b'{"records": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"inputs": [{"name": "x0", "shape": [1], "datatype": "FP32", "data": '
        + b"[" * 200
        + b"1"
        + b"]" * 200
        + b"}]}",
        b'{"inputs": [{"name": "x0", "shape": [1], "datatype": "FP32", "data": [NaN]}]}',
        b'{"inputs": [{"name": "x0", "shape": [1], "datatype": "FP32", "data": [1e999]}]}',
        b'{"records": [{"age": NaN, "visits": Infinity}]}',
        b'{"age": "\\ud800", "visits": 1, "plan": "a", "active": true, "x": NaN}',
        b'{"age": 1' + b"0" * 5000 + b', "visits": 1, "plan": "a", "active": true, "x": NaN}',
        b'{"columns": {"age": [' + b"1," * 1000 + b'"x"]}}',
    ]
    for raw in nasty:
        for signature in SIGNATURES:
            parses_or_refuses(parse_infer, raw, signature)
            parses_or_refuses(parse_predict, raw, signature)
            parses_or_refuses(parse_invocations, raw, "application/json", signature)


def test_all_float_requests_carry_one_matrix_that_batches_in_one_call() -> None:
    records = parse_predict(b'{"records": [{"x0": 1, "x1": 2.5, "x2": -1}]}', NUMERIC).inputs
    columns = parse_predict(b'{"columns": {"x0": [3], "x1": [4], "x2": [5.5]}}', NUMERIC).inputs
    for inputs in (records, columns):
        assert inputs.matrix is not None and inputs.matrix.dtype == np.float64
        for j, column in enumerate((inputs.columns or {}).values()):
            assert np.shares_memory(column, inputs.matrix) and column.flags.c_contiguous
            assert np.array_equal(column, inputs.matrix[:, j])
    batch = Inputs.concat([records, columns])
    assert batch.matrix is not None and batch.to_matrix() is batch.matrix
    assert np.array_equal(batch.matrix, [[1.0, 2.5, -1.0], [3.0, 4.0, 5.5]])
    without = [Inputs(columns=p.columns, rows=p.rows) for p in (records, columns)]
    slow = Inputs.concat(without)  # the column-by-column path
    assert slow.matrix is None and batch == slow
    mixed = parse_predict(orjson.dumps({"records": ROWS}), MIXED).inputs
    assert mixed.matrix is None and mixed == EXPECTED
