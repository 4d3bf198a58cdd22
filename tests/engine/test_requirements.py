from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from kubeline.engine import requirements
from kubeline.engine.requirements import (
    Unsatisfied,
    pip_requirements,
    requirement_set_key,
    unsatisfied,
)

# The C loader reads the corpus about ten times faster where libyaml is present.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ENSURE_PIP = (
    '\nif ! [ -x "$(command -v pip)" ]; then\n'
    "    python3 -m ensurepip || python3 -m ensurepip --user || apt-get install python3-pip\n"
    "fi\n\n"
)
PIP = "python3 -m pip install --quiet --no-warn-script-location"
KFP_PIN = f"{PIP} 'kfp==2.14.3' '--no-deps' 'typing-extensions>=3.7.4,<5; python_version<\"3.9\"'"
RUN = ' && "$0" "$@"\n'
PROGRAM = (
    'program_path=$(mktemp -d)\n\nprintf "%s" "$0" > "$program_path/ephemeral_component.py"\n'
    '_KFP_RUNTIME=true python3 -m kfp.dsl.executor_main --component_module_path "$@"\n'
)
SOURCE = "\nimport kfp\nfrom kfp import dsl\n\ndef add(a: int, b: int) -> int:\n    return a + b\n"
KFP_DEFAULTS = ["kfp==2.14.3", 'typing-extensions>=3.7.4,<5; python_version<"3.9"']


def kfp_command(script: str, source: str = SOURCE) -> list[str]:
    """A lightweight component's command as the KFP v2 compiler writes it."""
    return ["sh", "-c", script, "sh", "-ec", PROGRAM, source]


# Command shapes found in the conformance corpus.
@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (kfp_command(f"{ENSURE_PIP}PIP_DISABLE_PIP_VERSION_CHECK=1 {KFP_PIN}{RUN}"), KFP_DEFAULTS),
        (
            kfp_command(
                f"{ENSURE_PIP}PIP_DISABLE_PIP_VERSION_CHECK=1 {PIP} 'pandas==2.2.0' "
                f"'scikit-learn==1.4.0'  &&  {KFP_PIN}{RUN}"
            ),
            ["pandas==2.2.0", "scikit-learn==1.4.0", *KFP_DEFAULTS],
        ),
        (
            kfp_command(
                f"{ENSURE_PIP}PIP_DISABLE_PIP_VERSION_CHECK=1 {KFP_PIN}  &&  {PIP} 'minio'{RUN}"
            ),
            [*KFP_DEFAULTS, "minio"],
        ),
        (
            kfp_command(
                f"{ENSURE_PIP}PIP_DISABLE_PIP_VERSION_CHECK=1 {PIP} --index-url "
                "https://pypi.org/simple --trusted-host https://pypi.org/simple 'yapf'  &&  "
                f"{PIP} --index-url https://pypi.org/simple --trusted-host "
                f"https://pypi.org/simple 'kfp==2.14.3' '--no-deps'{RUN}"
            ),
            ["yapf", "kfp==2.14.3"],
        ),
        (
            kfp_command(
                f"{ENSURE_PIP}PIP_DISABLE_PIP_VERSION_CHECK=1 {PIP} 'yapf'  &&  \n"
                "export PIP_DISABLE_PIP_VERSION_CHECK=1\ntmp=$(mktemp -d)\n"
                'python3 -m venv "$tmp/venv" --system-site-packages\n'
                '. "$tmp/venv/bin/activate"\n'
                f" {KFP_PIN}{RUN}"
            ),
            ["yapf", *KFP_DEFAULTS],
        ),
        (
            kfp_command(
                "(PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet "
                "--no-warn-script-location 'xgboost==1.1.1' 'pandas==1.0.5' || "
                "PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet "
                "--no-warn-script-location 'xgboost==1.1.1' 'pandas==1.0.5' --user) "
                '&& "$0" "$@"'
            ),
            ["xgboost==1.1.1", "pandas==1.0.5"],
        ),
    ],
    ids=[
        "kfp-pin-only",
        "packages-to-install-first",
        "packages-to-install-after",
        "index-url-and-trusted-host",
        "install-in-venv",
        "v1-user-fallback",
    ],
)
def test_corpus_command_shapes(command: list[str], expected: list[str]) -> None:
    assert pip_requirements(command) == expected


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["pip", "install", "-U", "requests", "-q"], ["requests"]),
        (["/usr/bin/pip3", "install", "a", "b>=1"], ["a", "b>=1"]),
        (["python", "-m", "pip", "install", "-i", "https://mirror/simple", "x"], ["x"]),
        (["sh", "-c", f"{PIP} -i https://mirror/simple --extra-index-url=https://e y"], ["y"]),
        (["sh", "-c", "pip install -f ./wheels --find-links=./more --pre 'z<2'"], ["z<2"]),
        (["bash", "-e", "-c", "pip3 install a; pip install b\npip install c"], ["a", "b", "c"]),
        (
            ["sh", "-c", "pip install -r reqs.txt --requirement=more.txt"],
            ["-r reqs.txt", "-r more.txt"],
        ),
        (["sh", "-c", "pip install -rreqs.txt -e ./local"], ["-r reqs.txt", "./local"]),
        (["sh", "-c", "pip install 'a' \\\n  'b'"], ["a", "b"]),
        (["sh", "-c", "pip install a # b\npip install c"], ["a", "c"]),
        (
            ["sh", "-c", "pip install 'git+https://host/r.git#egg=r' > /dev/null"],
            ["git+https://host/r.git#egg=r"],
        ),
        (["sh", "-c", "uv pip install fast"], ["fast"]),
    ],
    ids=[
        "exec-form-with-flags",
        "pip-by-path",
        "python-m-pip-short-index",
        "index-options-in-script",
        "find-links-and-pre",
        "separated-by-semicolon-and-newline",
        "requirements-files",
        "attached-values",
        "line-continuation",
        "trailing-comment",
        "url-with-hash-and-redirect",
        "uv-pip",
    ],
)
def test_options_are_dropped(command: list[str], expected: list[str]) -> None:
    assert pip_requirements(command) == expected


@pytest.mark.parametrize(
    "command",
    [
        ["python3", "-m", "kfp.dsl.executor_main"],
        kfp_command('echo "no installs here"', source="# run: pip install secret-pkg\n"),
        ["python3", "-c", "import os; os.system('pip install x')"],
        [],
    ],
    ids=["no-shell", "pip-install-only-in-component-source", "python-dash-c", "empty"],
)
def test_commands_without_installs(command: list[str]) -> None:
    assert pip_requirements(command) == []


def test_every_corpus_install_is_found(conformance: Path) -> None:
    checked = 0
    for path in sorted(conformance.rglob("*.yaml")):
        for document in yaml.load_all(path.read_text(), Loader=LOADER):
            executors = ((document or {}).get("deploymentSpec") or {}).get("executors") or {}
            for name, executor in executors.items():
                container = executor.get("container") or {}
                words = [*(container.get("command") or []), *(container.get("args") or [])]
                if not any("pip install" in str(word) for word in words):
                    continue
                found = pip_requirements([str(word) for word in words])
                assert found, f"{path.name}: executor {name} has pip install, none found"
                for requirement in found:
                    Requirement(requirement)  # every one is a valid PEP 508 string
                checked += 1
    assert checked > 0


def installed(name: str) -> str:
    return importlib.metadata.version(name)


def test_kfp_2_satisfies_any_kfp_2_pin() -> None:
    assert unsatisfied(["kfp==2.7.0", "kfp==2.14.3", "kfp===2.0.0", "kfp"]) == []


def test_kfp_2_does_not_satisfy_kfp_1_or_ranges_that_exclude_it() -> None:
    version = installed("kfp")
    assert unsatisfied(["kfp==1.8.22", "kfp<2"]) == [
        Unsatisfied("kfp==1.8.22", f"installed {version} does not satisfy ==1.8.22"),
        Unsatisfied("kfp<2", f"installed {version} does not satisfy <2"),
    ]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """A real site directory ahead of the venv on sys.path; ``site(name, version)`` adds a
    distribution to it, which shadows an installed one as it would for ``import``."""

    def add(name: str, version: str) -> None:
        # As pip writes it: the wheel spec escapes "-" in the name part to "_".
        info = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")

    monkeypatch.syspath_prepend(str(tmp_path))
    return add


def test_kfp_1_does_not_satisfy_a_kfp_2_pin(site: Callable[[str, str], None]) -> None:
    site("kfp", "1.8.22")
    assert unsatisfied(["kfp==2.7.0", "kfp==1.8.22"]) == [
        Unsatisfied("kfp==2.7.0", "installed 1.8.22 does not satisfy ==2.7.0")
    ]


def test_installed_prerelease_counts(site: Callable[[str, str], None]) -> None:
    site("kubeline-probe", "2.0.0rc1")
    assert unsatisfied(["kubeline-probe>=1.0"]) == []


@pytest.mark.parametrize(
    "requirement",
    [
        'typing-extensions>=3.7.4,<5; python_version<"3.9"',
        'no-such-package-kubeline; python_version < "3"',
        "no-such-package-kubeline; sys_platform == 'no-such-platform'",
    ],
    ids=["kfp-default-marker", "old-python-only", "other-platform-only"],
)
def test_requirement_with_false_marker_is_satisfied(requirement: str) -> None:
    assert unsatisfied([requirement]) == []


def test_requirement_with_true_marker_is_checked() -> None:
    requirement = 'no-such-package-kubeline; python_version >= "3"'
    assert unsatisfied([requirement]) == [Unsatisfied(requirement, "not installed")]


@pytest.mark.parametrize(
    "requirement",
    ["scikit_learn", "Scikit-Learn", "scikit.learn>=1", "typing_extensions", "pyyaml", "PYYAML"],
    ids=["underscore", "mixed-case", "dot", "typing-underscore", "lower", "upper"],
)
def test_names_are_compared_normalised(requirement: str) -> None:
    assert unsatisfied([requirement]) == []


def test_missing_package() -> None:
    assert unsatisfied(["no-such-package-kubeline==1.0"]) == [
        Unsatisfied("no-such-package-kubeline==1.0", "not installed")
    ]


def test_version_too_low() -> None:
    [problem] = unsatisfied(["numpy>=999"])
    assert problem.requirement == "numpy>=999"
    assert problem.reason == f"installed {installed('numpy')} does not satisfy >=999"


@pytest.mark.parametrize(
    "requirement",
    [
        "git+https://github.com/org/repo.git@main",
        "https://host/pkg-1.0.tar.gz",
        "file:///opt/pkg",
        "./pkg",
        "../pkg",
        "/opt/pkg",
        "dist/pkg-1.0-py3-none-any.whl",
        "pkg @ https://host/pkg-1.0.zip",
    ],
    ids=[
        "git",
        "https-archive",
        "file-url",
        "relative",
        "parent",
        "absolute",
        "wheel",
        "pep508-url",
    ],
)
def test_url_or_path_is_unsatisfied(requirement: str) -> None:
    assert unsatisfied([requirement]) == [
        Unsatisfied(requirement, "a URL or path; install it yourself or allow installs")
    ]


def test_requirements_file_is_unsatisfied() -> None:
    assert unsatisfied(["-r reqs.txt"]) == [
        Unsatisfied("-r reqs.txt", "a requirements file; install it yourself or allow installs")
    ]


def test_invalid_requirement_is_unsatisfied_with_the_parser_message() -> None:
    [problem] = unsatisfied(["not valid!"])
    assert problem.requirement == "not valid!"
    assert re.fullmatch(r"not a valid requirement: [^\n]+", problem.reason)


def test_unsatisfied_keeps_order_and_skips_met_ones() -> None:
    result = unsatisfied(["zzz-missing-kubeline", "numpy", "aaa-missing-kubeline"])
    assert [problem.requirement for problem in result] == [
        "zzz-missing-kubeline",
        "aaa-missing-kubeline",
    ]


def test_requirement_set_key_ignores_order_repeats_and_spelling() -> None:
    key = requirement_set_key(["pandas==2.2.0", "Scikit_Learn>=1.4,<2", "minio"])
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert key == requirement_set_key(["minio", "scikit-learn <2, >=1.4", "pandas==2.2.0", "minio"])
    assert key != requirement_set_key(["pandas==2.2.1", "scikit-learn>=1.4,<2", "minio"])
    assert key != requirement_set_key(["pandas==2.2.0", "scikit-learn>=1.4,<2"])


def test_requirement_set_key_is_stable_across_runs() -> None:
    # Cached environments are found by this name in later runs, so it must never change.
    assert requirement_set_key([]) == "e3b0c44298fc1c14"
    assert requirement_set_key(["./pkg", " ./pkg "]) == requirement_set_key(["./pkg"])


def test_public_api() -> None:
    assert requirements.__all__ == [
        "PipInstall",
        "Unsatisfied",
        "pip_installs",
        "pip_requirements",
        "requirement_set_key",
        "unsatisfied",
    ]
