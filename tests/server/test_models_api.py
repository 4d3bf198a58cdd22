"""The registry over REST and its pages, on a real server with real models."""

from __future__ import annotations

import html
from pathlib import Path

import httpx
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from kubeline.engine import run_pipeline
from kubeline.pipelines.compile import compile_function
from kubeline.serving.registry import register_file
from kubeline.store import open_store
from tests.engine import pipelines as p
from tests.server.conftest import LiveServer


def fit(tmp_path: Path, c: float) -> Path:
    frame = load_iris(as_frame=True).frame
    model = LogisticRegression(C=c, max_iter=500).fit(frame.drop(columns="target"), frame.target)
    path = tmp_path / f"iris-{c}.joblib"
    joblib.dump(model, path)
    return path


def test_versions_aliases_and_pages(
    live_server: LiveServer, http: httpx.Client, tmp_path: Path
) -> None:
    with open_store(live_server.home) as store:
        register_file(store, fit(tmp_path, 1.0), "iris")
        register_file(store, fit(tmp_path, 0.01), "iris")
    listed = http.get("/kubeline/api/models").json()["models"]
    assert [(m["name"], m["versions"], m["latest"]) for m in listed] == [("iris", 2, 2)]
    moved = http.put("/kubeline/api/models/iris/aliases/production", json={"version": 1})
    assert moved.json() == {"name": "iris", "alias": "production", "version": 1}
    model = http.get("/kubeline/api/models/iris").json()
    assert [(v["version"], v["aliases"]) for v in model["versions"]] == [
        (2, []),
        (1, ["production"]),
    ]
    assert model["versions"][0]["signature"]["features"][0] == "sepal length (cm)"
    assert (
        http.put("/kubeline/api/models/iris/aliases/production", json={"version": 9}).status_code
        == 404
    )
    assert http.get("/kubeline/api/models/nothing").status_code == 404
    assert http.delete("/kubeline/api/models/iris/aliases/production").status_code == 200
    assert http.delete("/kubeline/api/models/iris/aliases/production").status_code == 404
    page = html.unescape(http.get("/models").text)
    assert 'href="/models/iris"' in page
    detail = html.unescape(http.get("/models/iris").text)
    assert "sepal length (cm)" in detail and "kubeline serve iris:2" in detail
    assert http.get("/models/nothing").status_code == 404


def test_register_an_artifact_over_rest(http: httpx.Client) -> None:
    result = run_pipeline(compile_function(p.fit_iris_pipeline), {})
    (task,) = [t for t in result.tasks if t.kind == "executor"]
    artifact_id = task.outputs["artifact_ids"]["model"][0]
    made = http.post(
        "/kubeline/api/models:register", json={"artifact_id": artifact_id, "name": "f"}
    )
    assert made.status_code == 200, made.text
    assert made.json()["new"] and made.json()["run_id"] == result.run_id
    again = http.post(
        "/kubeline/api/models:register", json={"artifact_id": artifact_id, "name": "f"}
    )
    assert not again.json()["new"] and again.json()["version"] == 1
    bad = http.post("/kubeline/api/models:register", json={"artifact_id": "nope", "name": "f"})
    assert bad.status_code == 400 and "No artifact" in bad.json()["message"]
    page = html.unescape(http.get(f"/runs/{result.run_id}").text)
    assert result.run_id in page


def test_a_card_outside_home_is_never_shown(
    live_server: LiveServer, http: httpx.Client, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("# top secret")
    with open_store(live_server.home) as store:
        version, _ = register_file(store, fit(tmp_path, 1.0), "iris")
        from dataclasses import replace

        store.register_model_version(replace(version, digest="other", card_uri=str(secret)))
    page = http.get("/models/iris", params={"version": 2}).text
    assert "top secret" not in page and "No model card" in page
