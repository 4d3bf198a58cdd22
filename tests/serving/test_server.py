"""The real server over HTTP: KServe's documented requests on both protocols, answers
compared with the fitted models' own predict / predict_proba."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.serving.conftest import IRIS_ROWS, Models
from tests.serving.helpers import LiveServer

FLAT = [v for row in IRIS_ROWS for v in row]


def infer(live: LiveServer, model: str, payload: dict, version: str | None = None) -> dict:
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
    with live.http() as http:
        response = http.post(path, json=payload)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def predict_v1(live: LiveServer, model: str, payload: dict) -> list:
    with live.http() as http:
        response = http.post(f"/v1/models/{model}:predict", json=payload)
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


# -- V1 ------------------------------------------------------------------------------------


def test_v1_kserve_iris_example(live: LiveServer, models: Models) -> None:
    predictions = predict_v1(live, "iris", {"instances": IRIS_ROWS})
    assert predictions == models.iris.model.predict(np.array(IRIS_ROWS)).tolist()
    assert predict_v1(live, "iris", {"inputs": IRIS_ROWS}) == predictions


def test_v1_listing_and_readiness(live: LiveServer) -> None:
    with live.http() as http:
        listing = http.get("/v1/models").json()
        assert sorted(listing["models"]) == sorted(
            ["iris", "cancer", "species", "diabetes", "hgb", "frame", "mixed", "failing"]
        )
        assert http.get("/v1/models/iris").json() == {"name": "iris", "ready": True}
        assert http.get("/v1/models/iris/versions/1").json() == {"name": "iris", "ready": True}


def test_v1_breast_cancer_30_features(live: LiveServer, models: Models) -> None:
    rows = models.cancer.X[:25]
    predictions = predict_v1(live, "cancer", {"instances": rows.tolist()})
    assert predictions == models.cancer.model.predict(rows).tolist()


def test_v1_string_labels_and_regressor(live: LiveServer, models: Models) -> None:
    species = predict_v1(live, "species", {"instances": IRIS_ROWS})
    assert species == models.species.model.predict(np.array(IRIS_ROWS)).tolist()
    assert all(isinstance(label, str) for label in species)
    rows = models.diabetes.X[:5]
    values = predict_v1(live, "diabetes", {"instances": rows.tolist()})
    np.testing.assert_allclose(values, models.diabetes.model.predict(rows))


def test_v1_objects_by_feature_name(live: LiveServer, models: Models) -> None:
    names = models.frame.feature_names
    records = [dict(zip(names, row, strict=True)) for row in IRIS_ROWS]
    predictions = predict_v1(live, "frame", {"instances": records})
    expected = models.frame.model.predict(pd.DataFrame(IRIS_ROWS, columns=names))
    assert predictions == expected.tolist()
    # A list of values in feature order works too, for a model fitted with names.
    assert predict_v1(live, "frame", {"instances": IRIS_ROWS}) == expected.tolist()


def test_v1_mixed_types(live: LiveServer, models: Models) -> None:
    records = [
        {"width": 0.3, "height": -1.0, "color": "red"},
        {"width": -0.8, "height": 0.5, "color": "blue"},
        {"width": 2.0, "height": 0.0, "color": "green"},
    ]
    expected = models.mixed.model.predict(pd.DataFrame(records))
    assert predict_v1(live, "mixed", {"instances": records}) == expected.tolist()


def test_v1_missing_values_reach_a_model_that_takes_them(live: LiveServer, models: Models) -> None:
    rows = models.hgb.X[:30]
    assert np.isnan(rows).any()
    body = {"instances": [[None if np.isnan(v) else v for v in row] for row in rows.tolist()]}
    assert predict_v1(live, "hgb", body) == models.hgb.model.predict(rows).tolist()
    # Python's json writes NaN literals, which strict JSON parsers refuse: accepted too.
    with live.http() as http:
        text = json.dumps({"instances": rows.tolist()})
        assert "NaN" in text
        response = http.post(
            "/v1/models/hgb:predict", content=text, headers={"content-type": "application/json"}
        )
    assert response.json()["predictions"] == models.hgb.model.predict(rows).tolist()


# -- V2 ------------------------------------------------------------------------------------


def test_v2_kserve_iris_example_nested_and_flat(live: LiveServer, models: Models) -> None:
    expected = models.iris.model.predict(np.array(IRIS_ROWS)).tolist()
    for data in (IRIS_ROWS, FLAT):
        body = infer(
            live,
            "iris",
            {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": data}]},
        )
        assert body["model_name"] == "iris" and body["model_version"] == "2"
        (output,) = body["outputs"]
        assert (output["name"], output["datatype"], output["shape"]) == ("predict", "INT64", [2])
        assert output["data"] == expected


def test_v2_versions(live: LiveServer, models: Models) -> None:
    payload = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [150, 4],
                "datatype": "FP64",
                "data": models.iris.X.tolist(),
            }
        ]
    }
    old = infer(live, "iris", payload, version="1")
    assert old["model_version"] == "1"
    assert old["outputs"][0]["data"] == models.iris_v1.model.predict(models.iris.X).tolist()
    new = infer(live, "iris", payload, version="2")
    assert new["outputs"][0]["data"] == models.iris.model.predict(models.iris.X).tolist()
    assert new["outputs"][0]["data"] != old["outputs"][0]["data"]


def test_v2_breast_cancer_probabilities(live: LiveServer, models: Models) -> None:
    rows = models.cancer.X[100:140]
    body = infer(
        live,
        "cancer",
        {
            "id": "cancer-1",
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [40, 30],
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ],
            "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
        },
    )
    assert body["id"] == "cancer-1"
    labels, proba = body["outputs"]
    assert labels["data"] == models.cancer.model.predict(rows).tolist()
    assert proba["datatype"] == "FP64" and proba["shape"] == [40, 2]
    np.testing.assert_allclose(
        np.reshape(proba["data"], (40, 2)), models.cancer.model.predict_proba(rows)
    )


def test_v2_string_labels_are_bytes(live: LiveServer, models: Models) -> None:
    body = infer(
        live,
        "species",
        {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": FLAT}]},
    )
    (output,) = body["outputs"]
    assert output["datatype"] == "BYTES"
    assert output["data"] == models.species.model.predict(np.array(IRIS_ROWS)).tolist()


def test_v2_regressor_is_fp64(live: LiveServer, models: Models) -> None:
    rows = models.diabetes.X[:7]
    body = infer(
        live,
        "diabetes",
        {"inputs": [{"name": "x", "shape": [7, 10], "datatype": "FP64", "data": rows.tolist()}]},
    )
    assert body["model_version"] == "3"
    (output,) = body["outputs"]
    assert output["datatype"] == "FP64" and output["shape"] == [7]
    np.testing.assert_allclose(output["data"], models.diabetes.model.predict(rows))


def test_v2_one_tensor_per_feature(live: LiveServer, models: Models) -> None:
    names = models.frame.feature_names
    inputs = [
        {"name": name, "shape": [2, 1], "datatype": "FP64", "data": [[r[j]] for r in IRIS_ROWS]}
        for j, name in enumerate(names)
    ]
    body = infer(live, "frame", {"inputs": inputs[::-1]})
    expected = models.frame.model.predict(pd.DataFrame(IRIS_ROWS, columns=names)).tolist()
    assert body["outputs"][0]["data"] == expected
    mixed = [
        {"name": "width", "shape": [2], "datatype": "FP32", "data": [0.3, -0.8]},
        {"name": "height", "shape": [2], "datatype": "FP32", "data": [-1.0, 0.5]},
        {"name": "color", "shape": [2], "datatype": "BYTES", "data": ["red", "blue"]},
    ]
    frame = pd.DataFrame({"width": [0.3, -0.8], "height": [-1.0, 0.5], "color": ["red", "blue"]})
    body = infer(live, "mixed", {"inputs": mixed})
    assert body["outputs"][0]["data"] == models.mixed.model.predict(frame).tolist()


def test_v2_missing_values_as_null(live: LiveServer, models: Models) -> None:
    rows = models.hgb.X[:10]
    data = [None if np.isnan(v) else v for v in rows.ravel().tolist()]
    body = infer(
        live,
        "hgb",
        {"inputs": [{"name": "input-0", "shape": [10, 30], "datatype": "FP64", "data": data}]},
    )
    assert body["outputs"][0]["data"] == models.hgb.model.predict(rows).tolist()


def test_v2_server_and_model_metadata(live: LiveServer, models: Models) -> None:
    with live.http() as http:
        server = http.get("/v2").json()
        assert server["name"] == "kubeline" and server["extensions"] == []
        assert http.get("/v2/health/live").json() == {"live": True}
        assert http.get("/v2/health/ready").json() == {"ready": True}
        assert http.get("/v2/models/iris/ready").json() == {"name": "iris", "ready": True}
        ready = http.get("/v2/models/iris/versions/1/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        meta = http.get("/v2/models/iris").json()
        assert meta["versions"] == ["1", "2"] and meta["platform"] == "sklearn"
        assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
        assert meta["outputs"][1] == {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]}
        assert http.get("/v2/models/iris/versions/1").json()["name"] == "iris"
        species = http.get("/v2/models/species").json()
        assert species["outputs"][0]["datatype"] == "BYTES"
        regressor = http.get("/v2/models/diabetes").json()
        assert regressor["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
        mixed = http.get("/v2/models/mixed").json()
        assert [(t["name"], t["datatype"]) for t in mixed["inputs"]] == [
            ("width", "FP64"),
            ("height", "FP64"),
            ("color", "BYTES"),
        ]
