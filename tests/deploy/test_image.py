"""The container image: requirements.txt is the locked runtime closure of kubeline, the
Dockerfile installs exactly it and kubeline, and a pipeline compiled for the image passes
the checks the KFP API server applies on upload.

These read the Dockerfile's instructions, with no Docker engine; test_image_docker.py builds
the image and runs it (marker ``docker``).
"""

from __future__ import annotations

import fnmatch
import importlib.metadata as metadata
import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO, run_cli

DOCKERFILE = REPO / "Dockerfile"
LOCK = REPO / "requirements.txt"
SCRIPT = REPO / "scripts" / "requirements_lock.py"
IMAGE = "europe-west4-docker.pkg.dev/my-project/kubeline/kubeline:test"


def _lock_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("requirements_lock", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("requirements_lock", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lock() -> ModuleType:
    return _lock_module()


@pytest.fixture(scope="module")
def pins(lock: ModuleType) -> dict[str, str]:
    return lock.read_pins(LOCK.read_text(encoding="utf-8"))


def _project() -> dict[str, Any]:
    return _lock_module().project_table()


# -- requirements.txt ------------------------------------------------------------------


def test_lock_is_in_step_with_the_venv() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_every_direct_dependency_is_pinned_inside_its_range(pins: dict[str, str]) -> None:
    for text in _project()["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} (pyproject) is not in requirements.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside pyproject's range {requirement.specifier}"
        )


def test_pins_are_exact_and_match_the_installed_versions(pins: dict[str, str]) -> None:
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert re.fullmatch(r"[a-z0-9][a-z0-9.\-]*==[^\s=<>~!,;]+", line), line
    for name, version in pins.items():
        assert metadata.version(name) == version, name


def test_nothing_from_the_dev_extra_or_kubeline_itself_is_locked(pins: dict[str, str]) -> None:
    dev = {
        canonicalize_name(Requirement(t).name) for t in _project()["optional-dependencies"]["dev"]
    }
    assert not dev & set(pins), f"dev tools in requirements.txt: {sorted(dev & set(pins))}"
    assert "kubeline" not in pins
    for tool in ("pytest", "ruff", "playwright", "pip", "setuptools", "wheel"):
        assert tool not in pins


def test_lock_is_closed_under_requirements_for_the_image(
    lock: ModuleType, pins: dict[str, str]
) -> None:
    """What ``pip check`` in the image asserts: every pinned package's own requirements (for
    Linux, CPython 3.11) are pinned too, at a version they accept."""
    for name, version in pins.items():
        for text in metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            if not lock._applies(requirement, set()):
                continue
            wanted = canonicalize_name(requirement.name)
            assert wanted in pins, f"{name} needs {requirement}, which is not pinned"
            assert requirement.specifier.contains(pins[wanted], prereleases=True), (
                f"{name}=={version} needs {requirement}; the lock has {pins[wanted]}"
            )


def test_full_lock_is_the_default_one_plus_pyarrow(lock: ModuleType, pins: dict[str, str]) -> None:
    """The -full image's lock adds the ``parquet`` extra (pyarrow) and changes nothing else;
    the default image's has no pyarrow, and reads and writes Parquet with fastparquet."""
    full = lock.read_pins(lock.FULL_LOCK.read_text(encoding="utf-8"))
    assert "pyarrow" not in pins and "fastparquet" in pins
    assert set(full) - set(pins) == {"pyarrow"}
    assert {name: full[name] for name in pins} == pins
    parquet = _project()["optional-dependencies"]["parquet"]
    assert [canonicalize_name(Requirement(t).name) for t in parquet] == ["pyarrow"]
    assert Requirement(parquet[0]).specifier.contains(full["pyarrow"])


def test_lock_header_says_how_to_regenerate_it() -> None:
    header = [ln for ln in LOCK.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
    text = "\n".join(header)
    assert "scripts/requirements_lock.py" in text
    assert "--check" in text
    assert "--no-deps" in text


def test_check_mode_fails_when_the_lock_is_out_of_date(
    lock: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "requirements.txt"
    assert lock.main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == LOCK.read_text(encoding="utf-8")
    assert lock.main(["--check", "--output", str(target)]) == 0
    stale = target.read_text(encoding="utf-8").replace("numpy==", "numpy==0.0.1+", 1)
    target.write_text(stale, encoding="utf-8")
    assert lock.main(["--check", "--output", str(target)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert lock.main(["--check", "--output", str(tmp_path / "missing.txt")]) == 1


def test_resolver_reports_a_missing_distribution(lock: ModuleType) -> None:
    with pytest.raises(lock.LockError, match="not installed"):
        lock.resolve([Requirement("kubeline-no-such-package-xyz>=1")])


def test_markers_are_evaluated_for_the_image_not_this_machine(lock: ModuleType) -> None:
    assert lock._applies(Requirement('a; sys_platform == "linux"'), set())
    assert not lock._applies(Requirement('a; sys_platform == "win32"'), set())
    assert not lock._applies(Requirement('a; python_version < "3.11"'), set())
    assert not lock._applies(Requirement('a; extra == "dev"'), set())
    assert lock._applies(Requirement('a; extra == "dev"'), {"dev"})


# -- Dockerfile -------------------------------------------------------------------------


def _instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, rest = full.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def _pip_installs(instructions: list[tuple[str, str]]) -> list[tuple[int, list[str]]]:
    """(instruction index, pip install arguments) for each pip install in a RUN."""
    found = []
    for index, (keyword, rest) in enumerate(instructions):
        if keyword != "RUN":
            continue
        for command in re.split(r"&&|;|\|\|", rest):
            words = shlex.split(command)
            for start in range(len(words) - 1):
                if words[start : start + 2] == ["pip", "install"] or (
                    words[start : start + 3] == ["-m", "pip", "install"]
                ):
                    offset = 2 if words[start] == "pip" else 3
                    found.append((index, words[start + offset :]))
                    break
    return found


def test_dockerfile_base_is_slim_python_311_pinned_by_tag() -> None:
    froms = [rest for keyword, rest in _instructions() if keyword == "FROM"]
    assert len(froms) == 1
    image = froms[0].split()[0]
    name, _, tag = image.partition(":")
    assert name == "python"
    assert tag.startswith("3.11") and "slim" in tag and tag != "latest"


def test_dockerfile_installs_exactly_the_lock_and_kubeline_without_deps() -> None:
    instructions = _instructions()
    installs = _pip_installs(instructions)
    assert len(installs) == 2, installs
    (first_at, first), (second_at, second) = installs
    assert "--no-deps" in first and "--no-deps" in second
    # The lock is the REQUIREMENTS argument: requirements.txt unless the -full variant's.
    arguments = {
        name: default
        for name, _, default in (rest.partition("=") for k, rest in instructions if k == "ARG")
    }
    assert arguments["REQUIREMENTS"] == "requirements.txt"
    assert first[first.index("-r") + 1] == "${REQUIREMENTS}"
    assert [w for w in first if not w.startswith("-") and w != "${REQUIREMENTS}"] == []
    assert [w for w in second if not w.startswith("-")] == ["."]
    for args in (first, second):
        assert not {"-U", "--upgrade", "--user", "-e", "--editable"} & set(args)
    copies = [(i, rest.split()) for i, (k, rest) in enumerate(instructions) if k == "COPY"]
    lock_copy = next(i for i, words in copies if words == ["${REQUIREMENTS}", "./"])
    src_copy = next(i for i, words in copies if words[0] == "src")
    # Cache-friendly: dependencies are installed before the package's sources arrive.
    assert lock_copy < first_at < src_copy < second_at
    for _, words in copies:
        for source in words[:-1]:
            for lock_file in ("requirements.txt", "requirements-full.txt"):
                path = REPO / source.replace("${REQUIREMENTS}", lock_file)
                assert path.exists(), f"COPY {source}: no such file"
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "apt-get" not in runs and "gcc" not in runs  # no compilers, nothing else installed
    assert "pip check" in runs


def test_dockerfile_runs_as_a_non_root_user_with_quiet_python_and_pip() -> None:
    instructions = _instructions()
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    last_user = max(i for i, (k, _) in enumerate(instructions) if k == "USER")
    assert all(k != "RUN" for k, _ in instructions[last_user:]), "RUN after dropping root"
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert "PIP_NO_CACHE_DIR=1" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env


def test_dockerfile_leaves_the_command_to_kfp_and_is_labelled() -> None:
    instructions = _instructions()
    entrypoints = [rest for keyword, rest in instructions if keyword == "ENTRYPOINT"]
    assert not entrypoints or entrypoints[-1] in ('["python"]', '["python3"]', "python")
    labels = " ".join(rest for keyword, rest in instructions if keyword == "LABEL")
    for key in ("title", "description", "version", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches decides; '!' re-includes."""
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes) or (
            pattern.startswith("**/") and fnmatch.fnmatchcase(parts[-1], pattern[3:])
        ):
            verdict = not negate
    return verdict


def test_dockerignore_keeps_the_build_context_to_what_the_image_needs() -> None:
    patterns = [
        ln.strip()
        for ln in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    for kept in ("requirements.txt", "pyproject.toml", "README.md", "src/kubeline/__init__.py"):
        assert not _ignored(kept, patterns), kept
    for dropped in (
        ".venv/bin/python",
        ".git/HEAD",
        ".pytest_cache/v",
        ".ruff_cache/x",
        "src/kubeline/__pycache__/app.cpython-311.pyc",
        "tests/conftest.py",
        "docs/images/runs.png",
        "bench/results.json",
        "build/lib",
        "src/kubeline.egg-info/PKG-INFO",
        "pipeline.yaml",
    ):
        assert _ignored(dropped, patterns), dropped


# -- the compiled pipeline passes the KFP API server's upload checks ---------------------

# The KFP API server's checks on upload (kubeflow/pipelines backend/src/apiserver:
# template/v2_template.go NewV2SpecTemplate, and the 32 MiB upload limit in server/util.go):
# the spec parses as a PipelineSpec proto with no unknown field, schemaVersion is 2.1.0, the
# name is a lowercase DNS-style name, and there is a root component. The server's name regex
# is unanchored; it is anchored here, which is stricter.
_KFP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MAX_UPLOAD = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lifecycle pipeline compiled by the CLI for an Artifact Registry image."""
    folder = tmp_path_factory.mktemp("compiled")
    out = folder / "lifecycle.yaml"
    done = run_cli("compile", "lifecycle", "-o", str(out), "--image", IMAGE, home=folder)
    assert done.returncode == 0, done.stderr
    return out


def test_compiled_pipeline_passes_kfp_upload_checks(compiled: Path) -> None:
    from google.protobuf import json_format
    from kfp import components
    from kfp.pipeline_spec import pipeline_spec_pb2

    assert compiled.stat().st_size < _MAX_UPLOAD
    components.load_component_from_file(str(compiled))
    documents = [d for d in yaml.safe_load_all(compiled.read_text(encoding="utf-8")) if d]
    assert len(documents) == 1
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(documents[0], spec, ignore_unknown_fields=False)
    assert spec.schema_version == "2.1.0"
    assert _KFP_NAME.match(spec.pipeline_info.name), spec.pipeline_info.name
    assert spec.HasField("root") and spec.root.dag.tasks


def test_compiled_pipeline_runs_every_python_step_in_the_image(compiled: Path) -> None:
    spec = yaml.safe_load(compiled.read_text(encoding="utf-8"))
    executors = spec["deploymentSpec"]["executors"]
    assert executors
    for name, executor in executors.items():
        container = executor["container"]
        assert container["image"] == IMAGE, name
        words = " ".join([*container.get("command", []), *container.get("args", [])])
        # The image holds every dependency: nothing is installed when a step starts.
        assert "pip install" not in words, name
        assert "kfp.dsl.executor_main" in words


def test_proto_parse_refuses_unknown_fields(compiled: Path) -> None:
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = yaml.safe_load(compiled.read_text(encoding="utf-8"))
    spec["pipelineInfo"]["colour"] = "blue"
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())


def test_kubeline_server_accepts_the_compiled_pipeline(compiled: Path, tmp_path: Path) -> None:
    from tests.server.conftest import start_server

    server = start_server(tmp_path / "server-home")
    try:
        with server.http() as http, compiled.open("rb") as f:
            response = http.post(
                "/apis/v2beta1/pipelines/upload",
                params={"name": "lifecycle-for-gcp"},
                files={"uploadfile": (compiled.name, f, "application/x-yaml")},
            )
            assert response.status_code == 200, response.text
            pipeline_id = response.json()["pipeline_id"]
            versions = http.get(f"/apis/v2beta1/pipelines/{pipeline_id}/versions").json()
            version_id = versions["pipeline_versions"][0]["pipeline_version_id"]
            stored = http.get(f"/apis/v2beta1/pipelines/{pipeline_id}/versions/{version_id}")
            assert stored.status_code == 200
            executors = stored.json()["pipeline_spec"]["deploymentSpec"]["executors"]
            assert {e["container"]["image"] for e in executors.values()} == {IMAGE}
    finally:
        server.stop()
