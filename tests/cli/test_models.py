"""``kubeline models`` against a real store, through the real command in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from kubeline.engine import run_pipeline
from kubeline.pipelines.compile import compile_function
from tests.conftest import run_cli
from tests.engine import pipelines as p


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    frame = load_iris(as_frame=True).frame
    model = LogisticRegression(max_iter=500).fit(frame.drop(columns="target"), frame["target"])
    path = tmp_path / "iris.joblib"
    joblib.dump(model, path)
    return path


def cli_json(*args: str, home: Path) -> dict:
    result = run_cli(*args, "--output", "json", home=home)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_register_a_file_then_list_show_and_promote(model_file: Path, kubeline_home: Path) -> None:
    first = cli_json("models", "register", str(model_file), "--name", "iris", home=kubeline_home)
    assert first["new"] and first["version"] == 1
    assert first["signature"]["features"][0] == "sepal length (cm)"
    assert first["signature"]["classes"] == [0, 1, 2]
    again = cli_json("models", "register", str(model_file), "--name", "iris", home=kubeline_home)
    assert not again["new"] and again["version"] == 1  # same content, same version
    listed = cli_json("models", "list", home=kubeline_home)["models"]
    assert [(m["name"], m["latest"]) for m in listed] == [("iris", 1)]
    promoted = cli_json("models", "promote", "iris:1", "production", home=kubeline_home)
    assert promoted == {"name": "iris", "alias": "production", "version": 1, "was": None}
    shown = cli_json("models", "show", "iris@production", home=kubeline_home)
    assert shown["version"] == 1 and shown["aliases"] == ["production"]
    text = run_cli("models", "show", "iris", home=kubeline_home)
    assert "kubeline serve iris:1" in text.stdout


def test_a_run_registers_its_model_and_an_artifact_can_be_registered_by_id(
    kubeline_home: Path,
) -> None:
    result = run_pipeline(compile_function(p.fit_iris_pipeline), {"register_as": "flowers"})
    assert result.state == "SUCCEEDED", result.error
    shown = cli_json("models", "show", "flowers", home=kubeline_home)
    assert shown["run_id"] == result.run_id and shown["framework"] == "sklearn"
    assert shown["signature"]["features"] == []  # the component gave no signature
    plain = run_pipeline(compile_function(p.fit_iris_pipeline), {}, enable_caching=False)
    (task,) = [t for t in plain.tasks if t.kind == "executor"]
    artifact_id = task.outputs["artifact_ids"]["model"][0]
    registered = cli_json("models", "register", artifact_id, "--name", "other", home=kubeline_home)
    assert registered["run_id"] == plain.run_id and registered["artifact_id"] == artifact_id
    # Read off the model itself when the metadata lacks it:
    assert registered["signature"]["features"][0] == "sepal length (cm)"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["models", "show", "nothing"], "No model named 'nothing'"),
        (["models", "show", "bad name!"], "is not a model reference"),
        (["models", "promote", "nothing:1", "production"], "No model named"),
        (["models", "register", "no-such-artifact"], "No artifact with id"),
        (["models", "register", "/no/such/file.joblib", "--name", "x"], "No model at"),
        (["serve", "nothing"], "No model named 'nothing'"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(
    args: list[str], words: str, kubeline_home: Path
) -> None:
    result = run_cli(*args, home=kubeline_home)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


def test_a_non_model_file_is_refused(tmp_path: Path, kubeline_home: Path) -> None:
    junk = tmp_path / "junk.joblib"
    junk.write_text("not a pickle")
    result = run_cli("models", "register", str(junk), "--name", "x", home=kubeline_home)
    assert result.returncode == 2 and "is not a model joblib can load" in result.stderr
    assert "No models yet" in run_cli("models", "list", home=kubeline_home).stderr


def test_python_api_registers_and_finds_a_model(model_file: Path, kubeline_home: Path) -> None:
    import kubeline

    version = kubeline.register_model(model_file, name="iris")
    assert version.version == 1 and version.signature["classes"] == [0, 1, 2]
    found = kubeline.get_model("iris:1")
    assert found.digest == version.digest
    model = joblib.load(found.uri)  # the registry's own copy loads and predicts
    assert list(model.predict(load_iris(as_frame=True).data[:2])) == [0, 0]


def test_an_artifact_outside_its_run_is_refused_and_an_outside_card_noted(
    model_file: Path, tmp_path: Path, kubeline_home: Path
) -> None:
    from tests.server import model_pipelines as mp

    imported = run_pipeline(compile_function(mp.import_model), {"uri": str(model_file)})
    (task,) = [t for t in imported.tasks if t.kind == "importer"]
    artifact_id = task.outputs["artifact_ids"]["artifact"][0]
    refused = run_cli("models", "register", artifact_id, "--name", "x", home=kubeline_home)
    assert refused.returncode == 2, refused.stderr
    assert "outside its run's folder" in refused.stderr and "Traceback" not in refused.stderr
    # The same file named by its path is the user's own choice, and registers:
    assert cli_json("models", "register", str(model_file), "--name", "x", home=kubeline_home)
    secret = tmp_path / "secret.md"
    secret.write_text("# top secret")
    carded = run_pipeline(
        compile_function(mp.fit_with_card_pipeline), {"card": str(secret), "how": "plain"}
    )
    (task,) = [t for t in carded.tasks if t.kind == "executor"]
    artifact_id = task.outputs["artifact_ids"]["model"][0]
    noted = run_cli("models", "register", artifact_id, "--name", "carded", home=kubeline_home)
    assert noted.returncode == 0, noted.stderr
    assert f"Note: card_uri '{secret}' was ignored" in " ".join(noted.stderr.split())
    shown = run_cli("models", "show", "carded", home=kubeline_home).stdout
    assert "was ignored" in shown and "top secret" not in shown
