"""Who may call the model server, with real requests on real servers: a foreign Host is
refused on loopback (DNS rebinding), a cross-site browser write is refused everywhere, and
a token, when set, is required on everything but the health and model-ready probes. On
0.0.0.0 (how KServe runs it) any Host is accepted. The token reaches worker processes
without being written to their config file. Refusals are in KServe's error shape."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from kubeline.serving import ServeConfig
from kubeline.serving.app import TOKEN_ENV, open_paths
from tests.live import free_port
from tests.serving.conftest import IRIS_ROWS, Models
from tests.serving.helpers import LiveServer, start_server
from tests.serving.test_errors import check_error
from tests.serving.test_workers import REPO, _wait_ready

TOKEN = "s3cret-token_for.tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
V1 = "/v1/models/iris:predict"
V1_BODY = {"instances": IRIS_ROWS}


@pytest.fixture(scope="module")
def iris_only(serve_config: ServeConfig) -> ServeConfig:
    """Both versions of iris: quick to load, for the servers this module starts."""
    return replace(serve_config, models=[m for m in serve_config.models if m.name == "iris"])


@pytest.fixture(scope="module")
def guarded(iris_only: ServeConfig) -> Iterator[LiveServer]:
    server = start_server(replace(iris_only, token=TOKEN))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(iris_only: ServeConfig) -> Iterator[LiveServer]:
    """Configured as KServe runs it (--host 0.0.0.0), reached here on 127.0.0.1."""
    server = start_server(replace(iris_only, host="0.0.0.0"))
    yield server
    server.stop()


def _port(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


# -- Host -----------------------------------------------------------------------------------


def test_a_foreign_host_is_refused_on_loopback(live: LiveServer) -> None:
    with live.http() as http:
        for host in ("evil.example", f"evil.example:{_port(live)}", "127.0.0.1.nip.io"):
            response = http.post(V1, json=V1_BODY, headers={"Host": host})
            check_error(response, 403, "is not allowed")
            assert "--allow-host" in response.json()["error"]
        # Probes too: a rebinding page must not learn anything.
        check_error(http.get("/v2/health/ready", headers={"Host": "evil.example"}), 403, "Host")
        for host in ("localhost", f"127.0.0.1:{_port(live)}", f"localhost:{_port(live)}"):
            assert http.post(V1, json=V1_BODY, headers={"Host": host}).status_code == 200


def test_allow_host_adds_a_name(iris_only: ServeConfig) -> None:
    server = start_server(replace(iris_only, allow_hosts=["models.internal"]))
    try:
        with server.http() as http:
            named = {"Host": f"models.internal:{_port(server)}"}
            assert http.post(V1, json=V1_BODY, headers=named).status_code == 200
            other = {"Host": "other.internal"}
            check_error(http.post(V1, json=V1_BODY, headers=other), 403, "models.internal")
    finally:
        server.stop()


def test_on_0_0_0_0_any_host_is_accepted(cluster: LiveServer) -> None:
    with cluster.http() as http:
        for host in ("iris.default.svc.cluster.local", "iris.default.example.com", "10.0.0.7"):
            response = http.post(V1, json=V1_BODY, headers={"Host": host})
            assert response.status_code == 200, response.text
        # A browser on another site still may not predict (Origin is checked everywhere).
        cross = {"Host": "iris.default.example.com", "Origin": "https://evil.example"}
        check_error(http.post(V1, json=V1_BODY, headers=cross), 403, "Cross-origin")


# -- Origin ---------------------------------------------------------------------------------


def test_a_cross_origin_browser_post_is_refused(live: LiveServer) -> None:
    other = f"http://127.0.0.1:{free_port()}"
    with live.http() as http:
        for headers in (
            {"Origin": other},
            {"Origin": "null"},
            {"Origin": f"http://localhost:{_port(live)}"},  # another origin, same machine
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
        ):
            response = http.post(V1, json=V1_BODY, headers=headers)
            check_error(response, 403, "refused")
        # The model server has no pages, but a GET from anywhere changes nothing.
        assert http.get("/v1/models/iris", headers={"Origin": other}).status_code == 200


def test_same_origin_and_non_browser_posts_are_answered(live: LiveServer, models: Models) -> None:
    expected = {"predictions": models.iris.model.predict(IRIS_ROWS).tolist()}
    with live.http() as http:
        for headers in (
            {},  # a program: no Origin, no Sec-Fetch-Site
            {"Origin": live.url},
            {"Origin": live.url, "Sec-Fetch-Site": "same-origin"},
        ):
            response = http.post(V1, json=V1_BODY, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json() == expected


# -- the token ------------------------------------------------------------------------------


def test_predictions_metadata_and_metrics_need_the_token(guarded: LiveServer) -> None:
    v2_body = {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": IRIS_ROWS}]}
    with guarded.http() as http:
        for method, path, body in (
            ("POST", V1, V1_BODY),
            ("POST", "/v1/models/iris/versions/1:predict", V1_BODY),
            ("POST", "/v2/models/iris/infer", v2_body),
            ("GET", "/metrics", None),
            ("GET", "/v1/models", None),
            ("GET", "/v2", None),
            ("GET", "/v2/models/iris", None),
        ):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                response = http.request(method, path, json=body, headers=headers)
                check_error(response, 401, "Authorization: Bearer <token>")
            response = http.request(method, path, json=body, headers=AUTH)
            assert response.status_code == 200, (path, response.text)


def test_health_and_model_ready_probes_need_no_token(guarded: LiveServer) -> None:
    expected = {
        "/",
        "/v2/health/live",
        "/v2/health/ready",
        "/v1/models/iris",
        "/v1/models/iris/versions/1",
        "/v1/models/iris/versions/2",
        "/v2/models/iris/ready",
        "/v2/models/iris/versions/1/ready",
        "/v2/models/iris/versions/2/ready",
    }
    assert open_paths(guarded.config) == expected
    with guarded.http() as http:
        for path in sorted(expected):
            response = http.get(path)
            assert response.status_code == 200, (path, response.text)
        # Open means open to a probe, not to the rest of that path's neighbours.
        check_error(http.get("/v2/models/iris/versions/1"), 401, "token")


def test_a_non_ascii_authorization_header_is_401(guarded: LiveServer) -> None:
    with guarded.http() as http:
        for value in ("Bearer é".encode(), b"Bearer \xff\xfe", f"Bearer {TOKEN}é".encode()):
            response = http.post(V1, json=V1_BODY, headers={"Authorization": value})
            check_error(response, 401, "token")


def test_the_token_is_never_in_the_config_json(iris_only: ServeConfig) -> None:
    config = replace(iris_only, token=TOKEN)
    assert TOKEN not in config.to_json()
    assert TOKEN not in repr(config)
    assert ServeConfig.from_json(config.to_json()).token is None


@pytest.mark.parametrize("token", ["", "two words", "tab\tin", "naïve", "line\nbreak"])
def test_tokens_a_header_cannot_carry_are_refused(iris_only: ServeConfig, token: str) -> None:
    from kubeline.errors import ConfigError

    with pytest.raises(ConfigError, match="token"):
        replace(iris_only, token=token)


def test_workers_get_the_token_but_not_in_their_config_file(
    iris_only: ServeConfig, tmp_path: Path
) -> None:
    """Two uvicorn workers (fresh processes) require the token; the temporary config file
    they read it from holds no token."""
    config = replace(iris_only, workers=2, token=TOKEN)
    config_file = tmp_path / "config.json"
    config_file.write_text(config.to_json(), encoding="utf-8")  # no token: passed below
    port = free_port()
    script = (
        "import sys\nfrom pathlib import Path\nfrom dataclasses import replace\n"
        "from kubeline.serving import ServeConfig, run_server\n"
        f"config = ServeConfig.from_json(Path({str(config_file)!r}).read_text())\n"
        "config = replace(config, token=sys.stdin.readline().strip())\n"
        f"run_server(config, host='127.0.0.1', port={port}, log_level='warning')\n"
    )
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", TOKEN_ENV)}
    env.update(TMPDIR=str(temp), TEMP=str(temp), TMP=str(temp))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdin is not None
    process.stdin.write(f"{TOKEN}\n".encode())
    process.stdin.close()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        files = list(temp.glob("kubeline-serve-*/serve-config.json"))
        assert len(files) == 1
        assert TOKEN not in files[0].read_text(encoding="utf-8")
        for _ in range(6):  # new connections, so that both workers answer some
            with httpx.Client(base_url=url, timeout=60) as http:
                check_error(http.post(V1, json=V1_BODY), 401, "token")
                assert http.post(V1, json=V1_BODY, headers=AUTH).status_code == 200
    finally:
        if sys.platform == "win32":
            process.terminate()
        else:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the CLI --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one model file, as KServe lays out /mnt/models."""
    import shutil

    folder = tmp_path_factory.mktemp("mnt-models")
    shutil.copy(models.iris.path, folder / "model.joblib")
    return folder


def _serve(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """``kubeline serve`` in a subprocess, its stderr piped."""
    base = {k: v for k, v in os.environ.items() if k != "KUBELINE_TOKEN"}
    return subprocess.Popen(
        [sys.executable, "-m", "kubeline", "serve", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**base, **(env or {})},
    )


def _stop(process: subprocess.Popen) -> str:
    """Stop the server; its stderr."""
    process.terminate()
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err.decode(errors="replace")


def _requires_the_token(url: str, process: subprocess.Popen, token: str) -> None:
    _wait_ready(url, process)
    with httpx.Client(base_url=url, timeout=60) as http:
        check_error(http.post("/v1/models/model:predict", json=V1_BODY), 401, "token")
        auth = {"Authorization": f"Bearer {token}"}
        response = http.post("/v1/models/model:predict", json=V1_BODY, headers=auth)
        assert response.status_code == 200, response.text
        assert http.get("/v2/health/ready").status_code == 200


def test_cli_token_works_but_warns_that_ps_shows_it(model_dir: Path) -> None:
    port = free_port()
    args = ["--model-dir", str(model_dir), "--port", str(port), "--workers", "1"]
    process = _serve([*args, "--token", TOKEN])
    try:
        _requires_the_token(f"http://127.0.0.1:{port}", process, TOKEN)
    finally:
        err = _stop(process)
    flat = " ".join(err.split())
    assert "--token shows in the process list" in flat, err
    assert "--token-file" in flat and "KUBELINE_TOKEN" in flat, err
    assert "Traceback" not in err


@pytest.mark.parametrize("source", ["file", "env"])
def test_cli_token_file_and_environment(model_dir: Path, tmp_path: Path, source: str) -> None:
    port = free_port()
    args = ["--model-dir", str(model_dir), "--port", str(port), "--workers", "1"]
    if source == "file":
        token_file = tmp_path / "token"
        token_file.write_text(f"{TOKEN}\n", encoding="utf-8")
        process = _serve([*args, "--token-file", str(token_file)])
    else:
        process = _serve(args, env={"KUBELINE_TOKEN": TOKEN})
    try:
        _requires_the_token(f"http://127.0.0.1:{port}", process, TOKEN)
    finally:
        err = _stop(process)
    assert "Warning" not in err, err
    assert "Authorization: Bearer" in err, err


def _run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "KUBELINE_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "kubeline", "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
    )


def test_cli_token_mistakes_exit_2_without_a_traceback(model_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    spaced = tmp_path / "spaced"
    spaced.write_text("two words\n", encoding="utf-8")
    base = ["--model-dir", str(model_dir), "--port", str(free_port())]
    for args, words in (
        (["--token-file", str(tmp_path / "missing")], "Cannot read the token file"),
        (["--token-file", str(empty)], "is empty"),
        (["--token-file", str(spaced)], "printable ASCII with no spaces"),
        (["--token", "x", "--token-file", str(empty)], "not both"),
    ):
        result = _run_cli([*base, *args])
        assert result.returncode == 2, (args, result.stderr)
        assert words in " ".join(result.stderr.split()), result.stderr
        assert "Traceback" not in result.stderr


def test_cli_warns_off_loopback_without_a_token(model_dir: Path) -> None:
    """192.0.2.1 (TEST-NET-1, never this machine's) cannot be bound, so nothing listens on
    a public address here: the warning is printed before the server tries."""
    args = ["--model-dir", str(model_dir), "--host", "192.0.2.1", "--port", str(free_port())]
    result = _run_cli([*args, "--workers", "1"])
    flat = " ".join(result.stderr.split())
    assert re.search(r"Warning: serving on 192\.0\.2\.1 with no token", flat), result.stderr
    assert "--token-file" in flat
    assert result.returncode != 0  # the address is not this machine's
