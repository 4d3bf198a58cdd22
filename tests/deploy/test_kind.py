"""``kubeline cluster``: the plan, the prerequisite checks, and up/status/down run against
fake ``docker``, ``kind`` and ``kubectl`` executables (nothing here creates a cluster)."""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
from pathlib import Path

import pytest
import typer
import yaml

from kubeline.cli import app as app_module
from kubeline.cli.cluster import cluster_app
from kubeline.deploy import kind
from kubeline.deploy.kind import lifecycle, prerequisites
from kubeline.errors import ConfigError, UserError
from tests.requirements import exempt_reason

fake_only = pytest.mark.skipif(
    sys.platform == "win32",
    reason=exempt_reason(
        "Windows", "the fake docker/kind/kubectl are '#!' Python scripts, which it cannot run"
    ),
)

KUSTOMIZE = "github.com/kubeflow/pipelines/manifests/kustomize"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``kubeline cluster ...`` through the real ``main`` (exit codes, one-line errors)
    with the cluster commands mounted as ``cli/app.py`` will mount them."""
    root = typer.Typer(pretty_exceptions_enable=False)
    root.add_typer(cluster_app, name="cluster")
    monkeypatch.setattr(app_module, "app", root)
    monkeypatch.setenv("COLUMNS", "250")

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = app_module.main(["cluster", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def expected_commands(name: str, version: str, config: Path, port: int) -> list[str]:
    ctx = ["kubectl", "--context", f"kind-{name}"]
    return [
        shlex.join(argv)
        for argv in (
            ["docker", "info", "--format", "{{json .}}"],
            ["kind", "version"],
            ["kind", "get", "clusters"],
            ["kind", "create", "cluster", "--name", name, "--config", str(config)],
            [*ctx, "apply", "-k", f"{KUSTOMIZE}/cluster-scoped-resources?ref={version}"],
            [
                *ctx,
                "wait",
                "--for",
                "condition=established",
                "--timeout=60s",
                "crd/applications.app.k8s.io",
            ],
            [*ctx, "apply", "-k", f"{KUSTOMIZE}/env/platform-agnostic?ref={version}"],
            [*ctx, "get", "deployments", "-n", "kubeflow", "-o", "json"],
            [*ctx, "port-forward", "-n", "kubeflow", "svc/ml-pipeline-ui", f"{port}:80"],
        )
    ]


# -- the plan and --dry-run ---------------------------------------------------------------


def test_dry_run_prints_every_command_in_order_for_the_defaults(
    cli, kubeline_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run, and nothing is run
    code, out, err = cli("up", "--dry-run")
    assert code == 0, err
    config = kubeline_home / "kind" / "kubeline.yaml"
    commands = expected_commands("kubeline", "2.17.0", config, 8080)
    lines = out.splitlines()
    # The commands, one per line and in order; the kind config as a heredoc before create.
    heredoc_start = lines.index(f"cat > {shlex.quote(str(config))} <<'EOF'")
    heredoc_end = lines.index("EOF")
    assert lines[:heredoc_start] + lines[heredoc_end + 1 :] == commands
    assert lines[heredoc_end + 1] == commands[3]  # kind create cluster comes right after
    written = "\n".join(lines[heredoc_start + 1 : heredoc_end]) + "\n"
    assert written == kind.kind_config("kubeline")
    assert not config.exists()  # a dry run writes nothing either
    assert "Dry run: nothing was run" in err


def test_dry_run_json_with_another_version_and_name(cli, kubeline_home: Path) -> None:
    code, out, err = cli(
        "up", "--dry-run", "--kfp-version", "2.16.0", "--name", "x", "--output", "json"
    )
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == {"commands", "kind_config", "warnings"}
    config = kubeline_home / "kind" / "x.yaml"
    assert document["commands"] == expected_commands("x", "2.16.0", config, 8080)
    assert yaml.safe_load(document["kind_config"])["name"] == "x"
    assert all("2.17.0" not in c for c in document["commands"])


def test_dry_run_without_port_forward_ends_with_the_wait(cli, kubeline_home: Path) -> None:
    code, out, _ = cli("up", "--dry-run", "--no-port-forward", "--output", "json")
    assert code == 0
    commands = json.loads(out)["commands"]
    assert commands[-1].endswith("get deployments -n kubeflow -o json")
    assert not any("port-forward" in c for c in commands)


def test_dry_run_lists_missing_tools_as_warnings_and_still_exits_0(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = cli("up", "--dry-run", "--output", "json")
    assert code == 0
    warnings = json.loads(out)["warnings"]
    for tool in ("docker", "kind", "kubectl"):
        assert any(w.startswith(f"{tool} is not on PATH: ") for w in warnings), warnings
        assert f"Warning: {tool} is not on PATH" in err


def test_the_kind_config_is_valid_yaml_for_kind() -> None:
    document = yaml.safe_load(kind.kind_config("demo"))
    assert document["kind"] == "Cluster"
    assert document["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert document["name"] == "demo"
    (node,) = document["nodes"]
    assert node == {"role": "control-plane", "image": kind.KIND_NODE_IMAGE}
    assert kind.KIND_NODE_IMAGE.startswith("kindest/node:v1.")
    assert "@sha256:" in kind.KIND_NODE_IMAGE  # kind supports an image only by its digest


@pytest.mark.parametrize(
    "version",
    ["2.x", "latest", "2.17", "v", "2.17.0; rm -rf /"],
    ids=["2.x", "latest", "two-parts", "v-only", "injection"],
)
def test_a_bad_kfp_version_is_a_config_error_naming_the_fix(version: str) -> None:
    with pytest.raises(ConfigError, match=r"is not a KFP release: give one like 2\.17\.0"):
        kind.validate_kfp_version(version)


def test_kfp_1x_is_refused_and_2x_prereleases_and_a_v_prefix_are_taken() -> None:
    with pytest.raises(ConfigError, match=r"installs Kubeflow Pipelines 2\.x"):
        kind.validate_kfp_version("1.8.5")
    assert kind.validate_kfp_version("v2.17.0") == "2.17.0"
    assert kind.validate_kfp_version("2.18.0-rc.1") == "2.18.0-rc.1"


@pytest.mark.parametrize("name", ["Kubeline", "a_b", "-x", "x-", "", "a" * 51])
def test_a_bad_cluster_name_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="cannot name a kind cluster"):
        kind.validate_cluster_name(name)


def test_bad_options_exit_2_with_one_line(cli) -> None:
    code, out, err = cli("up", "--kfp-version", "2.x")
    assert code == 2 and out == ""
    assert err.startswith("Error: --kfp-version '2.x' is not a KFP release")
    assert len(err.strip().splitlines()) == 1


# -- prerequisites ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "hints"),
    [
        ("linux", {"docker": "Docker Engine", "kind": "go install sigs.k8s.io/kind@v0.33.0",
                   "kubectl": "install-kubectl-linux"}),
        ("darwin", {"docker": "Docker Desktop", "kind": "brew install kind",
                    "kubectl": "brew install kubectl"}),
        ("win32", {"docker": "Docker Desktop", "kind": "choco install kind",
                   "kubectl": "choco install kubernetes-cli"}),
    ],
    ids=["linux", "macos", "windows"],
)  # fmt: skip
def test_each_missing_tool_is_named_with_an_install_hint_for_the_os(
    platform: str, hints: dict[str, str]
) -> None:
    findings = kind.check_tools(which=lambda tool: None, platform=platform)
    assert [f.level for f in findings] == ["error"] * 3
    for finding, (tool, hint) in zip(findings, hints.items(), strict=True):
        assert finding.message.startswith(f"{tool} is not on PATH: ")
        assert hint in finding.message
        assert "\n" not in finding.message


def test_tools_on_path_raise_nothing() -> None:
    assert kind.check_tools(which=lambda tool: f"/usr/bin/{tool}") == []


def _proc(tmp_path: Path, watches: str, instances: str) -> Path:
    (tmp_path / "max_user_watches").write_text(watches + "\n")
    (tmp_path / "max_user_instances").write_text(instances + "\n")
    return tmp_path


def test_low_inotify_limits_say_the_sysctl_commands_and_how_to_keep_them(tmp_path: Path) -> None:
    (finding,) = kind.check_inotify(_proc(tmp_path, "8192", "128"), platform="linux")
    assert finding.level == "warning"
    message = finding.message
    assert "fs.inotify.max_user_watches is 8192 (kind needs 524288)" in message
    assert "fs.inotify.max_user_instances is 128 (kind needs 512)" in message
    assert (
        "'sudo sysctl -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512'"
        in message
    )
    assert "sudo tee /etc/sysctl.d/99-kubeline-inotify.conf && sudo sysctl --system" in message


def test_one_low_inotify_limit_is_raised_without_lowering_the_other(tmp_path: Path) -> None:
    (finding,) = kind.check_inotify(_proc(tmp_path, "1048576", "128"), platform="linux")
    assert "sysctl -w fs.inotify.max_user_instances=512'" in finding.message
    assert "max_user_watches=524288" not in finding.message
    # The persisted file keeps the higher value that is already there.
    assert "fs.inotify.max_user_watches = 1048576" in finding.message


def test_inotify_limits_high_enough_unreadable_or_not_linux_say_nothing(tmp_path: Path) -> None:
    assert kind.check_inotify(_proc(tmp_path, "524288", "512"), platform="linux") == []
    assert kind.check_inotify(tmp_path / "missing", platform="linux") == []
    low = _proc(tmp_path, "8192", "128")
    assert kind.check_inotify(low, platform="darwin") == []
    assert kind.check_inotify(low, platform="win32") == []


def test_resources_below_kfps_needs_are_warnings() -> None:
    gb = 1024**3
    findings = kind.check_resources(2, 4 * gb, 5 * gb, "Docker")
    assert [f.level for f in findings] == ["warning"] * 3
    assert "Docker has 2 CPUs" in findings[0].message
    assert "Docker Desktop (Settings > Resources)" in findings[0].message
    assert "4.0 GB of memory" in findings[1].message
    assert "docker system prune" in findings[2].message
    assert kind.check_resources(8, int(7.8 * gb), 100 * gb, "Docker") == []  # "8 GB" machines
    assert kind.check_resources(None, None, None, "This machine") == []


def test_a_port_in_use_is_found_before_anything_runs() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finding = kind.check_port(port)
    assert finding is not None and finding.level == "error"
    assert f"Port {port} on 127.0.0.1 is in use" in finding.message
    assert "--port" in finding.message


# -- the runner ---------------------------------------------------------------------------


def test_the_runner_names_a_failing_command_and_its_last_lines() -> None:
    script = "import sys\nfor i in range(30): print('line', i)\nsys.exit(3)"
    with pytest.raises(kind.CommandFailedError) as caught:
        kind.run_command([sys.executable, "-c", script])
    message = str(caught.value)
    assert message.startswith(f"`{shlex.join([sys.executable, '-c', script])}` exited with 3.")
    assert "line 29" in message and "line 17" not in message  # only the last lines
    assert caught.value.returncode == 3


def test_the_runner_streams_lines_and_enforces_its_timeout() -> None:
    seen: list[str] = []
    result = kind.run_command([sys.executable, "-c", "print('a'); print('b')"], on_line=seen.append)
    assert seen == ["a", "b"] and result.stdout == "a\nb" and result.returncode == 0
    for on_line in (None, seen.append):
        with pytest.raises(kind.CommandFailedError, match="did not finish within 1 s"):
            kind.run_command(
                [sys.executable, "-c", "print('x', flush=True); import time; time.sleep(30)"],
                timeout=1,
                on_line=on_line,
            )


def test_the_runner_turns_a_missing_program_into_a_user_error() -> None:
    with pytest.raises(UserError, match="no-such-kubeline-tool is not on PATH"):
        kind.run_command(["no-such-kubeline-tool", "version"])


def test_up_reports_deployments_as_they_become_available(tmp_path: Path) -> None:
    """The plan runs through any runner: an in-process one here, so this runs everywhere."""
    polls: list[int] = []

    def runner(argv, *, timeout=None, on_line=None, check=True):
        argv = tuple(argv)
        if argv[0] == "docker":
            return kind.CommandResult(argv, 0, json.dumps({"NCPU": 2, "MemTotal": 16 * 1024**3}))
        if argv == kind.KIND_VERSION:
            return kind.CommandResult(argv, 0, "kind v0.29.0 go1.24 linux/amd64")
        if "deployments" in argv:
            polls.append(1)
            ready = len(polls) >= 2
            items = [
                {"metadata": {"name": n}, "status": {"conditions": [
                    {"type": "Available", "status": "True" if ready or n == "mysql" else "False"}
                ]}}
                for n in ("ml-pipeline", "mysql")
            ]  # fmt: skip
            return kind.CommandResult(argv, 0, json.dumps({"items": items}))
        if on_line:
            on_line(f"ran {argv[0]}")
        return kind.CommandResult(argv, 0, "")

    plan = kind.plan_up("demo", config_path=tmp_path / "demo.yaml")
    events: list[kind.UpEvent] = []
    result = kind.cluster_up(plan, runner, events.append, sleep=lambda s: None)
    progress = [e.deployments for e in events if e.kind == "deployments"]
    assert [(p.ready, p.unready) for p in progress if p] == [
        (("mysql",), ("ml-pipeline",)),
        (("ml-pipeline", "mysql"), ()),
    ]
    assert result.deployments.all_ready and result.to_dict()["kfp"]["ready"] == 2
    warnings = [e.line for e in events if e.kind == "warning"]
    assert any("Docker has 2 CPUs" in w for w in warnings)
    assert any("kind v0.29.0 is installed" in w for w in warnings)
    steps = [e.step.key for e in events if e.kind == "step" and e.step]
    assert steps == [s.key for s in plan.steps if s.key != "port-forward"]
    assert (tmp_path / "demo.yaml").read_text() == plan.kind_config


# -- up / status / ui / down with fake executables ----------------------------------------

FAKE = r'''#!{python}
"""A stand-in for docker, kind or kubectl: records its argv, prints what the real one would."""
import json, os, sys
from pathlib import Path

state = Path(os.environ["KUBELINE_FAKE_STATE"])
fail = os.environ.get("KUBELINE_FAKE_FAIL", "").split(",")
tool, args = Path(sys.argv[0]).name, sys.argv[1:]
with open(state / "calls.jsonl", "a", encoding="utf-8") as log:
    log.write(json.dumps([tool, *args]) + "\n")
clusters_file = state / "clusters"
clusters = clusters_file.read_text().split() if clusters_file.exists() else []

if tool == "docker":
    if "docker" in fail:
        print("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
              "Is the docker daemon running?", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"NCPU": 8, "MemTotal": 16 * 1024**3, "DockerRootDir": str(state)}))
elif tool == "kind":
    if args == ["version"]:
        print("kind v0.33.0 go1.24.6 linux/amd64")
    elif args == ["get", "clusters"]:
        if clusters:
            print("\n".join(clusters))
        else:
            print("No kind clusters found.", file=sys.stderr)
    elif args[:2] == ["create", "cluster"]:
        name = args[args.index("--name") + 1]
        assert "kind: Cluster" in Path(args[args.index("--config") + 1]).read_text()
        print(f'Creating cluster "{name}" ...')
        clusters_file.write_text("\n".join([*clusters, name]))
        print(f'Set kubectl context to "kind-{name}"')
    elif args[:2] == ["delete", "cluster"]:
        name = args[args.index("--name") + 1]
        print(f'Deleting cluster "{name}" ...')
        clusters_file.write_text("\n".join(c for c in clusters if c != name))
elif tool == "kubectl":
    verb = args[2]
    if verb == "apply":
        if "apply" in fail:
            print("namespace/kubeflow unchanged")
            print("error: accumulating resources: git cmd = '/usr/bin/git fetch': exit 128",
                  file=sys.stderr)
            sys.exit(1)
        print("customresourcedefinition.apiextensions.k8s.io/applications.app.k8s.io created")
        print("deployment.apps/ml-pipeline created")
    elif verb == "wait":
        print("customresourcedefinition.apiextensions.k8s.io/applications.app.k8s.io "
              "condition met")
    elif verb == "get":
        polls = state / "polls"
        count = int(polls.read_text()) + 1 if polls.exists() else 1
        polls.write_text(str(count))
        ready = count >= 2 and "never-ready" not in fail
        def available(name):
            return "True" if ready or name == "mysql" else "False"
        items = [
            {"metadata": {"name": name},
             "status": {"conditions": [{"type": "Available", "status": available(name)}]}}
            for name in ("ml-pipeline", "ml-pipeline-ui", "mysql")
        ]
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    elif verb == "port-forward":
        port = args[-1].split(":")[0]
        print(f"Forwarding from 127.0.0.1:{port} -> 3000")
        print(f"Forwarding from [::1]:{port} -> 3000")
'''


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """docker, kind and kubectl as fake executables first on PATH; returns their state dir."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for tool in ("docker", "kind", "kubectl"):
        path = bin_dir / tool
        path.write_text(FAKE.replace("{python}", sys.executable), encoding="utf-8")
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("KUBELINE_FAKE_STATE", str(state))
    monkeypatch.setattr(lifecycle, "POLL_SECONDS", 0.0)
    monkeypatch.setattr(lifecycle, "RETRY_PAUSE_SECONDS", 0.0)
    # This machine's inotify limits are low: read none.
    monkeypatch.setattr(prerequisites, "INOTIFY_DIR", tmp_path / "no-proc")
    return state


def calls(state: Path) -> list[str]:
    path = state / "calls.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [shlex.join(json.loads(line)) for line in lines]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@fake_only
def test_up_with_fake_kind_and_kubectl_runs_the_plan_in_order(
    cli, fakes: Path, kubeline_home: Path
) -> None:
    port = free_port()
    code, out, err = cli("up", "--port", str(port))
    assert code == 0, err
    config = kubeline_home / "kind" / "kubeline.yaml"
    plan = expected_commands("kubeline", "2.17.0", config, port)
    poll = plan[7]
    assert calls(fakes) == [*plan[:8], poll, plan[8]]  # the deployments, polled twice
    assert yaml.safe_load(config.read_text())["kind"] == "Cluster"
    assert "Kubeflow Pipelines 2.17.0 is ready on kind cluster 'kubeline'" in out
    assert f"UI and API: http://127.0.0.1:{port}" in out
    assert "✓ mysql is Available" in err and "1/3 deployments Available" in err
    assert "3/3 deployments Available" in err
    assert f"Forwarding from 127.0.0.1:{port} -> 3000" in err  # the forward's own output
    assert "[9/9]" not in err and "[8/8] Wait until every deployment" in err


@fake_only
def test_status_and_down_with_fake_kind_and_kubectl(cli, fakes: Path) -> None:
    code, out, err = cli("up", "--name", "demo", "--no-port-forward", "--output", "json")
    assert code == 0, err
    assert json.loads(out)["kfp"] == {
        "ready": 3, "total": 3, "unready": [], "all_ready": True
    }  # fmt: skip
    code, out, err = cli("status", "--name", "demo", "--output", "json")
    assert code == 0, err
    status = json.loads(out)
    assert status["exists"] and status["context"] == "kind-demo"
    assert status["kfp"]["all_ready"] and status["ui_url"] == "http://127.0.0.1:8080"
    # Nothing listens on a free port: the UI is not forwarded, and status says how to.
    port = free_port()
    code, out, _ = cli("status", "--name", "demo", "--port", str(port))
    assert "Kubeflow Pipelines: ready, 3/3 deployments Available." in out
    assert f"not forwarded; run 'kubeline cluster ui --name demo --port {port}'" in out
    # Something listens there: the UI counts as forwarded.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code, out, _ = cli("status", "--name", "demo", "--port", str(port))
    assert f"UI and API: http://127.0.0.1:{port} (forwarded)." in out
    assert "kubeline cluster ui" not in out

    code, out, err = cli("down", "--name", "demo", "--output", "json")
    assert code == 0 and json.loads(out) == {"cluster": "demo", "deleted": True}
    assert calls(fakes)[-2:] == ["kind get clusters", "kind delete cluster --name demo"]
    code, out, _ = cli("status", "--name", "demo", "--output", "json")
    assert json.loads(out)["exists"] is False
    code, out, err = cli("down", "--name", "demo")
    assert code == 0 and "No kind cluster named 'demo'; nothing to delete." in err
    assert "delete" not in calls(fakes)[-1]


@fake_only
def test_down_with_fake_kind_deletes_only_the_named_cluster(cli, fakes: Path) -> None:
    (fakes / "clusters").write_text("work\nkubeline\n")
    code, _, err = cli("down")
    assert code == 0, err
    assert (fakes / "clusters").read_text().split() == ["work"]
    assert calls(fakes) == ["kind get clusters", "kind delete cluster --name kubeline"]


@fake_only
def test_status_with_fake_kind_names_deployments_not_ready(cli, fakes: Path) -> None:
    (fakes / "clusters").write_text("kubeline\nother\n")
    code, out, err = cli("status")
    assert code == 0, err
    assert "Kubeflow Pipelines: not ready, 1/3 deployments Available." in out
    assert "Not Available yet: ml-pipeline, ml-pipeline-ui." in out
    code, out, _ = cli("status", "--name", "missing")
    assert "No kind cluster named 'missing'." in out and "Other kind clusters here" in out


@fake_only
def test_up_with_fake_kind_refuses_a_name_already_taken(cli, fakes: Path) -> None:
    (fakes / "clusters").write_text("kubeline\n")
    code, out, err = cli("up", "--port", str(free_port()))
    assert code == 2 and out == ""
    assert "A kind cluster named 'kubeline' already exists" in err
    assert "kubeline cluster status --name kubeline" in err
    assert "kubeline cluster down --name kubeline" in err
    assert not any("create" in c or "kubectl" in c for c in calls(fakes))


@fake_only
def test_up_with_fake_docker_daemon_down_says_how_to_start_it(
    cli, fakes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBELINE_FAKE_FAIL", "docker")
    code, _, err = cli("up", "--port", str(free_port()))
    assert code == 2
    assert "The Docker daemon is not reachable (Cannot connect to the Docker daemon" in err
    assert "start" in err and calls(fakes) == ["docker info --format '{{json .}}'"]


@fake_only
def test_up_with_fake_kubectl_failing_names_the_command_and_its_output(
    cli, fakes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBELINE_FAKE_FAIL", "apply")
    code, _, err = cli("up", "--port", str(free_port()))
    assert code == 1
    apply = f"kubectl --context kind-kubeline apply -k '{KUSTOMIZE}/cluster-scoped-resources"
    assert f"Failed: `{apply}?ref=2.17.0'` exited with 1. Last lines of its output:" in err
    assert "error: accumulating resources" in err  # the last lines of its output
    assert sum(c.startswith(apply) for c in calls(fakes)) == 3  # tried twice more


@fake_only
def test_up_with_fake_kubectl_names_the_deployments_not_ready_at_the_timeout(
    cli, fakes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBELINE_FAKE_FAIL", "never-ready")
    monkeypatch.setattr(lifecycle, "POLL_SECONDS", 0.05)
    code, _, err = cli("up", "--timeout", "1", "--no-port-forward")
    assert code == 1
    assert "2 of 3 KFP deployments were not Available after 1 s: ml-pipeline, ml-pipeline-ui" in err
    assert "kubectl --context kind-kubeline get pods -n kubeflow" in err


@fake_only
def test_up_with_fake_tools_stops_before_anything_when_the_port_is_taken(cli, fakes: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, _, err = cli("up", "--port", str(taken.getsockname()[1]))
    assert code == 2 and "is in use" in err and "--port" in err
    assert calls(fakes) == []


@fake_only
def test_ui_with_fake_kubectl_forwards_an_existing_cluster_only(cli, fakes: Path) -> None:
    code, _, err = cli("ui", "--name", "demo")
    assert code == 2 and "No kind cluster named 'demo'" in err
    (fakes / "clusters").write_text("demo\n")
    port = free_port()
    code, _, err = cli("ui", "--name", "demo", "--port", str(port))
    assert code == 0, err
    assert calls(fakes)[-1] == (
        f"kubectl --context kind-demo port-forward -n kubeflow svc/ml-pipeline-ui {port}:80"
    )
    assert f"Forwarding http://127.0.0.1:{port}" in err


def test_up_without_the_tools_is_a_user_error_naming_each(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = cli("up", "--port", str(free_port()))
    assert code == 2 and out == ""
    for tool in ("docker", "kind", "kubectl"):
        assert f"{tool} is not on PATH" in err
    assert len(err.strip().splitlines()) == 1
