"""Who may talk to a kubeline server (#11): Host and Origin checks, body and YAML limits,
the token kept out of tasks and out of the process list. Real servers on loopback, real
HTTP requests; the browser's side is in tests/server/web/test_cross_origin.py."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from kubeline.httpguard import RequestGuard, token_matches
from kubeline.pipelines.compile import compile_function, compile_pipeline
from tests.conftest import run_cli
from tests.engine import pipelines as p
from tests.server.conftest import LiveServer, start_server

API = "/apis/v2beta1"


def _upload(http: httpx.Client, path: Path, **headers: str) -> httpx.Response:
    with path.open("rb") as f:
        return http.post(
            f"{API}/pipelines/upload",
            files={"uploadfile": (path.name, f, "application/x-yaml")},
            headers=headers,
        )


@pytest.fixture
def two_step_yaml(tmp_path: Path) -> Path:
    return compile_pipeline(compile_function(p.two_step), tmp_path / "two.yaml")


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# -- the guard's rules, on plain values --------------------------------------------------


def test_loopback_guard_answers_to_loopback_names_and_allowed_ones_only() -> None:
    guard = RequestGuard.for_bind("127.0.0.1", allow_hosts=["kubeline.test"])
    for host in ("127.0.0.1:8888", "localhost:8888", "[::1]:8888", "LOCALHOST", "kubeline.test"):
        assert guard.host_problem(host) is None, host
    for host in ("evil.example:8888", "127.0.0.1.evil.example", "", "a b", "x/y", "[::1"):
        problem = guard.host_problem(host)
        assert problem is not None, host
    assert "--allow-host" in (guard.host_problem("evil.example") or "")


def test_off_loopback_the_host_check_is_off_unless_names_are_given() -> None:
    # `kubeline serve --host 0.0.0.0` behind KServe's ingress: Host is the service's name.
    assert RequestGuard.for_bind("0.0.0.0").host_problem("bcc.models.svc.cluster.local") is None
    named = RequestGuard.for_bind("0.0.0.0", allow_hosts=["team.example"])
    assert named.host_problem("team.example:443") is None
    assert named.host_problem("evil.example") is not None
    assert RequestGuard.for_bind("127.0.0.1", allow_hosts=["*"]).host_problem("any.where") is None


def test_writes_from_another_origin_or_site_are_refused_reads_are_not() -> None:
    guard = RequestGuard.for_bind("127.0.0.1")
    own = "localhost:8888"
    assert guard.origin_problem("POST", "http", own, "http://localhost:8888", "same-origin") is None
    assert guard.origin_problem("POST", "http", own, None, None) is None  # kfp.Client
    assert guard.origin_problem("POST", "http", own, None, "none") is None  # typed URL
    # Another local port is another origin, though the same site.
    assert guard.origin_problem("POST", "http", own, "http://localhost:9999", None)
    assert guard.origin_problem("POST", "http", own, None, "same-site")
    assert guard.origin_problem("DELETE", "http", own, "https://evil.example", "cross-site")
    assert guard.origin_problem("PUT", "http", own, "null", None)  # sandboxed frame, file:
    assert guard.origin_problem("PUT", "http", own, "null", "cross-site")  # sandboxed preview
    # Our own form under Referrer-Policy: no-referrer: Origin null, the browser vouches.
    assert guard.origin_problem("POST", "http", own, "null", "same-origin") is None
    assert guard.origin_problem("POST", "https", own, "http://localhost:8888", None)  # scheme
    assert guard.origin_problem("GET", "http", own, "https://evil.example", "cross-site") is None
    # Default ports: an Origin leaves them out.
    assert (
        guard.origin_problem("POST", "https", "kubeline.test", "https://kubeline.test", None)
        is None
    )
    assert guard.origin_problem("POST", "http", "a:80", "http://a", None) is None


def test_token_compare_never_raises_on_any_bytes() -> None:
    assert token_matches("Bearer s3cret", "Bearer s3cret")
    assert not token_matches("Bearer sécret", "Bearer s3cret")
    assert not token_matches("Bearer \udcff", "Bearer s3cret")
    assert not token_matches(b"Bearer \xff\xfe", "Bearer s3cret")


# -- a real server ------------------------------------------------------------------------


def test_a_foreign_host_is_refused_with_a_clear_403(live_server: LiveServer) -> None:
    port = _port(live_server.url)
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        for path in (f"{API}/pipelines", "/runs", "/healthz"):
            refused = http.get(path, headers={"Host": f"rebind.evil.example:{port}"})
            assert refused.status_code == 403, path
            body = refused.json()
            assert body["code"] == 7 and "rebind.evil.example" in body["message"]
            assert "--allow-host" in body["message"]
        assert http.get(f"{API}/pipelines", headers={"Host": f"localhost:{port}"}).is_success


def test_allow_host_lets_a_named_host_in(kubeline_home: Path) -> None:
    server = start_server(kubeline_home, allow_hosts=("kubeline.test",))
    try:
        with server.http() as http:
            assert http.get(f"{API}/pipelines", headers={"Host": "kubeline.test"}).is_success
            assert http.get(f"{API}/pipelines", headers={"Host": "other.test"}).status_code == 403
    finally:
        server.stop()


def test_cross_origin_writes_are_refused_and_change_nothing(
    live_server: LiveServer, two_step_yaml: Path
) -> None:
    port = _port(live_server.url)
    other = f"http://127.0.0.1:{port + 1}"
    with live_server.http() as http:
        attempts = [
            _upload(http, two_step_yaml, Origin=other),
            _upload(http, two_step_yaml, **{"Sec-Fetch-Site": "cross-site"}),
            _upload(http, two_step_yaml, **{"Sec-Fetch-Site": "same-site"}),
            http.post(f"{API}/experiments", json={"display_name": "x"}, headers={"Origin": other}),
            http.post(f"{API}/experiments", json={"display_name": "y"}, headers={"Origin": "null"}),
        ]
        for refused in attempts:
            assert refused.status_code == 403, refused.text
            assert refused.json()["code"] == 7
            assert "refused" in refused.json()["message"]
        assert http.get(f"{API}/pipelines").json().get("pipelines", []) == []
        names = [e["display_name"] for e in http.get(f"{API}/experiments").json()["experiments"]]
        assert names == ["Default"]
        # The server's own pages post with their own origin; programs send none.
        own = _upload(
            http, two_step_yaml, Origin=live_server.url, **{"Sec-Fetch-Site": "same-origin"}
        )
        assert own.status_code == 200, own.text
        assert http.post(f"{API}/experiments", json={"display_name": "z"}).is_success


def test_kfp_client_works_against_the_guarded_server(
    live_server: LiveServer, two_step_yaml: Path
) -> None:
    """kfp.Client sends no Origin: it must pass the guard unchanged (the kfp CLI is proved
    in test_api.py's test_kfp_command_line_creates_a_pipeline_and_watches_a_run)."""
    import kfp

    client = kfp.Client(host=live_server.url)
    pipeline = client.upload_pipeline(str(two_step_yaml), pipeline_name="via-client")
    assert client.get_pipeline(pipeline.pipeline_id).display_name == "via-client"
    assert client.create_experiment("guarded").display_name == "guarded"


def test_json_bodies_over_the_cap_are_413_declared_or_streamed(kubeline_home: Path) -> None:
    server = start_server(kubeline_home, max_upload_bytes=64 * 1024)
    big = b'{"display_name": "' + b"x" * (200 * 1024) + b'"}'
    try:
        with server.http() as http:
            declared = http.post(
                f"{API}/experiments", content=big, headers={"Content-Type": "application/json"}
            )
            assert declared.status_code == 413
            assert "bytes, this server's limit" in declared.json()["message"]

            def chunks():  # no Content-Length: the cap must hold while the body arrives
                for start in range(0, len(big), 16 * 1024):
                    yield big[start : start + 16 * 1024]

            streamed = http.post(
                f"{API}/experiments", content=chunks(), headers={"Content-Type": "application/json"}
            )
            assert streamed.status_code == 413
            assert "65,536 bytes" in streamed.json()["message"]  # the limit, named
            names = [
                e["display_name"] for e in http.get(f"{API}/experiments").json()["experiments"]
            ]
            assert names == ["Default"]
            small = http.post(f"{API}/experiments", json={"display_name": "small"})
            assert small.is_success
    finally:
        server.stop()


def _alias_bomb(levels: int = 9) -> str:
    """The "billion laughs" in YAML: ~8 KB of text, 9**levels values once expanded."""
    text = "a0: &a0 [" + ",".join(['"lol"'] * 9) + "]\n"
    for level in range(1, levels + 1):
        text += f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]\n"
    return text


def test_an_alias_bomb_is_refused_quickly_by_a_limit_and_leaves_nothing(
    live_server: LiveServer, two_step_yaml: Path, tmp_path: Path
) -> None:
    # Hidden where the probe found it: in the platform document of a real pipeline.
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        two_step_yaml.read_text()
        + "---\nplatforms:\n  kubernetes:\n"
        + "".join(f"    {line}\n" for line in _alias_bomb().splitlines())
    )
    assert bomb.stat().st_size < 10_000
    with live_server.http() as http:
        refused = _upload(http, bomb)
        assert refused.status_code == 400
        assert "4,000,000 values" in refused.json()["message"]
        assert "refused before expanding" in refused.json()["message"]
        assert http.get(f"{API}/pipelines").json().get("pipelines", []) == []
        assert http.get("/healthz").is_success


def test_deep_nesting_is_refused_as_400(live_server: LiveServer, tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("root:\n  x: " + "[" * 5000 + "]" * 5000 + "\n")
    with live_server.http() as http:
        refused = _upload(http, deep)
        assert refused.status_code == 400
        assert http.get(f"{API}/pipelines").json().get("pipelines", []) == []


def test_kubeline_run_refuses_an_alias_bomb_with_exit_2(
    kubeline_home: Path, tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_alias_bomb())
    ran = run_cli("run", str(bomb), home=kubeline_home)
    assert ran.returncode == 2, ran.stderr
    assert "4,000,000 values" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_the_server_answers_while_a_large_upload_is_parsed(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """Parsing happens off the event loop: /healthz answers while a multi-second upload is
    being handled. (How fast it answers is measured in bench/guard.py, not here.)"""
    big = tmp_path / "big.yaml"
    rows = "\n".join(f"  k{i}: {list(range(40))}" for i in range(25_000))
    big.write_text("root:\n" + rows + "\npipelineInfo: {name: big}\n")
    finished = threading.Event()
    result: list[httpx.Response] = []

    def upload() -> None:
        with live_server.http() as http:
            result.append(_upload(http, big))
        finished.set()

    worker = threading.Thread(target=upload, daemon=True)
    worker.start()
    answered_during = 0
    with live_server.http() as http:
        deadline = time.monotonic() + 120
        while not finished.is_set() and time.monotonic() < deadline:
            if http.get("/healthz", timeout=60).is_success and not finished.is_set():
                answered_during += 1
            time.sleep(0.05)
    worker.join(timeout=120)
    assert result and result[0].status_code == 400  # not a valid PipelineSpec after all
    assert answered_during >= 3, "the server did not answer while it parsed the upload"


# -- the token ----------------------------------------------------------------------------


def test_a_non_ascii_token_header_is_401_not_500(kubeline_home: Path) -> None:
    server = start_server(kubeline_home, token="s3cret")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for header in ("Bearer sécret", "Bearer \u00ff\u00fe"):
                response = http.get(
                    f"{API}/pipelines", headers={"Authorization": header.encode("latin-1")}
                )
                assert response.status_code == 401
    finally:
        server.stop()


def test_the_ui_sign_in_link_sets_the_cookie_and_drops_the_token_from_the_url(
    kubeline_home: Path,
) -> None:
    server = start_server(kubeline_home, token="launch-token")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            signed = http.get("/login", params={"token": "launch-token", "next": "/runs"})
            assert signed.status_code == 303
            assert signed.headers["location"] == "/runs"
            assert "launch-token" in signed.headers["set-cookie"]
            assert "samesite=strict" in signed.headers["set-cookie"].lower()
            assert http.get("/runs").status_code == 200  # the cookie signs the browser in
            wrong = httpx.get(f"{server.url}/login", params={"token": "guess"})
            assert wrong.status_code == 401
            assert wrong.headers["referrer-policy"] == "no-referrer"
    finally:
        server.stop()


def _taken_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


def test_token_options_warn_read_files_and_refuse_mistakes(
    kubeline_home: Path, tmp_path: Path
) -> None:
    """The CLI resolves the token before it binds: a taken port stops it right after."""
    with _taken_port() as taken:
        port = str(taken.getsockname()[1])
        flagged = run_cli("server", "--port", port, "--token", "abc", home=kubeline_home)
        assert flagged.returncode == 2
        assert "process list" in flagged.stderr and "--token-file" in flagged.stderr
        token_file = tmp_path / "token"
        token_file.write_text("from-a-file\n")
        from_file = run_cli(
            "server", "--port", port, "--token-file", str(token_file), home=kubeline_home
        )
        assert from_file.returncode == 2 and "process list" not in from_file.stderr
        assert "Cannot listen" in from_file.stderr
        empty = tmp_path / "empty"
        empty.write_text("")
        refused = run_cli("server", "--port", port, "--token-file", str(empty), home=kubeline_home)
        assert refused.returncode == 2 and "is empty" in refused.stderr
        both = run_cli(
            "server",
            "--port",
            port,
            "--token",
            "a",
            "--token-file",
            str(token_file),
            home=kubeline_home,
        )
        assert both.returncode == 2 and "not both" in both.stderr
        for result in (flagged, from_file, refused, both):
            assert "Traceback" not in result.stderr


# -- the token never reaches a task ---------------------------------------------------------

from tests.server.token_pipelines import token_probe  # noqa: E402


def test_the_token_in_the_environment_never_reaches_a_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kubeline.engine import run_pipeline

    monkeypatch.setenv("KUBELINE_TOKEN", "top-secret-token")
    result = run_pipeline(compile_function(token_probe), {}, enable_caching=False)
    assert result.state == "SUCCEEDED", result.error
    assert result.outputs["Output"] == "absent"
    logs = "".join(Path(t.log_path).read_text() for t in result.tasks if t.log_path)
    assert "python task sees token=absent" in logs
    assert "shell task sees token=absent" in logs
    assert "top-secret-token" not in logs


def test_a_task_asking_for_the_token_by_name_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kubeline.engine import run_pipeline

    monkeypatch.setenv("KUBELINE_TOKEN", "top-secret-token")
    spec = compile_function(token_probe)
    label = next(iter(spec["deploymentSpec"]["executors"]))
    spec["platformSpec"] = {
        "platforms": {
            "kubernetes": {
                "deploymentSpec": {
                    "executors": {
                        label: {
                            "secretAsEnv": [
                                {
                                    "secretName": "s",
                                    "keyToEnv": [{"secretKey": "k", "envVar": "KUBELINE_TOKEN"}],
                                }
                            ]
                        }
                    }
                }
            }
        }
    }
    result = run_pipeline(spec, {}, enable_caching=False)
    assert result.state == "FAILED"
    assert "kubeline's own secret" in (result.failed_task.error or result.error or "")
    logs = "".join(Path(t.log_path).read_text() for t in result.tasks if t.log_path)
    assert "top-secret-token" not in logs


def test_unreadable_json_bodies_get_a_message_that_says_what_to_send(
    live_server: LiveServer,
) -> None:
    with live_server.http() as http:
        for body in (b'{"display_name": "\xff\xfe"}', b"[" * 100_000 + b"]" * 100_000):
            response = http.post(
                f"{API}/experiments", content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400
            assert "send JSON in UTF-8" in response.json()["message"]


def test_a_package_url_is_read_no_further_than_the_upload_limit(
    live_server: LiveServer, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as f:  # sparse: 40 MB on paper, nothing on disk
        f.truncate(40 * 1024 * 1024)
    with live_server.http() as http:
        response = http.post(
            f"{API}/pipelines/create",
            json={
                "pipeline": {"display_name": "huge"},
                "pipeline_version": {"package_url": {"pipeline_url": str(huge)}},
            },
        )
        assert response.status_code == 413
        assert "larger than 33,554,432 bytes" in response.json()["message"]
        assert http.get(f"{API}/pipelines").json().get("pipelines", []) == []


def test_pages_are_never_framed_and_send_no_referrer(live_server: LiveServer) -> None:
    with live_server.http() as http:
        page = http.get("/runs")
        assert page.status_code == 200
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        api = http.get(f"{API}/pipelines")
        assert api.headers["referrer-policy"] == "no-referrer"
