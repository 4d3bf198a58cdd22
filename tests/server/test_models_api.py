"""The registry over REST and its pages, on a real server with real models."""

from __future__ import annotations

import html
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import joblib
import pytest
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from kubeline.engine import run_pipeline
from kubeline.pipelines.compile import compile_function
from kubeline.registry import register_file
from kubeline.store import ArtifactRecord, database_url, open_store
from tests.engine import pipelines as p
from tests.requirements import exempt
from tests.server import model_pipelines as mp
from tests.server.conftest import LiveServer, start_server

# Every test here runs on SQLite and on PostgreSQL (marker "postgres").
pytestmark = pytest.mark.usefixtures("database")


def fit(tmp_path: Path, c: float) -> Path:
    frame = load_iris(as_frame=True).frame
    model = LogisticRegression(C=c, max_iter=500).fit(frame.drop(columns="target"), frame.target)
    path = tmp_path / f"iris-{c}.joblib"
    joblib.dump(model, path)
    return path


def test_versions_aliases_and_pages(
    live_server: LiveServer, http: httpx.Client, tmp_path: Path
) -> None:
    with open_store(database_url(live_server.home)) as store:
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
    with open_store(database_url(live_server.home)) as store:
        version, _ = register_file(store, fit(tmp_path, 1.0), "iris")
        from dataclasses import replace

        store.models.register_version(replace(version, digest="other", card_uri=str(secret)))
    page = http.get("/models/iris", params={"version": 2}).text
    assert "top secret" not in page and "No model card" in page


# ------------------------------------------------------------- hostile model files and cards
class Trap:
    """Unpickling it runs code: it writes ``marker`` with the pid (and the server token) of
    the process that loaded it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        code = (
            f"import json, os; open({str(self.marker)!r}, 'w').write(json.dumps("
            "{'pid': os.getpid(), 'token': os.environ.get('KUBELINE_TOKEN')}))"
        )
        return (exec, (code,))


def run_on_server(http: httpx.Client, spec: dict, parameters: dict) -> dict:
    """Start a run through the server's REST API (so its RunManager runs the engine in the
    server's threads) and wait for it to end."""
    run = http.post(
        "/apis/v2beta1/runs",
        json={
            "display_name": "r",
            "pipeline_spec": spec,
            "runtime_config": {"parameters": parameters},
        },
    )
    assert run.status_code == 200, run.text
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        got = http.get(f"/apis/v2beta1/runs/{run.json()['run_id']}").json()
        if got["state"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            return got
        time.sleep(0.2)
    raise AssertionError("the run did not end in time")


def model_artifact(home: Path, run_id: str) -> ArtifactRecord:
    with open_store(database_url(home)) as store:
        (found,) = [
            a for a in store.artifacts.list(run_id=run_id) if a.schema_title == "system.Model"
        ]
    return found


def test_the_server_never_unpickles_a_model_it_registers(
    kubeline_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBELINE_TOKEN", "s3cret")
    server = start_server(kubeline_home, token="s3cret")
    marker = tmp_path / "unpickled.json"
    try:
        http = server.http(token="s3cret")
        trap = run_on_server(http, compile_function(mp.trap_model), {"marker": str(marker)})
        assert trap["state"] == "SUCCEEDED", trap
        # The engine (here on the server's threads) registered it from its metadata alone:
        assert http.get("/kubeline/api/models/trap").json()["versions"][0]["version"] == 1
        assert not marker.exists()
        artifact = model_artifact(kubeline_home, trap["run_id"])
        made = http.post(
            "/kubeline/api/models:register",
            json={"artifact_id": artifact.artifact_id, "name": "opened"},
        )
        assert made.status_code == 400 and "has no predict()" in made.json()["message"]
        loaded = json.loads(marker.read_text())
        assert loaded["pid"] != os.getpid()  # a child process ran the pickle, not the server
        assert loaded["token"] is None  # and it never saw the server's token
        # A real model still registers with the signature read off it:
        fit = run_on_server(http, compile_function(p.fit_iris_pipeline), {})
        artifact = model_artifact(kubeline_home, fit["run_id"])
        good = http.post(
            "/kubeline/api/models:register",
            json={"artifact_id": artifact.artifact_id, "name": "iris"},
        )
        assert good.status_code == 200, good.text
        version = good.json()
        assert version["signature"]["features"][0] == "sepal length (cm)"
        assert version["signature"]["classes"] == [0, 1, 2]
        assert version["libraries"]["scikit-learn"] == sklearn.__version__
        assert version["framework"] == "sklearn" and version["notes"] == []
    finally:
        server.stop()


def _symlink_or_skip(link: Path, target: Path) -> None:
    try:
        link.symlink_to(target)
    except OSError as exc:  # Windows without the right to make symlinks
        if sys.platform != "win32":
            raise
        exempt("symlinks on Windows", f"cannot make one here: {exc}")


@pytest.mark.parametrize("how", ["importer", "symlink", "dotdot"])
def test_a_model_outside_its_run_is_refused_unopened(
    how: str, live_server: LiveServer, http: httpx.Client, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled.json"
    outside = tmp_path / "outside.joblib"
    joblib.dump(Trap(marker), outside)
    if how == "importer":  # the probe's case: an importer brings in any file as a Model
        result = run_pipeline(compile_function(mp.import_model), {"uri": str(outside)})
        artifact = model_artifact(live_server.home, result.run_id)
    else:
        result = run_pipeline(compile_function(p.fit_iris_pipeline), {}, enable_caching=False)
        artifact = model_artifact(live_server.home, result.run_id)
        model = Path(artifact.uri)
        if how == "symlink":  # the run's own model file, swapped for a link out of the run
            model.unlink()
            _symlink_or_skip(model, outside)
        else:  # a URI that starts in the run's folder and climbs out of it
            with open_store(database_url(live_server.home)) as store:
                climbing = os.path.join(model.parent, os.path.relpath(outside, model.parent))
                artifact = replace(artifact, artifact_id="climbing", uri=climbing)
                store.artifacts.add(artifact)
    assert result.state == "SUCCEEDED", result.error
    made = http.post(
        "/kubeline/api/models:register", json={"artifact_id": artifact.artifact_id, "name": "x"}
    )
    assert made.status_code == 400, made.text
    assert "outside its run's folder" in made.json()["message"]
    assert not marker.exists()  # refused before anything opened it
    assert http.get("/kubeline/api/models").json()["models"] == []


def _outside_cards(tmp_path: Path) -> list[tuple[str, str]]:
    secret = tmp_path / "secret.md"
    secret.write_text("# top secret")
    cards = [("plain", str(secret)), ("link", str(secret)), ("dotdot", str(secret))]
    if Path("/etc/passwd").is_file():
        cards.append(("plain", "/etc/passwd"))
    return cards


def test_a_card_outside_the_run_is_left_out_with_a_note(
    live_server: LiveServer, http: httpx.Client, tmp_path: Path
) -> None:
    for number, (how, card) in enumerate(_outside_cards(tmp_path)):
        arguments = {"card": card, "how": how}
        result = run_pipeline(compile_function(mp.fit_with_card_pipeline), arguments)
        assert result.state == "SUCCEEDED", result.error
        artifact = model_artifact(live_server.home, result.run_id)
        name = f"m{number}"
        made = http.post(
            "/kubeline/api/models:register",
            json={"artifact_id": artifact.artifact_id, "name": name},
        )
        assert made.status_code == 200, made.text
        version = made.json()
        assert version["card_uri"] == "", (how, card)
        assert "card_uri" in version["notes"][0] and "was ignored" in version["notes"][0]
        assert not list((live_server.home / "models" / name).rglob("card.md"))
        page = http.get(f"/models/{name}").text
        assert "top secret" not in page and "root:" not in page and "No model card" in page


def test_a_card_the_run_wrote_is_kept_and_shown(
    live_server: LiveServer, http: httpx.Client
) -> None:
    arguments = {"card": "# Iris card\n\nMade by the run.", "how": "own"}
    result = run_pipeline(compile_function(mp.fit_with_card_pipeline), arguments)
    artifact = model_artifact(live_server.home, result.run_id)
    made = http.post(
        "/kubeline/api/models:register", json={"artifact_id": artifact.artifact_id, "name": "c"}
    )
    version = made.json()
    assert made.status_code == 200 and version["notes"] == []
    kept = Path(version["card_uri"])
    assert (
        kept.is_relative_to(live_server.home / "models") and "Made by the run" in kept.read_text()
    )
    assert "Made by the run." in http.get("/models/c").text


def test_a_run_on_the_server_registers_without_a_card_from_outside(
    live_server: LiveServer, http: httpx.Client, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("# top secret")
    spec = compile_function(mp.fit_with_card_pipeline)
    done = run_on_server(http, spec, {"card": str(secret), "how": "link", "register_as": "linked"})
    assert done["state"] == "SUCCEEDED", done
    (version,) = http.get("/kubeline/api/models/linked").json()["versions"]
    assert version["card_uri"] == "" and "was ignored" in version["notes"][0]
    assert Path(version["uri"]).is_relative_to(live_server.home / "models")  # the model was kept
    assert "top secret" not in http.get("/models/linked").text


def test_a_cached_tasks_model_registers_from_the_run_that_made_it(
    live_server: LiveServer, http: httpx.Client
) -> None:
    first = run_pipeline(compile_function(p.fit_iris_pipeline), {})
    again = run_pipeline(compile_function(p.fit_iris_pipeline), {})
    (task,) = [t for t in again.tasks if t.kind == "executor"]
    assert task.cache_hit
    artifact = model_artifact(live_server.home, again.run_id)
    assert Path(artifact.uri).is_relative_to(first.run.root)  # the first run's file
    made = http.post(
        "/kubeline/api/models:register", json={"artifact_id": artifact.artifact_id, "name": "c"}
    )
    assert made.status_code == 200, made.text
    assert made.json()["run_id"] == again.run_id
