"""The prediction server, over real HTTP on 127.0.0.1: protocols, errors, logs, metrics."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serving_helpers import MIXED, NUMERIC, eventually, running

import headway
from headway.serving.log import query
from headway.serving.server import ServeOptions
from headway.workspace import Workspace

ROWS = headway.make_churn(20, seed=5)


def expected(ws: Workspace, version: int, columns: list[str]) -> np.ndarray:
    return np.asarray(
        headway.load_model(f"models:/churn/{version}", workspace=ws).predict(ROWS[columns])
    )


def test_predict_takes_records_or_columns_and_says_who_answered(served: Workspace) -> None:
    with running(served, "models:/churn/1") as client:
        records = ROWS[NUMERIC].to_dict(orient="records")
        one = client.post("/predict", json={"records": records, "id": "req-1"})
        assert one.status_code == 200, one.text
        body = one.json()
        assert body["request_id"] == "req-1" and body["model_version"] == "models:/churn/1"
        assert body["predictions"] == expected(served, 1, NUMERIC).tolist()
        assert len(body["probabilities"]) == 20 and body["classes"] == [0, 1]
        columns = {c: ROWS[c].tolist() for c in NUMERIC}
        again = client.post("/predict", json={"columns": columns}).json()
        assert again["predictions"] == body["predictions"]
        assert again["request_id"] != "req-1"


def test_mixed_type_models_predict_through_a_dataframe(served: Workspace) -> None:
    with running(served, "models:/churn/2") as client:
        records = ROWS[MIXED].to_dict(orient="records")
        body = client.post("/predict", json={"records": records}).json()
        assert body["predictions"] == expected(served, 2, MIXED).tolist()


def test_mlflow_invocations_formats_agree(served: Workspace) -> None:
    frame = ROWS[NUMERIC]
    bodies = [
        {"dataframe_split": frame.to_dict(orient="split")},
        {"dataframe_records": frame.to_dict(orient="records")},
        {"instances": frame.to_dict(orient="records")},
        {"inputs": {c: frame[c].tolist() for c in NUMERIC}},
    ]
    with running(served, "models:/churn/1") as client:
        answers = [client.post("/invocations", json=b) for b in bodies]
        csv = client.post(
            "/invocations",
            content=frame.to_csv(index=False),
            headers={"content-type": "text/csv"},
        )
    want = expected(served, 1, NUMERIC).tolist()
    for answer in [*answers, csv]:
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": want}


def test_open_inference_protocol_metadata_and_both_tabular_layouts(served: Workspace) -> None:
    frame = ROWS[NUMERIC]
    matrix = {
        "id": "m1",
        "inputs": [
            {
                "name": "input-0",
                "shape": [20, 3],
                "datatype": "FP64",
                "data": frame.to_numpy(dtype=float).ravel().tolist(),
            }
        ],
    }
    per_column = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": c,
                "shape": [20],
                "datatype": "INT64" if c != "monthly_charges" else "FP64",
                "data": frame[c].tolist(),
            }
            for c in NUMERIC
        ],
    }
    with running(served, "models:/churn/1") as client:
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/v2/models/churn/ready").status_code == 200
        assert client.get("/v2").json()["name"] == "headway"
        meta = client.get("/v2/models/churn").json()
        assert meta["name"] == "churn" and meta["versions"] == ["1"]
        assert [i["name"] for i in meta["inputs"]] == NUMERIC
        a = client.post("/v2/models/churn/infer", json=matrix).json()
        b = client.post("/v2/models/churn/infer", json=per_column).json()
        missing = client.post("/v2/models/nope/infer", json=matrix)
    assert a["id"] == "m1" and a["model_name"] == "churn" and a["model_version"] == "1"
    predict = {o["name"]: o for o in a["outputs"]}["predict"]
    assert predict["shape"] == [20] and predict["data"] == expected(served, 1, NUMERIC).tolist()
    assert {o["name"]: o["data"] for o in b["outputs"]} == {
        o["name"]: o["data"] for o in a["outputs"]
    }
    assert missing.status_code == 404 and "error" in missing.json()


def test_tritonclient_works_unmodified(served: Workspace) -> None:
    httpclient = pytest.importorskip("tritonclient.http")
    with running(served, "models:/churn/1") as client:
        triton = httpclient.InferenceServerClient(client.base_url.netloc.decode())
        assert triton.is_server_live() and triton.is_model_ready("churn")
        data = ROWS[NUMERIC].to_numpy(dtype=np.float64)
        tensor = httpclient.InferInput("input-0", list(data.shape), "FP64")
        tensor.set_data_from_numpy(data, binary_data=False)
        result = triton.infer("churn", [tensor])
        assert result.as_numpy("predict").tolist() == expected(served, 1, NUMERIC).tolist()
        triton.close()


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"", 400, "JSON"),
        (b"{not json", 400, "JSON"),
        (b'{"records": [{"tenure_months": 3}]}', 422, "monthly_charges"),
        (
            b'{"records": [{"tenure_months": "x", "monthly_charges": 1, "support_calls": 1}]}',
            422,
            "tenure_months",
        ),
        (b"[1, 2, 3]", 400, ""),
    ],
)
def test_malformed_requests_get_4xx_naming_the_problem(
    served: Workspace, body: bytes, status: int, says: str
) -> None:
    with running(served, "models:/churn/1") as client:
        for path in ("/predict", "/invocations", "/v2/models/churn/infer"):
            answer = client.post(path, content=body, headers={"content-type": "application/json"})
            assert 400 <= answer.status_code < 500, (path, answer.text)
            assert answer.json()["error"]
        answer = client.post("/predict", content=body)
        assert answer.status_code == status and says in answer.json()["error"]


def test_every_answer_is_in_the_prediction_log_and_metrics(served: Workspace) -> None:
    with running(served, "models:/churn/1") as client:
        ids = []
        for i in range(30):
            row = ROWS[NUMERIC].iloc[[i % 20]].to_dict(orient="records")
            ids.append(client.post("/predict", json={"records": row, "id": f"log-{i}"}).json())
        metrics = client.get("/metrics").text
    assert (
        'headway_requests_total{deployment="churn",endpoint="predict",'
        'route="primary",status="200"} 30.0' in metrics
    )
    assert "headway_batch_size_rows_bucket" in metrics

    def logged() -> bool:
        sql = "SELECT count(*) AS n FROM predictions WHERE request_id LIKE 'log-%'"
        return query(served.log_root, sql).column("n")[0].as_py() == 30

    eventually(logged)
    rows = query(
        served.log_root,
        "SELECT request_id, outputs.prediction AS p, route, model_version, status "
        "FROM predictions WHERE request_id LIKE 'log-%'",
    ).to_pylist()
    by_id = {r["request_id"]: r for r in rows}
    for answer in ids:
        row = by_id[answer["request_id"]]
        assert row["p"] == answer["predictions"][0] and row["status"] == 200
        assert row["route"] == "primary" and row["model_version"] == "models:/churn/1"


def test_past_a_full_queue_requests_get_503_with_retry_after(served: Workspace) -> None:
    options = ServeOptions(max_queue_rows=2, max_batch_size=1, trusted=True, flush_interval=0.05)
    record = {"records": ROWS[NUMERIC].iloc[:1].to_dict(orient="records")}
    with running(served, "models:/churn/5", options) as client, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: client.post("/predict", json=record), range(32)))
        metrics = client.get("/metrics").text
    codes = {a.status_code for a in answers}
    assert codes == {200, 503}
    refused = next(a for a in answers if a.status_code == 503)
    assert refused.headers["retry-after"] == "1" and "capacity" in refused.json()["error"]
    assert 'headway_overloaded_total{deployment="churn"}' in metrics


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(["records", "columns", "inputs", "dataframe_split", "instances", "id"])
BODIES = st.one_of(
    st.binary(max_size=64),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(KEYS, JSON_VALUES, max_size=3).map(lambda v: json.dumps(v).encode()),
)


def test_fuzzed_bodies_never_get_a_5xx(served: Workspace) -> None:
    paths = ["/predict", "/invocations", "/v2/models/churn/infer", "/feedback", "/review/x"]
    with running(served, "models:/churn/2") as client:

        @settings(max_examples=150, deadline=None, database=None)
        @given(body=BODIES, path=st.sampled_from(paths))
        def no_5xx(body: bytes, path: str) -> None:
            answer = client.post(path, content=body, headers={"content-type": "application/json"})
            assert answer.status_code < 500, (path, body, answer.text)

        no_5xx()
