"""cloudbuild.yaml: valid for Cloud Build, its substitutions consistent, its steps doing what
docs/guide-gcp.md says; the shell step's branches run against fake kubeline and pip.

No Google Cloud here: the file is checked against the schema of Cloud Build's config and the
steps' commands are run on this machine with stand-ins.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import REPO, run_cli
from tests.requirements import exempt_reason

CONFIG = REPO / "cloudbuild.yaml"

# The fields Cloud Build accepts in a build config file, from Cloud Build's "Build
# configuration file schema" reference (cloud.google.com/build/docs/build-config-file-schema)
# and the Build, BuildStep and BuildOptions resources of its REST API (v1). Written as a JSON
# Schema here so an unknown or misspelt field fails the test, as it fails `gcloud builds
# submit`.
_DURATION = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,9})?s$"}
_ENV = {"type": "array", "items": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*="}}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_VOLUMES = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "path"],
        "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "path": {"type": "string", "pattern": "^/"}},
    },
}
_STEP = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "args": _STRINGS,
        "env": _ENV,
        "dir": {"type": "string"},
        "id": {"type": "string", "minLength": 1},
        "waitFor": _STRINGS,
        "entrypoint": {"type": "string"},
        "secretEnv": _STRINGS,
        "volumes": _VOLUMES,
        "timeout": _DURATION,
        "script": {"type": "string"},
        "allowFailure": {"type": "boolean"},
        "allowExitCodes": {"type": "array", "items": {"type": "integer"}},
        "automapSubstitutions": {"type": "boolean"},
    },
    # "If you specify script in a build step, you cannot specify args or entrypoint."
    "not": {"anyOf": [{"required": ["script", "args"]}, {"required": ["script", "entrypoint"]}]},
}
_OPTIONS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "env": _ENV,
        "secretEnv": _STRINGS,
        "volumes": _VOLUMES,
        "sourceProvenanceHash": {"type": "array", "items": {"enum": ["NONE", "SHA256", "MD5"]}},
        "machineType": {
            "enum": [
                "UNSPECIFIED",
                "N1_HIGHCPU_8",
                "N1_HIGHCPU_32",
                "E2_HIGHCPU_8",
                "E2_HIGHCPU_32",
                "E2_MEDIUM",
            ]
        },
        "diskSizeGb": {"type": ["string", "integer"]},
        "substitutionOption": {"enum": ["MUST_MATCH", "ALLOW_LOOSE"]},
        "dynamicSubstitutions": {"type": "boolean"},
        "automapSubstitutions": {"type": "boolean"},
        "logStreamingOption": {"enum": ["STREAM_DEFAULT", "STREAM_ON", "STREAM_OFF"]},
        "logging": {
            "enum": [
                "LOGGING_UNSPECIFIED",
                "LEGACY",
                "GCS_ONLY",
                "STACKDRIVER_ONLY",
                "CLOUD_LOGGING_ONLY",
                "NONE",
            ]
        },
        "defaultLogsBucketBehavior": {
            "enum": [
                "DEFAULT_LOGS_BUCKET_BEHAVIOR_UNSPECIFIED",
                "REGIONAL_USER_OWNED_BUCKET",
                "LEGACY_BUCKET",
            ]
        },
        "pool": {"type": "object", "properties": {"name": {"type": "string"}}},
        "requestedVerifyOption": {"enum": ["NOT_VERIFIED", "VERIFIED"]},
        "enableStructuredLogging": {"type": "boolean"},
    },
}
CLOUD_BUILD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["steps"],
    "additionalProperties": False,
    "properties": {
        "steps": {"type": "array", "minItems": 1, "items": _STEP},
        "timeout": _DURATION,
        "queueTtl": _DURATION,
        "logsBucket": {"type": "string", "pattern": "^gs://"},
        "options": _OPTIONS,
        "substitutions": {
            "type": "object",
            "propertyNames": {"pattern": r"^_[A-Z0-9_]+$"},
            "additionalProperties": {"type": "string"},
        },
        "tags": {"type": "array", "items": {"type": "string", "pattern": r"^[\w][\w.-]{0,127}$"}},
        "serviceAccount": {"type": "string"},
        "secrets": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "kmsKeyName": {"type": "string"},
                    "secretEnv": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
        "availableSecrets": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "secretManager": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["versionName", "env"],
                        "additionalProperties": False,
                        "properties": {
                            "versionName": {"type": "string"},
                            "env": {"type": "string"},
                        },
                    },
                },
                "inline": {"type": "array", "items": {"type": "object"}},
            },
        },
        "artifacts": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "images": _STRINGS,
                "objects": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}, "paths": _STRINGS},
                },
                "mavenArtifacts": {"type": "array"},
                "pythonPackages": {"type": "array"},
                "npmPackages": {"type": "array"},
                "goModules": {"type": "array"},
            },
        },
        "images": _STRINGS,
    },
}

#: Substitutions Cloud Build defines itself (the same reference, "Substituting variable
#: values"); any other $NAME would be substituted as empty or refused, so a shell variable
#: must be written $$NAME.
BUILT_IN = {
    "PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "LOCATION", "TRIGGER_NAME", "COMMIT_SHA",
    "REVISION_ID", "SHORT_SHA", "REPO_NAME", "REPO_FULL_NAME", "BRANCH_NAME", "TAG_NAME",
    "REF_NAME", "TRIGGER_BUILD_CONFIG_PATH", "SERVICE_ACCOUNT_EMAIL", "SERVICE_ACCOUNT",
}  # fmt: skip
_REFERENCE = re.compile(
    r"(?<!\$)\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
IMAGE = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}/kubeline:${_TAG}"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def _references(config: dict[str, Any]) -> set[str]:
    body = {k: v for k, v in config.items() if k != "substitutions"}
    found = set()
    for text in _strings(body):
        for match in _REFERENCE.finditer(text.replace("$$", "")):
            found.add(match["braced"] or match["bare"])
    return found


def _step(config: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in config["steps"] if s.get("id") == step_id)


def _substitute(text: str, values: dict[str, str]) -> str:
    """What Cloud Build does to a string before the step runs: $$ becomes $."""

    def one(match: re.Match[str]) -> str:
        return values[match["braced"] or match["bare"]]

    return _REFERENCE.sub(one, text.replace("$$", "\0")).replace("\0", "$")


def test_cloudbuild_matches_cloud_builds_config_schema(config: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(CLOUD_BUILD_SCHEMA)
    errors = sorted(
        jsonschema.Draft202012Validator(CLOUD_BUILD_SCHEMA).iter_errors(config), key=str
    )
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["steps"][0].update(user="root"),  # not a step field
        lambda c: c.update(machineType="E2_HIGHCPU_8"),  # belongs in options
        lambda c: c["options"].update(logging="CLOUD_LOGGING"),  # not an enum value
        lambda c: c["substitutions"].update(REGION="x"),  # user keys start with _
        lambda c: c["steps"][0].update(script="echo hi"),  # script with args/entrypoint
        lambda c: c.update(timeout="1h"),  # durations are seconds: "3600s"
    ],
)
def test_schema_refuses_what_cloud_build_refuses(config: dict[str, Any], change: Any) -> None:
    broken = yaml.safe_load(yaml.safe_dump(config))
    change(broken)
    assert not jsonschema.Draft202012Validator(CLOUD_BUILD_SCHEMA).is_valid(broken)


def test_every_substitution_used_is_declared_and_every_declared_one_used(
    config: dict[str, Any],
) -> None:
    declared = set(config["substitutions"])
    used = _references(config)
    assert all(name.startswith("_") for name in declared)
    user = {name for name in used if name.startswith("_")}
    assert user <= declared, f"used but not declared: {sorted(user - declared)}"
    # substitutionOption MUST_MATCH fails a build whose declared substitution is unused.
    assert declared <= user, f"declared but never used: {sorted(declared - user)}"
    others = used - user
    assert others <= BUILT_IN, f"not substitutions (write shell variables $$NAME): {others}"
    assert {"_REGION", "_REPOSITORY", "_TAG", "_PIPELINE_ROOT", "_TARGET", "_KFP_HOST"} <= declared
    assert config["substitutions"]["_TARGET"] in ("kfp", "vertex")


def test_builds_pushes_and_lists_the_artifact_registry_image(config: dict[str, Any]) -> None:
    ids = [s.get("id") for s in config["steps"]]
    assert len(ids) == len(set(ids)) and None not in ids
    for step in config["steps"]:
        assert set(step.get("waitFor", [])) <= set(ids) | {"-"}
    build = _step(config, "build-image")
    assert build["name"] == "gcr.io/cloud-builders/docker"
    assert build["args"][0] == "build" and f"--tag={IMAGE}" in build["args"]
    assert build["args"][-1] == "."
    push = _step(config, "push-image")
    assert push["args"] == ["push", IMAGE]
    assert config["images"] == [IMAGE]
    assert config["options"]["logging"] == "CLOUD_LOGGING_ONLY"
    order = [s["id"] for s in config["steps"]]
    assert (
        order.index("build-image")
        < order.index("push-image")
        < order.index("compile-pipeline")
        < order.index("run-pipeline")
    )


def test_compile_step_runs_in_the_built_image_and_targets_it(config: dict[str, Any]) -> None:
    step = _step(config, "compile-pipeline")
    assert step["name"] == IMAGE and step["entrypoint"] == "kubeline"
    args = step["args"]
    assert args[0] == "compile"
    assert args[args.index("-o") + 1] == "/workspace/lifecycle.yaml"
    assert args[args.index("--image") + 1] == IMAGE
    # The image runs as a non-root user: a root step opens /workspace to it first.
    opener = config["steps"][0]
    assert "chmod" in " ".join(opener["args"]) and "/workspace" in " ".join(opener["args"])


VALUES = {
    "PROJECT_ID": "my-project-123",
    "BUILD_ID": "0000-build",
    "_REGION": "europe-west4",
    "_REPOSITORY": "kubeline",
    "_TAG": "0.1.0",
    "_PIPELINE_ROOT": "gs://my-bucket/pipeline-root",
    "_TARGET": "vertex",
    "_KFP_HOST": "https://kfp.example.com",
}


def test_image_name_is_an_artifact_registry_docker_path(config: dict[str, Any]) -> None:
    image = _substitute(IMAGE, VALUES)
    assert re.fullmatch(
        r"[a-z0-9-]+-docker\.pkg\.dev/[a-z][-a-z0-9]{4,28}[a-z0-9]/[a-z0-9-]+/kubeline:[\w.-]+",
        image,
    )


def test_compile_step_command_works_with_this_kubeline_on_a_fake_workspace(
    config: dict[str, Any], tmp_path: Path
) -> None:
    step = _step(config, "compile-pipeline")
    args = [_substitute(a, VALUES) for a in step["args"]]
    args = [a.replace("/workspace", str(tmp_path)) for a in args]
    done = run_cli(*args, "--output", "json", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    spec = yaml.safe_load((tmp_path / "lifecycle.yaml").read_text(encoding="utf-8"))
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert images == {_substitute(IMAGE, VALUES)}


def _fake_tools(folder: Path) -> Path:
    """A bin folder whose kubeline and python only record how they were called."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    for tool in ("kubeline", "python"):
        script = bin_dir / tool
        script.write_text(
            f'#!/bin/sh\necho "{tool} $*" >> "{folder}/calls.log"\n', encoding="utf-8"
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.mark.skipif(
    sys.platform == "win32" and shutil.which("bash") is None,
    reason=exempt_reason("bash on Windows", "the build's steps are bash scripts"),
)
@pytest.mark.parametrize(
    ("target", "extra", "code", "expected"),
    [
        (
            "vertex",
            {},
            0,
            [
                "python -m pip install --quiet --user google-cloud-aiplatform>=1.60,<2",
                "kubeline submit /workspace/lifecycle.yaml --vertex --project my-project-123 "
                "--region europe-west4 --pipeline-root gs://my-bucket/pipeline-root "
                "--output json",
            ],
        ),
        (
            "kfp",
            {},
            0,
            [
                "kubeline submit /workspace/lifecycle.yaml --host https://kfp.example.com "
                "--output json"
            ],
        ),
        ("kfp", {"_KFP_HOST": ""}, 2, []),
        ("vertex", {"_PIPELINE_ROOT": "/tmp/root"}, 2, []),
        ("gke", {}, 2, []),
    ],
)
def test_run_step_branches_on_target_with_fake_kubeline(
    config: dict[str, Any],
    tmp_path: Path,
    target: str,
    extra: dict[str, str],
    code: int,
    expected: list[str],
) -> None:
    step = _step(config, "run-pipeline")
    assert step["name"] == IMAGE and step["entrypoint"] == "bash"
    values = {**VALUES, "_TARGET": target, **extra}
    args = [_substitute(a, values) for a in step["args"]]
    bin_dir = _fake_tools(tmp_path)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.update(dict(e.split("=", 1) for e in step.get("env", [])))
    done = subprocess.run(
        ["bash", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == code, done.stderr
    log = tmp_path / "calls.log"
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    assert calls == expected
    if code:
        assert done.stderr.strip(), "a refused target must say why"
